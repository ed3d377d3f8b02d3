// The quantized network's integer ops, registered as engine registry
// extensions (OpRegistry::register_extension) so a lowered graph runs on the
// ordinary Plan. Quantized activations are u8 codes in NHWC layout.
//
//   lapq.Quantize    x f32 [N,C,H,W] (or [N,K]) -> q u8 [N,H,W,C] (or [N,1,1,K])
//                    q = clamp(rne(x / scale) + zero_point, qmin, qmax)
//                    attrs: scale (float), zero_point, qmin, qmax (ints)
//   lapq.Dequantize  q u8 [N,H,W,C] -> x f32 [N,C,H,W] (attr rank 4) or [N,C] (rank 2, H = W = 1)
//                    x = (float)(q - zero_point) * scale
//   lapq.QConv       inputs: src u8 NHWC, wei int8 [OC,KH,KW,IC/group] (codes),
//                    scale f32 [OC], bias f32 [OC] (optional), wei_zp f32 [OC] (optional)
//                    attrs: kernel [KH,KW], strides [2], pads [top,left,bottom,right],
//                    dilations [2], group, bits (weight container: <= 4 packs int4),
//                    src_zero_point, out_u8 (0/1), zero_point, qmin, qmax (u8 output),
//                    out_rank (f32 output: 4 = [N,OC,OH,OW], 2 = [N,OC]),
//                    out_nhwc (f32 output as [N,OH,OW,OC], no scratch: read by lapq.QAdd)
//                    outputs: y (u8 [N,OH,OW,OC] or f32 NCHW); f32 output with
//                    OH*OW > 1 has a second output, the f32 NHWC scratch the
//                    kernel writes before its NCHW transpose (planned memory).
//                    Arithmetic: kernels/conv.h (RequantU8 / DequantF32 epilogue).
//                    Fused residual add (input 5, the residual, present; out_u8 = 0):
//                    the f32 NHWC conv value and input 5 are the two inputs of a
//                    lapq.QAdd, with its attributes (scale, zero_point, qmin, qmax,
//                    layout_a/b, scale_a/b, zero_point_a/b; the conv's side has layout 2)
//                    plus residual_input (0/1: which Add input input 5 is); output u8
//                    [N,OH,OW,OC] codes. Equals the QConv (out_nhwc) + QAdd pair bit for
//                    bit (kernels/conv.h ResidualAddU8); the lowering emits it for a QConv
//                    whose f32 output only a QAdd reads (quant/quantized_network.cpp).
//   lapq.QAdd        a + b (same shape) -> u8 NHWC codes of the sum, the residual
//                    Add (+ Relu / Clip as the code clamp qmin/qmax) whose output is
//                    quantized. Each input: attr layout_a / layout_b = 0 f32 NCHW,
//                    1 u8 NHWC codes read as (q - zp_x) * scale_x (the Dequantize
//                    formula), 2 f32 NHWC (a QConv's out_nhwc output). Output attrs scale, zero_point, qmin, qmax. Equals
//                    Dequantize + Add + Relu + Quantize bit for bit (same float ops).
//   lapq.MaxPool     q u8 [N,H,W,C] -> u8 [N,OH,OW,C]: 2-D max pooling of the codes (attrs
//                    kernel_shape, strides, pads, dilations, auto_pad, ceil_mode as ONNX
//                    MaxPool), then each code mapped from the input grid (scale_in,
//                    zero_point_in) to the output grid (scale, zero_point, qmin, qmax) by
//                    Quantize(Dequantize(q)). Equals Dequantize -> MaxPool -> Quantize bit for
//                    bit: the map is monotone, so it commutes with max; a window with no input
//                    element gives Quantize(lowest float), as the FP32 op's value would.
// Rounding: rne = round half to even, as quant/grid.h, so Quantize and
// Dequantize equal the grid's quantize_code / fake_quantize bit for bit.
//
// Implementations: Quantize / Dequantize / QAdd have a scalar reference (plain
// loops) and the fast candidate "lapq-simd" (kernels/elementwise.h for the active
// ISA, OpenMP over pixel blocks, bit-identical: quant/qops/qops_fast.cpp);
// MaxPool a per-code reference and the "lapq-int" kernel (channel rows, byte max);
// QConv's reference is the naive conv_reference (kernels/reference.h) and its
// fast candidate "lapq-int" a PackedConv for the active ISA, packed once per
// kernel (re-packed by Plan::rebuild_kernel).
#pragma once

namespace lapq::quant {

inline constexpr const char* kQConvOp = "lapq.QConv";
inline constexpr const char* kQuantizeOp = "lapq.Quantize";
inline constexpr const char* kDequantizeOp = "lapq.Dequantize";
inline constexpr const char* kQAddOp = "lapq.QAdd";
inline constexpr const char* kQMaxPoolOp = "lapq.MaxPool";

// Adds the lapq.* ops to the process registry; idempotent and thread-safe.
void register_quant_ops();

}  // namespace lapq::quant
