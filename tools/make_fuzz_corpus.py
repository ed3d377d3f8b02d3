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


# ---- QDQ models (fuzz_qdq_import, docs/qdq.md) -------------------------------
# Own rng: the seeds above stay byte-identical.
qrng = np.random.default_rng(6)


def arr(name, values, dtype):
    return numpy_helper.from_array(np.array(values, dtype), name)


def codes(name, shape, lo, hi, odd=False):
    c = qrng.integers(lo, hi + 1, size=shape)
    if odd:
        c = c | 1  # odd codes: lapq's mid-rise grid at half the step
    return arr(name, c, np.int8)


def qdq(src, dst, scale, zp, nodes, clip_hi=None):
    """Q -> DQ on an activation (uint8 scalar grid), optionally a Clip on the codes."""
    codes_name = dst + ":q"
    nodes.append(helper.make_node("QuantizeLinear", [src, scale, zp], [codes_name]))
    if clip_hi is not None:
        nodes.append(helper.make_node("Clip", [codes_name, "", clip_hi], [codes_name + "c"]))
        codes_name += "c"
    nodes.append(helper.make_node("DequantizeLinear", [codes_name, scale, zp], [dst]))


def qdq_model(nodes, inits, outputs, metadata=None, opset=13):
    g = helper.make_graph(nodes, "qdq_seed", [x], outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    if metadata:
        helper.set_model_props(m, metadata)
    return m


y4 = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])


def lapq_export_model(act_scale=0.05):
    """lapq's own export form: asymmetric uint8 input grid, 8-bit symmetric conv
    weights with an int32 bias, a 4-bit mid-rise 1x1 conv (odd codes, scale
    step/2, grid hint in the metadata), a 4-bit unsigned activation (Clip to
    its first and last level before Q), a residual Add and a per-channel FC."""
    n, s_w1, s_r1, s_w2, s_r2 = [], 0.01, 0.04, 0.02, 0.03
    inits = [arr("x:scale", act_scale, np.float32), arr("x:zp", 128, np.uint8),
             codes("conv1.w:codes", (4, 3, 3, 3), -127, 127), arr("conv1.w:scale", s_w1, np.float32),
             arr("conv1.w:zero_point", 0, np.int8),
             arr("conv1.b:codes", qrng.integers(-500, 500, size=4), np.int32),
             arr("conv1.b:scale", np.float32(act_scale) * np.float32(s_w1), np.float32),
             arr("conv1.b:zero_point", 0, np.int32),
             arr("r1:scale", s_r1, np.float32), arr("act:zp", 0, np.uint8),
             codes("conv2.w:codes", (4, 4, 1, 1), -15, 15, odd=True), arr("conv2.w:scale", s_w2, np.float32),
             arr("conv2.w:zero_point", 0, np.int8),
             arr("r2:scale", s_r2, np.float32), arr("r2:lo", 0.0, np.float32),
             arr("r2:hi", np.float32(15) * np.float32(s_r2), np.float32),
             codes("fc.w:codes", (5, 4), -127, 127), arr("fc.w:scale", [0.01, 0.02, 0.015, 0.03, 0.005], np.float32),
             arr("fc.w:zero_point", [0] * 5, np.int8), arr("fc.b", qrng.standard_normal(5), np.float32)]
    qdq("x", "x:dq", "x:scale", "x:zp", n)
    n += [helper.make_node("DequantizeLinear", ["conv1.w:codes", "conv1.w:scale", "conv1.w:zero_point"], ["conv1.w"]),
          helper.make_node("DequantizeLinear", ["conv1.b:codes", "conv1.b:scale", "conv1.b:zero_point"], ["conv1.b"]),
          helper.make_node("Conv", ["x:dq", "conv1.w", "conv1.b"], ["c1"], pads=[1, 1, 1, 1]),
          helper.make_node("Relu", ["c1"], ["r1"])]
    qdq("r1", "r1:dq", "r1:scale", "act:zp", n)
    n += [helper.make_node("DequantizeLinear", ["conv2.w:codes", "conv2.w:scale", "conv2.w:zero_point"], ["conv2.w"]),
          helper.make_node("Conv", ["r1:dq", "conv2.w"], ["c2"]),
          helper.make_node("Relu", ["c2"], ["r2"]),
          helper.make_node("Clip", ["r2", "r2:lo", "r2:hi"], ["r2c"])]
    qdq("r2c", "r2:dq", "r2:scale", "act:zp", n)
    n += [helper.make_node("Add", ["r2:dq", "r1:dq"], ["sum"]),
          helper.make_node("GlobalAveragePool", ["sum"], ["p"]),
          helper.make_node("Flatten", ["p"], ["f"]),
          helper.make_node("DequantizeLinear", ["fc.w:codes", "fc.w:scale", "fc.w:zero_point"], ["fc.w"], axis=0),
          helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], transB=1)]
    return qdq_model(n, inits, [y], {"lapq.weight_grid:conv1.w:codes": "symmetric:8",
                                     "lapq.weight_grid:conv2.w:codes": "lapq-midrise:4",
                                     "lapq.weight_grid:fc.w:codes": "symmetric:8"})


