// u8s4_gemm_6x64c8__avx512vnni (and u8s4_igemm_6x64c8__avx512vnni, the indirect variant)
// Packed layout n16c8_s4, per 16-channel block: int32 bias16[16] (bias x16);
// uint8 w[Kp/8][16][4]: low nibble = w[8i+j], high nibble = w[8i+4+j].
// One 64-byte load feeds two vpdpbusd: (v << 4) & 0xF0 = 16*w_lo and v & 0xF0 =
// 16*w_hi, both exact in int8. The accumulators hold 16x the int8 sums; the
// epilogue multiplies by 0.0625f first (exact).
// Register tile: 6 rows x 4 zmm accumulators (24) + 4 unpacked weight registers
// (low nibbles for all rows, then high nibbles from a second L1 load) + 1 broadcast.
// Overflow: |16 w| <= 128, same bound as int8 (checked by the packer).
// Calls: GemmConfig::mr = kU8s4MaxRows (60). One row takes the FC path (tile_m1);
// 2..6 rows the register tile above; 7..60 rows (7x7 layers at batch 1, small
// batches; direct and indirect alike) unpack each nibble once per call for all
// rows: K <= 8192 (9..12 direct rows: K <= 1024; rows_panel): the first row
// group's register tile also writes plain int8 weights to a panel, the other
// groups run the int8 igemm u8s8_igemm_1to6x64c4 on it; otherwise (rows_chunked)
// K chunks unpacked to L1, partial sums in an L1 buffer between chunks.
// Direct calls of 7..8 rows (FC at batch 8) run an 8-row register tile instead.
// GFNI variant (kernels/x86/u8s4_gemm_6x64c8__avx512vnni_gfni.cpp: this file
// again with LAPQ_U8S4_GFNI, built with -mgfni, exported names suffixed _gfni;
// gemm_config() picks it on hosts with GFNI): nibbles become plain int8 in one
// vgf2p8affineqb per half (a bit-matrix copy + sign extension) instead of
// and/shift/vpshufb (2-3 ops), in the panel-writing tile, the panel unpack and
// the 8-row tile.
#include <immintrin.h>

#include "kernels/gemm.h"

#ifdef LAPQ_U8S4_GFNI
#define LAPQ_U8S4_EXPORT(name) name##_gfni
#else
#define LAPQ_U8S4_EXPORT(name) name
#endif

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

#ifdef LAPQ_U8S4_GFNI
// vgf2p8affineqb matrices (per qword; byte 7 - i selects the source bits of result
// bit i): low nibble bits 0-3 -> 0-3 and bit 3 -> 4-7; high nibble bits 4-7 -> 0-3
// and bit 7 -> 4-7. Result: the signed nibble as int8 (-8..7), exact.
inline __m512i gfni_lo_matrix() { return _mm512_set1_epi64(0x0102040808080808LL); }
inline __m512i gfni_hi_matrix() { return _mm512_set1_epi64(0x1020408080808080LL); }
#endif

// NB = number of 16-channel blocks (1..4). INDIRECT = false: rows at
// a + i * a_stride, K = kp. INDIRECT = true: row i reads `taps` segments of kp
// bytes from ptrs[i * taps + t]. WRITE: also stores the unpacked operands to
// `panel` (n16c4_s8 blocks, panel_bb bytes apart, K groups after the 64-byte bias,
// which the caller fills), for the other rows of the call. PLAIN: the operands are
// the weights themselves (nibbles sign-extended by a vpshufb table, 2-3 ops per
// 64 nibble bytes instead of 1-2) and the accumulators plain int8 sums (bias16 >> 4,
// exact: the packer bounds 16x the sums), so the panel suits the int8 kernels.
template <int NB, bool INDIRECT, bool WRITE = false, bool PLAIN = false>
void tile(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w,
          size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep,
          size_t taps = 1, const uint8_t* const* ptrs = nullptr, uint8_t* panel = nullptr, size_t panel_bb = 0) {
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
    if constexpr (PLAIN) bias[b] = _mm512_srai_epi32(bias[b], 4);
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
#ifdef LAPQ_U8S4_GFNI
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
  const __m512i gf_lo = gfni_lo_matrix(), gf_hi = gfni_hi_matrix();
  // Low / high nibble operands of one 64-byte load (x16: 16*w; PLAIN: w, one op each).
  // Each half loads its line (an L1 hit for the second): loading it once for both
  // halves measured 1-5 % slower on 7x7 1x1 layers (harness, library objects).
  auto lo = [&](const uint8_t* p) {
    const __m512i v = _mm512_loadu_si512(p);
    if constexpr (PLAIN) return _mm512_gf2p8affine_epi64_epi8(v, gf_lo, 0);
    return _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0);
  };
  auto hi = [&](const uint8_t* p) {
    const __m512i v = _mm512_loadu_si512(p);
    if constexpr (PLAIN) return _mm512_gf2p8affine_epi64_epi8(v, gf_hi, 0);
    return _mm512_and_si512(v, mask_f0);
  };
#else
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(PLAIN ? 0x0F : 0xF0));
  const __m512i sext = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1));
  // Low / high nibble operands of one 64-byte load (x16: 16*w; PLAIN: w).
  auto lo = [&](const uint8_t* p) {
    const __m512i v = _mm512_loadu_si512(p);
    if constexpr (PLAIN) return _mm512_shuffle_epi8(sext, _mm512_and_si512(v, mask_f0));
    return _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0);
  };
  auto hi = [&](const uint8_t* p) {
    const __m512i v = _mm512_loadu_si512(p);
    if constexpr (PLAIN) return _mm512_shuffle_epi8(sext, _mm512_and_si512(_mm512_srli_epi16(v, 4), mask_f0));
    return _mm512_and_si512(v, mask_f0);
  };
