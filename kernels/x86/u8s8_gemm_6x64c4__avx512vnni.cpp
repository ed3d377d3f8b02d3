// u8s8_gemm_6x64c4__avx512vnni: the direct int8 GEMM of the avx512vnni level (1x1 convolutions,
// fully connected layers; the indirect K x K one is u8s8_igemm_1to6x64c4__avx512vnni).
// Packed layout n16c4_s8, per 16-channel block: int32 bias[16]; int8 w[Kp/4][16][4]
// (one 64-byte load = one vpdpbusd operand). Up to four blocks (64 channels) per call.
// Register tile: 6 rows x 4 zmm accumulators = 24 accumulators + 4 weight registers
// + 1 broadcast (29 of 32 zmm); per 4 K: 4 weight loads + 6 broadcasts feed 24 vpdpbusd.
// Six row pointers keep the loop free of spills. Activations are broadcast 4 bytes at a time.
// Overflow: |sum (a - za) w + bias| < 2^31 is guaranteed by the packer (K bound);
// intermediate wraparound is harmless (two's complement sums are associative).
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

// NB = number of 16-channel blocks (1..4); rows at a + i * a_stride, K = kp.
template <int NB>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w,
          size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  // Named accumulators (GCC keeps them in registers; arrays cost register copies).
  // Rows beyond mr repeat the last row; their results are not stored.
  const uint8_t* a0 = a;
  const uint8_t* a1 = mr > 1 ? a0 + a_stride : a0;
  const uint8_t* a2 = mr > 2 ? a1 + a_stride : a1;
  const uint8_t* a3 = mr > 3 ? a2 + a_stride : a2;
  const uint8_t* a4 = mr > 4 ? a3 + a_stride : a3;
  const uint8_t* a5 = mr > 5 ? a4 + a_stride : a4;
  const uint8_t* wp[4];
  __m512i bias[4];
  for (int b = 0; b < 4; ++b) {
    const int bb = b < NB ? b : 0;
    wp[b] = w + bb * w_block_bytes + 64;
    bias[b] = _mm512_loadu_si512(w + bb * w_block_bytes);
  }
  __m512i c00 = bias[0], c10 = bias[0], c20 = bias[0], c30 = bias[0], c40 = bias[0], c50 = bias[0];
  __m512i c01 = bias[1], c11 = bias[1], c21 = bias[1], c31 = bias[1], c41 = bias[1], c51 = bias[1];
  __m512i c02 = bias[2], c12 = bias[2], c22 = bias[2], c32 = bias[2], c42 = bias[2], c52 = bias[2];
  __m512i c03 = bias[3], c13 = bias[3], c23 = bias[3], c33 = bias[3], c43 = bias[3], c53 = bias[3];
