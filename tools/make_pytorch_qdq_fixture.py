#!/usr/bin/python3
"""Generates tests/quant/data/pytorch_qdq_fullrange.{onnx,json}: a QDQ model
exported by PyTorch whose int8 weights use code -128, and PyTorch's own logits.

Run with Debian's python (torch 1.13 + onnx):
    /usr/bin/python3 tools/make_pytorch_qdq_fixture.py

The model is a tiny CNN (fixed seed) fake-quantized the way PyTorch's
eager-mode QAT / FX flows do it, written out by torch.onnx.export (opset 13):
  input [N,3,12,12] -> fake-quant quint8 [0,255] (affine, zero point != 0)
  -> Conv 3->8 3x3 + ReLU -> fake-quant quint8 (zero point 0)
  -> Conv 8->16 3x3 stride 2 + ReLU -> fake-quant
  -> depthwise Conv 16 3x3 + ReLU -> fake-quant
  -> global average pool -> fake-quant -> flatten
  -> Linear 16->10 -> fake-quant quint8 (affine): the logits.
Weights: qint8 [-128, 127] symmetric (PyTorch's default symmetric weight
range), per channel for the convs (torch.fake_quantize_per_channel_affine),
per tensor for the Linear (torch.fake_quantize_per_tensor_affine), with the
scales of torch.ao.quantization's MinMax observers (scale = max|w| / 127.5, so
a channel whose largest magnitude is negative hits code -128). Activation
scales from MinMax observers over 16 random calibration inputs.

The JSON holds the input batch (float32 values, NCHW) and PyTorch's output
for it (the fake-quantized model run in float32), plus the logits' grid
(scale, zero point) and the number of weight codes equal to -128 per layer.
Everything is deterministic (torch.manual_seed); the script checks that
every weight tensor really uses code -128.
"""
import io
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "quant", "data")
NAME = "pytorch_qdq_fullrange"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.fc = nn.Linear(16, 10)
        self.wq = {}   # layer -> (scale tensor, zero point tensor, per_channel)
        self.aq = {}   # activation -> (scale float, zero point int)

    def layers(self):
        return {"conv1": self.conv1, "conv2": self.conv2, "dw": self.dw, "fc": self.fc}

    def weight(self, name):
        w = self.layers()[name].weight
        if name not in self.wq:
            return w
        s, z, per_channel = self.wq[name]
        if per_channel:
            return torch.fake_quantize_per_channel_affine(w, s, z, 0, -128, 127)
        return torch.fake_quantize_per_tensor_affine(w, float(s), int(z), -128, 127)

    def act(self, name, x, observers=None):
        if observers is not None:
            observers[name](x)
            return x
        if name not in self.aq:
            return x
        s, z = self.aq[name]
        return torch.fake_quantize_per_tensor_affine(x, s, z, 0, 255)

    def forward(self, x, observers=None):
        x = self.act("input", x, observers)
        x = self.act("relu1", F.relu(F.conv2d(x, self.weight("conv1"), self.conv1.bias, padding=1)), observers)
        x = self.act("relu2", F.relu(F.conv2d(x, self.weight("conv2"), self.conv2.bias, stride=2, padding=1)),
                     observers)
        x = self.act("relu3", F.relu(F.conv2d(x, self.weight("dw"), self.dw.bias, padding=1, groups=16)), observers)
        x = self.act("pool", F.adaptive_avg_pool2d(x, 1), observers)
        x = torch.flatten(x, 1)
        return self.act("logits", F.linear(x, self.weight("fc"), self.fc.bias), observers)


def build(seed):
    """The fake-quantized net for `seed`, the test batch, PyTorch's output and the -128 counts."""
    torch.manual_seed(seed)
    net = Net().eval()
    with torch.no_grad():
        # Weights: observers give scale = max|w| / 127.5 (symmetric qint8, range [-128, 127]).
        for name, layer in net.layers().items():
            if name == "fc":
                ob = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
            else:
                ob = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
            ob(layer.weight)
            s, z = ob.calculate_qparams()
            net.wq[name] = (s.float(), z.int(), name != "fc")
        # Activations: affine quint8 [0, 255] from 16 calibration inputs.
        observers = {k: MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
                     for k in ["input", "relu1", "relu2", "relu3", "pool", "logits"]}
        net(torch.randn(16, 3, 12, 12), observers)
        for k, ob in observers.items():
            s, z = ob.calculate_qparams()
            net.aq[k] = (float(s), int(z))

        x = torch.randn(2, 3, 12, 12)
        y = net(x)

        minus128 = {}
        for name, layer in net.layers().items():
            s, z, per_channel = net.wq[name]
            w = layer.weight
            if per_channel:
                codes = torch.clamp(torch.round(w / s.view(-1, *([1] * (w.dim() - 1)))), -128, 127)
            else:
                codes = torch.clamp(torch.round(w / s), -128, 127)
            minus128[name] = int((codes == -128).sum())
    return net, x, y, minus128


def main():
    # The first seed from 20261126 on whose every layer (the per-tensor fc too: its largest
    # magnitude must be negative) uses code -128.
    for seed in range(20261126, 20261226):
        net, x, y, minus128 = build(seed)
        if all(v > 0 for v in minus128.values()):
            break
    else:
        raise SystemExit("no seed in 100 gives code -128 in every layer")

    buf = io.BytesIO()
    torch.onnx.export(net, (x,), buf, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True)
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    ops = sorted({n.op_type for n in model.graph.node})
    os.makedirs(OUT, exist_ok=True)
    onnx.save(model, os.path.join(OUT, NAME + ".onnx"))
    s_out, z_out = net.aq["logits"]
    meta = {
        "generator": "tools/make_pytorch_qdq_fixture.py",
        "torch": torch.__version__,
        "seed": seed,
        "onnx_ops": ops,
        "input_shape": list(x.shape),
        "input": [float(v) for v in x.numpy().ravel()],
        "logits_shape": list(y.shape),
        "logits": [float(v) for v in y.numpy().ravel()],
        "logits_scale": s_out,
        "logits_zero_point": z_out,
        "weight_codes_minus128": minus128,
    }
    with open(os.path.join(OUT, NAME + ".json"), "w") as f:
        json.dump(meta, f, separators=(",", ":"))
        f.write("\n")
    size = os.path.getsize(os.path.join(OUT, NAME + ".onnx"))
    print(f"wrote {NAME}.onnx ({size} bytes, ops {ops}) and {NAME}.json; code -128 counts {minus128}")


if __name__ == "__main__":
    main()