#endif
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
        const __m512i w0 = NB > 0 ? lo(wp[0] + k * 8) : _mm512_setzero_si512();
        const __m512i w1 = NB > 1 ? lo(wp[1] + k * 8) : _mm512_setzero_si512();
        const __m512i w2 = NB > 2 ? lo(wp[2] + k * 8) : _mm512_setzero_si512();
        const __m512i w3 = NB > 3 ? lo(wp[3] + k * 8) : _mm512_setzero_si512();
        if constexpr (WRITE) {
          uint8_t* pp = panel + 64 + k * 16;
          if constexpr (NB > 0) _mm512_store_si512(pp, w0);
          if constexpr (NB > 1) _mm512_store_si512(pp + panel_bb, w1);
          if constexpr (NB > 2) _mm512_store_si512(pp + 2 * panel_bb, w2);
          if constexpr (NB > 3) _mm512_store_si512(pp + 3 * panel_bb, w3);
        }
        LAPQ_ROW(0, 0) LAPQ_ROW(1, 0) LAPQ_ROW(2, 0) LAPQ_ROW(3, 0) LAPQ_ROW(4, 0) LAPQ_ROW(5, 0)
      }
      {
        const __m512i w0 = NB > 0 ? hi(wp[0] + k * 8) : _mm512_setzero_si512();
        const __m512i w1 = NB > 1 ? hi(wp[1] + k * 8) : _mm512_setzero_si512();
        const __m512i w2 = NB > 2 ? hi(wp[2] + k * 8) : _mm512_setzero_si512();
        const __m512i w3 = NB > 3 ? hi(wp[3] + k * 8) : _mm512_setzero_si512();
        if constexpr (WRITE) {
          uint8_t* pp = panel + 64 + k * 16 + 64;
          if constexpr (NB > 0) _mm512_store_si512(pp, w0);
          if constexpr (NB > 1) _mm512_store_si512(pp + panel_bb, w1);
          if constexpr (NB > 2) _mm512_store_si512(pp + 2 * panel_bb, w2);
          if constexpr (NB > 3) _mm512_store_si512(pp + 3 * panel_bb, w3);
        }
        LAPQ_ROW(0, 4) LAPQ_ROW(1, 4) LAPQ_ROW(2, 4) LAPQ_ROW(3, 4) LAPQ_ROW(4, 4) LAPQ_ROW(5, 4)
      }
    }
    if constexpr (INDIRECT)
      for (int b = 0; b < 4; ++b) wp[b] += kp * 8;
    if constexpr (WRITE) panel += kp * 16;
  }
#undef LAPQ_ROW
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  LAPQ_STORE_TILE(!PLAIN)
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

