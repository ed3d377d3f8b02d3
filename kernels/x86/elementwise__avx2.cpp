// AVX2 elementwise kernels (kernels/elementwise.h): 16 elements per step, the
// formula's float operations one for one (max(lo, t) == (t < lo ? lo : t),
// NaN included) except t = v * (1/scale) with the division near rounding ties (the
// checked reciprocal, same codes), truncating narrowing (mask to the low byte, then
// exact packs).
// Tails (< 16) run the scalar formula, which compiles to the same IEEE operations.
#include <immintrin.h>

#include "kernels/elementwise.h"

namespace lapq {
namespace {

constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23

template <bool kInv = false>
inline uint8_t quantize_one(float v, const QuantizeOut& o) {
  float t = kInv ? v * o.inv_scale : v / o.scale;
  t = t < o.lo ? o.lo : t;
  t = t > o.hi ? o.hi : t;
  const float r = (t + kMagic) - kMagic;
  return static_cast<uint8_t>(static_cast<int32_t>(r) + o.zp);
}

inline float dequantize_one(uint8_t q, float scale, int32_t zp) {
  return static_cast<float>(static_cast<int32_t>(q) - zp) * scale;
}

// kMode: kDivide (t = v / scale); kVerified (t = v * o.inv_scale, qadd's verified
// path for two u8 operands); kChecked (t = v * inv, and the division for the 16
// values of a step when any is within kNearTie of a half-integer: the checked
// reciprocal of kernels/elementwise.h, the same codes as the division).
enum class Mode { kDivide, kVerified, kChecked };
template <Mode kMode>
struct QuantVec {
  __m256 scale, inv, lo, hi, magic, near_tie, abs_mask;
  __m256i zp, low_byte;
  QuantVec(const QuantizeOut& o, float inv_scale)
      : scale(_mm256_set1_ps(o.scale)), inv(_mm256_set1_ps(inv_scale)), lo(_mm256_set1_ps(o.lo)),
        hi(_mm256_set1_ps(o.hi)), magic(_mm256_set1_ps(kMagic)), near_tie(_mm256_set1_ps(0.5f - kNearTie)),
        abs_mask(_mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF))), zp(_mm256_set1_epi32(o.zp)),
        low_byte(_mm256_set1_epi32(0xFF)) {}
  __m256 clamp(__m256 t) const {
    t = _mm256_max_ps(lo, t);     // lo > t ? lo : t
    return _mm256_min_ps(hi, t);  // hi < t ? hi : t
  }
  __m256 round(__m256 t) const { return _mm256_sub_ps(_mm256_add_ps(t, magic), magic); }
  // int32 low bytes of the codes of 8 values, from the rounded t.
  __m256i low_bytes(__m256 r) const {
    return _mm256_and_si256(_mm256_add_epi32(_mm256_cvttps_epi32(r), zp), low_byte);
  }
  // Stores the codes of 16 values.
  void store16(__m256 v0, __m256 v1, uint8_t* dst) const {
    __m256 r0, r1;
    if constexpr (kMode == Mode::kDivide) {
      r0 = round(clamp(_mm256_div_ps(v0, scale)));
      r1 = round(clamp(_mm256_div_ps(v1, scale)));
    } else {
      const __m256 t0 = clamp(_mm256_mul_ps(v0, inv)), t1 = clamp(_mm256_mul_ps(v1, inv));
      r0 = round(t0);
      r1 = round(t1);
      if constexpr (kMode == Mode::kChecked) {
        // Per lane the larger |t - rne(t)| (exact for |t| <= 256); a NaN in either may
        // come out as the max or not, so the unordered compare flags NaN lanes (the
        // division gives their byte) and a NaN cannot hide a near tie of its lane.
        const __m256 far = _mm256_max_ps(_mm256_and_ps(_mm256_sub_ps(t1, r1), abs_mask),
                                         _mm256_and_ps(_mm256_sub_ps(t0, r0), abs_mask));
        if (__builtin_expect(_mm256_movemask_ps(_mm256_cmp_ps(far, near_tie, _CMP_NLT_UQ)) != 0, 0)) {
          r0 = round(clamp(_mm256_div_ps(v0, scale)));
          r1 = round(clamp(_mm256_div_ps(v1, scale)));
        }
      }
    }
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(low_bytes(r0), low_bytes(r1)), 0xD8);
    const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), b);
  }
};

