#!/usr/bin/python3
"""Writes the fuzzers' seed corpus (tests/fuzz/corpus/): small valid ONNX
models, small images of each format, and preprocessing values, plus a few
mutations of each (truncations, flipped bytes). Deterministic.

Run with Debian's python (python3-onnx, python3-numpy, python3-pil):
    /usr/bin/python3 tools/make_fuzz_corpus.py
"""
import io
import os
import random

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus")
rng = np.random.default_rng(0)


def write(kind, name, data):
    d = os.path.join(ROOT, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def mutations(kind, name, data, count=3):
    r = random.Random(name)
    write(kind, name + ".trunc", data[: max(1, len(data) // 2)])
    for i in range(count):
        b = bytearray(data)
        for _ in range(4):
            b[r.randrange(len(b))] = r.randrange(256)
        write(kind, f"{name}.flip{i}", bytes(b))


def model(nodes, inits, inputs, outputs, opset=13):
    g = helper.make_graph(nodes, "seed", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    return m.SerializeToString()


def t(name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", None])
seeds = {
    "conv_relu_pool_fc.onnx": model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"]),
         helper.make_node("Relu", ["n"], ["r"]),
         helper.make_node("GlobalAveragePool", ["r"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
        [t("w", (4, 3, 3, 3)), t("b", (4,)), t("s", (4,)), t("bb", (4,)), t("m", (4,)),
         numpy_helper.from_array(np.ones(4, np.float32), "v"), t("fw", (5, 4)), t("fb", (5,))], [x], [y]),
    "shape_chain.onnx": model(
        [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "i"], ["g"], axis=0),
         helper.make_node("Unsqueeze", ["g", "ax"], ["u"]),
         helper.make_node("Concat", ["u", "minus1"], ["shape"], axis=0),
         helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [numpy_helper.from_array(np.array(0, np.int64), "i"), numpy_helper.from_array(np.array([0], np.int64), "ax"),
         numpy_helper.from_array(np.array([-1], np.int64), "minus1")], [x], [y]),
    "pad_slice_add.onnx": model(
        [helper.make_node("Slice", ["x", "st", "en", "axs", "stp"], ["sl"]),
         helper.make_node("Pad", ["sl", "pads"], ["pd"]),
         helper.make_node("Add", ["pd", "x"], ["y"])],
        [numpy_helper.from_array(np.array([0, 0], np.int64), "st"),
         numpy_helper.from_array(np.array([8, 8], np.int64), "en"),
         numpy_helper.from_array(np.array([2, 3], np.int64), "axs"),
         numpy_helper.from_array(np.array([2, 2], np.int64), "stp"),
         numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 4, 4], np.int64), "pads")], [x], [y]),
    "maxpool_softmax_opset9.onnx": model(
        [helper.make_node("MaxPool", ["x"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("Softmax", ["mp"], ["y"], axis=1)], [], [x], [y], opset=9),
    # Integer attributes and shape inputs at their extremes (docs/errors.md):
    # the fuzzer mutates them into overflow candidates.
    "limits_ops.onnx": model(
        [helper.make_node("Slice", ["x", "lo", "hi", "ax3", "hi"], ["s1"]),
         helper.make_node("Conv", ["x", "w"], ["c"], strides=[3, 3], dilations=[2, 2], pads=[2, 2, 2, 2]),
         helper.make_node("AveragePool", ["c"], ["ap"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
         helper.make_node("Expand", ["ap", "eshape"], ["e"]),
         helper.make_node("Tile", ["e", "reps"], ["tl"]),
         helper.make_node("Reshape", ["tl", "rshape"], ["y"]),
         helper.make_node("Range", ["r0", "r1", "r2"], ["r"]),
         helper.make_node("ConstantOfShape", ["cshape"], ["cs"]),
         helper.make_node("Pad", ["s1", "pads"], ["ps"])],
        [numpy_helper.from_array(np.array([np.iinfo(np.int64).min], np.int64), "lo"),
         numpy_helper.from_array(np.array([np.iinfo(np.int64).max], np.int64), "hi"),
         numpy_helper.from_array(np.array([3], np.int64), "ax3"),
         numpy_helper.from_array(np.full((4, 3, 3, 3), 0.25, np.float32), "w"),  # not from rng: later seeds stay
         numpy_helper.from_array(np.array([1, 4, 2, 2], np.int64), "eshape"),
         numpy_helper.from_array(np.array([1, 1, 2, 2], np.int64), "reps"),
         numpy_helper.from_array(np.array([0, -1], np.int64), "rshape"),
         numpy_helper.from_array(np.array(np.iinfo(np.int64).min, np.int64), "r0"),
         numpy_helper.from_array(np.array(np.iinfo(np.int64).max, np.int64), "r1"),
         numpy_helper.from_array(np.array(np.iinfo(np.int64).max, np.int64), "r2"),
         numpy_helper.from_array(np.array([2, 3], np.int64), "cshape"),
         numpy_helper.from_array(np.array([0, 0, 0, -1, 0, 0, 0, 2], np.int64), "pads")], [x], [y]),
}
for name, data in seeds.items():
    onnx.checker.check_model(onnx.load_from_string(data))
    write("onnx", name, data)
    mutations("onnx", name, data)

pixels = (rng.random((13, 17, 3)) * 255).astype(np.uint8)
for fmt, ext, kw in [("PNG", "png", {}), ("JPEG", "jpg", {"quality": 75}), ("BMP", "bmp", {})]:
    for mode in ["RGB", "L"]:
        buf = io.BytesIO()
        Image.fromarray(pixels).convert(mode).save(buf, format=fmt, **kw)
        name = f"img_{mode.lower()}.{ext}"
        write("image", name, buf.getvalue())
        mutations("image", name, buf.getvalue())
buf = io.BytesIO()
Image.fromarray(pixels).convert("RGBA").save(buf, format="PNG")
write("image", "img_rgba.png", buf.getvalue())
buf = io.BytesIO()  # PIL writes Adobe's APP14 marker with CMYK JPEGs
Image.fromarray(pixels).convert("CMYK").save(buf, format="JPEG", quality=75)
write("image", "img_cmyk.jpg", buf.getvalue())
mutations("image", "img_cmyk.jpg", buf.getvalue())

for i, v in enumerate(["crop=32", "resize=none", "mean=0.5,0.5,0.5", "std=0.2,0.2,0.2", "input_size=1,28,28",
                       "color=bgr", "resize_backend=tensor", "resize=[256,320]",
                       '{"input_size":[3,32,32],"resize":null,"crop":32,"mean":[0.5,0.5,0.5],"std":[0.25,0.25,0.25],"color":"rgb"}']):
    write("cli_values", f"value{i}", v.encode())
print("corpus written to", os.path.normpath(ROOT))
