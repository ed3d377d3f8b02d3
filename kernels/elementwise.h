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
// The AVX2 / AVX-512 kernels compute t = v * inv instead (inv = 1/scale from
// quantize_reciprocal(): a multiply instead of vdivps, which bounds these kernels) and give the
// same codes as the division for EVERY float v (finite, +-0, subnormal, +-inf, NaN):
//   - inv = fl(1/scale) with scale and inv normal: m = fl(v * inv) = (v/scale)(1 + e)
//     with |e| <= 2u + u^2 (u = 2^-24), d = fl(v / scale) within u * |v/scale|
//     (plus < 2^-149 where the result underflows); same sign; +-inf and NaN go to
//     +-inf / NaN in both (no 0 * inf: inv is finite and nonzero); where only one
//     overflows to +-inf, |v/scale| is near FLT_MAX and both clamp to the same bound.
//   - rne(clamp(t)) is a non-decreasing step function of t whose steps are the
//     half-integers strictly inside (lo, hi) (lo, hi integers). So m and d give
//     different codes only if such a half-integer h lies between them; then
//     |h| < max(|lo|, |hi|) <= 256, |v/scale| < 256 * (1 + 2.1u) and
//     |clamp(m) - h| <= |m - d| <= (3u + u^2) * |v/scale| + 2^-148 < 2^-14 (clamping onto
//     [lo, hi] moves m no farther from h, which is inside).
//   - The kernels therefore recompute a group of values (16 for AVX2, up to 64 for
//     AVX-512: one test per group) with the true division when any lane has
//     | clamp(m) - rne(clamp(m)) | >= 0.5 - kNearTie, i.e. lies within kNearTie = 2^-12
//     of a half-integer: 4x the 2^-14 bound (16 ulps against at most 3 at
//     128 <= |t| < 256); t - rne(t) is exact for |t| <= 256. NaN lanes need no test
//     (both forms are NaN: the same byte); the compares are unordered, so a NaN can
//     only add a fallback.
//   - Otherwise (scale or inv not normal, lo / hi not integers or beyond 256, or
//     LAPQ_QUANT_RECIPROCAL=0) quantize_reciprocal() is 0 and they divide.
// About 2 * 2^-12 of random values are near a tie (a fallback for 3 % of 64-value groups).
// qadd of two u8 operands takes the checked multiply too, and with
// QuantizeOut::inv_scale != 0 the multiply without the check (~15 % faster on
// AVX-512): qadd_verified_reciprocal() tests that exhaustively (65,536 input pairs) and
// is the only way to set it.
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

// Half-width of the window around a half-integer inside which the kernels' t = v * inv
// falls back to the division (see above).
constexpr float kNearTie = 0x1p-12f;

// 1/o.scale where the checked multiply above gives the division's codes (o.scale and
// its reciprocal normal, o.lo and o.hi integers with |lo|, |hi| <= 256), unless
// LAPQ_QUANT_RECIPROCAL=0 is set (then always 0: the kernels divide, for measuring);
// 0 otherwise. A handful of scalar operations: kernels call it per call.
float quantize_reciprocal(const QuantizeOut& o);

// 1/o.scale if a and b are both u8 operands and k.qadd with t = v * (1/scale) and no
// check gives exactly the scalar reference's codes (t = v / scale) for all 65,536
// pairs of codes (it runs both over every pair); 0 otherwise (then qadd takes the
// checked multiply or the division). Costs about 0.3 ms; call it when the kernel is
// built, not per run.
float qadd_verified_reciprocal(const ElementwiseKernels& k, const QAddOperand& a, const QAddOperand& b,
                               const QuantizeOut& o);

// The table for an ISA level: scalar; avx2 (also for avxvnni); avx512 (also avx512vnni).
const ElementwiseKernels& elementwise_kernels(Isa isa);

// Per-ISA tables (kernels/x86/elementwise__*.cpp, kernels/scalar/elementwise__scalar.cpp).
const ElementwiseKernels& elementwise_kernels_scalar();
const ElementwiseKernels& elementwise_kernels_avx2();
const ElementwiseKernels& elementwise_kernels_avx512();

}  // namespace lapq
