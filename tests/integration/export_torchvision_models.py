"""Exports torchvision classifiers with random weights (no download) and their
PyTorch outputs for tests/integration/test_onnx_model_dir.cpp:

    /usr/bin/python3 tests/integration/export_torchvision_models.py /tmp/models
    LAPQ_ONNX_MODELS_DIR=/tmp/models build/tests/integration/test_onnx_model_dir

BatchNorm statistics are randomized so BN folding is exercised, and BN is kept
in the export (TrainingMode.PRESERVE, no constant folding), with a symbolic batch.
"""
import os
import sys

import numpy as np
import torch
import torchvision

MODELS = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5", "efficientnet_b0"]


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    for name in MODELS:
        model = getattr(torchvision.models, name)(weights=None).eval()
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.data.uniform_(0.5, 1.5)
                mod.bias.data.uniform_(-0.5, 0.5)
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            y = model(x)
        path = os.path.join(out_dir, name)
        torch.onnx.export(model, x, path + ".onnx", opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        np.save(path + "_in.npy", x.numpy())
        np.save(path + "_out.npy", y.numpy())
        print(name, tuple(y.shape))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models")
