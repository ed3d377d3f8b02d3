// AVX-512 elementwise kernels (kernels/elementwise.h): 16 elements per vector, 64
// per step (t = v * (1/scale), the division for a step with a value near a rounding
// tie: the checked reciprocal, same codes), tails by masked loads and stores (every
// lane computes the formula, masked-off lanes read zeros and are not stored),
// truncating narrowing by vpmovdb.
// The f32 transpose is the AVX2 one (8x8 blocks).
#include <immintrin.h>

#include "kernels/elementwise.h"

namespace lapq {
namespace {

inline __mmask16 mask16(size_t count) { return count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1); }

// kMul: t = v * inv (the checked reciprocal of kernels/elementwise.h: a group of up
// to 4 vectors is recomputed with the true division when any lane is within kNearTie
// of a half-integer, one test per group); else t = v / scale. Same codes either way.
template <bool kMul>
struct QuantVec {
  __m512 scale, inv, lo, hi, magic, near_tie;
  __m512i zp;
  QuantVec(const QuantizeOut& o, float inv_scale)
      : scale(_mm512_set1_ps(o.scale)), inv(_mm512_set1_ps(inv_scale)), lo(_mm512_set1_ps(o.lo)),
        hi(_mm512_set1_ps(o.hi)), magic(_mm512_set1_ps(12582912.0f)), near_tie(_mm512_set1_ps(0.5f - kNearTie)),
        zp(_mm512_set1_epi32(o.zp)) {}
  __m512 clamp(__m512 t) const {
    t = _mm512_max_ps(lo, t);      // lo > t ? lo : t
    return _mm512_min_ps(hi, t);   // hi < t ? hi : t
  }
  __m512 round(__m512 t) const { return _mm512_sub_ps(_mm512_add_ps(t, magic), magic); }
  // int32 codes (before the narrowing to the low byte) of N vectors of values.
  template <int N>
  void codes(const __m512 (&v)[N], __m512i (&q)[N]) const {
    __m512 r[N];
    if constexpr (!kMul) {
      for (int j = 0; j < N; ++j) r[j] = round(clamp(_mm512_div_ps(v[j], scale)));
    } else {
      // far: per lane the largest |t - rne(t)| of the N vectors (exact for |t| <= 256;
      // vrangeps: max of the absolute values, sign cleared; given a NaN it returns the
      // other operand, so NaN lanes, whose byte is the division's anyway, are skipped
      // and cannot hide a near tie of their lane; the unordered compare would flag one).
      __m512 far = _mm512_setzero_ps();
      for (int j = 0; j < N; ++j) {
        const __m512 t = clamp(_mm512_mul_ps(v[j], inv));
        r[j] = round(t);
        far = _mm512_range_ps(far, _mm512_sub_ps(t, r[j]), 0x0B);
      }
      if (__builtin_expect(_mm512_cmp_ps_mask(far, near_tie, _CMP_NLT_UQ) != 0, 0))
        for (int j = 0; j < N; ++j) r[j] = round(clamp(_mm512_div_ps(v[j], scale)));
    }
    for (int j = 0; j < N; ++j) q[j] = _mm512_add_epi32(_mm512_cvttps_epi32(r[j]), zp);
  }
  __m512i codes(__m512 v) const {
    const __m512 a[1] = {v};
    __m512i q[1];
    codes(a, q);
    return q[0];
  }
  // dst[0..64) = the low bytes of the codes of v[0..4) (vpmovdb).
  void store64(const __m512 (&v)[4], uint8_t* dst) const {
    __m512i q[4];
    codes(v, q);
    for (int j = 0; j < 4; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * j), _mm512_cvtepi32_epi8(q[j]));
  }
  void store(__m512 v, uint8_t* dst, __mmask16 m) const {
    _mm512_mask_cvtepi32_storeu_epi8(dst, m, codes(v));  // vpmovdb: the low byte
  }
};

inline __m512 dequantize16(const uint8_t* src, __mmask16 m, __m512 scale, __m512i zp) {
  const __m512i q = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, src));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, zp)), scale);
}

// 64 values per step, then 16 at a time with masks.
template <class QV>
void quantize_loop(const QV& qv, const float* src, uint8_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 v[4] = {_mm512_loadu_ps(src + i), _mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i + 32),
                         _mm512_loadu_ps(src + i + 48)};
    qv.store64(v, dst + i);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    qv.store(_mm512_maskz_loadu_ps(m, src + i), dst + i, m);
  }
}

void quantize_avx512(const float* src, uint8_t* dst, size_t n, const QuantizeOut& o) {
  const float inv = quantize_reciprocal(o);
  if (inv != 0.f) quantize_loop(QuantVec<true>(o, inv), src, dst, n);
  else quantize_loop(QuantVec<false>(o, 0.f), src, dst, n);
}