inline __m256 dequantize8(const uint8_t* src, __m256 scale, __m256i zp) {
  const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src)));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, zp)), scale);
}

// 16 values per step; the tail (< 16) by the scalar formula (the division).
template <class QV>
void quantize_loop(const QV& qv, const float* src, uint8_t* dst, size_t n, const QuantizeOut& o) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) qv.store16(_mm256_loadu_ps(src + i), _mm256_loadu_ps(src + i + 8), dst + i);
  for (; i < n; ++i) dst[i] = quantize_one(src[i], o);
}

void quantize_avx2(const float* src, uint8_t* dst, size_t n, const QuantizeOut& o) {
  const float inv = quantize_reciprocal(o);
  if (inv != 0.f) quantize_loop(QuantVec<Mode::kChecked>(o, inv), src, dst, n, o);
  else quantize_loop(QuantVec<Mode::kDivide>(o, 0.f), src, dst, n, o);
}

void dequantize_avx2(const uint8_t* src, float* dst, size_t n, float scale, int32_t zp) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i z = _mm256_set1_epi32(zp);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, dequantize8(src + i, s, z));
  for (; i < n; ++i) dst[i] = dequantize_one(src[i], scale, zp);
}

template <bool kU8>
struct Operand {
  const void* data;
  __m256 scale;
  __m256i zp;
  float s;
  int32_t z;
  explicit Operand(const QAddOperand& x)
      : data(x.data), scale(_mm256_set1_ps(x.scale)), zp(_mm256_set1_epi32(x.zp)), s(x.scale), z(x.zp) {}
  __m256 load8(size_t i) const {
    if constexpr (kU8) return dequantize8(static_cast<const uint8_t*>(data) + i, scale, zp);
    else return _mm256_loadu_ps(static_cast<const float*>(data) + i);
  }
  float at(size_t i) const {
    if constexpr (kU8) return dequantize_one(static_cast<const uint8_t*>(data)[i], s, z);
    else return static_cast<const float*>(data)[i];
  }
};

// The tail (< 16) by the scalar formula: t = v * o.inv_scale on the verified path,
// else the division (the checked multiply's result).
template <bool kAU8, bool kBU8, class QV>
void qadd_loop(const QV& qv, const Operand<kAU8> a, const Operand<kBU8> b, uint8_t* dst, size_t n,
               const QuantizeOut& o, bool verified) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    qv.store16(_mm256_add_ps(a.load8(i), b.load8(i)), _mm256_add_ps(a.load8(i + 8), b.load8(i + 8)), dst + i);
  if (verified)
    for (; i < n; ++i) dst[i] = quantize_one<true>(a.at(i) + b.at(i), o);
  else
    for (; i < n; ++i) dst[i] = quantize_one(a.at(i) + b.at(i), o);
}

template <bool kAU8, bool kBU8>
void qadd_impl(const QAddOperand& a_, const QAddOperand& b_, uint8_t* dst, size_t n, const QuantizeOut& o) {
  const Operand<kAU8> a(a_);
  const Operand<kBU8> b(b_);
  const float inv = quantize_reciprocal(o);
  if (kAU8 && kBU8 && o.inv_scale != 0.f)
    qadd_loop(QuantVec<Mode::kVerified>(o, o.inv_scale), a, b, dst, n, o, true);
  else if (inv != 0.f)
    qadd_loop(QuantVec<Mode::kChecked>(o, inv), a, b, dst, n, o, false);
  else
    qadd_loop(QuantVec<Mode::kDivide>(o, 0.f), a, b, dst, n, o, false);
}

