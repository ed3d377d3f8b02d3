#!/usr/bin/python3
"""Trains lapq's embedded default model: a small residual CNN on Fashion-MNIST.

Run with Debian's python (torch 1.13, CPU only):
    /usr/bin/python3 tools/train_default_model.py            # writes models/
Writes into --out (default: <repo>/models):
    fashion_resnet.onnx            ONNX opset 13, input "input" [N,1,28,28], output "logits" [N,10],
                                   BatchNormalization kept unfolded (the engine folds BN itself;
                                   the quantizer needs conv weights before BN).
    fashion_resnet.onnx.json       preprocessing sidecar (input size, mean/std, color, labels file)
    fashion_mnist_labels.txt       the 10 class names, one per line, folder-safe
    fashion_resnet_ref_input.bin   8 preprocessed test images, float32 LE [8,1,28,28]
    fashion_resnet_ref_logits.bin  PyTorch FP32 logits for them, float32 LE [8,10]
    fashion_resnet_ref.json        shapes, indices, seed, PyTorch top-1/top-5 on all 10,000 test images

The data comes from Debian's dataset-fashion-mnist package (no download).
Everything is seeded and the data order is deterministic, so a rerun reproduces the model.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = 0.2860  # of Fashion-MNIST training pixels, x/255
STD = 0.3530
LABELS = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
NUM_REF_IMAGES = 8
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- data

def read_idx(path, magic, header_ints):
    """Reads a gzipped IDX file (big-endian header, then uint8 payload)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = np.frombuffer(raw, dtype=">u4", count=header_ints)
    if header[0] != magic:
        sys.exit(f"{path}: bad IDX magic {header[0]:#x}, expected {magic:#x}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * header_ints)
    return header[1:], data


def load_split(data_dir, split):
    """Returns (images uint8 [n,28,28], labels int64 [n]) for split 'train' or 't10k'."""
    dims, images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"), 0x803, 4)
    (n_labels,), labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"), 0x801, 2)
    n, h, w = (int(d) for d in dims)
    if (h, w) != (28, 28) or n != n_labels:
        sys.exit(f"{data_dir}/{split}: unexpected shape {n}x{h}x{w} with {n_labels} labels")
    return images.reshape(n, h, w).copy(), labels.astype(np.int64)


def preprocess(images_u8):
    """uint8 [n,28,28] -> float32 [n,1,28,28]: x/255, then (x-mean)/std (the sidecar's recipe)."""
    x = torch.from_numpy(images_u8).float().div_(255.0).unsqueeze(1)
    return (x - MEAN) / STD


def augment(images_u8, rng, pad=2):
    """Random crop with zero (black) padding + random horizontal flip, done in one gather.

    images_u8: uint8 tensor [B,28,28] -> preprocessed float32 [B,1,28,28].
    """
    b, h, w = images_u8.shape
    padded = F.pad(images_u8, (pad, pad, pad, pad))  # [B, 28+2p, 28+2p], 0 = background
    oy = torch.from_numpy(rng.integers(0, 2 * pad + 1, size=b))
    ox = torch.from_numpy(rng.integers(0, 2 * pad + 1, size=b))
    flip = torch.from_numpy(rng.random(b) < 0.5)
    ar_h, ar_w = torch.arange(h), torch.arange(w)
    rows = oy[:, None] + ar_h[None, :]                                 # [B,28]
    cols = torch.where(flip[:, None], ox[:, None] + (w - 1) - ar_w[None, :],
                       ox[:, None] + ar_w[None, :])                    # [B,28]
    crops = padded[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return preprocess(crops.numpy())


# ---------------------------------------------------------------- model

class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut, then ReLU. The shortcut is a 1x1 conv + BN
    projection when the stride or channel count changes, identity otherwise."""

    def __init__(self, ic, oc, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(ic, oc, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(oc)
        self.conv2 = nn.Conv2d(oc, oc, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(oc)
        self.shortcut = None  # identity; not nn.Identity, which would export an ONNX Identity node
        if stride != 1 or ic != oc:
            self.shortcut = nn.Sequential(nn.Conv2d(ic, oc, 1, stride, 0, bias=False), nn.BatchNorm2d(oc))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class FashionResNet(nn.Module):
    """stem conv3x3 16ch -> stages 16 (28x28) / 32 (14x14) / 64 (7x7) -> GAP -> FC 10."""

    def __init__(self, widths=(16, 32, 64), blocks_per_stage=(2, 2, 2), num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers, ic = [], widths[0]
        for i, (oc, n) in enumerate(zip(widths, blocks_per_stage)):
            for j in range(n):
                layers.append(BasicBlock(ic, oc, 2 if (i > 0 and j == 0) else 1))
                ic = oc
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ic, num_classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def count_macs(model, input_shape):
    """Multiply-accumulates of the Conv and Linear layers for one input of input_shape."""
    macs = []

    def conv_hook(m, inp, out):
        macs.append(out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])

    def fc_hook(m, inp, out):
        macs.append(out.numel() * m.in_features)

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(fc_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    for h in hooks:
        h.remove()
    return sum(macs)


# ---------------------------------------------------------------- train / evaluate

def evaluate(model, x, y, batch=1000):
    """Returns (top1, top5) accuracies in [0,1] over preprocessed x [n,1,28,28], labels y [n]."""
    model.eval()
    top1 = top5 = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch])
            t5 = logits.topk(5, dim=1).indices
            yb = y[i:i + batch]
            top1 += (t5[:, 0] == yb).sum().item()
            top5 += (t5 == yb[:, None]).any(dim=1).sum().item()
    return top1 / len(x), top5 / len(x)


def train(model, train_u8, train_y, test_x, test_y, args):
    rng = np.random.default_rng(args.seed)
    order_gen = torch.Generator().manual_seed(args.seed)
    n = len(train_u8)
    steps_per_epoch = n // args.batch  # drop the last partial batch: keeps BN statistics sane
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.25)
    train_u8_t = torch.from_numpy(train_u8)
    train_y_t = torch.from_numpy(train_y)
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n, generator=order_gen)
        loss_sum = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            xb = augment(train_u8_t[idx], rng)
            loss = F.cross_entropy(model(xb), train_y_t[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item()
        top1, top5 = evaluate(model, test_x, test_y)
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {loss_sum / steps_per_epoch:.4f}, "
              f"test top-1 {top1 * 100:.2f}% top-5 {top5 * 100:.2f}%, {time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------- export

def export_onnx(model, path):
    """Exports with BatchNormalization unfolded.

    In torch 1.13 the exporter fuses Conv+BN in its eval-mode peephole pass, which runs when
    training is EVAL (the default). TrainingMode.PRESERVE on a model already in eval() mode skips
    that pass and exports BN in inference form (running mean/var), so the graph keeps it.
    """
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    inline_initializer_identities(path)


def inline_initializer_identities(path):
    """Replaces each Identity node whose input is an initializer by a renamed copy of it.

    The exporter deduplicates equal initializers (e.g. two all-zero BN biases) and then reads the
    duplicate through an Identity node; a plain weight per layer is simpler for every consumer.
    """
    import onnx
    m = onnx.load(path)
    inits = {t.name: t for t in m.graph.initializer}
    keep = []
    for node in m.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            m.graph.initializer.append(copy)
        else:
            keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    onnx.save(m, path)


def check_onnx(path, ref_x, ref_logits):
    """Checks the exported file: valid, BN present, and a numpy run of it matches PyTorch."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    n_bn = sum(n.op_type == "BatchNormalization" for n in m.graph.node)
    if n_bn == 0:
        sys.exit(f"{path}: no BatchNormalization node left in the exported graph")
    out = run_onnx_numpy(m, ref_x.numpy())
    err = float(np.abs(out - ref_logits.numpy()).max())
    # Same FP32 math in a different summation order: ~1e-5 relative on logits of magnitude ~10.
    if err > 1e-3:
        sys.exit(f"{path}: numpy run of the ONNX graph differs from PyTorch by {err}")
    return ops, n_bn, err


def run_onnx_numpy(model, x):
    """A minimal numpy interpreter for this graph's ops: an independent check of the export."""
    from onnx import numpy_helper
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        a = {at.name: onnx_attr(at) for at in node.attribute}
        ins = [env[i] for i in node.input if i]
        if node.op_type == "Conv":
            y = conv2d(ins[0], ins[1], a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]))
            if len(ins) > 2:
                y += ins[2][None, :, None, None]
        elif node.op_type == "BatchNormalization":
            x_, s, b, mu, var = ins
            inv = s / np.sqrt(var + a.get("epsilon", 1e-5))
            y = (x_ - mu[None, :, None, None]) * inv[None, :, None, None] + b[None, :, None, None]
        elif node.op_type == "Identity":
            y = ins[0]
        elif node.op_type == "Relu":
            y = np.maximum(ins[0], 0)
        elif node.op_type == "Add":
            y = ins[0] + ins[1]
        elif node.op_type == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif node.op_type == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif node.op_type == "Gemm":
            w = ins[1].T if a.get("transB", 0) else ins[1]
            y = a.get("alpha", 1.0) * ins[0] @ w + a.get("beta", 1.0) * ins[2]
        else:
            sys.exit(f"run_onnx_numpy: op {node.op_type} not handled")
        env[node.output[0]] = y
    return env[model.graph.output[0].name]