void dequantize_avx512(const uint8_t* src, float* dst, size_t n, float scale, int32_t zp) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512i z = _mm512_set1_epi32(zp);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    _mm512_mask_storeu_ps(dst + i, m, dequantize16(src + i, m, s, z));
  }
}

template <bool kU8>
struct Operand {
  const void* data;
  __m512 scale;
  __m512i zp;
  explicit Operand(const QAddOperand& x)
      : data(x.data), scale(_mm512_set1_ps(x.scale)), zp(_mm512_set1_epi32(x.zp)) {}
  __m512 load(size_t i, __mmask16 m) const {
    if constexpr (kU8) return dequantize16(static_cast<const uint8_t*>(data) + i, m, scale, zp);
    else return _mm512_maskz_loadu_ps(m, static_cast<const float*>(data) + i);
  }
};

// At least one f32 operand (two u8 operands take qadd_u8u8). 64 values per step, then
// 16 at a time with masks.
template <bool kAU8, bool kBU8, class QV>
void qadd_loop(const QV& qv, const Operand<kAU8> a, const Operand<kBU8> b, uint8_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 v[4];
    for (int j = 0; j < 4; ++j) v[j] = _mm512_add_ps(a.load(i + 16 * j, 0xFFFF), b.load(i + 16 * j, 0xFFFF));
    qv.store64(v, dst + i);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    qv.store(_mm512_add_ps(a.load(i, m), b.load(i, m)), dst + i, m);
  }
}

template <bool kAU8, bool kBU8>
void qadd_impl(const QAddOperand& a, const QAddOperand& b, uint8_t* dst, size_t n, const QuantizeOut& o) {
  const float inv = quantize_reciprocal(o);
  if (inv != 0.f) qadd_loop(QuantVec<true>(o, inv), Operand<kAU8>(a), Operand<kBU8>(b), dst, n);
  else qadd_loop(QuantVec<false>(o, 0.f), Operand<kAU8>(a), Operand<kBU8>(b), dst, n);
}

// Two u8 operands (the residual add), 64 codes per step with fewer operations than
// the generic path, same results: t is finite or +-inf here (finite codes and
// scales), so rounding by cvtps (round half to even, default MXCSR) equals the
// reference's (t + M) - M on the clamped t; when qmin == 0 (lo == -zp) the lower
// clamp is left to the saturating packs (max(nearbyint(t) + zp, 0), also for
// t = -inf where cvtps gives INT_MIN); the upper clamp is always explicit.
// kMode: kDivide; kVerified (t = x * o.inv_scale, qadd_verified_reciprocal); kChecked
// (t = x * inv, the division for 64 lanes with one near a tie, as QuantVec<true>: the
// code is max(rne(min(t, hi)), lo) + zp with lo an integer, a non-decreasing step
// function of t with its steps at half-integers inside (lo, hi), so the argument of
// kernels/elementwise.h holds with the lower clamp after the rounding).
enum class U8Mode { kDivide, kVerified, kChecked };
template <U8Mode kMode>
void qadd_u8u8(const QAddOperand& a, const QAddOperand& b, uint8_t* dst, size_t n, const QuantizeOut& o,
               float inv_scale) {
  const uint8_t* pa = static_cast<const uint8_t*>(a.data);
  const uint8_t* pb = static_cast<const uint8_t*>(b.data);
  const __m512 sa = _mm512_set1_ps(a.scale), sb = _mm512_set1_ps(b.scale);
  const __m512i za = _mm512_set1_epi32(a.zp), zb = _mm512_set1_epi32(b.zp), zp = _mm512_set1_epi32(o.zp);
  const __m512 scale = _mm512_set1_ps(o.scale), inv = _mm512_set1_ps(inv_scale), lo = _mm512_set1_ps(o.lo),
               hi = _mm512_set1_ps(o.hi), near_tie = _mm512_set1_ps(0.5f - kNearTie);
  const bool lower_clamp = o.lo != -static_cast<float>(o.zp);
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  auto clamp = [&](__m512 t) {
    if (lower_clamp) t = _mm512_max_ps(lo, t);
    return _mm512_min_ps(hi, t);
  };
  // t of 16 sums: clamped above, and below where lower_clamp.
  auto scaled16 = [&](size_t i, __mmask16 m, __m512& x) {
    x = _mm512_add_ps(dequantize16(pa + i, m, sa, za), dequantize16(pb + i, m, sb, zb));
    return clamp(kMode == U8Mode::kDivide ? _mm512_div_ps(x, scale) : _mm512_mul_ps(x, inv));
  };
  for (size_t i = 0; i < n; i += 64) {
    const size_t left = n - i;
    __m512 x[4], t[4];
    for (int j = 0; j < 4; ++j) {
      const size_t lj = left > size_t(16 * j) ? left - 16 * j : 0;
      t[j] = scaled16(i + 16 * j, mask16(lj), x[j]);
    }
    if constexpr (kMode == U8Mode::kChecked) {
      // As QuantVec<true>: the largest |t - rne(t)| per lane (vreduceps: t - rne(t),
      // 0 for t = -inf below an omitted lower clamp, which both forms saturate to 0).
      __m512 far = _mm512_setzero_ps();
      for (int j = 0; j < 4; ++j) far = _mm512_range_ps(far, _mm512_reduce_ps(t[j], 0x08), 0x0B);
      if (__builtin_expect(_mm512_cmp_ps_mask(far, near_tie, _CMP_NLT_UQ) != 0, 0))
        for (int j = 0; j < 4; ++j) t[j] = clamp(_mm512_div_ps(x[j], scale));
    }
    __m512i q[4];
    for (int j = 0; j < 4; ++j) q[j] = _mm512_add_epi32(_mm512_cvtps_epi32(t[j]), zp);
    const __m512i p = _mm512_packus_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
    const __mmask64 m = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
    _mm512_mask_storeu_epi8(dst + i, m, _mm512_permutexvar_epi32(order, p));
  }
}