def ort_style_model():
    """ONNX Runtime's quantizer (QDQ format): uint8 activations with nonzero zero
    points, per-channel int8 weights with int8 zero points, int32 biases per
    channel with scale s_in * s_w[oc]; Q/DQ after every layer."""
    n = []
    s_x, s_w = np.float32(0.03), np.array([0.004, 0.006, 0.005, 0.008], np.float32)
    s_fw = np.array([0.01, 0.012, 0.009, 0.011, 0.007], np.float32)
    s_p = np.float32(0.02)
    inits = [arr("x_scale", s_x, np.float32), arr("x_zero_point", 120, np.uint8),
             codes("w_quantized", (4, 3, 3, 3), -127, 127), arr("w_scale", s_w, np.float32),
             arr("w_zero_point", [0] * 4, np.int8),
             arr("b_quantized", qrng.integers(-2000, 2000, size=4), np.int32),
             arr("b_scale", s_x * s_w, np.float32), arr("b_zero_point", [0] * 4, np.int32),
             arr("relu_scale", 0.025, np.float32), arr("relu_zero_point", 0, np.uint8),
             arr("pool_scale", s_p, np.float32), arr("pool_zero_point", 0, np.uint8),
             codes("fc_w_quantized", (5, 4), -127, 127), arr("fc_w_scale", s_fw, np.float32),
             arr("fc_w_zero_point", [0] * 5, np.int8),
             arr("fc_b_quantized", qrng.integers(-2000, 2000, size=5), np.int32),
             arr("fc_b_scale", s_p * s_fw, np.float32), arr("fc_b_zero_point", [0] * 5, np.int32)]
    qdq("x", "x_dq", "x_scale", "x_zero_point", n)
    n += [helper.make_node("DequantizeLinear", ["w_quantized", "w_scale", "w_zero_point"], ["w_dq"], axis=0),
          helper.make_node("DequantizeLinear", ["b_quantized", "b_scale", "b_zero_point"], ["b_dq"], axis=0),
          helper.make_node("Conv", ["x_dq", "w_dq", "b_dq"], ["conv"], pads=[1, 1, 1, 1], strides=[2, 2]),
          helper.make_node("Relu", ["conv"], ["relu"])]
    qdq("relu", "relu_dq", "relu_scale", "relu_zero_point", n)
    n += [helper.make_node("GlobalAveragePool", ["relu_dq"], ["pool"])]
    qdq("pool", "pool_dq", "pool_scale", "pool_zero_point", n)
    n += [helper.make_node("Flatten", ["pool_dq"], ["flat"]),
          helper.make_node("DequantizeLinear", ["fc_w_quantized", "fc_w_scale", "fc_w_zero_point"], ["fc_w_dq"], axis=0),
          helper.make_node("DequantizeLinear", ["fc_b_quantized", "fc_b_scale", "fc_b_zero_point"], ["fc_b_dq"], axis=0),
          helper.make_node("Gemm", ["flat", "fc_w_dq", "fc_b_dq"], ["y"], transB=1)]
    return qdq_model(n, inits, [y])