// 7..8 rows x NB (1..2) blocks, nibbles unpacked in registers (direct calls of 7..8
// rows: FC layers at batch 8): each unpacked weight vector feeds 8 vpdpbusd, no
// panel stores or reloads. Measured on a harness calling the kernels (time / the
// int8 driver's): FC 2048->1000 b8 0.80-0.82 (x16 / GFNI) against 1.14-1.16 with
// the L1 chunks of rows_chunked (int8 reads its 2 MB of weights from L2 once per
// 4-row tile); FC 512->1000 b8 1.14-1.18 against 1.36 and FC 1024->1000 b7 0.87
// against 1.45 with the panel of rows_panel.
// 16 accumulators + 2 weights + 1 broadcast. Plain sums with GFNI, else 16x.
// Rows beyond mr repeat row 6; their results are not stored. mr at run time and
// noipa: GCC 12 otherwise copies and spills accumulators in the K loop.
#ifdef LAPQ_U8S4_GFNI
constexpr bool kTile8X16 = false;
#else
constexpr bool kTile8X16 = true;
#endif
template <int NB>
__attribute__((noipa)) void tile8(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride,
                                  const uint8_t* w, size_t bb, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  const uint8_t* a0 = a;
  const uint8_t* a1 = a0 + a_stride;
  const uint8_t* a2 = a1 + a_stride;
  const uint8_t* a3 = a2 + a_stride;
  const uint8_t* a4 = a3 + a_stride;
  const uint8_t* a5 = a4 + a_stride;
  const uint8_t* a6 = a5 + a_stride;
  const uint8_t* a7 = mr > 7 ? a6 + a_stride : a6;
  __m512i b0 = _mm512_loadu_si512(w), b1 = NB > 1 ? _mm512_loadu_si512(w + bb) : b0;
  if constexpr (!kTile8X16) b0 = _mm512_srai_epi32(b0, 4), b1 = _mm512_srai_epi32(b1, 4);  // exact, see tile
  __m512i c00 = b0, c10 = b0, c20 = b0, c30 = b0, c40 = b0, c50 = b0, c60 = b0, c70 = b0;
  __m512i c01 = b1, c11 = b1, c21 = b1, c31 = b1, c41 = b1, c51 = b1, c61 = b1, c71 = b1;
#define LAPQ_ROW(i, off)                                                  \
  {                                                                       \
    const __m512i va = _mm512_set1_epi32(load_i32(a##i + k + off));       \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, va, w0);                       \
    if constexpr (NB > 1) c##i##1 = _mm512_dpbusd_epi32(c##i##1, va, w1); \
  }
#ifdef LAPQ_U8S4_GFNI
  const __m512i m_lo = gfni_lo_matrix(), m_hi = gfni_hi_matrix();
  auto lo = [&](__m512i v) { return _mm512_gf2p8affine_epi64_epi8(v, m_lo, 0); };
  auto hi = [&](__m512i v) { return _mm512_gf2p8affine_epi64_epi8(v, m_hi, 0); };
#else
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
  auto lo = [&](__m512i v) { return _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0); };
  auto hi = [&](__m512i v) { return _mm512_and_si512(v, mask_f0); };
#endif
  const uint8_t* wp = w + 64;
  for (size_t k = 0; k < kp; k += 8, wp += 64) {
    const __m512i v0 = _mm512_loadu_si512(wp), v1 = NB > 1 ? _mm512_loadu_si512(wp + bb) : v0;
    {
      const __m512i w0 = lo(v0), w1 = NB > 1 ? lo(v1) : w0;
      LAPQ_ROW(0, 0) LAPQ_ROW(1, 0) LAPQ_ROW(2, 0) LAPQ_ROW(3, 0) LAPQ_ROW(4, 0) LAPQ_ROW(5, 0) LAPQ_ROW(6, 0) LAPQ_ROW(7, 0)
    }
    {
      const __m512i w0 = hi(v0), w1 = NB > 1 ? hi(v1) : w0;
      LAPQ_ROW(0, 4) LAPQ_ROW(1, 4) LAPQ_ROW(2, 4) LAPQ_ROW(3, 4) LAPQ_ROW(4, 4) LAPQ_ROW(5, 4) LAPQ_ROW(6, 4) LAPQ_ROW(7, 4)
    }
  }
#undef LAPQ_ROW
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
#define LAPQ_STORE8(i)                                                                       \
  if (mr > i) {                                                                              \
    const __m512 rs = rowsum_f(&e, i);                                                       \
    __m512 y0 = epilogue_y(c##i##0, rs, 0, nc, e, kTile8X16), y1 = y0;                       \
    if constexpr (NB > 1) y1 = epilogue_y(c##i##1, rs, 16, nc - 16, e, kTile8X16);           \
    if (e.f32_out) {                                                                         \
      float* d = static_cast<float*>(dst) + i * dst_stride;                                  \
      _mm512_mask_storeu_ps(d, mask16(nc), y0);                                              \
      if constexpr (NB > 1) _mm512_mask_storeu_ps(d + 16, mask16(nc - 16), y1);              \
    } else {                                                                                 \
      const __m512i q0 = epilogue_q(y0, e), q1 = epilogue_q(y1, e);                          \
      store_u8x64(q0, q1, q0, q1, static_cast<uint8_t*>(dst) + i * dst_stride, nc);          \
    }                                                                                        \
  }
  LAPQ_STORE8(0) LAPQ_STORE8(1) LAPQ_STORE8(2) LAPQ_STORE8(3) LAPQ_STORE8(4) LAPQ_STORE8(5) LAPQ_STORE8(6)
  LAPQ_STORE8(7)
#undef LAPQ_STORE8
}

// 7..8 rows of a call (up to 64 channels) as 32-channel 8-row tiles.
void rows8(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w, size_t wbb,
           void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  GemmEpilogue e = *ep;
  const size_t esz = e.f32_out ? 4 : 1;
  for (size_t n0 = 0; n0 < nc; n0 += 32) {
    const size_t c = nc - n0 < 32 ? nc - n0 : 32;
    void* d = static_cast<uint8_t*>(dst) + n0 * esz;
    if (c > 16) tile8<2>(mr, c, kp, a, a_stride, w + (n0 / 16) * wbb, wbb, d, dst_stride, &e);
    else tile8<1>(mr, c, kp, a, a_stride, w + (n0 / 16) * wbb, wbb, d, dst_stride, &e);
    e.scale += 32;
    if (e.bias) e.bias += 32;
    if (e.wei_zp) e.wei_zp += 32;
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

// ---- Many rows per call (GemmConfig::mr = kU8s4MaxRows): 7x7 layers at batch 1
// (49 rows), small batches (FC at batch 8) and the indirect GEMM of 3x3 layers at
// 7x7. The nibbles of a K chunk of the call's <= 64 channels are unpacked once
// into an L1 buffer of 16*w (n16c4 order, blocks interleaved per K group) and
// every row of the call runs the int8-speed loop on it; partial sums wait in an
// int32 buffer between chunks, and the epilogue runs once over that buffer at the
// end (direct u8 narrowing when it is exact, as in the int8 kernel). Rows are
// split into balanced groups of 3..6 (49 = 4*6 + 5*5), so no group pays for
// absent rows. K per chunk: at most 16 KiB of unpacked weights for 64 channels
// (K <= 256), which stay in L1 with the row activations of the chunk and the
// partial sums (measured: 256 beat 128); a tap's K is split into equal chunks
// (K = 320: 2 x 160, not 256 + 64).
constexpr size_t kChunkK = 256;

// Unpacks the nibble lines of one chunk (line = 64 bytes of one block = 8 K) into
// the chunk's panel of 16*w, a slice at a time: line (b, j) of block b holds K
// groups 2j (low nibbles) and 2j+1 (high nibbles) of that block's 16 channels.
template <int NB>
struct ChunkUnpacker {
  const uint8_t* w = nullptr;  // block 0 of the call
  size_t wbb = 0, kg = 0;      // block bytes; the chunk's first K in the packed weights
  size_t lines_per_block = 0;  // kc / 8
  uint8_t* panel = nullptr;
  size_t b = 0, j = 0;         // next line

  void run(size_t n) {
    const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
    while (n > 0 && b < size_t(NB)) {
      const size_t m = n < lines_per_block - j ? n : lines_per_block - j;
      const uint8_t* src = w + b * wbb + 64 + kg * 8 + j * 64;
      uint8_t* lo = panel + (2 * j * NB + b) * 64;
      for (size_t i = 0; i < m; ++i, src += 64, lo += 2 * NB * 64) {
        const __m512i v = _mm512_loadu_si512(src);
        _mm512_store_si512(lo, _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0));
        _mm512_store_si512(lo + NB * 64, _mm512_and_si512(v, mask_f0));
      }
      j += m, n -= m;
      if (j == lines_per_block) j = 0, ++b;
    }
  }

  // Pulls the next n lines into L1 (the slice the next run() reads; the lines
  // come from L2, where the chunk before was prefetched).
  void prefetch(size_t n) const {
    for (size_t pb = b, pj = j; n > 0 && pb < size_t(NB); --n) {
      _mm_prefetch(reinterpret_cast<const char*>(w + pb * wbb + 64 + kg * 8 + pj * 64), _MM_HINT_T0);
      if (++pj == lines_per_block) pj = 0, ++pb;
    }
  }
};

// R rows (3..6) x NB blocks over one chunk of `steps` K groups of 4; row i reads
// rows[i] (already at the chunk's first K). Starts from the bias (first chunk) or
// acc and stores the sums to acc (row i at acc + i * 64). Meanwhile pulls up to two
// ranges of cache lines [p0, e0), [p1, e1) toward L2, one line per K step (spread
// over the compute instead of a burst; prefetches never fault).
template <int R, int NB>
void rows_chunk(const uint8_t* const* rows, const uint8_t* panel, size_t steps, const uint8_t* w, size_t w_block_bytes,
                bool first, int32_t* acc, const char* p0, const char* e0, const char* p1, const char* e1) {
  const uint8_t* a0 = rows[0];
  const uint8_t* a1 = rows[1];
  const uint8_t* a2 = rows[2];
  const uint8_t* a3 = R > 3 ? rows[3] : a2;
  const uint8_t* a4 = R > 4 ? rows[4] : a3;
  const uint8_t* a5 = R > 5 ? rows[5] : a4;
  __m512i c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23;
  __m512i c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
#define LAPQ_INIT(i, b)                                                                   \
  if constexpr (R > i && NB > b)                                                          \
    c##i##b = first ? _mm512_loadu_si512(w + b * w_block_bytes) : _mm512_load_si512(acc + (i * 4 + b) * 16);
#define LAPQ_INIT_ROW(i) LAPQ_INIT(i, 0) LAPQ_INIT(i, 1) LAPQ_INIT(i, 2) LAPQ_INIT(i, 3)
  LAPQ_INIT_ROW(0) LAPQ_INIT_ROW(1) LAPQ_INIT_ROW(2) LAPQ_INIT_ROW(3) LAPQ_INIT_ROW(4) LAPQ_INIT_ROW(5)
#undef LAPQ_INIT_ROW
#undef LAPQ_INIT
#define LAPQ_ROW(i)                                                                       \
  if constexpr (R > i) {                                                                  \
    const __m512i va = _mm512_set1_epi32(load_i32(a##i + 4 * s));                         \
    c##i##0 = _mm512_dpbusd_epi32(c##i##0, va, w0);                                       \
    if constexpr (NB > 1) c##i##1 = _mm512_dpbusd_epi32(c##i##1, va, w1);                 \
    if constexpr (NB > 2) c##i##2 = _mm512_dpbusd_epi32(c##i##2, va, w2);                 \
    if constexpr (NB > 3) c##i##3 = _mm512_dpbusd_epi32(c##i##3, va, w3);                 \
  }
  for (size_t s = 0; s < steps; ++s) {
    if (p0 < e0) {
      _mm_prefetch(p0, _MM_HINT_T1);
      p0 += 64;
    } else if (p1 < e1) {
      _mm_prefetch(p1, _MM_HINT_T1);
      p1 += 64;
    }
    const uint8_t* p = panel + s * NB * 64;
    const __m512i w0 = _mm512_load_si512(p);
    const __m512i w1 = NB > 1 ? _mm512_load_si512(p + 64) : w0;
    const __m512i w2 = NB > 2 ? _mm512_load_si512(p + 128) : w0;
    const __m512i w3 = NB > 3 ? _mm512_load_si512(p + 192) : w0;
    LAPQ_ROW(0) LAPQ_ROW(1) LAPQ_ROW(2) LAPQ_ROW(3) LAPQ_ROW(4) LAPQ_ROW(5)
  }
#undef LAPQ_ROW
#define LAPQ_SAVE(i, b) \
  if constexpr (R > i && NB > b) _mm512_store_si512(acc + (i * 4 + b) * 16, c##i##b);
#define LAPQ_SAVE_ROW(i) LAPQ_SAVE(i, 0) LAPQ_SAVE(i, 1) LAPQ_SAVE(i, 2) LAPQ_SAVE(i, 3)
  LAPQ_SAVE_ROW(0) LAPQ_SAVE_ROW(1) LAPQ_SAVE_ROW(2) LAPQ_SAVE_ROW(3) LAPQ_SAVE_ROW(4) LAPQ_SAVE_ROW(5)
#undef LAPQ_SAVE_ROW
#undef LAPQ_SAVE
}

// Epilogue of mr rows of 16x sums in acc (row i at acc + i * 64), channels 0..nc-1.
// u8 output without weight zero points and with |scale| <= 0.5, |bias| <= 2^29:
// the clamp happens in the saturating narrowing (avx512_epilogue.inc, direct_u8_*;
// the x16 sums only shrink y), as in u8s8_gemm_6x64c4; otherwise the formula.
template <int NB, bool BIAS, bool EXTRA>
void epilogue_rows_direct(const int32_t* acc, size_t mr, size_t nc, const DirectU8& dc, int32_t zp, int32_t qmin,
                          int32_t qmax, uint8_t* dst, size_t dst_stride) {
  const __m512i zp16 = _mm512_set1_epi16(static_cast<int16_t>(zp));
  const __m512i qmin8 = _mm512_set1_epi8(static_cast<char>(qmin)), qmax8 = _mm512_set1_epi8(static_cast<char>(qmax));
  for (size_t i = 0; i < mr; ++i) {
    const int32_t* r = acc + i * 64;
    const __m512i v0 = direct_u8_v<BIAS, true>(_mm512_load_si512(r), dc.scale, dc.bias);
    __m512i v1 = v0, v2 = v0, v3 = v0;
    if constexpr (NB > 1) v1 = direct_u8_v<BIAS, true>(_mm512_load_si512(r + 16), dc.scale + 16, dc.bias + 16);
    if constexpr (NB > 2) v2 = direct_u8_v<BIAS, true>(_mm512_load_si512(r + 32), dc.scale + 32, dc.bias + 32);
    if constexpr (NB > 3) v3 = direct_u8_v<BIAS, true>(_mm512_load_si512(r + 48), dc.scale + 48, dc.bias + 48);
    direct_u8_store64<EXTRA>(v0, v1, v2, v3, zp16, qmin8, qmax8, dst + i * dst_stride, nc);
  }
}

template <int NB>
void epilogue_rows(const int32_t* acc, size_t mr, size_t nc, const GemmEpilogue& e, void* dst, size_t dst_stride) {
  DirectU8 dc;
  const bool lohi_in_range = e.lo >= -255.f && e.lo <= e.hi && e.hi <= 255.f;  // (casts below are defined)
  const int32_t qmin = lohi_in_range ? static_cast<int32_t>(e.lo) + e.zp : -1;
  const int32_t qmax = lohi_in_range ? static_cast<int32_t>(e.hi) + e.zp : -1;
  if (lohi_in_range && static_cast<float>(qmin - e.zp) == e.lo && static_cast<float>(qmax - e.zp) == e.hi &&
      0 <= qmin && qmax <= 255 && direct_u8_prepare(e, nc, &dc)) {
    uint8_t* d = static_cast<uint8_t*>(dst);
    const bool extra = e.zp != 0 || qmin != 0 || qmax != 255;
    if (e.bias) {
      if (extra) epilogue_rows_direct<NB, true, true>(acc, mr, nc, dc, e.zp, qmin, qmax, d, dst_stride);
      else epilogue_rows_direct<NB, true, false>(acc, mr, nc, dc, e.zp, qmin, qmax, d, dst_stride);
    } else {
      if (extra) epilogue_rows_direct<NB, false, true>(acc, mr, nc, dc, e.zp, qmin, qmax, d, dst_stride);
      else epilogue_rows_direct<NB, false, false>(acc, mr, nc, dc, e.zp, qmin, qmax, d, dst_stride);
    }
    return;
  }
  for (size_t i = 0; i < mr; ++i) {
    const int32_t* r = acc + i * 64;
    const __m512 rs = rowsum_f(&e, i);
    __m512 y0 = epilogue_y(_mm512_load_si512(r), rs, 0, nc, e, true), y1 = y0, y2 = y0, y3 = y0;
    if constexpr (NB > 1) y1 = epilogue_y(_mm512_load_si512(r + 16), rs, 16, nc - 16, e, true);
    if constexpr (NB > 2) y2 = epilogue_y(_mm512_load_si512(r + 32), rs, 32, nc - 32, e, true);
    if constexpr (NB > 3) y3 = epilogue_y(_mm512_load_si512(r + 48), rs, 48, nc - 48, e, true);
    if (e.f32_out) {
      float* d = static_cast<float*>(dst) + i * dst_stride;
      _mm512_mask_storeu_ps(d, mask16(nc), y0);
      if constexpr (NB > 1) _mm512_mask_storeu_ps(d + 16, mask16(nc - 16), y1);
      if constexpr (NB > 2) _mm512_mask_storeu_ps(d + 32, mask16(nc - 32), y2);
      if constexpr (NB > 3) _mm512_mask_storeu_ps(d + 48, mask16(nc - 48), y3);
    } else {
      store_u8x64(epilogue_q(y0, e), epilogue_q(y1, e), epilogue_q(y2, e), epilogue_q(y3, e),
                  static_cast<uint8_t*>(dst) + i * dst_stride, nc);
    }
  }
}

// Balanced groups of at most 6 rows: g = ceil(mr / 6) groups, the first mr % g
// of them one row taller. Calls fn(r0, rows) per group.
template <class Fn>
void for_row_groups(size_t mr, Fn fn) {
  const size_t g = (mr + 5) / 6, base = mr / g, extra = mr % g;
  for (size_t i = 0, r0 = 0; i < g; ++i) {
    const size_t rows = base + (i < extra ? 1 : 0);
    fn(r0, rows);
    r0 += rows;
  }
}

// mr >= 7 rows. INDIRECT = false: row r at a + r * a_stride, K = kc (taps = 1).
// INDIRECT = true: row r reads `taps` segments of kc bytes from ptrs[r * taps + t];
// the packed K runs over the taps (taps * kc). Chunks c = 0..C-1 (a tap's K split
// into equal chunks of <= kChunkK). Two panels: while the row groups run chunk c
// on one, each group first unpacks its slice of chunk c + 1 into the other (small
// slices overlap with the compute out of order), and prefetches its share of the
// nibbles of chunk c + 2 toward L2 (the chunks after the last one are those of
// the next call, whose 64 channels follow in memory).
template <int NB, bool INDIRECT>
void rows_chunked(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* a, size_t a_stride,
                  const uint8_t* const* ptrs, const uint8_t* w, size_t wbb, void* dst, size_t dst_stride,
                  const GemmEpilogue& ep) {
  alignas(64) uint8_t panels[2][kChunkK / 4 * NB * 64];
  alignas(64) int32_t acc[kU8s4MaxRows * 64];
  const size_t nch = (kc + kChunkK - 1) / kChunkK;        // chunks per tap
  const size_t csz = ((kc + nch - 1) / nch + 7) / 8 * 8;  // equal chunks, multiples of 8
  const size_t chunks = taps * nch, groups = (mr + 5) / 6;
  // Chunk c: tap c / nch, K [k0, k0 + kcur) of the tap, at kg = t * kc + k0 in the packed weights.
  auto k0_of = [&](size_t c) { return (c % nch) * csz; };
  auto kcur_of = [&](size_t c) { return kc - k0_of(c) < csz ? kc - k0_of(c) : csz; };
  auto kg_of = [&](size_t c) { return (c / nch) * kc + k0_of(c); };
  ChunkUnpacker<NB> first_unpack{w, wbb, 0, kcur_of(0) / 8, panels[0]};
  first_unpack.run(NB * kcur_of(0) / 8);
  for (size_t c = 0; c < chunks; ++c) {
    const size_t t = c / nch, k0 = k0_of(c), kcur = kcur_of(c);
    const uint8_t* panel = panels[c & 1];
    ChunkUnpacker<NB> next{w, wbb, 0, 0, panels[(c + 1) & 1]};
    size_t slice = 0;
    if (c + 1 < chunks) {
      next.kg = kg_of(c + 1), next.lines_per_block = kcur_of(c + 1) / 8;
      slice = (NB * next.lines_per_block + groups - 1) / groups;
      next.prefetch(slice);
    }
    // Prefetch target: chunk c + 2 of this call, or of a following call (d calls
    // ahead, only when this call has all 4 blocks: then the next ones follow).
    const size_t target = c + 2, d = target / chunks, tc = target % chunks;
    const size_t nranges = d == 0 ? NB : NB == 4 ? 4 : 0;
    const size_t range_bytes = kcur_of(tc) * 8;
    const char* range0 = reinterpret_cast<const char*>(w + d * 4 * wbb + 64 + kg_of(tc) * 8);
    size_t gi = 0;
    for_row_groups(mr, [&](size_t r0, size_t rows) {
      next.run(slice);
      next.prefetch(slice);
      const char *p0 = nullptr, *e0 = nullptr, *p1 = nullptr, *e1 = nullptr;
      if (gi < nranges) p0 = range0 + gi * wbb, e0 = p0 + range_bytes;
      if (gi + groups < nranges) p1 = range0 + (gi + groups) * wbb, e1 = p1 + range_bytes;
      ++gi;
      const uint8_t* rp[6];
      for (size_t i = 0; i < rows; ++i)
        rp[i] = INDIRECT ? ptrs[(r0 + i) * taps + t] + k0 : a + (r0 + i) * a_stride + k0;
      int32_t* accr = acc + r0 * 64;
      const bool first = c == 0;
      switch (rows) {
        case 3: rows_chunk<3, NB>(rp, panel, kcur / 4, w, wbb, first, accr, p0, e0, p1, e1); break;
        case 4: rows_chunk<4, NB>(rp, panel, kcur / 4, w, wbb, first, accr, p0, e0, p1, e1); break;
        case 5: rows_chunk<5, NB>(rp, panel, kcur / 4, w, wbb, first, accr, p0, e0, p1, e1); break;
        default: rows_chunk<6, NB>(rp, panel, kcur / 4, w, wbb, first, accr, p0, e0, p1, e1); break;
      }
    });
  }
  epilogue_rows<NB>(acc, mr, nc, ep, dst, dst_stride);
}

// mr >= 7 rows (1x1 layers at 7x7, K x K layers at 7x7, small batches): the first
// row group runs the nibble register tile, which unpacks in registers anyway, and
// also stores the unpacked weights, sign-extended to plain int8 (PLAIN tile;
// bias16 >> 4 is exact), to a panel of the call's blocks: on the stack for
// K <= kPanelMaxK (<= 64 KiB, L1 / L2), else in the thread's int4 scratch (L2).
// The other groups run the int8 igemm u8s8_igemm_1to6x64c4 on it (exact 1..6-row
// tiles, direct u8 epilogue; direct rows as one-segment pointers) and prefetch the
// next call's nibbles (the next 64 channels follow in memory) toward L2. So a call
// costs one int8-speed pass per row group plus one unpack of its nibbles in the
// first group. Measured on a loaded host: 3x3 512->512 at 7x7 int4/int8 1.05
// against 1.13-1.17 with K chunks; 1x1 512->2048 at 7x7 warm 1.03-1.05 against
// 1.10 with a x16 panel and the 6x64 kernel.
// Direct calls of 9..12 rows with K > kPanelMaxK run rows_chunked (L1 chunks; for
// FC 2048->1000 at batch 8 they measured 1.16 vs 1.27 with a scratch panel from
// L2, and 7..8 direct rows now take rows8); with 49 rows the scratch panel won
// (1x1 2048->512 at 7x7 cold 0.88 vs 0.93). What int4 still pays over int8 here is
// the first group's unpack (its 6-row tile: 1.2x an int8 one with GFNI, 1.5x
// with vpshufb, ~2-5 % of a 49-row call: vpdpbusd and the unpack ops share ports 0
// and 5, plus the panel stores); a harness calling the library kernels (warm, time
// / int8's igemm loop): 1x1 at 7x7 K = 512 1.02-1.06 plain, 1.00-1.04 GFNI;
// K = 320 1.06 / 1.03; K = 960 1.05 / 1.04; K = 2048 1.03-1.07 / 1.03-1.09.
constexpr size_t kPanelMaxK = 1024;
constexpr size_t kPanelMaxKIndirect = 8192;  // scratch panel <= 512 KiB (L2)

template <int NB, bool INDIRECT>
void rows_panel(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* a, size_t a_stride,
                const uint8_t* const* ptrs, const uint8_t* w, size_t wbb, void* dst, size_t dst_stride,
                const GemmEpilogue* ep, uint8_t* panel) {
  // Plain weights in the panel, the int8 igemm with exact 1..6-row tiles for the
  // other groups (direct rows as one-segment pointers): faster than the x16 6x64
  // kernel it replaced (1x1 512->2048 at 7x7 warm int4/int8 1.10 -> 1.03-1.05).
  const size_t kp = taps * kc, pbb = 64 + kp * 16, esz = ep->f32_out ? 4 : 1;
  for (int b = 0; b < NB; ++b)  // plain bias for the int8 igemm (bias16 >> 4, exact, see tile)
    _mm512_store_si512(panel + b * pbb, _mm512_srai_epi32(_mm512_loadu_si512(w + b * wbb), 4));
  const size_t groups = (mr + 5) / 6;
  const uint8_t* pf = NB == 4 ? w + 4 * wbb : nullptr;  // the next call's blocks
  size_t pf_left = NB == 4 ? 4 * wbb : 0;
  const size_t pf_slice = groups > 1 ? (pf_left / (groups - 1) + 64) / 64 * 64 : 0;
  const uint8_t* rp[kU8s4MaxRows];  // direct rows as one-segment pointers for the igemm
  if constexpr (!INDIRECT)
    for (size_t r = 0; r < mr; ++r) rp[r] = a + r * a_stride;
  size_t gi = 0;
  for_row_groups(mr, [&](size_t r0, size_t rows) {
    GemmEpilogue e = *ep;
    if (e.rowsum) e.rowsum += r0;
    void* d = static_cast<uint8_t*>(dst) + r0 * dst_stride * esz;
    if (gi++ == 0) {
      if (nc > 48) tile<4, INDIRECT, true, true>(rows, nc, kc, a, a_stride, w, wbb, d, dst_stride, &e, taps, ptrs, panel, pbb);
      else if (nc > 32) tile<3, INDIRECT, true, true>(rows, nc, kc, a, a_stride, w, wbb, d, dst_stride, &e, taps, ptrs, panel, pbb);
      else if (nc > 16) tile<2, INDIRECT, true, true>(rows, nc, kc, a, a_stride, w, wbb, d, dst_stride, &e, taps, ptrs, panel, pbb);
      else tile<1, INDIRECT, true, true>(rows, nc, kc, a, a_stride, w, wbb, d, dst_stride, &e, taps, ptrs, panel, pbb);
      return;
    }
    e.prefetch = pf;
    e.prefetch_bytes = pf_slice < pf_left ? pf_slice : pf_left;
    pf += e.prefetch_bytes, pf_left -= e.prefetch_bytes;
    if constexpr (INDIRECT)  // plain panel: the int8 igemm with exact 1..6-row tiles
      u8s8_igemm_1to6x64c4__avx512vnni(rows, nc, taps, kc, ptrs + r0 * taps, panel, pbb, d, dst_stride, &e);
    else
      u8s8_igemm_1to6x64c4__avx512vnni(rows, nc, 1, kp, rp + r0, panel, pbb, d, dst_stride, &e);
  });
}

// The panel: on the stack for K <= kPanelMaxK, else the thread's int4 scratch.
template <bool INDIRECT>
void rows_panel_nb(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* a, size_t a_stride,
                   const uint8_t* const* ptrs, const uint8_t* w, size_t wbb, void* dst, size_t dst_stride,
                   const GemmEpilogue* ep) {
  alignas(64) uint8_t stack_panel[4 * (64 + kPanelMaxK * 16)];
  const size_t kp = taps * kc;
  uint8_t* panel = kp <= kPanelMaxK ? stack_panel : int4_panel_scratch(4 * (64 + kp * 16));
  if (nc > 48) return rows_panel<4, INDIRECT>(mr, nc, taps, kc, a, a_stride, ptrs, w, wbb, dst, dst_stride, ep, panel);
  if (nc > 32) return rows_panel<3, INDIRECT>(mr, nc, taps, kc, a, a_stride, ptrs, w, wbb, dst, dst_stride, ep, panel);
  if (nc > 16) return rows_panel<2, INDIRECT>(mr, nc, taps, kc, a, a_stride, ptrs, w, wbb, dst, dst_stride, ep, panel);
  rows_panel<1, INDIRECT>(mr, nc, taps, kc, a, a_stride, ptrs, w, wbb, dst, dst_stride, ep, panel);
}

template <bool INDIRECT>
void rows_chunked_nb(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* a, size_t a_stride,
                     const uint8_t* const* ptrs, const uint8_t* w, size_t wbb, void* dst, size_t dst_stride,
                     const GemmEpilogue& ep) {
  if (nc > 48) return rows_chunked<4, INDIRECT>(mr, nc, taps, kc, a, a_stride, ptrs, w, wbb, dst, dst_stride, ep);
  if (nc > 32) return rows_chunked<3, INDIRECT>(mr, nc, taps, kc, a, a_stride, ptrs, w, wbb, dst, dst_stride, ep);
  if (nc > 16) return rows_chunked<2, INDIRECT>(mr, nc, taps, kc, a, a_stride, ptrs, w, wbb, dst, dst_stride, ep);
  rows_chunked<1, INDIRECT>(mr, nc, taps, kc, a, a_stride, ptrs, w, wbb, dst, dst_stride, ep);
}

}  // namespace

void LAPQ_U8S4_EXPORT(u8s4_gemm_6x64c8__avx512vnni)(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
        const void* w, size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  const uint8_t* a8 = static_cast<const uint8_t*>(a);
  const uint8_t* w8 = static_cast<const uint8_t*>(w);
  if (mr <= 6) return dispatch<false>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep, 1, nullptr);
  if (mr <= 8) return rows8(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep);
  if (kp <= kPanelMaxK || (mr > 12 && kp <= kPanelMaxKIndirect))
    return rows_panel_nb<false>(mr, nc, 1, kp, a8, a_stride, nullptr, w8, w_block_bytes, dst, dst_stride, ep);
  rows_chunked_nb<false>(mr, nc, 1, kp, a8, a_stride, nullptr, w8, w_block_bytes, dst, dst_stride, *ep);
}

void LAPQ_U8S4_EXPORT(u8s4_igemm_6x64c8__avx512vnni)(size_t mr, size_t nc, size_t taps, size_t kc,
        const uint8_t* const* ptrs, const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
        const GemmEpilogue* ep) {
  const uint8_t* w8 = static_cast<const uint8_t*>(w);
  if (mr > 6 && taps * kc <= kPanelMaxKIndirect)
    return rows_panel_nb<true>(mr, nc, taps, kc, nullptr, 0, ptrs, w8, w_block_bytes, dst, dst_stride, ep);
  if (mr > 6)  // K > kPanelMaxKIndirect: unpack each K chunk once for all rows
    return rows_chunked_nb<true>(mr, nc, taps, kc, nullptr, 0, ptrs, w8, w_block_bytes, dst, dst_stride, *ep);
  dispatch<true>(mr, nc, kc, nullptr, 0, w8, w_block_bytes, dst, dst_stride, ep, taps, ptrs);
}

#ifndef LAPQ_U8S4_GFNI  // (the panel kernels below have no nibble code: one copy)
// The kernels run on an unpacked panel (GemmConfig::panel_ukernel / panel_igemm,
// tiles of >= kPanelRows rows): the panel holds the plain weights (see
// u8s4_unpack_panel), so these are the int8 kernels themselves: the 6x64 GEMM on
// 6-row tiles (its 1-row FC tile for a last single row) and the exact 1..6-row
// igemm on balanced row groups (49 = 4x6 + 5x5), as the int8 layers run.
void u8s4_panel_gemm_6x64c4__avx512vnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride, const void* w,
                                        size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  if (kp >= kIgemmDirectMinK) {  // as the int8 driver: long K through the exact-row igemm, balanced groups
    const uint8_t* rp[kU8s4MaxRows];
    for (size_t r = 0; r < mr; ++r) rp[r] = static_cast<const uint8_t*>(a) + r * a_stride;
    return u8s4_panel_igemm_6x64c4__avx512vnni(mr, nc, 1, kp, rp, w, w_block_bytes, dst, dst_stride, ep);
  }
  const uint8_t* a8 = static_cast<const uint8_t*>(a);
  uint8_t* d8 = static_cast<uint8_t*>(dst);
  const size_t d_step = 6 * dst_stride * (ep->f32_out ? 4 : 1);
  GemmEpilogue e = *ep;
  for (size_t r0 = 0; r0 < mr; r0 += 6, a8 += 6 * a_stride, d8 += d_step, e.rowsum = e.rowsum ? e.rowsum + 6 : nullptr)
    u8s8_gemm_6x64c4__avx512vnni(mr - r0 < 6 ? mr - r0 : 6, nc, kp, a8, a_stride, w, w_block_bytes, d8, dst_stride, &e);
}

void u8s4_panel_igemm_6x64c4__avx512vnni(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs,
                                         const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                                         const GemmEpilogue* ep) {
  const size_t esz = ep->f32_out ? 4 : 1;
  for_row_groups(mr, [&](size_t r0, size_t rows) {
    GemmEpilogue e = *ep;
    if (e.rowsum) e.rowsum += r0;
    u8s8_igemm_1to6x64c4__avx512vnni(rows, nc, taps, kc, ptrs + r0 * taps, w, w_block_bytes,
                                     static_cast<uint8_t*>(dst) + r0 * dst_stride * esz, dst_stride, &e);
  });
}
#endif

// Unpacks `nblocks` n16c8_s4 blocks (K padded to kp, a multiple of 8) into plain
// n16c4_s8 blocks (the int8 layout): bias16 >> 4 (exact: the packer bounds 16x
// the sums), per 64 bytes of nibbles the low nibbles sign-extended (vpshufb table,
// or one vgf2p8affineqb) are K group 2i, the high ones K group 2i+1. Lets tall
// tiles run the int8 kernels on a panel unpacked once per work item.
void LAPQ_U8S4_EXPORT(u8s4_unpack_panel__avx512vnni)(const void* w, size_t nblocks, size_t kp, size_t w_block_bytes,
                                                     void* out) {
#ifdef LAPQ_U8S4_GFNI
  const __m512i m_lo = gfni_lo_matrix(), m_hi = gfni_hi_matrix();
  auto lo = [&](__m512i v) { return _mm512_gf2p8affine_epi64_epi8(v, m_lo, 0); };
  auto hi = [&](__m512i v) { return _mm512_gf2p8affine_epi64_epi8(v, m_hi, 0); };
#else
  const __m512i mask_0f = _mm512_set1_epi8(0x0F);
  const __m512i sext = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1));
  auto lo = [&](__m512i v) { return _mm512_shuffle_epi8(sext, _mm512_and_si512(v, mask_0f)); };
  auto hi = [&](__m512i v) { return _mm512_shuffle_epi8(sext, _mm512_and_si512(_mm512_srli_epi16(v, 4), mask_0f)); };
#endif
  const size_t ob = 64 + 16 * kp;  // n16c4_s8 block bytes
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* src = static_cast<const uint8_t*>(w) + b * w_block_bytes;
    uint8_t* dst = static_cast<uint8_t*>(out) + b * ob;
    _mm512_storeu_si512(dst, _mm512_srai_epi32(_mm512_loadu_si512(src), 4));  // plain bias
    for (size_t k = 0; k < kp; k += 8) {
      const __m512i v = _mm512_loadu_si512(src + 64 + k * 8);
      _mm512_storeu_si512(dst + 64 + k * 16, lo(v));
      _mm512_storeu_si512(dst + 64 + k * 16 + 64, hi(v));
    }
  }
}

}  // namespace lapq