#define LAPQ_ROW(i)                                                       \
  {                                                                       \
    const __m512i va = _mm512_set1_epi32(load_i32(a##i + k));             \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, va, w0);                       \
    if constexpr (NB > 1) c##i##1 = _mm512_dpbusd_epi32(c##i##1, va, w1); \
    if constexpr (NB > 2) c##i##2 = _mm512_dpbusd_epi32(c##i##2, va, w2); \
    if constexpr (NB > 3) c##i##3 = _mm512_dpbusd_epi32(c##i##3, va, w3); \
  }
  const char* pf = static_cast<const char*>(ep->prefetch);
  const char* const pf_end = pf + (pf ? ep->prefetch_bytes : 0);
  for (size_t k = 0; k < kp; k += 4) {
    if (pf < pf_end) {  // one line of the caller's next panel per K step (cold weights)
      _mm_prefetch(pf, _MM_HINT_T1);
      pf += 64;
    }
    const __m512i w0 = NB > 0 ? _mm512_loadu_si512(wp[0] + k * 16) : _mm512_setzero_si512();
    const __m512i w1 = NB > 1 ? _mm512_loadu_si512(wp[1] + k * 16) : _mm512_setzero_si512();
    const __m512i w2 = NB > 2 ? _mm512_loadu_si512(wp[2] + k * 16) : _mm512_setzero_si512();
    const __m512i w3 = NB > 3 ? _mm512_loadu_si512(wp[3] + k * 16) : _mm512_setzero_si512();
    LAPQ_ROW(0) LAPQ_ROW(1) LAPQ_ROW(2) LAPQ_ROW(3) LAPQ_ROW(4) LAPQ_ROW(5)
  }
#undef LAPQ_ROW
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  // u8 output without weight zero points and with provably bounded y: the clamp
  // happens in the saturating narrowing (avx512_epilogue.inc, direct_u8_*). With
  // K = 64 the epilogue is ~1/3 of the work, so the ops it saves matter.
  DirectU8 dc;
  const bool lohi_in_range = e.lo >= -255.f && e.lo <= e.hi && e.hi <= 255.f;  // (casts below are defined)
  const int32_t qmin = lohi_in_range ? static_cast<int32_t>(e.lo) + e.zp : -1;
  const int32_t qmax = lohi_in_range ? static_cast<int32_t>(e.hi) + e.zp : -1;
  if (lohi_in_range && static_cast<float>(qmin - e.zp) == e.lo && static_cast<float>(qmax - e.zp) == e.hi &&
      0 <= qmin && qmax <= 255 && direct_u8_prepare(e, nc, &dc)) {
    const __m512i zp16 = _mm512_set1_epi16(static_cast<int16_t>(e.zp));
    const __m512i qmin8 = _mm512_set1_epi8(static_cast<char>(qmin)), qmax8 = _mm512_set1_epi8(static_cast<char>(qmax));
    uint8_t* d = static_cast<uint8_t*>(dst);
    const bool extra = e.zp != 0 || qmin != 0 || qmax != 255;
    if (e.bias) {
      if (extra) LAPQ_DIRECT_U8_TILE(true, true) else LAPQ_DIRECT_U8_TILE(true, false)
    } else {
      if (extra) LAPQ_DIRECT_U8_TILE(false, true) else LAPQ_DIRECT_U8_TILE(false, false)
    }
    return;
  }
  LAPQ_STORE_TILE(false)
}

// One row (batch-1 fully connected layers): 4 independent accumulators per
// column hide the vpdpbusd latency; integer sums are exact in any order.
template <int NB>
void tile_m1(size_t nc, size_t kp, const uint8_t* a, const uint8_t* w, size_t w_block_bytes, void* dst,
             const GemmEpilogue* ep) {
  const uint8_t* wp0 = w + 64;
  const uint8_t* wp1 = w + w_block_bytes + 64;
  __m512i c0[4], c1[4];
  c0[0] = _mm512_loadu_si512(w);
  c1[0] = NB == 2 ? _mm512_loadu_si512(w + w_block_bytes) : c0[0];
  c0[1] = c0[2] = c0[3] = c1[1] = c1[2] = c1[3] = _mm512_setzero_si512();
  size_t k = 0;
  for (; k + 16 <= kp; k += 16) {
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m512i va = _mm512_set1_epi32(load_i32(a + k + 4 * u));
      c0[u] = _mm512_dpbusd_epi32(c0[u], va, _mm512_loadu_si512(wp0 + (k + 4 * u) * 16));
      if constexpr (NB == 2) c1[u] = _mm512_dpbusd_epi32(c1[u], va, _mm512_loadu_si512(wp1 + (k + 4 * u) * 16));
    }
  }
  for (; k < kp; k += 4) {
    const __m512i va = _mm512_set1_epi32(load_i32(a + k));
    c0[0] = _mm512_dpbusd_epi32(c0[0], va, _mm512_loadu_si512(wp0 + k * 16));
    if constexpr (NB == 2) c1[0] = _mm512_dpbusd_epi32(c1[0], va, _mm512_loadu_si512(wp1 + k * 16));
  }
  const __m512i s0 = _mm512_add_epi32(_mm512_add_epi32(c0[0], c0[1]), _mm512_add_epi32(c0[2], c0[3]));
  const __m512 rs = rowsum_f(ep, 0);
  epilogue_store16(s0, rs, 0, nc, ep, dst, 0, false);
  if constexpr (NB == 2) {
    const __m512i s1 = _mm512_add_epi32(_mm512_add_epi32(c1[0], c1[1]), _mm512_add_epi32(c1[2], c1[3]));
    epilogue_store16(s1, rs, 16, nc - 16, ep, dst, 16, false);
  }
}

void dispatch(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w, size_t wbb,
              void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  if (mr == 1) {  // one row: latency-bound, 32 channels at a time
    GemmEpilogue e = *ep;
    for (size_t n0 = 0; n0 < nc; n0 += 32) {
      const size_t c = nc - n0 < 32 ? nc - n0 : 32;
      void* d = static_cast<uint8_t*>(dst) + n0 * (e.f32_out ? 4 : 1);
      if (c > 16)
        tile_m1<2>(c, kp, a, w + (n0 / 16) * wbb, wbb, d, &e);
      else
        tile_m1<1>(c, kp, a, w + (n0 / 16) * wbb, wbb, d, &e);
      e.scale += 32;
      if (e.bias) e.bias += 32;
      if (e.wei_zp) e.wei_zp += 32;
    }
    return;
  }
  if (nc > 48)
    tile<4>(mr, nc, kp, a, a_stride, w, wbb, dst, dst_stride, ep);
  else if (nc > 32)
    tile<3>(mr, nc, kp, a, a_stride, w, wbb, dst, dst_stride, ep);
  else if (nc > 16)
    tile<2>(mr, nc, kp, a, a_stride, w, wbb, dst, dst_stride, ep);
  else
    tile<1>(mr, nc, kp, a, a_stride, w, wbb, dst, dst_stride, ep);
}

}  // namespace

void u8s8_gemm_6x64c4__avx512vnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride, const void* w,
        size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  dispatch(mr, nc, kp, static_cast<const uint8_t*>(a), a_stride, static_cast<const uint8_t*>(w), w_block_bytes, dst,
           dst_stride, ep);
}

}  // namespace lapq
