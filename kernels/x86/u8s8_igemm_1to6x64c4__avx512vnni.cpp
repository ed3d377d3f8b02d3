// u8s8_igemm_1to6x64c4__avx512vnni: indirect GEMM (convolution through tap
// pointers) on the n16c4_s8 layout, for tiles of exactly 1..6 rows x up to 64
// channels. Same contract as u8s8_igemm_6x64c4__avx512vnni (kernels/gemm.h), but:
// - the row count is a template parameter, so a 5-row tile costs 5/6 of a 6-row
//   one (the driver splits M into balanced tiles: 49 rows = 4x6 + 5x5 instead of
//   8x6 + 1 padded to 6) and rows beyond mr are never read;
// - the K loop keeps one weight pointer (the other blocks at +bb, +2bb, +3bb),
//   one shared activation offset and is unrolled by two: 3 scalar ops per 48
//   vpdpbusd and no spilled pointers (the 6x64 kernel's loop reloads row pointers
//   from the stack and moves some through xmm registers, which take vpdpbusd
//   ports: ~5 % of a 3x3 layer at IC >= 128);
// - the next-panel prefetch (GemmEpilogue::prefetch) runs in its own copy of the
//   loop for exactly the lines asked for, instead of a branch per K step.
// Accumulators: MR x NB zmm (<= 24) + NB weights + 1 broadcast.
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

// mr == MR, passed at run time on purpose: with compile-time row conditions in the
// epilogue, GCC 12 allocates the accumulators so that the K loop gains ~30 register
// copies (vmovdqa) per 48 vpdpbusd; noipa keeps it from propagating the constant.
template <int MR, int NB>
__attribute__((noipa)) void tile(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs, const uint8_t* w, size_t bb, void* dst,
          size_t dst_stride, const GemmEpilogue* ep) {
  __m512i bias[4];
  for (int b = 0; b < 4; ++b) bias[b] = _mm512_loadu_si512(w + (b < NB ? b : 0) * bb);
  // Named accumulators (GCC keeps them in registers; arrays cost register copies).
  __m512i c00 = bias[0], c10 = bias[0], c20 = bias[0], c30 = bias[0], c40 = bias[0], c50 = bias[0];
  __m512i c01 = bias[1], c11 = bias[1], c21 = bias[1], c31 = bias[1], c41 = bias[1], c51 = bias[1];
  __m512i c02 = bias[2], c12 = bias[2], c22 = bias[2], c32 = bias[2], c42 = bias[2], c52 = bias[2];
  __m512i c03 = bias[3], c13 = bias[3], c23 = bias[3], c33 = bias[3], c43 = bias[3], c53 = bias[3];
  const size_t bb3 = 3 * bb;
#define LAPQ_ROW(i)                                                         \
  if constexpr (i < MR) {                                                   \
    const __m512i va = _mm512_set1_epi32(load_i32(a##i + k));               \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, va, w0);                         \
    if constexpr (NB > 1) c##i##1 = _mm512_dpbusd_epi32(c##i##1, va, w1);   \
    if constexpr (NB > 2) c##i##2 = _mm512_dpbusd_epi32(c##i##2, va, w2);   \
    if constexpr (NB > 3) c##i##3 = _mm512_dpbusd_epi32(c##i##3, va, w3);   \
  }
#define LAPQ_STEP                                                           \
  {                                                                         \
    const __m512i w0 = _mm512_loadu_si512(wk);                              \
    const __m512i w1 = NB > 1 ? _mm512_loadu_si512(wk + bb) : w0;           \
    const __m512i w2 = NB > 2 ? _mm512_loadu_si512(wk + 2 * bb) : w0;       \
    const __m512i w3 = NB > 3 ? _mm512_loadu_si512(wk + bb3) : w0;          \
    LAPQ_ROW(0) LAPQ_ROW(1) LAPQ_ROW(2) LAPQ_ROW(3) LAPQ_ROW(4) LAPQ_ROW(5) \
  }
  const char* pf = static_cast<const char*>(ep->prefetch);
  const char* const pf_end = pf + (pf ? ep->prefetch_bytes : 0);
  const uint8_t* wt = w + 64;  // this tap's weights of block 0: int8 w[kc/4][16][4]
  for (size_t t = 0; t < taps; ++t, wt += kc * 16) {
    const uint8_t* const* p = ptrs + t;  // (MR, taps) pointers
    const uint8_t* a0 = p[0];
    const uint8_t* a1 = MR > 1 ? p[1 * taps] : a0;
    const uint8_t* a2 = MR > 2 ? p[2 * taps] : a0;
    const uint8_t* a3 = MR > 3 ? p[3 * taps] : a0;
    const uint8_t* a4 = MR > 4 ? p[4 * taps] : a0;
    const uint8_t* a5 = MR > 5 ? p[5 * taps] : a0;
    const uint8_t* wk = wt;
    size_t k = 0;
    if (pf < pf_end) {  // one line of the caller's next panel per K step (cold weights), up to its end
      const size_t lines = size_t(pf_end - pf + 63) / 64, k_pf = kc < 4 * lines ? kc : 4 * lines;
      for (; k < k_pf; k += 4, wk += 64, pf += 64) {
        _mm_prefetch(pf, _MM_HINT_T1);
        LAPQ_STEP
      }
    }
#pragma GCC unroll 2
    for (; k < kc; k += 4, wk += 64) LAPQ_STEP
  }
#undef LAPQ_STEP
#undef LAPQ_ROW
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  // u8 output without weight zero points and with provably bounded y: the clamp
  // happens in the saturating narrowing (avx512_epilogue.inc, direct_u8_*).
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

template <int MR>
void tile_nb(size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs, const uint8_t* w, size_t bb, void* dst,
             size_t dst_stride, const GemmEpilogue* ep) {
  if (nc > 48)
    tile<MR, 4>(MR, nc, taps, kc, ptrs, w, bb, dst, dst_stride, ep);
  else if (nc > 32)
    tile<MR, 3>(MR, nc, taps, kc, ptrs, w, bb, dst, dst_stride, ep);
  else if (nc > 16)
    tile<MR, 2>(MR, nc, taps, kc, ptrs, w, bb, dst, dst_stride, ep);
  else
    tile<MR, 1>(MR, nc, taps, kc, ptrs, w, bb, dst, dst_stride, ep);
}

}  // namespace

void u8s8_igemm_1to6x64c4__avx512vnni(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs,
                                      const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                                      const GemmEpilogue* ep) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  switch (mr) {
    case 1: return tile_nb<1>(nc, taps, kc, ptrs, wb, w_block_bytes, dst, dst_stride, ep);
    case 2: return tile_nb<2>(nc, taps, kc, ptrs, wb, w_block_bytes, dst, dst_stride, ep);
    case 3: return tile_nb<3>(nc, taps, kc, ptrs, wb, w_block_bytes, dst, dst_stride, ep);
    case 4: return tile_nb<4>(nc, taps, kc, ptrs, wb, w_block_bytes, dst, dst_stride, ep);
    case 5: return tile_nb<5>(nc, taps, kc, ptrs, wb, w_block_bytes, dst, dst_stride, ep);
    default: return tile_nb<6>(nc, taps, kc, ptrs, wb, w_block_bytes, dst, dst_stride, ep);
  }
}

}  // namespace lapq
