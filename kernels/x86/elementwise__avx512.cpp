// AVX-512 elementwise kernels (kernels/elementwise.h): 16 elements per vector,
// tails by masked loads and stores (every lane computes the formula, masked-off
// lanes read zeros and are not stored), truncating narrowing by vpmovdb.
// The f32 transpose is the AVX2 one (8x8 blocks).
#include <immintrin.h>

#include "kernels/elementwise.h"

namespace lapq {
namespace {

inline __mmask16 mask16(size_t count) { return count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1); }

struct QuantVec {
  __m512 scale, lo, hi, magic;
  __m512i zp;
  explicit QuantVec(const QuantizeOut& o)
      : scale(_mm512_set1_ps(o.scale)), lo(_mm512_set1_ps(o.lo)), hi(_mm512_set1_ps(o.hi)),
        magic(_mm512_set1_ps(12582912.0f)), zp(_mm512_set1_epi32(o.zp)) {}
  // int32 codes (before the narrowing to the low byte) of 16 values.
  __m512i codes(__m512 v) const {
    __m512 t = _mm512_div_ps(v, scale);
    t = _mm512_max_ps(lo, t);  // lo > t ? lo : t
    t = _mm512_min_ps(hi, t);  // hi < t ? hi : t
    t = _mm512_sub_ps(_mm512_add_ps(t, magic), magic);
    return _mm512_add_epi32(_mm512_cvttps_epi32(t), zp);
  }
  void store(__m512 v, uint8_t* dst, __mmask16 m) const {
    _mm512_mask_cvtepi32_storeu_epi8(dst, m, codes(v));  // vpmovdb: the low byte
  }
};

inline __m512 dequantize16(const uint8_t* src, __mmask16 m, __m512 scale, __m512i zp) {
  const __m512i q = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, src));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, zp)), scale);
}

void quantize_avx512(const float* src, uint8_t* dst, size_t n, const QuantizeOut& o) {
  const QuantVec qv(o);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    qv.store(_mm512_maskz_loadu_ps(m, src + i), dst + i, m);
  }
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

// At least one f32 operand (two u8 operands take qadd_u8u8).
template <bool kAU8, bool kBU8>
void qadd_impl(const QAddOperand& a_, const QAddOperand& b_, uint8_t* dst, size_t n, const QuantizeOut& o) {
  const Operand<kAU8> a(a_);
  const Operand<kBU8> b(b_);
  const QuantVec qv(o);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    qv.store(_mm512_add_ps(a.load(i, m), b.load(i, m)), dst + i, m);
  }
}

// Two u8 operands (the residual add), 64 codes per step with fewer operations than
// the generic path, same results: t is finite or +-inf here (finite codes and
// scales), so rounding by cvtps (round half to even, default MXCSR) equals the
// reference's (t + M) - M on the clamped t; when qmin == 0 (lo == -zp) the lower
// clamp is left to the saturating packs (max(nearbyint(t) + zp, 0), also for
// t = -inf where cvtps gives INT_MIN); the upper clamp is always explicit.
template <bool kInv>
void qadd_u8u8(const QAddOperand& a, const QAddOperand& b, uint8_t* dst, size_t n, const QuantizeOut& o) {
  const uint8_t* pa = static_cast<const uint8_t*>(a.data);
  const uint8_t* pb = static_cast<const uint8_t*>(b.data);
  const __m512 sa = _mm512_set1_ps(a.scale), sb = _mm512_set1_ps(b.scale);
  const __m512i za = _mm512_set1_epi32(a.zp), zb = _mm512_set1_epi32(b.zp), zp = _mm512_set1_epi32(o.zp);
  const __m512 scale = _mm512_set1_ps(kInv ? o.inv_scale : o.scale), lo = _mm512_set1_ps(o.lo),
               hi = _mm512_set1_ps(o.hi);
  const bool lower_clamp = o.lo != -static_cast<float>(o.zp);
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  auto codes16 = [&](size_t i, __mmask16 m) {
    const __m512 x = _mm512_add_ps(dequantize16(pa + i, m, sa, za), dequantize16(pb + i, m, sb, zb));
    __m512 t = kInv ? _mm512_mul_ps(x, scale) : _mm512_div_ps(x, scale);
    if (lower_clamp) t = _mm512_max_ps(lo, t);
    t = _mm512_min_ps(hi, t);
    return _mm512_add_epi32(_mm512_cvtps_epi32(t), zp);
  };
  for (size_t i = 0; i < n; i += 64) {
    const size_t left = n - i;
    const __m512i p = _mm512_packus_epi16(_mm512_packs_epi32(codes16(i, mask16(left)), codes16(i + 16, mask16(left > 16 ? left - 16 : 0))),
                                          _mm512_packs_epi32(codes16(i + 32, mask16(left > 32 ? left - 32 : 0)),
                                                             codes16(i + 48, mask16(left > 48 ? left - 48 : 0))));
    const __mmask64 m = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
    _mm512_mask_storeu_epi8(dst + i, m, _mm512_permutexvar_epi32(order, p));
  }
}

void qadd_avx512(const QAddOperand& a, const QAddOperand& b, uint8_t* dst, size_t n, const QuantizeOut& o) {
  if (a.u8 && b.u8 && o.inv_scale != 0.f) qadd_u8u8<true>(a, b, dst, n, o);
  else if (a.u8 && b.u8) qadd_u8u8<false>(a, b, dst, n, o);
  else if (a.u8) qadd_impl<true, false>(a, b, dst, n, o);
  else if (b.u8) qadd_impl<false, true>(a, b, dst, n, o);
  else qadd_impl<false, false>(a, b, dst, n, o);
}

// 16 pixels per step: each plane's codes narrowed to bytes (vpmovdb keeps the low
// byte, as the formula's truncating conversion does), then the three 16-byte rows
// interleaved into 48 bytes by byte shuffles (a -1 index gives 0) and ORs.
void quantize_interleave3_avx512(const float* const planes[3], uint8_t* dst, size_t n, const QuantizeOut& o) {
  const QuantVec qv(o);
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
    for (int c = 0; c < 3; ++c) bytes[c] = _mm512_cvtepi32_epi8(qv.codes(_mm512_loadu_ps(planes[c] + p)));
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

}  // namespace

const ElementwiseKernels& elementwise_kernels_avx512() {
  static const ElementwiseKernels k{"elementwise__avx512", Isa::avx512, quantize_avx512, dequantize_avx512,
                                    qadd_avx512, elementwise_kernels_avx2().transpose_f32,
                                    quantize_interleave3_avx512};
  return k;
}

}  // namespace lapq
