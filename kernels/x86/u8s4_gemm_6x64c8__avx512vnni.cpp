// u8s4_gemm_6x64c8__avx512vnni (and u8s4_igemm_6x64c8__avx512vnni, the indirect variant)
// Packed layout n16c8_s4, per 16-channel block: int32 bias16[16] (bias x16);
// uint8 w[Kp/8][16][4]: low nibble = w[8i+j], high nibble = w[8i+4+j].
// One 64-byte load feeds two vpdpbusd: (v << 4) & 0xF0 = 16*w_lo and v & 0xF0 =
// 16*w_hi, both exact in int8. The accumulators hold 16x the int8 sums; the
// epilogue multiplies by 0.0625f first (exact).
// Register tile: 6 rows x 4 zmm accumulators (24) + 4 unpacked weight registers
// (low nibbles for all rows, then high nibbles from a second L1 load) + 1 broadcast.
// Overflow: |16 w| <= 128, same bound as int8 (checked by the packer).
#include <immintrin.h>

#include "kernels/gemm.h"

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

// NB = number of 16-channel blocks (1..4). INDIRECT = false: rows at
// a + i * a_stride, K = kp. INDIRECT = true: row i reads `taps` segments of kp
// bytes from ptrs[i * taps + t].
template <int NB, bool INDIRECT>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w,
          size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep,
          size_t taps = 1, const uint8_t* const* ptrs = nullptr) {
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
#define LAPQ_ROW(i, off)                                                  \
  {                                                                       \
    const __m512i va = _mm512_set1_epi32(load_i32(a##i + k + off));       \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, va, w0);                       \
    if constexpr (NB > 1) c##i##1 = _mm512_dpbusd_epi32(c##i##1, va, w1); \
    if constexpr (NB > 2) c##i##2 = _mm512_dpbusd_epi32(c##i##2, va, w2); \
    if constexpr (NB > 3) c##i##3 = _mm512_dpbusd_epi32(c##i##3, va, w3); \
  }
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
  for (size_t t = 0; t < taps; ++t) {
    if constexpr (INDIRECT) {
      const uint8_t* const* p = ptrs + t;  // (6, taps) pointers
      a0 = p[(mr > 0 ? 0 : mr - 1) * taps];
      a1 = p[(mr > 1 ? 1 : mr - 1) * taps];
      a2 = p[(mr > 2 ? 2 : mr - 1) * taps];
      a3 = p[(mr > 3 ? 3 : mr - 1) * taps];
      a4 = p[(mr > 4 ? 4 : mr - 1) * taps];
      a5 = p[(mr > 5 ? 5 : mr - 1) * taps];
    }
    for (size_t k = 0; k < kp; k += 8) {
      {
        const __m512i w0 = NB > 0 ? _mm512_and_si512(_mm512_slli_epi16(_mm512_loadu_si512(wp[0] + k * 8), 4), mask_f0) : _mm512_setzero_si512();
        const __m512i w1 = NB > 1 ? _mm512_and_si512(_mm512_slli_epi16(_mm512_loadu_si512(wp[1] + k * 8), 4), mask_f0) : _mm512_setzero_si512();
        const __m512i w2 = NB > 2 ? _mm512_and_si512(_mm512_slli_epi16(_mm512_loadu_si512(wp[2] + k * 8), 4), mask_f0) : _mm512_setzero_si512();
        const __m512i w3 = NB > 3 ? _mm512_and_si512(_mm512_slli_epi16(_mm512_loadu_si512(wp[3] + k * 8), 4), mask_f0) : _mm512_setzero_si512();
        LAPQ_ROW(0, 0) LAPQ_ROW(1, 0) LAPQ_ROW(2, 0) LAPQ_ROW(3, 0) LAPQ_ROW(4, 0) LAPQ_ROW(5, 0)
      }
      {
        const __m512i w0 = NB > 0 ? _mm512_and_si512(_mm512_loadu_si512(wp[0] + k * 8), mask_f0) : _mm512_setzero_si512();
        const __m512i w1 = NB > 1 ? _mm512_and_si512(_mm512_loadu_si512(wp[1] + k * 8), mask_f0) : _mm512_setzero_si512();
        const __m512i w2 = NB > 2 ? _mm512_and_si512(_mm512_loadu_si512(wp[2] + k * 8), mask_f0) : _mm512_setzero_si512();
        const __m512i w3 = NB > 3 ? _mm512_and_si512(_mm512_loadu_si512(wp[3] + k * 8), mask_f0) : _mm512_setzero_si512();
        LAPQ_ROW(0, 4) LAPQ_ROW(1, 4) LAPQ_ROW(2, 4) LAPQ_ROW(3, 4) LAPQ_ROW(4, 4) LAPQ_ROW(5, 4)
      }
    }
    if constexpr (INDIRECT)
      for (int b = 0; b < 4; ++b) wp[b] += kp * 8;
  }
#undef LAPQ_ROW
#define LAPQ_STORE(i)                                                                          \
  if (mr > i) {                                                                                \
    const __m512 rs = rowsum_f(&e, i);                                                         \
    __m512 y0 = epilogue_y(c##i##0, rs, 0, nc, e, true), y1 = y0, y2 = y0, y3 = y0;             \
    if constexpr (NB > 1) y1 = epilogue_y(c##i##1, rs, 16, nc - 16, e, true);                   \
    if constexpr (NB > 2) y2 = epilogue_y(c##i##2, rs, 32, nc - 32, e, true);                   \
    if constexpr (NB > 3) y3 = epilogue_y(c##i##3, rs, 48, nc - 48, e, true);                   \
    if (e.f32_out) {                                                                           \
      float* d = static_cast<float*>(dst) + i * dst_stride;                                    \
      _mm512_mask_storeu_ps(d, mask16(nc), y0);                                                \
      if constexpr (NB > 1) _mm512_mask_storeu_ps(d + 16, mask16(nc - 16), y1);                \
      if constexpr (NB > 2) _mm512_mask_storeu_ps(d + 32, mask16(nc - 32), y2);                \
      if constexpr (NB > 3) _mm512_mask_storeu_ps(d + 48, mask16(nc - 48), y3);                \
    } else {                                                                                   \
      store_u8x64(epilogue_q(y0, e), epilogue_q(y1, e), epilogue_q(y2, e), epilogue_q(y3, e),  \
                  static_cast<uint8_t*>(dst) + i * dst_stride, nc);                            \
    }                                                                                          \
  }
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  LAPQ_STORE(0) LAPQ_STORE(1) LAPQ_STORE(2) LAPQ_STORE(3) LAPQ_STORE(4) LAPQ_STORE(5)
#undef LAPQ_STORE
}

// One row (batch-1 fully connected layers): 4 independent accumulators per
// column hide the vpdpbusd latency; integer sums are exact in any order.
template <int NB>
void tile_m1(size_t nc, size_t kp, const uint8_t* a, const uint8_t* w, size_t w_block_bytes, void* dst,
             const GemmEpilogue* ep) {
  const uint8_t* wp[2] = {w + 64, w + w_block_bytes + 64};
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
  __m512i c[2][4];
  c[0][0] = _mm512_loadu_si512(w);
  c[1][0] = NB == 2 ? _mm512_loadu_si512(w + w_block_bytes) : c[0][0];
  c[0][1] = c[0][2] = c[0][3] = c[1][1] = c[1][2] = c[1][3] = _mm512_setzero_si512();
  size_t k = 0;
  for (; k + 16 <= kp; k += 16) {
    const __m512i va0 = _mm512_set1_epi32(load_i32(a + k)), vb0 = _mm512_set1_epi32(load_i32(a + k + 4));
    const __m512i va1 = _mm512_set1_epi32(load_i32(a + k + 8)), vb1 = _mm512_set1_epi32(load_i32(a + k + 12));
#pragma GCC unroll 2
    for (int b = 0; b < NB; ++b) {
      const __m512i v0 = _mm512_loadu_si512(wp[b] + k * 8), v1 = _mm512_loadu_si512(wp[b] + k * 8 + 64);
      c[b][0] = _mm512_dpbusd_epi32(c[b][0], va0, _mm512_and_si512(_mm512_slli_epi16(v0, 4), mask_f0));
      c[b][1] = _mm512_dpbusd_epi32(c[b][1], vb0, _mm512_and_si512(v0, mask_f0));
      c[b][2] = _mm512_dpbusd_epi32(c[b][2], va1, _mm512_and_si512(_mm512_slli_epi16(v1, 4), mask_f0));
      c[b][3] = _mm512_dpbusd_epi32(c[b][3], vb1, _mm512_and_si512(v1, mask_f0));
    }
  }
  for (; k < kp; k += 8) {
    const __m512i va = _mm512_set1_epi32(load_i32(a + k)), vb = _mm512_set1_epi32(load_i32(a + k + 4));
    for (int b = 0; b < NB; ++b) {
      const __m512i v = _mm512_loadu_si512(wp[b] + k * 8);
      c[b][0] = _mm512_dpbusd_epi32(c[b][0], va, _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0));
      c[b][1] = _mm512_dpbusd_epi32(c[b][1], vb, _mm512_and_si512(v, mask_f0));
    }
  }
  const __m512 rs = rowsum_f(ep, 0);
  for (int b = 0; b < NB; ++b) {
    const __m512i s = _mm512_add_epi32(_mm512_add_epi32(c[b][0], c[b][1]), _mm512_add_epi32(c[b][2], c[b][3]));
    epilogue_store16(s, rs, b * 16, nc - b * 16, ep, dst, b * 16, true);
  }
}

template <bool INDIRECT>
void dispatch(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w, size_t wbb,
              void* dst, size_t dst_stride, const GemmEpilogue* ep, size_t taps, const uint8_t* const* ptrs) {
  if (!INDIRECT && mr == 1) {  // one row: latency-bound, 32 channels at a time
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
    tile<4, INDIRECT>(mr, nc, kp, a, a_stride, w, wbb, dst, dst_stride, ep, taps, ptrs);
  else if (nc > 32)
    tile<3, INDIRECT>(mr, nc, kp, a, a_stride, w, wbb, dst, dst_stride, ep, taps, ptrs);
  else if (nc > 16)
    tile<2, INDIRECT>(mr, nc, kp, a, a_stride, w, wbb, dst, dst_stride, ep, taps, ptrs);
  else
    tile<1, INDIRECT>(mr, nc, kp, a, a_stride, w, wbb, dst, dst_stride, ep, taps, ptrs);
}

}  // namespace

void u8s4_gemm_6x64c8__avx512vnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride, const void* w,
        size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  dispatch<false>(mr, nc, kp, static_cast<const uint8_t*>(a), a_stride, static_cast<const uint8_t*>(w), w_block_bytes,
                  dst, dst_stride, ep, 1, nullptr);
}

void u8s4_igemm_6x64c8__avx512vnni(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs, const void* w,
        size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  dispatch<true>(mr, nc, kc, nullptr, 0, static_cast<const uint8_t*>(w), w_block_bytes, dst, dst_stride, ep, taps,
                 ptrs);
}

// Unpacks `nblocks` n16c8_s4 blocks (K padded to kp, a multiple of 8) into
// n16c4_s8 blocks of 16*w with the same x16 bias: per 64 bytes of nibbles,
// (v << 4) & 0xF0 is the K group 2i and v & 0xF0 the K group 2i+1. Lets large
// tiles run the int8 kernel (u8s8x16_*) on a panel unpacked once per work item.
void u8s4_unpack_panel__avx512vnni(const void* w, size_t nblocks, size_t kp, size_t w_block_bytes, void* out) {
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
  const size_t ob = 64 + 16 * kp;  // n16c4_s8 block bytes
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* src = static_cast<const uint8_t*>(w) + b * w_block_bytes;
    uint8_t* dst = static_cast<uint8_t*>(out) + b * ob;
    _mm512_storeu_si512(dst, _mm512_loadu_si512(src));  // bias x16
    for (size_t k = 0; k < kp; k += 8) {
      const __m512i v = _mm512_loadu_si512(src + 64 + k * 8);
      _mm512_storeu_si512(dst + 64 + k * 16, _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0));
      _mm512_storeu_si512(dst + 64 + k * 16 + 64, _mm512_and_si512(v, mask_f0));
    }
  }
}

}  // namespace lapq
