#!/usr/bin/python3
"""Exports torchvision ImageNet models to ONNX (opset 13, dynamic batch) for lapq's tests/benchmarks.

Run with Debian's python (torch 1.13, torchvision 0.14):
    /usr/bin/python3 tools/export_torchvision.py [--out build/models] [--models resnet18,resnet50,mobilenet_v2]
                                                 [--keep-bn] [--seed 0]
Weights are random (weights=None, seeded per model) and the models are in eval mode: the files
exercise the engine's operators and shapes, not accuracy. These files are large: never commit them.

For each model writes <name>.onnx (input "input" [N,3,224,224], output "logits" [N,1000]) and the
sidecar <name>.onnx.json with ImageNet preprocessing (resize 256, center crop 224, mean/std, rgb).

BatchNormalization: by default the exporter's eval-mode peephole pass fuses each Conv+BN into one
Conv (what a deployed model looks like). --keep-bn exports with TrainingMode.PRESERVE on the eval
model, which skips that pass and keeps BN nodes (inference form: running mean/var), the form the
quantizer needs. (do_constant_folding=False alone does NOT keep BN in torch 1.13: the fusion is
not constant folding.)
"""
import argparse
import json
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_default_model import inline_initializer_identities  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {
    "resnet18": torchvision.models.resnet18,
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
}
IMAGENET_SIDECAR = {"input_size": [3, 224, 224], "resize": 256, "crop": 224,
                    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                    "color": "rgb", "labels": None}


def export(name, out_dir, keep_bn, seed):
    torch.manual_seed(seed)  # per model, so a model's weights do not depend on --models order
    model = MODELS[name](weights=None).eval()
    path = os.path.join(out_dir, name + ".onnx")
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=mode, do_constant_folding=True)
    inline_initializer_identities(path)
    with open(path + ".json", "w") as f:
        json.dump(IMAGENET_SIDECAR, f, indent=2)
        f.write("\n")
    return path


def describe(path):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    counts = {}
    for n in m.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    ops = ", ".join(f"{k}x{v}" for k, v in sorted(counts.items()))
    return f"{path}: {os.path.getsize(path) / 1e6:.1f} MB, {len(m.graph.node)} nodes: {ops}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(REPO_ROOT, "build", "models"))
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    p.add_argument("--keep-bn", action="store_true", help="keep BatchNormalization nodes unfolded")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; known: {list(MODELS)}")
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        print(describe(export(name, args.out, args.keep_bn, args.seed)), flush=True)


if __name__ == "__main__":
    main()