void qadd_avx2(const QAddOperand& a, const QAddOperand& b, uint8_t* dst, size_t n, const QuantizeOut& o) {
  if (a.u8 && b.u8) qadd_impl<true, true>(a, b, dst, n, o);
  else if (a.u8) qadd_impl<true, false>(a, b, dst, n, o);
  else if (b.u8) qadd_impl<false, true>(a, b, dst, n, o);
  else qadd_impl<false, false>(a, b, dst, n, o);
}

// 16 pixels per step: each plane's 16 codes by the vector formula into a small
// buffer, then interleaved byte by byte; the tail (< 16) by the scalar formula.
template <class QV>
void interleave3_loop(const QV& qv, const float* const planes[3], uint8_t* dst, size_t n, const QuantizeOut& o) {
  alignas(16) uint8_t q[3][16];
  size_t p = 0;
  for (; p + 16 <= n; p += 16) {
    for (int c = 0; c < 3; ++c) qv.store16(_mm256_loadu_ps(planes[c] + p), _mm256_loadu_ps(planes[c] + p + 8), q[c]);
    for (int j = 0; j < 16; ++j)
      for (int c = 0; c < 3; ++c) dst[3 * (p + j) + c] = q[c][j];
  }
  for (; p < n; ++p)
    for (size_t c = 0; c < 3; ++c) dst[p * 3 + c] = quantize_one(planes[c][p], o);
}

void quantize_interleave3_avx2(const float* const planes[3], uint8_t* dst, size_t n, const QuantizeOut& o) {
  const float inv = quantize_reciprocal(o);
  if (inv != 0.f) interleave3_loop(QuantVec<Mode::kChecked>(o, inv), planes, dst, n, o);
  else interleave3_loop(QuantVec<Mode::kDivide>(o, 0.f), planes, dst, n, o);
}

// 8x8 blocks by unpack / shuffle / 128-bit permute; edges element by element.
void transpose_f32_avx2(const float* src, size_t ss, float* dst, size_t ds, size_t rows, size_t cols) {
  size_t r0 = 0;
  for (; r0 + 8 <= rows; r0 += 8) {
    size_t c0 = 0;
    for (; c0 + 8 <= cols; c0 += 8) {
      const float* s = src + r0 * ss + c0;
      const __m256 a0 = _mm256_loadu_ps(s), a1 = _mm256_loadu_ps(s + ss), a2 = _mm256_loadu_ps(s + 2 * ss),
                   a3 = _mm256_loadu_ps(s + 3 * ss), a4 = _mm256_loadu_ps(s + 4 * ss),
                   a5 = _mm256_loadu_ps(s + 5 * ss), a6 = _mm256_loadu_ps(s + 6 * ss),
                   a7 = _mm256_loadu_ps(s + 7 * ss);
      const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1), t2 = _mm256_unpacklo_ps(a2, a3),
                   t3 = _mm256_unpackhi_ps(a2, a3), t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5),
                   t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                   u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                   u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                   u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float* d = dst + c0 * ds + r0;
      _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(d + ds, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(d + 2 * ds, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(d + 3 * ds, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(d + 4 * ds, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(d + 5 * ds, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(d + 6 * ds, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(d + 7 * ds, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    for (size_t r = r0; r < r0 + 8; ++r)
      for (size_t c = c0; c < cols; ++c) dst[c * ds + r] = src[r * ss + c];
  }
  for (size_t r = r0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) dst[c * ds + r] = src[r * ss + c];
}

}  // namespace

const ElementwiseKernels& elementwise_kernels_avx2() {
  static const ElementwiseKernels k{"elementwise__avx2", Isa::avx2, quantize_avx2, dequantize_avx2, qadd_avx2,
                                    transpose_f32_avx2, quantize_interleave3_avx2};
  return k;
}

}  // namespace lapq
