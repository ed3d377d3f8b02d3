// Elementwise kernels of the quantized executor (lapq.Quantize, lapq.Dequantize,
// lapq.QAdd in quant/qops/): u8 affine codes <-> f32 and the quantized sum, on
// contiguous runs, plus an f32 transpose for the NCHW <-> NHWC conversions.
//
// Exact arithmetic (every ISA variant meets it bit for bit; the scalar table is
// the reference; quant/grid.h's formulas, files built with -ffp-contract=off):
//   quantize(v):   t = v / scale              (a true division, never a reciprocal)
//                  t = t < lo ? lo : t;  t = t > hi ? hi : t   (lo = qmin - zp, hi = qmax - zp;
//                                                               a NaN passes both compares)
//                  r = (t + 0x1.8p23f) - 0x1.8p23f             (round half to even, |t| <= 255)
//                  q = (uint8_t)((int32_t)r + zp)              (truncating conversion, low byte)
//   dequantize(q): (float)((int32_t)q - zp) * scale
//   qadd:          quantize(x_a + x_b), x = dequantize(q) for a u8 operand, the value for f32
// qadd's fast path: with QuantizeOut::inv_scale != 0 it computes t = v * inv_scale
// instead of v / scale (a multiply instead of a division, the division being the
// kernel's bottleneck). That is only allowed where it gives the same codes for every
// possible input: qadd_verified_reciprocal() checks it exhaustively for two u8
// operands (65,536 input pairs) and is the only way to set it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

namespace lapq {

// Output quantization of quantize / qadd.
struct QuantizeOut {
  float scale = 1.f;
  float lo = 0.f, hi = 255.f;  // qmin - zp, qmax - zp
  int32_t zp = 0;
  float inv_scale = 0.f;  // qadd of two u8 operands only: see qadd_verified_reciprocal()
};

// One qadd operand: u8 codes read as (q - zp) * scale, or f32 values.
struct QAddOperand {
  const void* data = nullptr;
  bool u8 = false;
  float scale = 1.f;
  int32_t zp = 0;
};

struct ElementwiseKernels {
  const char* name = "";
  Isa isa = Isa::scalar;
  // dst[i] = quantize(src[i]), i < n.
  void (*quantize)(const float* src, uint8_t* dst, size_t n, const QuantizeOut& o) = nullptr;
  // dst[i] = dequantize(src[i]), i < n.
  void (*dequantize)(const uint8_t* src, float* dst, size_t n, float scale, int32_t zp) = nullptr;
  // dst[i] = quantize(x_a[i] + x_b[i]), i < n; a.data / b.data point at element 0.
  void (*qadd)(const QAddOperand& a, const QAddOperand& b, uint8_t* dst, size_t n, const QuantizeOut& o) = nullptr;
  // dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows, c < cols (strides in elements).
  void (*transpose_f32)(const float* src, size_t src_stride, float* dst, size_t dst_stride, size_t rows,
                        size_t cols) = nullptr;
  // Channels-first to channels-last quantize of an image's few planes (an RGB input):
  // dst[p * 3 + c] = quantize(planes[c][p]) for p < n, c < 3.
  void (*quantize_interleave3)(const float* const planes[3], uint8_t* dst, size_t n, const QuantizeOut& o) = nullptr;
};

// 1/o.scale if a and b are both u8 operands and k.qadd gives exactly the same code
// with t = v * (1/scale) as with t = v / scale for all 65,536 pairs of codes (it
// runs both over every pair); 0 otherwise (then qadd keeps the division). Costs
// about 0.1 ms; call it when the kernel is built, not per run.
float qadd_verified_reciprocal(const ElementwiseKernels& k, const QAddOperand& a, const QAddOperand& b,
                               const QuantizeOut& o);

// The table for an ISA level: scalar; avx2 (also for avxvnni); avx512 (also avx512vnni).
const ElementwiseKernels& elementwise_kernels(Isa isa);

// Per-ISA tables (kernels/x86/elementwise__*.cpp, kernels/scalar/elementwise__scalar.cpp).
const ElementwiseKernels& elementwise_kernels_scalar();
const ElementwiseKernels& elementwise_kernels_avx2();
const ElementwiseKernels& elementwise_kernels_avx512();

}  // namespace lapq