def pytorch_style_model():
    """PyTorch's exporter: weights as QuantizeLinear(float initializer, per-channel
    scale) -> DequantizeLinear, 7-bit activations as a Clip on the uint8 codes,
    zero points shared through Identity nodes; the graph output is a DQ."""
    n = []
    w = qrng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.2
    w_scale = (np.abs(w).reshape(4, -1).max(axis=1) / 127).astype(np.float32)
    inits = [arr("x_scale", 0.05, np.float32), arr("zp_in", 64, np.uint8), arr("zp0", 0, np.uint8),
             arr("code_hi", 127, np.uint8), arr("y_scale", 0.02, np.float32),
             numpy_helper.from_array(w, "conv.weight"), arr("conv.weight_scale", w_scale, np.float32),
             arr("conv.weight_zp", [0] * 4, np.int8), arr("conv.bias", qrng.standard_normal(4), np.float32)]
    n += [helper.make_node("Identity", ["zp_in"], ["zp_in_shared"]),
          helper.make_node("Identity", ["zp0"], ["zp0_shared"])]
    qdq("x", "x_dq", "x_scale", "zp_in_shared", n, clip_hi="code_hi")
    n += [helper.make_node("QuantizeLinear", ["conv.weight", "conv.weight_scale", "conv.weight_zp"], ["wq"], axis=0),
          helper.make_node("DequantizeLinear", ["wq", "conv.weight_scale", "conv.weight_zp"], ["wdq"], axis=0),
          helper.make_node("Conv", ["x_dq", "wdq", "conv.bias"], ["conv"], pads=[1, 1, 1, 1]),
          helper.make_node("Relu", ["conv"], ["relu"])]
    qdq("relu", "y", "y_scale", "zp0_shared", n, clip_hi="code_hi")
    return qdq_model(n, inits, [y4])


qdq_seeds = {"qdq_lapq_export.onnx": lapq_export_model(), "qdq_ort_style.onnx": ort_style_model(),
             "qdq_pytorch_style.onnx": pytorch_style_model()}
for name, m in qdq_seeds.items():
    onnx.checker.check_model(m)
    data = m.SerializeToString()
    write("qdq", name, data)
    mutations("qdq", name, data)


def broken(base, edit):
    m = onnx.ModelProto()
    m.CopyFrom(base)
    edit(m)
    return m.SerializeToString()


def set_init(m, name, value):
    for i, init in enumerate(m.graph.initializer):
        if init.name == name:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array(value, numpy_helper.to_array(init).dtype), name))


def drop_node(m, index):
    del m.graph.node[index]


lapq_seed = qdq_seeds["qdq_lapq_export.onnx"]
write("qdq", "broken_zero_scale.onnx", broken(lapq_seed, lambda m: set_init(m, "x:scale", 0.0)))
write("qdq", "broken_nan_scale.onnx", broken(lapq_seed, lambda m: set_init(m, "r1:scale", np.nan)))
write("qdq", "broken_unpaired_dq.onnx", broken(lapq_seed, lambda m: drop_node(m, 0)))  # x's Q removed
write("qdq", "broken_axis_length.onnx",
      broken(lapq_seed, lambda m: (set_init(m, "fc.w:scale", [0.01, 0.02]), set_init(m, "fc.w:zero_point", [0, 0]))))
write("qdq", "broken_hint.onnx", broken(
    lapq_seed, lambda m: helper.set_model_props(m, {"lapq.weight_grid:conv1.w:codes": "lapq-midrise:2"})))
write("qdq", "broken_cycle.onnx", broken(
    lapq_seed, lambda m: m.graph.node[0].input.__setitem__(0, "x:dq")))  # Q reads its own DQ

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
