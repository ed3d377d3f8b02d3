// u8s4_gemm_6x64c8__avx512vnni (and u8s4_igemm_6x64c8__avx512vnni, the indirect variant)
// Packed layout n16c8_s4, per 16-channel block: int32 bias16[16] (bias x16);
// uint8 w[Kp/8][16][4]: low nibble = w[8i+j], high nibble = w[8i+4+j].
// One 64-byte load feeds two vpdpbusd: (v << 4) & 0xF0 = 16*w_lo and v & 0xF0 =
// 16*w_hi, both exact in int8. The accumulators hold 16x the int8 sums; the
// epilogue multiplies by 0.0625f first (exact).
// Register tile: 6 rows x 4 zmm accumulators (24) + 4 unpacked weight registers
// (low nibbles for all rows, then high nibbles from a second L1 load) + 1 broadcast.
// Overflow: |16 w| <= 128, same bound as int8 (checked by the packer).
// Calls: GemmConfig::mr = kU8s4MaxRows (64). One row takes the FC path (tile_m1);
// 2..6 rows the register tile above; more rows (7x7 layers at batch 1, small
// batches) unpack K chunks to L1 once for all rows (rows_chunked). The indirect
// variant splits its rows into balanced groups of <= 6 on the register tile
// (which costs a whole tile for 2..6 rows: the same as 6-row steps).
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

// One row on an unpacked panel (n16c4_s8 of 16*w, bias x16): the tail row of a
// tile count like 49 = 8*6 + 1 would otherwise cost a whole 6-row tile. Direct:
// row `a`, K = kp. Indirect: `taps` segments of kp bytes from ptrs[t].
template <int NB, bool INDIRECT>
void panel_m1(size_t nc, size_t kp, size_t taps, const uint8_t* a, const uint8_t* const* ptrs, const uint8_t* w,
              size_t w_block_bytes, void* dst, const GemmEpilogue* ep) {
  const uint8_t* wp0 = w + 64;
  const uint8_t* wp1 = w + w_block_bytes + 64;
  __m512i c0[4], c1[4];
  c0[0] = _mm512_loadu_si512(w);
  c1[0] = NB == 2 ? _mm512_loadu_si512(w + w_block_bytes) : c0[0];
  c0[1] = c0[2] = c0[3] = c1[1] = c1[2] = c1[3] = _mm512_setzero_si512();
  for (size_t t = 0; t < taps; ++t) {
    if constexpr (INDIRECT) a = ptrs[t];
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
    wp0 += kp * 16;
    wp1 += kp * 16;
  }
  const __m512 rs = rowsum_f(ep, 0);
  const __m512i s0 = _mm512_add_epi32(_mm512_add_epi32(c0[0], c0[1]), _mm512_add_epi32(c0[2], c0[3]));
  epilogue_store16(s0, rs, 0, nc, ep, dst, 0, true);
  if constexpr (NB == 2) {
    const __m512i s1 = _mm512_add_epi32(_mm512_add_epi32(c1[0], c1[1]), _mm512_add_epi32(c1[2], c1[3]));
    epilogue_store16(s1, rs, 16, nc - 16, ep, dst, 16, true);
  }
}

