// u8s4_gemm_6x16c8__avxvnni and u8s4_igemm_6x16c8__avxvnni (indirect): int4 on
// AVX-VNNI (VEX vpdpbusd on ymm) for CPUs with AVX-VNNI but no AVX-512.
// Packed layout n16c8_s4 (the avx512vnni int4 layout): per 16-channel block int32
// bias16[16] (bias x16), then uint8 w[Kp/8][16][4], low nibble = w[8i+j], high
// nibble = w[8i+4+j]; the two 32-byte halves of a 64-byte K step hold channels
// 0-7 and 8-15. Nibble unpack as on avx512vnni: (v << 4) & 0xF0 = 16*w_lo and
// v & 0xF0 = 16*w_hi, exact in int8, so the sums are 16x the int8 sums; the
// packer's bound (x16) keeps them exact in int32 and an arithmetic shift by 4
// recovers the int8 accumulator exactly before the usual epilogue.
// Register tile: 6 rows x 2 ymm accumulators = 12 + 2 unpacked weights + 1
// broadcast + the 0xF0 mask (16 of 16). One row (batch-1 FC): 4 accumulator pairs.
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx2_epilogue.inc"

inline __m256i ld(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i lo16(const uint8_t* p, __m256i mask_f0) { return _mm256_and_si256(_mm256_slli_epi16(ld(p), 4), mask_f0); }
inline __m256i hi16(const uint8_t* p, __m256i mask_f0) { return _mm256_and_si256(ld(p), mask_f0); }

// Epilogue of 8 channels n0.. (count <= 8) of row m from 16x accumulators.
inline void store8(__m256i acc16, size_t m, size_t n0, size_t count, const GemmEpilogue& e, void* dst, size_t idx) {
  const __m256i acc = _mm256_srai_epi32(acc16, 4);  // exact: acc16 = 16 * acc
  const __m256 rs = rowsum_f(&e, m);
  if (count < 8) {
    epilogue_store8(acc, rs, n0, count, &e, dst, idx);
    return;
  }
  __m256 t = _mm256_cvtepi32_ps(acc);  // kernels/gemm.h formula, same operation order
  if (e.wei_zp) t = _mm256_sub_ps(t, _mm256_mul_ps(_mm256_loadu_ps(e.wei_zp + n0), rs));
  __m256 y = _mm256_mul_ps(t, _mm256_loadu_ps(e.scale + n0));
  if (e.bias) y = _mm256_add_ps(y, _mm256_loadu_ps(e.bias + n0));
  if (e.f32_out) {
    _mm256_storeu_ps(static_cast<float*>(dst) + idx, y);
    return;
  }
  y = _mm256_max_ps(y, _mm256_set1_ps(e.lo));
  y = _mm256_min_ps(y, _mm256_set1_ps(e.hi));
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(y), _mm256_set1_epi32(e.zp));
  const __m128i q16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(static_cast<uint8_t*>(dst) + idx), _mm_packus_epi16(q16, q16));
}

