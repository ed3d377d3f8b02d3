// u8s8_gemm_6x16c4__avxvnni and u8s8_igemm_6x16c4__avxvnni (indirect): AVX-VNNI
// (VEX vpdpbusd on ymm) for CPUs with AVX-VNNI but no AVX-512 (16 ymm registers).
// Packed layout n16c4_s8 (the avx512vnni layout): per 16-channel block int32
// bias[16], then int8 w[Kp/4][16][4]; the two halves of each 64-byte K step are the
// vpdpbusd operands of channels 0-7 and 8-15.
// Register tile: 6 rows x 2 ymm accumulators = 12 + 2 weights + 1 broadcast (15 of 16).
// One row (batch-1 FC): 4 independent accumulator pairs hide the vpdpbusd latency.
// Exactness: as the avx512vnni kernel (packer's K bound; wraparound-free sums).
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx2_epilogue.inc"

inline __m256i ld(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Epilogue of 8 channels n0.. (count <= 8) of row m: full vectors store directly.
inline void store8(__m256i acc, size_t m, size_t n0, size_t count, const GemmEpilogue& e, void* dst, size_t idx) {
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
#define LAPQ_ROW(i)                                                 \
  {                                                                 \
    const __m256i va = _mm256_set1_epi32(load_i32(a##i + k));       \
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
    for (size_t k = 0; k < kp; k += 4) {
      const __m256i w0 = ld(wp + k * 16), w1 = ld(wp + k * 16 + 32);
      LAPQ_ROW(0) LAPQ_ROW(1) LAPQ_ROW(2) LAPQ_ROW(3) LAPQ_ROW(4) LAPQ_ROW(5)
    }
    if constexpr (INDIRECT) wp += kp * 16;
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
  __m256i c0[4], c1[4];
  c0[0] = ld(w), c1[0] = ld(w + 32);
  c0[1] = c0[2] = c0[3] = c1[1] = c1[2] = c1[3] = _mm256_setzero_si256();
  size_t k = 0;
  for (; k + 16 <= kp; k += 16) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m256i va = _mm256_set1_epi32(load_i32(a + k + 4 * u));
      c0[u] = _mm256_dpbusd_avx_epi32(c0[u], va, ld(wp + (k + 4 * u) * 16));
      c1[u] = _mm256_dpbusd_avx_epi32(c1[u], va, ld(wp + (k + 4 * u) * 16 + 32));
    }
  }
  for (; k < kp; k += 4) {
    const __m256i va = _mm256_set1_epi32(load_i32(a + k));
    c0[0] = _mm256_dpbusd_avx_epi32(c0[0], va, ld(wp + k * 16));
    c1[0] = _mm256_dpbusd_avx_epi32(c1[0], va, ld(wp + k * 16 + 32));
  }
  const __m256i s0 = _mm256_add_epi32(_mm256_add_epi32(c0[0], c0[1]), _mm256_add_epi32(c0[2], c0[3]));
  const __m256i s1 = _mm256_add_epi32(_mm256_add_epi32(c1[0], c1[1]), _mm256_add_epi32(c1[2], c1[3]));
  store8(s0, 0, 0, nc < 8 ? nc : 8, e, dst, 0);
  if (nc > 8) store8(s1, 0, 8, nc - 8, e, dst, 8);
}

}  // namespace

void u8s8_gemm_6x16c4__avxvnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride, const void* w,
                               size_t, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  if (mr == 1)
    tile_m1(nc, kp, static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(w), dst, e);
  else
    tile<false>(mr, nc, kp, static_cast<const uint8_t*>(a), a_stride, static_cast<const uint8_t*>(w), dst, dst_stride,
                e, 1, nullptr);
}

void u8s8_igemm_6x16c4__avxvnni(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs,
                                const void* w, size_t, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  const GemmEpilogue e = *ep;
  tile<true>(mr, nc, kc, nullptr, 0, static_cast<const uint8_t*>(w), dst, dst_stride, e, taps, ptrs);
}

}  // namespace lapq