template <bool INDIRECT>
void panel_m1_dispatch(size_t nc, size_t kp, size_t taps, const uint8_t* a, const uint8_t* const* ptrs,
                       const uint8_t* w, size_t wbb, void* dst, const GemmEpilogue* ep) {
  GemmEpilogue e = *ep;
  for (size_t n0 = 0; n0 < nc; n0 += 32) {
    const size_t c = nc - n0 < 32 ? nc - n0 : 32;
    void* d = static_cast<uint8_t*>(dst) + n0 * (e.f32_out ? 4 : 1);
    if (c > 16)
      panel_m1<2, INDIRECT>(c, kp, taps, a, ptrs, w + (n0 / 16) * wbb, wbb, d, &e);
    else
      panel_m1<1, INDIRECT>(c, kp, taps, a, ptrs, w + (n0 / 16) * wbb, wbb, d, &e);
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
// (49 rows) and small batches. The nibbles of a K chunk of the call's <= 64
// channels are unpacked once into an L1 buffer of 16*w (n16c4 order, blocks
// interleaved per K group) and every row of the call runs the int8-speed loop on
// it; partial sums wait in an int32 buffer between chunks. Rows are split into
// balanced groups of 3..6 (49 = 4*6 + 5*5), so no group pays for absent rows.
// K per chunk: 16 KiB of unpacked weights for 64 channels, which stay in L1 with
// the row activations of the chunk and the partial sums (measured: 256 beat 128).
constexpr size_t kChunkK = 256;

template <int NB>
void unpack_chunk(const uint8_t* w, size_t w_block_bytes, size_t k0, size_t kc, uint8_t* panel) {
  const __m512i mask_f0 = _mm512_set1_epi8(static_cast<char>(0xF0));
  for (int b = 0; b < NB; ++b) {
    const uint8_t* src = w + b * w_block_bytes + 64 + k0 * 8;
    for (size_t j = 0; j < kc / 8; ++j) {  // K group 2j: low nibbles, 2j+1: high nibbles
      const __m512i v = _mm512_loadu_si512(src + j * 64);
      _mm512_store_si512(panel + (2 * j * NB + b) * 64, _mm512_and_si512(_mm512_slli_epi16(v, 4), mask_f0));
      _mm512_store_si512(panel + ((2 * j + 1) * NB + b) * 64, _mm512_and_si512(v, mask_f0));
    }
  }
}

// R rows (3..6) x NB blocks over one chunk of `steps` K groups of 4. Starts from
// the bias (first chunk) or acc; ends with the epilogue (last chunk) or stores acc.
template <int R, int NB>
void rows_chunk(const uint8_t* a, size_t a_stride, const uint8_t* panel, size_t steps, const uint8_t* w,
                size_t w_block_bytes, bool first, bool last, int32_t* acc, void* dst, size_t dst_stride,
                size_t nc, const GemmEpilogue& e) {
  const uint8_t* a0 = a;
  const uint8_t* a1 = a0 + a_stride;
  const uint8_t* a2 = a1 + a_stride;
  const uint8_t* a3 = R > 3 ? a2 + a_stride : a2;
  const uint8_t* a4 = R > 4 ? a3 + a_stride : a3;
  const uint8_t* a5 = R > 5 ? a4 + a_stride : a4;
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
    const uint8_t* p = panel + s * NB * 64;
    const __m512i w0 = _mm512_load_si512(p);
    const __m512i w1 = NB > 1 ? _mm512_load_si512(p + 64) : w0;
    const __m512i w2 = NB > 2 ? _mm512_load_si512(p + 128) : w0;
    const __m512i w3 = NB > 3 ? _mm512_load_si512(p + 192) : w0;
    LAPQ_ROW(0) LAPQ_ROW(1) LAPQ_ROW(2) LAPQ_ROW(3) LAPQ_ROW(4) LAPQ_ROW(5)
  }
#undef LAPQ_ROW
  if (!last) {
#define LAPQ_SAVE(i, b) \
  if constexpr (R > i && NB > b) _mm512_store_si512(acc + (i * 4 + b) * 16, c##i##b);
#define LAPQ_SAVE_ROW(i) LAPQ_SAVE(i, 0) LAPQ_SAVE(i, 1) LAPQ_SAVE(i, 2) LAPQ_SAVE(i, 3)
    LAPQ_SAVE_ROW(0) LAPQ_SAVE_ROW(1) LAPQ_SAVE_ROW(2) LAPQ_SAVE_ROW(3) LAPQ_SAVE_ROW(4) LAPQ_SAVE_ROW(5)
#undef LAPQ_SAVE_ROW
#undef LAPQ_SAVE
    return;
  }
#define LAPQ_STORE(i)                                                                          \
  if constexpr (R > i) {                                                                       \
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
  LAPQ_STORE(0) LAPQ_STORE(1) LAPQ_STORE(2) LAPQ_STORE(3) LAPQ_STORE(4) LAPQ_STORE(5)
#undef LAPQ_STORE
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

template <int NB>
void rows_chunked(size_t mr, size_t nc, size_t kp, const uint8_t* a, size_t a_stride, const uint8_t* w, size_t wbb,
                  void* dst, size_t dst_stride, const GemmEpilogue& ep) {
  alignas(64) uint8_t panel[kChunkK / 4 * NB * 64];
  alignas(64) int32_t acc[kU8s4MaxRows * 64];
  const size_t esz = ep.f32_out ? 4 : 1;
  for (size_t k0 = 0; k0 < kp; k0 += kChunkK) {
    const size_t kc = kp - k0 < kChunkK ? kp - k0 : kChunkK;  // a multiple of 8
    unpack_chunk<NB>(w, wbb, k0, kc, panel);
    // Cold weights (a real network's layer): the nibbles of the next chunk, or of
    // the next call's first chunk (the next 64 channels follow in memory), are
    // prefetched to L2, a few lines per row group. Prefetches never fault.
    const bool more = k0 + kc < kp;
    const size_t nk = more ? (kp - k0 - kc < kChunkK ? kp - k0 - kc : kChunkK) : (kp < kChunkK ? kp : kChunkK);
    const uint8_t* pf_base = more ? w + 64 + (k0 + kc) * 8 : w + NB * wbb + 64;
    const size_t pf_lpb = nk * 8 / 64, pf_lines = (more ? NB : 4) * pf_lpb;
    const size_t groups = (mr + 5) / 6, pf_per_group = (pf_lines + groups - 1) / groups;
    size_t pf_next = 0;
    const bool first = k0 == 0, last = k0 + kc == kp;
    for_row_groups(mr, [&](size_t r0, size_t rows) {
      for (size_t end = pf_next + pf_per_group < pf_lines ? pf_next + pf_per_group : pf_lines; pf_next < end; ++pf_next)
        _mm_prefetch(reinterpret_cast<const char*>(pf_base + (pf_next / pf_lpb) * wbb + (pf_next % pf_lpb) * 64),
                     _MM_HINT_T1);
      GemmEpilogue e = ep;
      if (e.rowsum) e.rowsum += r0;
      const uint8_t* ar = a + r0 * a_stride + k0;
      int32_t* accr = acc + r0 * 64;
      void* d = static_cast<uint8_t*>(dst) + r0 * dst_stride * esz;
      switch (rows) {
        case 3: rows_chunk<3, NB>(ar, a_stride, panel, kc / 4, w, wbb, first, last, accr, d, dst_stride, nc, e); break;
        case 4: rows_chunk<4, NB>(ar, a_stride, panel, kc / 4, w, wbb, first, last, accr, d, dst_stride, nc, e); break;
        case 5: rows_chunk<5, NB>(ar, a_stride, panel, kc / 4, w, wbb, first, last, accr, d, dst_stride, nc, e); break;
        default: rows_chunk<6, NB>(ar, a_stride, panel, kc / 4, w, wbb, first, last, accr, d, dst_stride, nc, e); break;
      }
    });
  }
}

}  // namespace

void u8s4_gemm_6x64c8__avx512vnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride, const void* w,
        size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  const uint8_t* a8 = static_cast<const uint8_t*>(a);
  const uint8_t* w8 = static_cast<const uint8_t*>(w);
  if (mr <= 6) return dispatch<false>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, ep, 1, nullptr);
  if (nc > 48) return rows_chunked<4>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, *ep);
  if (nc > 32) return rows_chunked<3>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, *ep);
  if (nc > 16) return rows_chunked<2>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, *ep);
  rows_chunked<1>(mr, nc, kp, a8, a_stride, w8, w_block_bytes, dst, dst_stride, *ep);
}