template <bool INDIRECT>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w, void* dst,
          size_t dst_stride, const GemmEpilogue& e, size_t taps, const uint8_t* const* ptrs) {
  const uint8_t* a0 = a;
  const uint8_t* a1 = mr > 1 ? a0 + a_stride : a0;
  const uint8_t* a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t* a3 = mr > 3 ? a2 + a_stride : a2;
  const uint8_t* a4 = mr > 4 ? a3 + a_stride : a3;
  const uint8_t* a5 = mr > 5 ? a4 + a_stride : a4;
  const __m256i b0 = ld(w), b1 = ld(w + 32);
  __m256i c00 = b0, c10 = b0, c20 = b0, c30 = b0, c40 = b0, c50 = b0;
  __m256i c01 = b1, c11 = b1, c21 = b1, c31 = b1, c41 = b1, c51 = b1;
  const uint8_t* wp = w + 64;
  const __m256i mask_f0 = _mm256_set1_epi8(static_cast<char>(0xF0));
#define LAPQ_ROW(i, off)                                            \
  {                                                                 \
    const __m256i va = _mm256_set1_epi32(load_i32(a##i + k + off)); \
    c##i##0 = _mm256_dpbusd_avx_epi32(c##i##0, va, w0);             \
    c##i##1 = _mm256_dpbusd_avx_epi32(c##i##1, va, w1);             \
  }
  for (size_t t = 0; t < taps; ++t) {
    if constexpr (INDIRECT) {
      const uint8_t* const* p = ptrs + t;  // (6, taps) pointers
      a0 = p[0];
      a1 = p[(mr > 1 ? 1 : mr - 1) * taps];
      a2 = p[(mr > 2 ? 2 : mr - 1) * taps];
      a3 = p[(mr > 3 ? 3 : mr - 1) * taps];
      a4 = p[(mr > 4 ? 4 : mr - 1) * taps];
      a5 = p[(mr > 5 ? 5 : mr - 1) * taps];
    }
    for (size_t k = 0; k < kp; k += 8) {
      {
        const __m256i w0 = lo16(wp + k * 8, mask_f0), w1 = lo16(wp + k * 8 + 32, mask_f0);
        LAPQ_ROW(0, 0) LAPQ_ROW(1, 0) LAPQ_ROW(2, 0) LAPQ_ROW(3, 0) LAPQ_ROW(4, 0) LAPQ_ROW(5, 0)
      }
      {
        const __m256i w0 = hi16(wp + k * 8, mask_f0), w1 = hi16(wp + k * 8 + 32, mask_f0);
        LAPQ_ROW(0, 4) LAPQ_ROW(1, 4) LAPQ_ROW(2, 4) LAPQ_ROW(3, 4) LAPQ_ROW(4, 4) LAPQ_ROW(5, 4)
      }
    }
    if constexpr (INDIRECT) wp += kp * 8;
  }
#undef LAPQ_ROW
  const size_t n1 = nc > 8 ? nc - 8 : 0;
#define LAPQ_STORE(i)                                                             \
  if (mr > i) {                                                                   \
    store8(c##i##0, i, 0, nc < 8 ? nc : 8, e, dst, i * dst_stride);               \
    if (n1) store8(c##i##1, i, 8, n1, e, dst, i * dst_stride + 8);                \
  }
  LAPQ_STORE(0) LAPQ_STORE(1) LAPQ_STORE(2) LAPQ_STORE(3) LAPQ_STORE(4) LAPQ_STORE(5)
#undef LAPQ_STORE
}

void tile_m1(size_t nc, size_t kp, const uint8_t* a, const uint8_t* w, void* dst, const GemmEpilogue& e) {
  const uint8_t* wp = w + 64;
  const __m256i mask_f0 = _mm256_set1_epi8(static_cast<char>(0xF0));
  __m256i c0[4], c1[4];
  c0[0] = ld(w), c1[0] = ld(w + 32);
  c0[1] = c0[2] = c0[3] = c1[1] = c1[2] = c1[3] = _mm256_setzero_si256();
  size_t k = 0;
  for (; k + 16 <= kp; k += 16) {
#pragma GCC unroll 2
    for (int u = 0; u < 2; ++u) {  // K groups of 8: low nibbles -> chain 2u, high -> 2u+1
      const uint8_t* p = wp + (k + 8 * u) * 8;
      const __m256i va = _mm256_set1_epi32(load_i32(a + k + 8 * u)), vb = _mm256_set1_epi32(load_i32(a + k + 8 * u + 4));
      c0[2 * u] = _mm256_dpbusd_avx_epi32(c0[2 * u], va, lo16(p, mask_f0));
      c1[2 * u] = _mm256_dpbusd_avx_epi32(c1[2 * u], va, lo16(p + 32, mask_f0));
      c0[2 * u + 1] = _mm256_dpbusd_avx_epi32(c0[2 * u + 1], vb, hi16(p, mask_f0));
      c1[2 * u + 1] = _mm256_dpbusd_avx_epi32(c1[2 * u + 1], vb, hi16(p + 32, mask_f0));
    }
  }
  for (; k < kp; k += 8) {
    const uint8_t* p = wp + k * 8;
    const __m256i va = _mm256_set1_epi32(load_i32(a + k)), vb = _mm256_set1_epi32(load_i32(a + k + 4));
    c0[0] = _mm256_dpbusd_avx_epi32(c0[0], va, lo16(p, mask_f0));
    c1[0] = _mm256_dpbusd_avx_epi32(c1[0], va, lo16(p + 32, mask_f0));
    c0[1] = _mm256_dpbusd_avx_epi32(c0[1], vb, hi16(p, mask_f0));
    c1[1] = _mm256_dpbusd_avx_epi32(c1[1], vb, hi16(p + 32, mask_f0));
  }
  const __m256i s0 = _mm256_add_epi32(_mm256_add_epi32(c0[0], c0[1]), _mm256_add_epi32(c0[2], c0[3]));
  const __m256i s1 = _mm256_add_epi32(_mm256_add_epi32(c1[0], c1[1]), _mm256_add_epi32(c1[2], c1[3]));
  store8(s0, 0, 0, nc < 8 ? nc : 8, e, dst, 0);
  if (nc > 8) store8(s1, 0, 8, nc - 8, e, dst, 8);
}

}  // namespace

void u8s4_gemm_6x16c8__avxvnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride, const void* w,
                               size_t, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  if (mr == 1)
    tile_m1(nc, kp, static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(w), dst, e);
  else
    tile<false>(mr, nc, kp, static_cast<const uint8_t*>(a), a_stride, static_cast<const uint8_t*>(w), dst, dst_stride,
                e, 1, nullptr);
}

void u8s4_igemm_6x16c8__avxvnni(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs,
                                const void* w, size_t, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  const GemmEpilogue e = *ep;
  tile<true>(mr, nc, kc, nullptr, 0, static_cast<const uint8_t*>(w), dst, dst_stride, e, taps, ptrs);
}

}  // namespace lapq
