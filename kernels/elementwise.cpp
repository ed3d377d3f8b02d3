// The scalar elementwise kernels (the reference definition of the formulas in
// kernels/elementwise.h) and the per-ISA dispatch.
#include "kernels/elementwise.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace lapq {
namespace {

// t = v / scale, or v * inv_scale on qadd's verified fast path.
template <bool kInv = false>
inline uint8_t quantize_one(float v, const QuantizeOut& o) {
  float t = kInv ? v * o.inv_scale : v / o.scale;
  t = t < o.lo ? o.lo : t;
  t = t > o.hi ? o.hi : t;
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: (t + M) - M rounds half to even for |t| < 2^22
  const float r = (t + kMagic) - kMagic;
  return static_cast<uint8_t>(static_cast<int32_t>(r) + o.zp);
}

inline float dequantize_one(uint8_t q, float scale, int32_t zp) {
  return static_cast<float>(static_cast<int32_t>(q) - zp) * scale;
}

void quantize_scalar(const float* src, uint8_t* dst, size_t n, const QuantizeOut& o) {
  for (size_t i = 0; i < n; ++i) dst[i] = quantize_one(src[i], o);
}

void dequantize_scalar(const uint8_t* src, float* dst, size_t n, float scale, int32_t zp) {
  for (size_t i = 0; i < n; ++i) dst[i] = dequantize_one(src[i], scale, zp);
}

inline float operand_at(const QAddOperand& x, size_t i) {
  return x.u8 ? dequantize_one(static_cast<const uint8_t*>(x.data)[i], x.scale, x.zp)
              : static_cast<const float*>(x.data)[i];
}

void qadd_scalar(const QAddOperand& a, const QAddOperand& b, uint8_t* dst, size_t n, const QuantizeOut& o) {
  if (o.inv_scale != 0.f && a.u8 && b.u8)
    for (size_t i = 0; i < n; ++i) dst[i] = quantize_one<true>(operand_at(a, i) + operand_at(b, i), o);
  else
    for (size_t i = 0; i < n; ++i) dst[i] = quantize_one(operand_at(a, i) + operand_at(b, i), o);
}

void transpose_f32_scalar(const float* src, size_t src_stride, float* dst, size_t dst_stride, size_t rows,
                          size_t cols) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) dst[c * dst_stride + r] = src[r * src_stride + c];
}

void quantize_interleave3_scalar(const float* const planes[3], uint8_t* dst, size_t n, const QuantizeOut& o) {
  for (size_t p = 0; p < n; ++p)
    for (size_t c = 0; c < 3; ++c) dst[p * 3 + c] = quantize_one(planes[c][p], o);
}

}  // namespace

const ElementwiseKernels& elementwise_kernels_scalar() {
  static const ElementwiseKernels k{"elementwise__scalar", Isa::scalar, quantize_scalar, dequantize_scalar,
                                    qadd_scalar, transpose_f32_scalar, quantize_interleave3_scalar};
  return k;
}

namespace {

float compute_quantize_reciprocal(const QuantizeOut& o) {
  static const bool enabled = [] {
    const char* env = std::getenv("LAPQ_QUANT_RECIPROCAL");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  const float inv = 1.f / o.scale;
  // Integer clamp bounds within 256: the window's bound (elementwise.h) assumes |t| <= 256.
  const auto small_integer = [](float x) { return std::fabs(x) <= 256.f && x == std::nearbyint(x); };
  if (!enabled || !std::isnormal(o.scale) || !std::isnormal(inv) || !small_integer(o.lo) || !small_integer(o.hi))
    return 0.f;
  return inv;
}

}  // namespace

float quantize_reciprocal(const QuantizeOut& o) {
  // The fused QConv + QAdd calls the kernels once per tile row (64+ values) with the
  // same grid: a one-entry cache per thread saves the division and the checks (a NaN
  // scale never matches and is recomputed).
  struct Last {
    float scale = std::numeric_limits<float>::quiet_NaN(), lo = 0.f, hi = 0.f, inv = 0.f;
  };
  thread_local Last last;
  if (o.scale == last.scale && o.lo == last.lo && o.hi == last.hi) return last.inv;
  last = {o.scale, o.lo, o.hi, compute_quantize_reciprocal(o)};
  return last.inv;
}

float qadd_verified_reciprocal(const ElementwiseKernels& k, const QAddOperand& a, const QAddOperand& b,
                               const QuantizeOut& o) {
  const float inv = 1.f / o.scale;
  // A normal scale and reciprocal keep v * inv finite wherever v / scale is (no 0 * inf).
  if (!a.u8 || !b.u8 || !std::isnormal(o.scale) || !std::isnormal(inv)) return 0.f;
  constexpr size_t kPairs = 256 * 256;
  struct AllPairs {  // every pair of codes: a = i / 256, b = i % 256
    uint8_t a[kPairs], b[kPairs];
    AllPairs() {
      for (size_t i = 0; i < kPairs; ++i) a[i] = static_cast<uint8_t>(i / 256), b[i] = static_cast<uint8_t>(i % 256);
    }
  };
  static const AllPairs pairs;
  QAddOperand xa = a, xb = b;
  xa.data = pairs.a;
  xb.data = pairs.b;
  QuantizeOut divide = o, multiply = o;
  divide.inv_scale = 0.f;
  multiply.inv_scale = inv;
  // The division by the scalar reference (the ISA tables' own qadd without inv_scale
  // takes the checked multiply, which is the same but not the definition).
  std::vector<uint8_t> by_division(kPairs), by_reciprocal(kPairs);
  elementwise_kernels_scalar().qadd(xa, xb, by_division.data(), kPairs, divide);
  k.qadd(xa, xb, by_reciprocal.data(), kPairs, multiply);
  return std::memcmp(by_division.data(), by_reciprocal.data(), kPairs) == 0 ? inv : 0.f;
}

const ElementwiseKernels& elementwise_kernels(Isa isa) {
  // avxvnni (when the level exists) runs the AVX2 table; avx512vnni the AVX-512 one.
  if (isa == Isa::scalar) return elementwise_kernels_scalar();
  if (static_cast<int>(isa) >= static_cast<int>(Isa::avx512)) return elementwise_kernels_avx512();
  return elementwise_kernels_avx2();
}

}  // namespace lapq