def onnx_attr(at):
    from onnx import helper
    return helper.get_attribute_value(at)


def conv2d(x, w, strides, pads):
    """x [N,C,H,W], w [OC,C,KH,KW], pads [top,left,bottom,right] -> [N,OC,OH,OW] via im2col."""
    n, c, h, wd = x.shape
    oc, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - kh) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - kw) // strides[1] + 1
    cols = np.empty((n, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
    return np.einsum("nckluv,ockl->nouv", cols, w, optimize=True)


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default=os.path.join(REPO_ROOT, "models"))
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="OneCycle peak learning rate")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    train_u8, train_y = load_split(args.data_dir, "train")
    test_u8, test_y = load_split(args.data_dir, "t10k")
    test_x, test_y_t = preprocess(test_u8), torch.from_numpy(test_y)

    model = FashionResNet()
    n_params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model, (1, 28, 28))
    print(f"FashionResNet: {n_params} parameters, {macs / 1e6:.2f} M MACs per image", flush=True)

    t0 = time.time()
    train(model, train_u8, train_y, test_x, test_y_t, args)
    train_seconds = time.time() - t0
    top1, top5 = evaluate(model, test_x, test_y_t)
    print(f"trained in {train_seconds:.0f} s: test top-1 {top1 * 100:.2f}%, top-5 {top5 * 100:.2f}%")

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "fashion_resnet.onnx")
    export_onnx(model, onnx_path)

    # Golden data: the first test image of each of classes 0..7 (deterministic, varied).
    ref_idx = [int(np.flatnonzero(test_y == c)[0]) for c in range(NUM_REF_IMAGES)]
    ref_x = test_x[ref_idx].contiguous()
    model.eval()
    with torch.no_grad():
        ref_logits = model(ref_x).contiguous()
    ops, n_bn, numpy_err = check_onnx(onnx_path, ref_x, ref_logits)
    ref_x.numpy().astype("<f4").tofile(os.path.join(args.out, "fashion_resnet_ref_input.bin"))
    ref_logits.numpy().astype("<f4").tofile(os.path.join(args.out, "fashion_resnet_ref_logits.bin"))

    with open(os.path.join(args.out, "fashion_mnist_labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    sidecar = {"input_size": [1, 28, 28], "resize": None, "crop": None, "mean": [MEAN], "std": [STD],
               "color": "gray", "labels": "fashion_mnist_labels.txt"}
    with open(onnx_path + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    ref = {
        "model": "fashion_resnet.onnx",
        "input_file": "fashion_resnet_ref_input.bin", "input_shape": list(ref_x.shape),
        "logits_file": "fashion_resnet_ref_logits.bin", "logits_shape": list(ref_logits.shape),
        "dtype": "float32 little-endian, row-major",
        "test_indices": ref_idx, "test_labels": [int(test_y[i]) for i in ref_idx],
        "test_set": "Fashion-MNIST t10k, all 10000 images",
        "pytorch_top1": round(top1, 4), "pytorch_top5": round(top5, 4),
        "seed": args.seed, "epochs": args.epochs, "parameters": n_params, "macs": macs,
        "torch_version": torch.__version__,
    }
    with open(os.path.join(args.out, "fashion_resnet_ref.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}: {os.path.getsize(onnx_path)} bytes ONNX, {n_bn} BatchNormalization nodes, "
          f"ops {ops}, numpy-vs-torch max |diff| {numpy_err:.2e}")


if __name__ == "__main__":
    main()