void u8s4_igemm_6x64c8__avx512vnni(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs, const void* w,
        size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  // Balanced groups of <= 6 rows on the nibble tile.
  const size_t esz = ep->f32_out ? 4 : 1;
  for_row_groups(mr, [&](size_t r0, size_t rows) {
    GemmEpilogue e = *ep;
    if (e.rowsum) e.rowsum += r0;
    dispatch<true>(rows, nc, kc, nullptr, 0, static_cast<const uint8_t*>(w), w_block_bytes,
                   static_cast<uint8_t*>(dst) + r0 * dst_stride * esz, dst_stride, &e, taps, ptrs + r0 * taps);
  });
}

// The kernels run on an unpacked panel (GemmConfig::panel_ukernel / panel_igemm):
// the int8 x16 kernel on 6-row tiles, panel_m1 for a call of a single row.
void u8s4_panel_gemm_6x64c4__avx512vnni(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride, const void* w,
                                        size_t w_block_bytes, void* dst, size_t dst_stride, const GemmEpilogue* ep) {
  const uint8_t* a8 = static_cast<const uint8_t*>(a);
  uint8_t* d8 = static_cast<uint8_t*>(dst);
  const size_t d_step = 6 * dst_stride * (ep->f32_out ? 4 : 1);
  GemmEpilogue e = *ep;
  size_t r0 = 0;
  for (; r0 + 6 <= mr; r0 += 6, a8 += 6 * a_stride, d8 += d_step, e.rowsum = e.rowsum ? e.rowsum + 6 : nullptr)
    u8s8x16_gemm_6x64c4__avx512vnni(6, nc, kp, a8, a_stride, w, w_block_bytes, d8, dst_stride, &e);
  if (r0 + 1 == mr)
    panel_m1_dispatch<false>(nc, kp, 1, a8, nullptr, static_cast<const uint8_t*>(w), w_block_bytes, d8, &e);
  else if (r0 < mr)
    u8s8x16_gemm_6x64c4__avx512vnni(mr - r0, nc, kp, a8, a_stride, w, w_block_bytes, d8, dst_stride, &e);
}

void u8s4_panel_igemm_6x64c4__avx512vnni(size_t mr, size_t nc, size_t taps, size_t kc, const uint8_t* const* ptrs,
                                         const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                                         const GemmEpilogue* ep) {
  uint8_t* d8 = static_cast<uint8_t*>(dst);
  const size_t d_step = 6 * dst_stride * (ep->f32_out ? 4 : 1);
  GemmEpilogue e = *ep;
  size_t r0 = 0;
  for (; r0 + 6 <= mr; r0 += 6, ptrs += 6 * taps, d8 += d_step, e.rowsum = e.rowsum ? e.rowsum + 6 : nullptr)
    u8s8x16_igemm_6x64c4__avx512vnni(6, nc, taps, kc, ptrs, w, w_block_bytes, d8, dst_stride, &e);
  if (r0 + 1 == mr)
    panel_m1_dispatch<true>(nc, kc, taps, nullptr, ptrs, static_cast<const uint8_t*>(w), w_block_bytes, d8, &e);
  else if (r0 < mr)
    u8s8x16_igemm_6x64c4__avx512vnni(mr - r0, nc, taps, kc, ptrs, w, w_block_bytes, d8, dst_stride, &e);
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