void qadd_avx512(const QAddOperand& a, const QAddOperand& b, uint8_t* dst, size_t n, const QuantizeOut& o) {
  if (a.u8 && b.u8) {
    const float inv = o.inv_scale != 0.f ? 0.f : quantize_reciprocal(o);
    if (o.inv_scale != 0.f) qadd_u8u8<U8Mode::kVerified>(a, b, dst, n, o, o.inv_scale);
    else if (inv != 0.f) qadd_u8u8<U8Mode::kChecked>(a, b, dst, n, o, inv);
    else qadd_u8u8<U8Mode::kDivide>(a, b, dst, n, o, 0.f);
  }
  else if (a.u8) qadd_impl<true, false>(a, b, dst, n, o);
  else if (b.u8) qadd_impl<false, true>(a, b, dst, n, o);
  else qadd_impl<false, false>(a, b, dst, n, o);
}

// 16 pixels per step: each plane's codes narrowed to bytes (vpmovdb keeps the low
// byte, as the formula's truncating conversion does), then the three 16-byte rows
// interleaved into 48 bytes by byte shuffles (a -1 index gives 0) and ORs.
template <class QV>
void interleave3(const QV& qv, const float* const planes[3], uint8_t* dst, size_t n, const QuantizeOut& o) {
  // sel[j][c]: output bytes 16j..16j+15 that come from plane c (the byte's pixel index, or -1).
  alignas(16) int8_t sel[3][3][16];
  for (int j = 0; j < 3; ++j)
    for (int c = 0; c < 3; ++c)
      for (int b = 0; b < 16; ++b) {
        const int out = 16 * j + b;
        sel[j][c][b] = static_cast<int8_t>(out % 3 == c ? out / 3 : -1);
      }
  __m128i shuf[3][3];
  for (int j = 0; j < 3; ++j)
    for (int c = 0; c < 3; ++c) shuf[j][c] = _mm_load_si128(reinterpret_cast<const __m128i*>(sel[j][c]));
  size_t p = 0;
  for (; p + 16 <= n; p += 16) {
    __m128i bytes[3];
    const __m512 v[3] = {_mm512_loadu_ps(planes[0] + p), _mm512_loadu_ps(planes[1] + p), _mm512_loadu_ps(planes[2] + p)};
    __m512i q[3];
    qv.codes(v, q);
    for (int c = 0; c < 3; ++c) bytes[c] = _mm512_cvtepi32_epi8(q[c]);
    for (int j = 0; j < 3; ++j) {
      const __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(bytes[0], shuf[j][0]),
                                                  _mm_shuffle_epi8(bytes[1], shuf[j][1])),
                                     _mm_shuffle_epi8(bytes[2], shuf[j][2]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * p + 16 * j), v);
    }
  }
  if (p < n) {
    const float* rest[3] = {planes[0] + p, planes[1] + p, planes[2] + p};
    elementwise_kernels_scalar().quantize_interleave3(rest, dst + 3 * p, n - p, o);
  }
}

void quantize_interleave3_avx512(const float* const planes[3], uint8_t* dst, size_t n, const QuantizeOut& o) {
  const float inv = quantize_reciprocal(o);
  if (inv != 0.f) interleave3(QuantVec<true>(o, inv), planes, dst, n, o);
  else interleave3(QuantVec<false>(o, 0.f), planes, dst, n, o);
}

}  // namespace

const ElementwiseKernels& elementwise_kernels_avx512() {
  static const ElementwiseKernels k{"elementwise__avx512", Isa::avx512, quantize_avx512, dequantize_avx512,
                                    qadd_avx512, elementwise_kernels_avx2().transpose_f32,
                                    quantize_interleave3_avx512};
  return k;
}

}  // namespace lapq
