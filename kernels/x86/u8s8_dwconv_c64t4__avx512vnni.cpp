// u8s8_dwconv_c64t4__avx512vnni: depthwise convolution, one output row per call.
// Layout c64t4_s8, per 64-channel block: int32 bias[64] in lane order (i, L, j) =
// channel 16L + 4i + j; then per (kw, kernel-row group hb) 256 bytes (i, L, j, t) =
// w[16L + 4i + j][4hb + t][kw].
// Phase 1: each input column of the window is interleaved once: four kernel rows
// go through punpck{l,h}bw + punpck{l,h}wd into x0..x3, where 128-bit lane L of
// x_i holds channels 16L+4i .. 16L+4i+3 with their 4 rows adjacent (a vpdpbusd
// operand); every output reading the column reuses it.
// Phase 2: per output, KW * KHp/4 * 4 vpdpbusd. Accumulators stay in lane order;
// the epilogue constants are transposed once per block, and vpackssdw/vpackuswb
// (per-lane) bring the bytes back to channel order for free.
// Two block shapes:
// - block64: 64 channels of one output per zmm.
// - block32x2 (<= 32 channels): two outputs per zmm (the 32-byte halves of the
//   c64t4 groups, lanes L = 0, 1), so all 64 lanes work. The interleaved columns
//   are stored per stride phase (column = phase + stride * slot), so that the two
//   outputs' columns of one tap are adjacent slots: one zmm load serves both.
// 3x3 stride 2 (block64_s2k3, block32x2_s2k3) fuses the phases: each group is
// interleaved into registers right before the outputs that read it, because the
// scratch's stores and reloads (not the shuffles or vpdpbusd) bounded those kernels.
// Row sums for weight zero points: vpdpbusd with all-ones weights.
// Overflow: |sum| <= KH*KW*255*128, tiny.
#include <immintrin.h>

#include <algorithm>

#include "kernels/dwconv.h"

namespace lapq {
namespace {

inline __mmask16 mask16(size_t count) { return count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1); }

// The u8 epilogue's constants, loaded once per block (a byte store could alias
// the GemmEpilogue, so nothing is re-read from it in the loops).
struct Epi {
  bool f32 = false, has_bias = false, add_zp = false, clamp_lo = false, clamp_hi = false;
  bool min_hi = true;  // false when the block's |y| < 2^30 (y_fits): the saturation clamps
  __m512 hi;
  __m512i zp16, qmin8, qmax8;
};

inline Epi make_epi(const GemmEpilogue& e) {
  Epi k;
  k.f32 = e.f32_out;
  k.has_bias = e.bias != nullptr;
  const int qmin = static_cast<int>(e.lo) + e.zp, qmax = static_cast<int>(e.hi) + e.zp;
  k.add_zp = e.zp != 0, k.clamp_lo = qmin > 0, k.clamp_hi = qmax < 255;
  k.hi = _mm512_set1_ps(e.hi);
  k.zp16 = _mm512_set1_epi16(static_cast<short>(e.zp));
  k.qmin8 = _mm512_set1_epi8(static_cast<char>(qmin));
  k.qmax8 = _mm512_set1_epi8(static_cast<char>(qmax));
  return k;
}

// Four float vectors -> 64 bytes; 128-bit lane k of the result holds lane k of
// q0, q1, q2, q3 (4 bytes each). Exactly kernels/gemm.h's
// clamp(nearbyint(y) + zp, qmin, qmax): y is clamped to hi = qmax - zp in float
// (a y beyond INT_MAX would convert to INT_MIN); everything below that is done
// by saturation, which is monotone: vpackssdw to int16, + zp saturating,
// vpackuswb to [0, 255], then vpmaxub / vpminub with qmin / qmax (0 <= zp, qmin,
// qmax <= 255). A y below INT_MIN converts to INT_MIN, which saturates to 0 too.
inline __m512i narrow_u8(__m512 y0, __m512 y1, __m512 y2, __m512 y3, const Epi& k) {
  if (k.min_hi) y0 = _mm512_min_ps(y0, k.hi), y1 = _mm512_min_ps(y1, k.hi), y2 = _mm512_min_ps(y2, k.hi),
                y3 = _mm512_min_ps(y3, k.hi);
  const __m512i q0 = _mm512_cvtps_epi32(y0), q1 = _mm512_cvtps_epi32(y1);
  const __m512i q2 = _mm512_cvtps_epi32(y2), q3 = _mm512_cvtps_epi32(y3);
  __m512i p01 = _mm512_packs_epi32(q0, q1), p23 = _mm512_packs_epi32(q2, q3);
  if (k.add_zp) p01 = _mm512_adds_epi16(p01, k.zp16), p23 = _mm512_adds_epi16(p23, k.zp16);
  __m512i b = _mm512_packus_epi16(p01, p23);
  if (k.clamp_lo) b = _mm512_max_epu8(b, k.qmin8);
  if (k.clamp_hi) b = _mm512_min_epu8(b, k.qmax8);
  return b;
}

// True when no y of the block can reach 2^30 in magnitude: |acc| <= |bias_i32| +
// taps*255*128, |rowsum| <= taps*255, |y| <= (|acc| + |zw|*|rowsum|) * |scale| + |bias|
// (float rounding is far inside the 2x margin to INT_MAX; NaN or inf fail the test).
// Then cvtps2dq cannot overflow, so the clamp to hi may be left to the saturating
// narrowing and vpminub.
template <bool ROWSUM>
inline bool y_fits(const __m512i ibias[4], const __m512 scale[4], const __m512 bias[4], const __m512 zw[4],
                   bool has_bias, size_t taps) {
  const __m512 amax = _mm512_set1_ps(static_cast<float>(taps) * 255.f * 128.f);
  const __m512 rmax = _mm512_set1_ps(static_cast<float>(taps) * 255.f), limit = _mm512_set1_ps(1073741824.f);
  __mmask16 ok = 0xFFFF;
  for (int i = 0; i < 4; ++i) {
    __m512 t = _mm512_add_ps(_mm512_abs_ps(_mm512_cvtepi32_ps(ibias[i])), amax);
    if (ROWSUM) t = _mm512_add_ps(t, _mm512_mul_ps(_mm512_abs_ps(zw[i]), rmax));
    __m512 y = _mm512_mul_ps(t, _mm512_abs_ps(scale[i]));
    if (has_bias) y = _mm512_add_ps(y, _mm512_abs_ps(bias[i]));
    ok &= _mm512_cmp_ps_mask(y, limit, _CMP_LT_OQ);
  }
  return ok == 0xFFFF;
}

// 4x4 transpose of 128-bit lanes: lane order (i, L) <-> channel order (L, i).
inline void transpose_lanes(__m512 v[4]) {
  const __m512 t0 = _mm512_shuffle_f32x4(v[0], v[1], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512 t1 = _mm512_shuffle_f32x4(v[2], v[3], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512 t2 = _mm512_shuffle_f32x4(v[0], v[1], _MM_SHUFFLE(3, 2, 3, 2));
  const __m512 t3 = _mm512_shuffle_f32x4(v[2], v[3], _MM_SHUFFLE(3, 2, 3, 2));
  v[0] = _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
  v[1] = _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
  v[2] = _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(2, 0, 2, 0));
  v[3] = _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(3, 1, 3, 1));
}

// Per-channel float vector (scale, bias, zero point) of channels c.. in lane order.
inline void load_lane_order(const float* p, size_t c, size_t count, __m512 out[4]) {
  for (size_t L = 0; L < 4; ++L)
    out[L] = L * 16 < count ? _mm512_maskz_loadu_ps(mask16(count - L * 16), p + c + L * 16) : _mm512_setzero_ps();
  transpose_lanes(out);
}

// The same for <= 32 channels, lanes L = 0, 1 (8 floats per vector i), repeated in
// both 256-bit halves (the two outputs of block32x2): one permute per vector.
inline void load_lane_order32x2(const float* p, size_t c, size_t count, __m512 out[4]) {
  const __m512 lo = _mm512_maskz_loadu_ps(mask16(count), p + c);
  const __m512 hi = count > 16 ? _mm512_maskz_loadu_ps(mask16(count - 16), p + c + 16) : _mm512_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    const int a = 4 * i, b = 16 + 4 * i;  // channel 4i + j (lane 0) and 16 + 4i + j (lane 1)
    const __m512i idx = _mm512_setr_epi32(a, a + 1, a + 2, a + 3, b, b + 1, b + 2, b + 3, a, a + 1, a + 2, a + 3, b,
                                          b + 1, b + 2, b + 3);
    out[i] = _mm512_permutex2var_ps(lo, idx, hi);
  }
}

// Pixel of window row r (kernel row, padded to KHp) and window column col: input
// column col - pad_left, or the za pixel outside the image.
struct ColSrc {
  const uint8_t* const* rows;
  size_t channels, in_w, pad_left;
  const uint8_t* zero;
  const uint8_t* operator()(size_t r, size_t col) const {
    const size_t ic = col - pad_left;  // wraps (>= in_w) left of the image
    return ic < in_w && rows[r] ? rows[r] + ic * channels : zero;
  }
};

// ColSrc with the edge tests hoisted out of the column loops, for steps whose
// columns all lie inside the image (inside()): the pixel of window row r and
// column col is base[r] + col * step[r], step 0 and the za pixel for a row outside
// the image (unsigned wrap-around arithmetic; the result is always in range).
// Phase 1 spent about as long in ColSrc's per-load branches as in its shuffles.
struct FastCols {
  uintptr_t base[68];
  size_t step[68];
  size_t lo, hi;  // columns [lo, hi) lie inside the image
  FastCols(const ColSrc& s, size_t nrows) : lo(s.pad_left), hi(s.pad_left + s.in_w) {
    for (size_t r = 0; r < nrows; ++r) {
      step[r] = s.rows[r] ? s.channels : 0;
      base[r] = s.rows[r] ? reinterpret_cast<uintptr_t>(s.rows[r]) - s.pad_left * s.channels
                          : reinterpret_cast<uintptr_t>(s.zero);
    }
  }
  bool inside(size_t first, size_t last) const { return first >= lo && last < hi; }
  const uint8_t* operator()(size_t r, size_t col) const {
    return reinterpret_cast<const uint8_t*>(base[r] + col * step[r]);
  }
};

// Interleaved columns per chunk of outputs (u8s8_dwconv_c64t4__avx512vnni): 64
// columns (16 KiB for KH <= 4) plus the input lines they read stay in L1 while
// every 64-channel block of the chunk runs (measured: ~10-15 % faster than whole
// 112-pixel rows for C >= 96, no change at 56 px).
constexpr size_t kChunkCols = 64;

// Four kernel rows (t0..t3, bytes of one channel range) -> four vpdpbusd operands.
inline void interleave4(__m512i t0, __m512i t1, __m512i t2, __m512i t3, __m512i* x0, __m512i* x1, __m512i* x2,
                        __m512i* x3) {
  const __m512i u01l = _mm512_unpacklo_epi8(t0, t1), u01h = _mm512_unpackhi_epi8(t0, t1);
  const __m512i u23l = _mm512_unpacklo_epi8(t2, t3), u23h = _mm512_unpackhi_epi8(t2, t3);
  _mm512_store_si512(x0, _mm512_unpacklo_epi16(u01l, u23l));
  _mm512_store_si512(x1, _mm512_unpackhi_epi16(u01l, u23l));
  _mm512_store_si512(x2, _mm512_unpacklo_epi16(u01h, u23h));
  _mm512_store_si512(x3, _mm512_unpackhi_epi16(u01h, u23h));
}

// interleave4 into registers (fused phases: no store and reload).
inline void interleave4r(__m512i t0, __m512i t1, __m512i t2, __m512i t3, __m512i v[4]) {
  const __m512i u01l = _mm512_unpacklo_epi8(t0, t1), u01h = _mm512_unpackhi_epi8(t0, t1);
  const __m512i u23l = _mm512_unpacklo_epi8(t2, t3), u23h = _mm512_unpackhi_epi8(t2, t3);
  v[0] = _mm512_unpacklo_epi16(u01l, u23l);
  v[1] = _mm512_unpackhi_epi16(u01l, u23l);
  v[2] = _mm512_unpacklo_epi16(u01h, u23h);
  v[3] = _mm512_unpackhi_epi16(u01h, u23h);
}

// y of kernels/gemm.h (same operation order) for one accumulator vector.
template <bool ROWSUM>
inline __m512 epilogue_y(__m512i acc, __m512i rsum, __m512i kza, __m512 zw, __m512 scale, __m512 bias, bool has_bias) {
  __m512 t = _mm512_cvtepi32_ps(acc);
  if (ROWSUM) t = _mm512_sub_ps(t, _mm512_mul_ps(zw, _mm512_cvtepi32_ps(_mm512_sub_epi32(rsum, kza))));
  __m512 y = _mm512_mul_ps(t, scale);
  if (has_bias) y = _mm512_add_ps(y, bias);
  return y;
}

// K3 = true: KW == 3 and KH <= 4 (the common 3x3), weights held in 12 registers.
// FULL: count == 64 (plain loads and stores).
template <bool ROWSUM, bool K3, bool FULL>
void block64(size_t c, size_t count, size_t ow_count, size_t kh, size_t kw, size_t stride_w, size_t dil_w,
             const ColSrc& src, size_t col0, size_t ncols, const uint8_t* wb, int32_t za, __m512i* x,
             void* dst, size_t dst_pixel_stride, const GemmEpilogue& e) {
  const size_t khb = (kh + 3) / 4, khp = khb * 4;
  const __mmask64 mask = FULL ? ~__mmask64(0) : (__mmask64(1) << count) - 1;
  auto load = [&](const uint8_t* p) { return FULL ? _mm512_loadu_si512(p + c) : _mm512_maskz_loadu_epi8(mask, p + c); };
  const __m512i zrow = _mm512_set1_epi8(static_cast<char>(za));
  // Interleaves column col: x[(col * khb + hb) * 4 + i].
  const FastCols fast(src, khp);
  auto interleave_col = [&](size_t col, const auto& px) __attribute__((always_inline)) {
    for (size_t hb = 0; hb < khb; ++hb) {
      const size_t r = hb * 4, wc = col0 + col;
      const __m512i t3 = r + 3 < kh ? load(px(r + 3, wc)) : zrow;  // KH = 3: za row
      __m512i* xo = x + (col * khb + hb) * 4;
      interleave4(load(px(r, wc)), load(px(r + 1, wc)), load(px(r + 2, wc)), t3, xo, xo + 1, xo + 2, xo + 3);
    }
  };
  for (size_t col = 0; col < ncols; ++col) {
    if (fast.inside(col0 + col, col0 + col)) interleave_col(col, fast); else interleave_col(col, src);
  }
  // Epilogue constants in lane order, once per block.
  Epi k = make_epi(e);
  __m512 scale[4], bias[4], zw[4];
  load_lane_order(e.scale, c, count, scale);
  if (k.has_bias) load_lane_order(e.bias, c, count, bias);
  if (ROWSUM) load_lane_order(e.wei_zp, c, count, zw);
  const __m512i ibias[4] = {_mm512_loadu_si512(wb), _mm512_loadu_si512(wb + 64), _mm512_loadu_si512(wb + 128),
                            _mm512_loadu_si512(wb + 192)};
  k.min_hi = !y_fits<ROWSUM>(ibias, scale, bias, zw, k.has_bias, kh * kw);
  const __m512i ones = _mm512_set1_epi8(1);
  const __m512i kza = _mm512_set1_epi32(static_cast<int32_t>(kw * khp) * za);  // padded rows read za too
  const uint8_t* wt = wb + 256;  // (KW, KHb, 4, 64) int8
  __m512i w00, w01, w02, w03, w10, w11, w12, w13, w20, w21, w22, w23;  // K3: (kw, i)
  if constexpr (K3) {
    w00 = _mm512_loadu_si512(wt), w01 = _mm512_loadu_si512(wt + 64);
    w02 = _mm512_loadu_si512(wt + 128), w03 = _mm512_loadu_si512(wt + 192);
    w10 = _mm512_loadu_si512(wt + 256), w11 = _mm512_loadu_si512(wt + 320);
    w12 = _mm512_loadu_si512(wt + 384), w13 = _mm512_loadu_si512(wt + 448);
    w20 = _mm512_loadu_si512(wt + 512), w21 = _mm512_loadu_si512(wt + 576);
    w22 = _mm512_loadu_si512(wt + 640), w23 = _mm512_loadu_si512(wt + 704);
  }
  // Phase 2: outputs, two per iteration (independent chains for the scheduler).
  struct Acc { __m512i a[4], r[4]; };
  auto accumulate = [&](size_t o) __attribute__((always_inline)) {
    Acc t{{ibias[0], ibias[1], ibias[2], ibias[3]}, {}};
    if (ROWSUM) t.r[0] = t.r[1] = t.r[2] = t.r[3] = _mm512_setzero_si512();
    if constexpr (K3) {
      const __m512i* xc = x + o * stride_w * 4;
      const size_t dq = dil_w * 4;
#define LAPQ_TAP(q)                                                                              \
  t.a[0] = _mm512_dpbusd_epi32(t.a[0], xc[q * dq + 0], w##q##0);                                 \
  t.a[1] = _mm512_dpbusd_epi32(t.a[1], xc[q * dq + 1], w##q##1);                                 \
  t.a[2] = _mm512_dpbusd_epi32(t.a[2], xc[q * dq + 2], w##q##2);                                 \
  t.a[3] = _mm512_dpbusd_epi32(t.a[3], xc[q * dq + 3], w##q##3);                                 \
  if (ROWSUM) {                                                                                  \
    t.r[0] = _mm512_dpbusd_epi32(t.r[0], xc[q * dq + 0], ones);                                  \
    t.r[1] = _mm512_dpbusd_epi32(t.r[1], xc[q * dq + 1], ones);                                  \
    t.r[2] = _mm512_dpbusd_epi32(t.r[2], xc[q * dq + 2], ones);                                  \
    t.r[3] = _mm512_dpbusd_epi32(t.r[3], xc[q * dq + 3], ones);                                  \
  }
      LAPQ_TAP(0) LAPQ_TAP(1) LAPQ_TAP(2)
#undef LAPQ_TAP
    } else {
      for (size_t q = 0; q < kw; ++q) {
        const __m512i* xc = x + (o * stride_w + q * dil_w) * khb * 4;
        const uint8_t* wq = wt + q * khb * 256;
        for (size_t hb = 0; hb < khb; ++hb, xc += 4, wq += 256)
          for (int i = 0; i < 4; ++i) {
            t.a[i] = _mm512_dpbusd_epi32(t.a[i], xc[i], _mm512_loadu_si512(wq + 64 * i));
            if (ROWSUM) t.r[i] = _mm512_dpbusd_epi32(t.r[i], xc[i], ones);
          }
      }
    }
    return t;
  };
  auto finish = [&](size_t o, const Acc& t) __attribute__((always_inline)) {
    __m512 y[4];
    for (int i = 0; i < 4; ++i) y[i] = epilogue_y<ROWSUM>(t.a[i], t.r[i], kza, zw[i], scale[i], bias[i], k.has_bias);
    if (k.f32) {
      transpose_lanes(y);
      float* d = static_cast<float*>(dst) + o * dst_pixel_stride + c;
      for (size_t L = 0; L < 4 && L * 16 < count; ++L) _mm512_mask_storeu_ps(d + L * 16, mask16(count - L * 16), y[L]);
    } else {
      // Lane L of the result holds channels 16L .. 16L+15 in order: no permute.
      uint8_t* d = static_cast<uint8_t*>(dst) + o * dst_pixel_stride + c;
      const __m512i b = narrow_u8(y[0], y[1], y[2], y[3], k);
      if (FULL) _mm512_storeu_si512(d, b); else _mm512_mask_storeu_epi8(d, mask, b);
    }
  };
  size_t o = 0;
  for (; o + 2 <= ow_count; o += 2) {
    const Acc t0 = accumulate(o), t1 = accumulate(o + 1);
    finish(o, t0);
    finish(o + 1, t1);
  }
  if (o < ow_count) finish(o, accumulate(o));
}

// 3x3 (KH <= 4), stride 1, dilation 1, 64 channels, fused like block64_s2k3: each
// input column is interleaved into registers once and the last three columns stay
// in registers for the outputs that read them (o reads columns o, o+1, o+2), so no
// interleaved column is stored and reloaded (block64 stores 4 and reloads 12 zmm per
// output).
template <bool ROWSUM, bool FULL>
void block64_s1k3(size_t c, size_t count, size_t ow_count, size_t kh, const ColSrc* srcs, size_t nrows, size_t col0,
                  const uint8_t* wb, int32_t za, void* dst0, size_t dst_row_bytes, size_t dst_pixel_stride, const GemmEpilogue& e) {
  const __mmask64 mask = FULL ? ~__mmask64(0) : (__mmask64(1) << count) - 1;
  auto load = [&](const uint8_t* p) { return FULL ? _mm512_loadu_si512(p + c) : _mm512_maskz_loadu_epi8(mask, p + c); };
  const __m512i zrow = _mm512_set1_epi8(static_cast<char>(za));
  Epi k = make_epi(e);
  __m512 scale[4], bias[4], zw[4];
  load_lane_order(e.scale, c, count, scale);
  if (k.has_bias) load_lane_order(e.bias, c, count, bias);
  if (ROWSUM) load_lane_order(e.wei_zp, c, count, zw);
  const __m512i ibias[4] = {_mm512_loadu_si512(wb), _mm512_loadu_si512(wb + 64), _mm512_loadu_si512(wb + 128),
                            _mm512_loadu_si512(wb + 192)};
  k.min_hi = !y_fits<ROWSUM>(ibias, scale, bias, zw, k.has_bias, kh * 3);
  const __m512i ones = _mm512_set1_epi8(1);
  const __m512i kza = _mm512_set1_epi32(static_cast<int32_t>(3 * 4) * za);  // padded rows read za too
  const uint8_t* wt = wb + 256;  // (KW = 3, 4, 64)
  __m512i w[3][4];
  for (int q = 0; q < 3; ++q)
    for (int i = 0; i < 4; ++i) w[q][i] = _mm512_loadu_si512(wt + 256 * q + 64 * i);
  // The setup above is done once for all rows of the call; the row's pixels and
  // output are const locals of the loop (no reloads after the byte stores).
  for (size_t j = 0; j < nrows; ++j) {
    const ColSrc src = srcs[j];
    const FastCols fast(src, 4);
    void* const dst = static_cast<uint8_t*>(dst0) + j * dst_row_bytes;
    auto column = [&](size_t col, __m512i v[4]) __attribute__((always_inline)) {
      const size_t wc = col0 + col;
      auto go = [&](const auto& px) __attribute__((always_inline)) {
        const __m512i t3 = kh > 3 ? load(px(3, wc)) : zrow;  // KH = 3: za row (weight 0)
        interleave4r(load(px(0, wc)), kh > 1 ? load(px(1, wc)) : zrow, kh > 2 ? load(px(2, wc)) : zrow, t3, v);
      };
      if (fast.inside(wc, wc)) go(fast); else go(src);
    };
    __m512i x0[4], x1[4], x2[4];
    column(0, x0);
    column(1, x1);
    for (size_t o = 0; o < ow_count; ++o) {
      column(o + 2, x2);
      __m512 y[4];
      for (int i = 0; i < 4; ++i) {
        __m512i a = _mm512_dpbusd_epi32(ibias[i], x0[i], w[0][i]);
        a = _mm512_dpbusd_epi32(a, x1[i], w[1][i]);
        a = _mm512_dpbusd_epi32(a, x2[i], w[2][i]);
        __m512i r = _mm512_setzero_si512();
        if (ROWSUM) {
          r = _mm512_dpbusd_epi32(r, x0[i], ones);
          r = _mm512_dpbusd_epi32(r, x1[i], ones);
          r = _mm512_dpbusd_epi32(r, x2[i], ones);
        }
        y[i] = epilogue_y<ROWSUM>(a, r, kza, zw[i], scale[i], bias[i], k.has_bias);
      }
      if (k.f32) {
        transpose_lanes(y);
        float* d = static_cast<float*>(dst) + o * dst_pixel_stride + c;
        for (size_t L = 0; L < 4 && L * 16 < count; ++L) _mm512_mask_storeu_ps(d + L * 16, mask16(count - L * 16), y[L]);
      } else {
        uint8_t* d = static_cast<uint8_t*>(dst) + o * dst_pixel_stride + c;
        const __m512i b = narrow_u8(y[0], y[1], y[2], y[3], k);
        if (FULL) _mm512_storeu_si512(d, b); else _mm512_mask_storeu_epi8(d, mask, b);
      }
      for (int i = 0; i < 4; ++i) x0[i] = x1[i], x1[i] = x2[i];
    }
  }
}

// 3x3, stride 2, dilation 1, KH = 3 (MobileNetV2's stride-2 layers), 64 channels.
// Every output reads two new columns, so block64 spends 16 shuffles per output on
// interleaving, a quarter of them on the za row that pads KH = 3 to 4. Here the
// fourth byte carries data instead: A(e) = rows (0, 1, 2) of even column e plus row
// 0 of column e+1; B = rows (1, 2) of the odd columns 4p+1 and 4p+3. Output o reads
// A(2o) with weights (w00, w10, w20, w01), A(2o+2) with (w02, w12, w22, 0) and
// B(o/2) with (w11, w21, 0, 0) or (0, 0, w11, w21): 12 vpdpbusd as before, 12
// shuffles instead of 16. The weights come from the c64t4 ones by dword shifts.
template <bool ROWSUM, bool FULL>
void block64_s2k3(size_t c, size_t count, size_t ow_count, const ColSrc& src, size_t col0, size_t ncols,
                  const uint8_t* wb, int32_t za, __m512i* x, void* dst, size_t dst_pixel_stride,
                  const GemmEpilogue& e) {
  (void)ncols, (void)x;
  const __mmask64 mask = FULL ? ~__mmask64(0) : (__mmask64(1) << count) - 1;
  auto load = [&](const uint8_t* p) { return FULL ? _mm512_loadu_si512(p + c) : _mm512_maskz_loadu_epi8(mask, p + c); };
  // The groups are interleaved into registers right before the outputs that read
  // them (A(2o+2) carries over to output o+1): no scratch. With the scratch, every
  // output stored 6 and reloaded 12 zmm, and loads / stores, not shuffles or
  // vpdpbusd, were the bottleneck (this host: ~1.4 zmm loads, 1 store per cycle).
  const FastCols fast(src, 3);
  auto group_a = [&](size_t k, __m512i v[4]) __attribute__((always_inline)) {  // A(2k)
    const size_t col = col0 + 2 * k;
    auto go = [&](const auto& px) __attribute__((always_inline)) {
      interleave4r(load(px(0, col)), load(px(1, col)), load(px(2, col)), load(px(0, col + 1)), v);
    };
    if (fast.inside(col, col + 1)) go(fast); else go(src);
  };
  auto group_b = [&](size_t p, __m512i v[4]) __attribute__((always_inline)) {  // B(p)
    const size_t c1 = col0 + 4 * p + 1, c3 = c1 + 2;  // c3 may lie past the window: weight 0
    auto go = [&](const auto& px) __attribute__((always_inline)) {
      interleave4r(load(px(1, c1)), load(px(2, c1)), load(px(1, c3)), load(px(2, c3)), v);
    };
    if (fast.inside(c1, c3)) go(fast); else go(src);
  };
  Epi k = make_epi(e);
  __m512 scale[4], bias[4], zw[4];
  load_lane_order(e.scale, c, count, scale);
  if (k.has_bias) load_lane_order(e.bias, c, count, bias);
  if (ROWSUM) load_lane_order(e.wei_zp, c, count, zw);
  const __m512i ibias[4] = {_mm512_loadu_si512(wb), _mm512_loadu_si512(wb + 64), _mm512_loadu_si512(wb + 128),
                            _mm512_loadu_si512(wb + 192)};
  k.min_hi = !y_fits<ROWSUM>(ibias, scale, bias, zw, k.has_bias, 9);
  const uint8_t* wt = wb + 256;  // (KW = 3, 4, 64): bytes (w[0][kw], w[1][kw], w[2][kw], 0)
  __m512i wa[4], w2[4], wbl[4], wbh[4];
  for (int i = 0; i < 4; ++i) {
    const __m512i w0 = _mm512_loadu_si512(wt + 64 * i), w1 = _mm512_loadu_si512(wt + 256 + 64 * i);
    w2[i] = _mm512_loadu_si512(wt + 512 + 64 * i);
    wa[i] = _mm512_or_si512(w0, _mm512_slli_epi32(w1, 24));
    wbl[i] = _mm512_srli_epi32(w1, 8);
    wbh[i] = _mm512_and_si512(_mm512_slli_epi32(w1, 8), _mm512_set1_epi32(static_cast<int>(0xFFFF0000u)));
  }
  // Row sums count exactly the 9 taps of each output.
  const __m512i ones_a = _mm512_set1_epi32(0x01010101), ones_a3 = _mm512_set1_epi32(0x00010101);
  const __m512i ones_bl = _mm512_set1_epi32(0x00000101), ones_bh = _mm512_set1_epi32(0x01010000);
  const __m512i kza = _mm512_set1_epi32(9 * za);
  // Output o from A(2o) (a0), A(2o+2) (a2) and B(o/2) (bv).
  auto output = [&](size_t o, const __m512i* a0, const __m512i* a2, const __m512i* bv, const __m512i* wbv,
                    __m512i ones_b) __attribute__((always_inline)) {
    __m512 y[4];
    for (int i = 0; i < 4; ++i) {
      __m512i a = _mm512_dpbusd_epi32(ibias[i], a0[i], wa[i]);
      a = _mm512_dpbusd_epi32(a, a2[i], w2[i]);
      a = _mm512_dpbusd_epi32(a, bv[i], wbv[i]);
      __m512i r = _mm512_setzero_si512();
      if (ROWSUM) {
        r = _mm512_dpbusd_epi32(r, a0[i], ones_a);
        r = _mm512_dpbusd_epi32(r, a2[i], ones_a3);
        r = _mm512_dpbusd_epi32(r, bv[i], ones_b);
      }
      y[i] = epilogue_y<ROWSUM>(a, r, kza, zw[i], scale[i], bias[i], k.has_bias);
    }
    if (k.f32) {
      transpose_lanes(y);
      float* d = static_cast<float*>(dst) + o * dst_pixel_stride + c;
      for (size_t L = 0; L < 4 && L * 16 < count; ++L) _mm512_mask_storeu_ps(d + L * 16, mask16(count - L * 16), y[L]);
    } else {
      uint8_t* d = static_cast<uint8_t*>(dst) + o * dst_pixel_stride + c;
      const __m512i b = narrow_u8(y[0], y[1], y[2], y[3], k);
      if (FULL) _mm512_storeu_si512(d, b); else _mm512_mask_storeu_epi8(d, mask, b);
    }
  };
  __m512i a0[4], a2[4], a4[4], bv[4];
  group_a(0, a0);
  size_t o = 0;
  for (; o + 2 <= ow_count; o += 2) {
    group_a(o + 1, a2);
    group_a(o + 2, a4);
    group_b(o / 2, bv);
    output(o, a0, a2, bv, wbl, ones_bl);
    output(o + 1, a2, a4, bv, wbh, ones_bh);
    for (int i = 0; i < 4; ++i) a0[i] = a4[i];
  }
  if (o < ow_count) {
    group_a(o + 1, a2);
    group_b(o / 2, bv);
    output(o, a0, a2, bv, wbl, ones_bl);
  }
}

// Stores the two outputs of block32x2's float vectors y (lane order): the lower
// 256-bit half is output o, the upper one output o_hi (only if two).
inline void store32x2(__m512 y[4], const Epi& k, size_t o, size_t o_hi, bool two, size_t c, size_t count,
                      __mmask32 mask, bool full, void* dst, size_t dst_pixel_stride) {
  if (k.f32) {
    alignas(64) float out[4][16];
    for (int i = 0; i < 4; ++i) _mm512_store_ps(out[i], y[i]);
    for (size_t h = 0; h < (two ? 2u : 1u); ++h) {
      float* d = static_cast<float*>(dst) + (h ? o_hi : o) * dst_pixel_stride + c;
      for (size_t i = 0; i < 4; ++i)
        for (size_t L = 0; L < 2; ++L)
          for (size_t j = 0; j < 4; ++j)
            if (16 * L + 4 * i + j < count) d[16 * L + 4 * i + j] = out[i][h * 8 + L * 4 + j];
    }
    return;
  }
  // 128-bit lane 2h + L of the result: channels 16L .. 16L+15 of the half's output.
  const __m512i b = narrow_u8(y[0], y[1], y[2], y[3], k);
  uint8_t* d = static_cast<uint8_t*>(dst) + o * dst_pixel_stride + c;
  uint8_t* d_hi = static_cast<uint8_t*>(dst) + o_hi * dst_pixel_stride + c;
  if (full && two && d_hi == d + 32) {
    _mm512_storeu_si512(d, b);
  } else if (full) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm512_castsi512_si256(b));
    if (two) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d_hi), _mm512_extracti64x4_epi64(b, 1));
  } else {
    _mm256_mask_storeu_epi8(d, mask, _mm512_castsi512_si256(b));
    if (two) _mm256_mask_storeu_epi8(d_hi, mask, _mm512_extracti64x4_epi64(b, 1));
  }
}

// A block of <= 32 channels, two outputs (o, o+1) per zmm: 256-bit half h of every
// vector belongs to output o+h. Interleaved columns x: 32-byte units
// ((hb * 4 + i) * S + phase) * ns + slot for column phase + S * slot (S = stride);
// tap q of output o reads column o * S + q * dil: phase (q * dil) % S, slot
// o + (q * dil) / S, so outputs o and o+1 read adjacent slots (one 64-byte load).
// Phase 1 interleaves two columns of one phase per zmm (ymm loads + vinserti64x4).
// FULL: count == 32.
template <bool ROWSUM, bool K3, bool FULL>
void block32x2(size_t c, size_t count, size_t ow_count, size_t kh, size_t kw, size_t stride_w, size_t dil_w,
               const ColSrc& src, size_t col0, size_t ncols, const uint8_t* wb, int32_t za, __m512i* x,
               void* dst, size_t dst_pixel_stride, const GemmEpilogue& e) {
  const size_t khb = (kh + 3) / 4, khp = khb * 4, S = stride_w;
  const size_t ns = dw32x2_slots(ow_count, kw, S, dil_w);
  auto* xu = reinterpret_cast<__m256i*>(x);
  const __mmask32 mask = FULL ? ~__mmask32(0) : __mmask32((uint64_t{1} << count) - 1);
  auto load = [&](const uint8_t* p) {
    return FULL ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + c)) : _mm256_maskz_loadu_epi8(mask, p + c);
  };
  // Two columns' channels c .. c+31 as the halves of one zmm. 32-channel images:
  // adjacent pixels are one 64-byte load. Channels c >= 32: the upper half is a
  // merge-masked load from 32 bytes before (inside the same pixel), which needs
  // no port-5 shuffle, unlike vinserti64x4.
  auto load2 = [&](const uint8_t* p0, const uint8_t* p1) {
    if (FULL && p1 == p0 + 32) return _mm512_loadu_si512(p0 + c);
    if (c >= 32)
      return _mm512_mask_loadu_epi8(_mm512_zextsi256_si512(load(p0)), __mmask64(mask) << 32, p1 + c - 32);
    return _mm512_inserti64x4(_mm512_castsi256_si512(load(p0)), load(p1), 1);
  };
  const __m512i zrow = _mm512_set1_epi8(static_cast<char>(za));
  // Phase 1.
  const FastCols fast(src, khp);
  for (size_t ph = 0; ph < S && ph < ncols; ++ph) {
    const size_t n = (ncols - ph + S - 1) / S;  // columns of this phase
    auto pair = [&](size_t s, size_t c0, size_t c1, const auto& px) __attribute__((always_inline)) {
      for (size_t hb = 0; hb < khb; ++hb) {
        const size_t r = hb * 4;
        const __m512i t3 = r + 3 < kh ? load2(px(r + 3, c0), px(r + 3, c1)) : zrow;
        __m256i* xo = xu + (hb * 4 * S + ph) * ns + s;
        const size_t vi = S * ns;  // units between vectors i and i+1
        interleave4(load2(px(r, c0), px(r, c1)), load2(px(r + 1, c0), px(r + 1, c1)),
                    load2(px(r + 2, c0), px(r + 2, c1)), t3,
                    reinterpret_cast<__m512i*>(xo), reinterpret_cast<__m512i*>(xo + vi),
                    reinterpret_cast<__m512i*>(xo + 2 * vi), reinterpret_cast<__m512i*>(xo + 3 * vi));
      }
    };
    for (size_t s = 0; s < n; s += 2) {
      const size_t c0 = col0 + ph + s * S, c1 = s + 1 < n ? c0 + S : c0;
      if (fast.inside(c0, c1)) pair(s, c0, c1, fast); else pair(s, c0, c1, src);
    }
  }
  Epi k = make_epi(e);
  __m512 scale[4], bias[4], zw[4];
  load_lane_order32x2(e.scale, c, count, scale);
  if (k.has_bias) load_lane_order32x2(e.bias, c, count, bias);
  if (ROWSUM) load_lane_order32x2(e.wei_zp, c, count, zw);
  auto bcast = [](const uint8_t* p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  };
  const __m512i ibias[4] = {bcast(wb), bcast(wb + 64), bcast(wb + 128), bcast(wb + 192)};
  k.min_hi = !y_fits<ROWSUM>(ibias, scale, bias, zw, k.has_bias, kh * kw);
  const __m512i ones = _mm512_set1_epi8(1);
  const __m512i kza = _mm512_set1_epi32(static_cast<int32_t>(kw * khp) * za);
  const uint8_t* wt = wb + 256;  // (KW, KHb, 4, 64) int8; the first 32 bytes of each 64 are ours
  const size_t vi = S * ns;
  __m512i w3[3][4];  // K3: (kw, i)
  const __m256i* xq[3];
  if constexpr (K3)
    for (size_t q = 0; q < 3; ++q) {
      for (size_t i = 0; i < 4; ++i) w3[q][i] = bcast(wt + q * 256 + 64 * i);
      xq[q] = xu + (q * dil_w) % S * ns + (q * dil_w) / S;
    }
  for (size_t o = 0; o < ow_count; o += 2) {
    __m512i a[4] = {ibias[0], ibias[1], ibias[2], ibias[3]};
    __m512i r[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    if constexpr (K3) {
      for (size_t q = 0; q < 3; ++q)
        for (size_t i = 0; i < 4; ++i) {
          const __m512i xv = _mm512_loadu_si512(xq[q] + i * vi + o);
          a[i] = _mm512_dpbusd_epi32(a[i], xv, w3[q][i]);
          if (ROWSUM) r[i] = _mm512_dpbusd_epi32(r[i], xv, ones);
        }
    } else {
      for (size_t q = 0; q < kw; ++q) {
        const __m256i* xc = xu + (q * dil_w) % S * ns + (q * dil_w) / S + o;
        const uint8_t* wq = wt + q * khb * 256;
        for (size_t hb = 0; hb < khb; ++hb, wq += 256)
          for (size_t i = 0; i < 4; ++i) {
            const __m512i xv = _mm512_loadu_si512(xc + (hb * 4 + i) * vi);
            a[i] = _mm512_dpbusd_epi32(a[i], xv, bcast(wq + 64 * i));
            if (ROWSUM) r[i] = _mm512_dpbusd_epi32(r[i], xv, ones);
          }
      }
    }
    __m512 y[4];
    for (int i = 0; i < 4; ++i) y[i] = epilogue_y<ROWSUM>(a[i], r[i], kza, zw[i], scale[i], bias[i], k.has_bias);
    store32x2(y, k, o, o + 1, o + 1 < ow_count, c, count, mask, FULL, dst, dst_pixel_stride);
  }
}

// block64_s1k3 for <= 32 channels, two outputs per zmm: the 256-bit halves hold
// outputs o and o + H (H = half the chunk, rounded up), so column j of the lower
// half and column j + H of the upper one are interleaved together and stay in
// registers for the three outputs that read them.
template <bool ROWSUM, bool FULL>
void block32x2_s1k3(size_t c, size_t count, size_t ow_count, size_t kh, const ColSrc* srcs, size_t nrows, size_t col0,
                    const uint8_t* wb, int32_t za, void* dst0, size_t dst_row_bytes, size_t dst_pixel_stride, const GemmEpilogue& e) {
  const __mmask32 mask = FULL ? ~__mmask32(0) : __mmask32((uint64_t{1} << count) - 1);
  auto load = [&](const uint8_t* p) {
    return FULL ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + c)) : _mm256_maskz_loadu_epi8(mask, p + c);
  };
  auto load2 = [&](const uint8_t* p0, const uint8_t* p1) {  // as in block32x2
    if (c >= 32)
      return _mm512_mask_loadu_epi8(_mm512_zextsi256_si512(load(p0)), __mmask64(mask) << 32, p1 + c - 32);
    return _mm512_inserti64x4(_mm512_castsi256_si512(load(p0)), load(p1), 1);
  };
  const __m512i zrow = _mm512_set1_epi8(static_cast<char>(za));
  const size_t H = (ow_count + 1) / 2;  // outputs of the lower halves
  Epi k = make_epi(e);
  __m512 scale[4], bias[4], zw[4];
  load_lane_order32x2(e.scale, c, count, scale);
  if (k.has_bias) load_lane_order32x2(e.bias, c, count, bias);
  if (ROWSUM) load_lane_order32x2(e.wei_zp, c, count, zw);
  auto bcast = [](const uint8_t* p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  };
  const __m512i ibias[4] = {bcast(wb), bcast(wb + 64), bcast(wb + 128), bcast(wb + 192)};
  k.min_hi = !y_fits<ROWSUM>(ibias, scale, bias, zw, k.has_bias, kh * 3);
  const __m512i ones = _mm512_set1_epi8(1);
  const __m512i kza = _mm512_set1_epi32(static_cast<int32_t>(3 * 4) * za);  // padded rows read za too
  const uint8_t* wt = wb + 256;  // (KW = 3, 4, 64); the first 32 bytes of each 64 are ours
  __m512i w[3][4];
  for (int q = 0; q < 3; ++q)
    for (int i = 0; i < 4; ++i) w[q][i] = bcast(wt + 256 * q + 64 * i);
  // The setup above is done once for all rows of the call; the row's pixels and
  // output are const locals of the loop (no reloads after the byte stores).
  for (size_t j = 0; j < nrows; ++j) {
    const ColSrc src = srcs[j];
    const FastCols fast(src, 4);
    void* const dst = static_cast<uint8_t*>(dst0) + j * dst_row_bytes;
    auto column = [&](size_t j, __m512i v[4]) __attribute__((always_inline)) {  // columns j | j + H
      const size_t c0 = col0 + j, c1 = c0 + H;
      auto go = [&](const auto& px) __attribute__((always_inline)) {
        const __m512i t3 = kh > 3 ? load2(px(3, c0), px(3, c1)) : zrow;  // KH = 3: za row (weight 0)
        interleave4r(load2(px(0, c0), px(0, c1)), kh > 1 ? load2(px(1, c0), px(1, c1)) : zrow,
                     kh > 2 ? load2(px(2, c0), px(2, c1)) : zrow, t3, v);
      };
      if (fast.inside(c0, c1)) go(fast); else go(src);
    };
    __m512i x0[4], x1[4], x2[4];
    column(0, x0);
    column(1, x1);
    for (size_t o = 0; o < H; ++o) {
      column(o + 2, x2);
      __m512 y[4];
      for (int i = 0; i < 4; ++i) {
        __m512i a = _mm512_dpbusd_epi32(ibias[i], x0[i], w[0][i]);
        a = _mm512_dpbusd_epi32(a, x1[i], w[1][i]);
        a = _mm512_dpbusd_epi32(a, x2[i], w[2][i]);
        __m512i r = _mm512_setzero_si512();
        if (ROWSUM) {
          r = _mm512_dpbusd_epi32(r, x0[i], ones);
          r = _mm512_dpbusd_epi32(r, x1[i], ones);
          r = _mm512_dpbusd_epi32(r, x2[i], ones);
        }
        y[i] = epilogue_y<ROWSUM>(a, r, kza, zw[i], scale[i], bias[i], k.has_bias);
      }
      store32x2(y, k, o, o + H, o + H < ow_count, c, count, mask, FULL, dst, dst_pixel_stride);
      for (int i = 0; i < 4; ++i) x0[i] = x1[i], x1[i] = x2[i];
    }
  }
}

// block64_s2k3's A / B grouping for <= 32 channels, two outputs per zmm, fused like
// block64_s2k3 (groups interleaved into registers, no scratch). The 256-bit halves
// hold outputs o and o + H (H = half the chunk, rounded up), so that the A group of
// step o+1 is the second A group of step o (A(2o) | A(2(o+H)), then A(2o+2) |
// A(2(o+H)+2)); each half's B group starts at its own output's odd column 2o+1 |
// 2(o+H)+1, so both halves take the weights of output o's parity.
template <bool ROWSUM, bool FULL>
void block32x2_s2k3(size_t c, size_t count, size_t ow_count, const ColSrc& src, size_t col0, size_t ncols,
                    const uint8_t* wb, int32_t za, __m512i* x, void* dst, size_t dst_pixel_stride,
                    const GemmEpilogue& e) {
  (void)ncols, (void)x;
  const __mmask32 mask = FULL ? ~__mmask32(0) : __mmask32((uint64_t{1} << count) - 1);
  auto load = [&](const uint8_t* p) {
    return FULL ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + c)) : _mm256_maskz_loadu_epi8(mask, p + c);
  };
  auto load2 = [&](const uint8_t* p0, const uint8_t* p1) {  // as in block32x2
    if (c >= 32)
      return _mm512_mask_loadu_epi8(_mm512_zextsi256_si512(load(p0)), __mmask64(mask) << 32, p1 + c - 32);
    return _mm512_inserti64x4(_mm512_castsi256_si512(load(p0)), load(p1), 1);
  };
  const size_t H = (ow_count + 1) / 2;  // outputs of the lower halves
  const size_t lo_end = std::min(H, ow_count);
  const FastCols fast(src, 3);
  auto group_a = [&](size_t k, __m512i v[4]) __attribute__((always_inline)) {  // A(2k) / A(2(k+H))
    const size_t e0 = col0 + 2 * k, e1 = e0 + 2 * H;
    auto go = [&](const auto& px) __attribute__((always_inline)) {
      interleave4r(load2(px(0, e0), px(0, e1)), load2(px(1, e0), px(1, e1)), load2(px(2, e0), px(2, e1)),
                   load2(px(0, e0 + 1), px(0, e1 + 1)), v);
    };
    if (fast.inside(e0, e1 + 1)) go(fast); else go(src);
  };
  auto group_b = [&](size_t p, __m512i v[4]) __attribute__((always_inline)) {  // B(p) / B(p + H/2)
    const size_t a1 = col0 + 4 * p + 1, b1 = a1 + 2 * H;  // columns 4p+1 (+2) of both halves
    auto go = [&](const auto& px) __attribute__((always_inline)) {
      interleave4r(load2(px(1, a1), px(1, b1)), load2(px(2, a1), px(2, b1)), load2(px(1, a1 + 2), px(1, b1 + 2)),
                   load2(px(2, a1 + 2), px(2, b1 + 2)), v);
    };
    if (fast.inside(a1, b1 + 2)) go(fast); else go(src);
  };
  Epi k = make_epi(e);
  __m512 scale[4], bias[4], zw[4];
  load_lane_order32x2(e.scale, c, count, scale);
  if (k.has_bias) load_lane_order32x2(e.bias, c, count, bias);
  if (ROWSUM) load_lane_order32x2(e.wei_zp, c, count, zw);
  auto ld = [](const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); };
  auto both = [](__m256i v) { return _mm512_inserti64x4(_mm512_castsi256_si512(v), v, 1); };
  const __m512i ibias[4] = {both(ld(wb)), both(ld(wb + 64)), both(ld(wb + 128)), both(ld(wb + 192))};
  k.min_hi = !y_fits<ROWSUM>(ibias, scale, bias, zw, k.has_bias, 9);
  const uint8_t* wt = wb + 256;
  __m512i wa[4], w2[4], wbl[4], wbh[4];
  for (int i = 0; i < 4; ++i) {
    const __m256i w0 = ld(wt + 64 * i), w1 = ld(wt + 256 + 64 * i), w2y = ld(wt + 512 + 64 * i);
    wa[i] = both(_mm256_or_si256(w0, _mm256_slli_epi32(w1, 24)));
    w2[i] = both(w2y);
    wbl[i] = both(_mm256_srli_epi32(w1, 8));
    wbh[i] = both(_mm256_and_si256(_mm256_slli_epi32(w1, 8), _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  const __m512i ones_a = _mm512_set1_epi32(0x01010101), ones_a3 = _mm512_set1_epi32(0x00010101);
  const __m512i ones_bl = _mm512_set1_epi32(0x00000101), ones_bh = _mm512_set1_epi32(0x01010000);
  const __m512i kza = _mm512_set1_epi32(9 * za);
  auto step = [&](size_t o, const __m512i* x0, const __m512i* x2, const __m512i* xb, const __m512i* wbv,
                  __m512i ones_b) __attribute__((always_inline)) {
    __m512 y[4];
    for (size_t i = 0; i < 4; ++i) {
      __m512i a = _mm512_dpbusd_epi32(ibias[i], x0[i], wa[i]);
      a = _mm512_dpbusd_epi32(a, x2[i], w2[i]);
      a = _mm512_dpbusd_epi32(a, xb[i], wbv[i]);
      __m512i r = _mm512_setzero_si512();
      if (ROWSUM) {
        r = _mm512_dpbusd_epi32(r, x0[i], ones_a);
        r = _mm512_dpbusd_epi32(r, x2[i], ones_a3);
        r = _mm512_dpbusd_epi32(r, xb[i], ones_b);
      }
      y[i] = epilogue_y<ROWSUM>(a, r, kza, zw[i], scale[i], bias[i], k.has_bias);
    }
    store32x2(y, k, o, o + H, o + H < ow_count, c, count, mask, FULL, dst, dst_pixel_stride);
  };
  __m512i a0[4], a2[4], a4[4], bv[4];
  group_a(0, a0);
  size_t o = 0;
  for (; o + 2 <= lo_end; o += 2) {
    group_a(o + 1, a2);
    group_a(o + 2, a4);
    group_b(o / 2, bv);
    step(o, a0, a2, bv, wbl, ones_bl);
    step(o + 1, a2, a4, bv, wbh, ones_bh);
    for (int i = 0; i < 4; ++i) a0[i] = a4[i];
  }
  if (o < lo_end) {
    group_a(o + 1, a2);
    group_b(o / 2, bv);
    step(o, a0, a2, bv, wbl, ones_bl);
  }
}

// block64_s2k3's A / B grouping for <= 16 channels (the tail of 144 channels), four
// outputs per zmm: 128-bit lane k holds output o + kQ (Q = a quarter of the chunk,
// rounded up), built from four 16-byte pixel loads (merge-masked, no port-5
// insert). block32x2_s2k3 left half of every vector empty here.
template <bool ROWSUM>
void block16x4_s2k3(size_t c, size_t count, size_t ow_count, const ColSrc& src, size_t col0, const uint8_t* wb,
                    int32_t za, void* dst, size_t dst_pixel_stride, const GemmEpilogue& e) {
  const __mmask64 m16 = (__mmask64(1) << count) - 1;  // the channels of one lane
  const size_t Q = (ow_count + 3) / 4;
  // Lane k from pixel p_k (masked loads do not touch the masked-out bytes).
  auto load4 = [&](const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3) {
    __m512i v = _mm512_maskz_loadu_epi8(m16, p0 + c);
    v = _mm512_mask_loadu_epi8(v, m16 << 16, p1 + c - 16);
    v = _mm512_mask_loadu_epi8(v, m16 << 32, p2 + c - 32);
    return _mm512_mask_loadu_epi8(v, m16 << 48, p3 + c - 48);
  };
  const FastCols fast(src, 3);
  auto group_a = [&](size_t k, __m512i v[4]) __attribute__((always_inline)) {  // A(2(k + lane * Q))
    const size_t e0 = col0 + 2 * k, d = 2 * Q;
    auto go = [&](const auto& px) __attribute__((always_inline)) {
      auto l = [&](size_t r, size_t col) {
        return load4(px(r, col), px(r, col + d), px(r, col + 2 * d), px(r, col + 3 * d));
      };
      interleave4r(l(0, e0), l(1, e0), l(2, e0), l(0, e0 + 1), v);
    };
    if (fast.inside(e0, e0 + 3 * d + 1)) go(fast); else go(src);
  };
  auto group_b = [&](size_t p, __m512i v[4]) __attribute__((always_inline)) {  // B from output 2p + lane * Q
    const size_t a1 = col0 + 4 * p + 1, d = 2 * Q;
    auto go = [&](const auto& px) __attribute__((always_inline)) {
      auto l = [&](size_t r, size_t col) {
        return load4(px(r, col), px(r, col + d), px(r, col + 2 * d), px(r, col + 3 * d));
      };
      interleave4r(l(1, a1), l(2, a1), l(1, a1 + 2), l(2, a1 + 2), v);
    };
    if (fast.inside(a1, a1 + 3 * d + 2)) go(fast); else go(src);
  };
  Epi k = make_epi(e);
  // Per-channel constants of channels 4i .. 4i+3 in every lane.
  auto lanes = [&](const float* q, __m512 out[4]) {
    for (size_t i = 0; i < 4; ++i)
      out[i] = 4 * i < count ? _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(mask16(count - 4 * i), q + c + 4 * i))
                             : _mm512_setzero_ps();
  };
  __m512 scale[4], bias[4], zw[4];
  lanes(e.scale, scale);
  if (k.has_bias) lanes(e.bias, bias);
  if (ROWSUM) lanes(e.wei_zp, zw);
  auto b4 = [](const uint8_t* q) { return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q))); };
  const __m512i ibias[4] = {b4(wb), b4(wb + 64), b4(wb + 128), b4(wb + 192)};
  k.min_hi = !y_fits<ROWSUM>(ibias, scale, bias, zw, k.has_bias, 9);
  const uint8_t* wt = wb + 256;
  __m512i wa[4], w2[4], wbl[4], wbh[4];
  for (int i = 0; i < 4; ++i) {
    const __m512i w0 = b4(wt + 64 * i), w1 = b4(wt + 256 + 64 * i);
    w2[i] = b4(wt + 512 + 64 * i);
    wa[i] = _mm512_or_si512(w0, _mm512_slli_epi32(w1, 24));
    wbl[i] = _mm512_srli_epi32(w1, 8);
    wbh[i] = _mm512_and_si512(_mm512_slli_epi32(w1, 8), _mm512_set1_epi32(static_cast<int>(0xFFFF0000u)));
  }
  const __m512i ones_a = _mm512_set1_epi32(0x01010101), ones_a3 = _mm512_set1_epi32(0x00010101);
  const __m512i ones_bl = _mm512_set1_epi32(0x00000101), ones_bh = _mm512_set1_epi32(0x01010000);
  const __m512i kza = _mm512_set1_epi32(9 * za);
  auto step = [&](size_t o, const __m512i* x0, const __m512i* x2, const __m512i* xb, const __m512i* wbv,
                  __m512i ones_b) __attribute__((always_inline)) {
    __m512 y[4];
    for (size_t i = 0; i < 4; ++i) {
      __m512i a = _mm512_dpbusd_epi32(ibias[i], x0[i], wa[i]);
      a = _mm512_dpbusd_epi32(a, x2[i], w2[i]);
      a = _mm512_dpbusd_epi32(a, xb[i], wbv[i]);
      __m512i r = _mm512_setzero_si512();
      if (ROWSUM) {
        r = _mm512_dpbusd_epi32(r, x0[i], ones_a);
        r = _mm512_dpbusd_epi32(r, x2[i], ones_a3);
        r = _mm512_dpbusd_epi32(r, xb[i], ones_b);
      }
      y[i] = epilogue_y<ROWSUM>(a, r, kza, zw[i], scale[i], bias[i], k.has_bias);
    }
    if (k.f32) {
      alignas(64) float out[4][16];
      for (int i = 0; i < 4; ++i) _mm512_store_ps(out[i], y[i]);
      for (size_t L = 0; L < 4 && o + L * Q < ow_count; ++L) {
        float* d = static_cast<float*>(dst) + (o + L * Q) * dst_pixel_stride + c;
        for (size_t ch = 0; ch < count; ++ch) d[ch] = out[ch / 4][L * 4 + ch % 4];
      }
      return;
    }
    // 128-bit lane L: channels 0 .. 15 of output o + L * Q, in order.
    const __m512i b = narrow_u8(y[0], y[1], y[2], y[3], k);
    const __mmask16 sm = mask16(count);
    uint8_t* d = static_cast<uint8_t*>(dst) + o * dst_pixel_stride + c;
    const size_t step_q = Q * dst_pixel_stride;
    _mm_mask_storeu_epi8(d, sm, _mm512_castsi512_si128(b));
    if (o + Q < ow_count) _mm_mask_storeu_epi8(d + step_q, sm, _mm512_extracti32x4_epi32(b, 1));
    if (o + 2 * Q < ow_count) _mm_mask_storeu_epi8(d + 2 * step_q, sm, _mm512_extracti32x4_epi32(b, 2));
    if (o + 3 * Q < ow_count) _mm_mask_storeu_epi8(d + 3 * step_q, sm, _mm512_extracti32x4_epi32(b, 3));
  };
  __m512i a0[4], a2[4], a4[4], bv[4];
  group_a(0, a0);
  size_t o = 0;
  for (; o + 2 <= Q; o += 2) {
    group_a(o + 1, a2);
    group_a(o + 2, a4);
    group_b(o / 2, bv);
    step(o, a0, a2, bv, wbl, ones_bl);
    step(o + 1, a2, a4, bv, wbh, ones_bh);
    for (int i = 0; i < 4; ++i) a0[i] = a4[i];
  }
  if (o < Q) {
    group_a(o + 1, a2);
    group_b(o / 2, bv);
    step(o, a0, a2, bv, wbl, ones_bl);
  }
}

}  // namespace

void u8s8_dwconv_c64t4__avx512vnni(size_t channels, size_t ow_count, size_t kh, size_t kw, size_t stride_w,
                                   size_t dilation_w, size_t nrows, const uint8_t* const* rows, size_t in_w,
                                   size_t pad_left, const uint8_t* zero, const void* w, int32_t za, void* scratch,
                                   void* dst, size_t dst_row_stride, size_t dst_pixel_stride, const GemmEpilogue* ep) {
  const GemmEpilogue e = *ep;
  const size_t bb = 256 + 256 * kw * ((kh + 3) / 4);
  const auto* w8 = static_cast<const uint8_t*>(w);
  auto* x = static_cast<__m512i*>(scratch);
  // Wide rows in chunks of outputs whose interleaved columns (256 bytes per column and
  // row group) stay in L1 between the two phases (kChunkCols); neighbouring chunks
  // share (KW - 1) * dilation columns, interleaved twice.
  const size_t span = (kw - 1) * dilation_w + 1, khb = (kh + 3) / 4;
  // (<= 32 channels: half the bytes per column, twice the columns.)
  const size_t max_cols = std::max((channels <= 32 ? 2 : 1) * kChunkCols / khb, span + stride_w);
  const size_t chunk = (max_cols - span) / stride_w + 1;
  const size_t esz = e.f32_out ? 4 : 1;
  const bool k3 = kw == 3 && kh <= 4;
  const bool s2k3 = kw == 3 && kh == 3 && stride_w == 2 && dilation_w == 1;
  const bool s1k3 = kw == 3 && kh <= 4 && stride_w == 1 && dilation_w == 1;
  // Up to kRows output rows per block call for the fused 3x3 stride-1 kernels, which
  // set up a block's weights and epilogue constants once for all of them (at 7-14
  // pixels per row the setup cost up to a fifth of the row). The others run one row
  // at a time through all channel blocks, so the row's input lines stay in L1 from
  // one block to the next (stride 2 in batches of 16 rows: 3-8 % slower at 56-112 px).
  constexpr size_t kRows = 16;
  const size_t max_rows = s1k3 ? kRows : 1;
  const size_t khp = khb * 4, row_bytes = dst_row_stride * esz;
  for (size_t r0 = 0; r0 < nrows; r0 += max_rows) {
  const size_t nr = std::min(max_rows, nrows - r0);
  ColSrc srcs[kRows];
  for (size_t j = 0; j < nr; ++j) srcs[j] = ColSrc{rows + (r0 + j) * khp, channels, in_w, pad_left, zero};
  for (size_t o0 = 0; o0 < ow_count; o0 += chunk)
    for (size_t c = 0; c < channels; c += 64) {
      const size_t oc = std::min(chunk, ow_count - o0), ncols = (oc - 1) * stride_w + span;
      uint8_t* d = static_cast<uint8_t*>(dst) + r0 * row_bytes + o0 * dst_pixel_stride * esz;
      const size_t count = channels - c < 64 ? channels - c : 64;
      const uint8_t* wb = w8 + (c / 64) * bb;
#define LAPQ_CALL(F, R, K, FULL)                                                                        \
  for (size_t j = 0; j < nr; ++j)                                                                       \
    F<R, K, FULL>(c, count, oc, kh, kw, stride_w, dilation_w, srcs[j], o0 * stride_w, ncols, wb, za, x, \
                  d + j * row_bytes, dst_pixel_stride, e)
#define LAPQ_DISPATCH(F, FULLCOUNT)                                       \
  if (count == FULLCOUNT) {                                               \
    if (e.wei_zp) {                                                       \
      if (k3) LAPQ_CALL(F, true, true, true); else LAPQ_CALL(F, true, false, true);    \
    } else {                                                              \
      if (k3) LAPQ_CALL(F, false, true, true); else LAPQ_CALL(F, false, false, true);  \
    }                                                                     \
  } else {                                                                \
    if (e.wei_zp) {                                                       \
      if (k3) LAPQ_CALL(F, true, true, false); else LAPQ_CALL(F, true, false, false);  \
    } else {                                                              \
      if (k3) LAPQ_CALL(F, false, true, false); else LAPQ_CALL(F, false, false, false); \
    }                                                                     \
  }
      if (count <= 16 && s2k3) {
        if (e.wei_zp) {
          for (size_t j = 0; j < nr; ++j)
            block16x4_s2k3<true>(c, count, oc, srcs[j], o0 * stride_w, wb, za, d + j * row_bytes, dst_pixel_stride, e);
        } else {
          for (size_t j = 0; j < nr; ++j)
            block16x4_s2k3<false>(c, count, oc, srcs[j], o0 * stride_w, wb, za, d + j * row_bytes, dst_pixel_stride, e);
        }
      } else if (count <= 32 && s2k3) {
#define LAPQ_S2(R, FULL)           \
  for (size_t j = 0; j < nr; ++j) \
  block32x2_s2k3<R, FULL>(c, count, oc, srcs[j], o0 * stride_w, ncols, wb, za, x, d + j * row_bytes, dst_pixel_stride, e)
        if (count == 32) {
          if (e.wei_zp) LAPQ_S2(true, true); else LAPQ_S2(false, true);
        } else {
          if (e.wei_zp) LAPQ_S2(true, false); else LAPQ_S2(false, false);
        }
#undef LAPQ_S2
      } else if (count <= 32 && s1k3) {
#define LAPQ_S1(R, FULL) \
  block32x2_s1k3<R, FULL>(c, count, oc, kh, srcs, nr, o0 * stride_w, wb, za, d, row_bytes, dst_pixel_stride, e)
        if (count == 32) {
          if (e.wei_zp) LAPQ_S1(true, true); else LAPQ_S1(false, true);
        } else {
          if (e.wei_zp) LAPQ_S1(true, false); else LAPQ_S1(false, false);
        }
#undef LAPQ_S1
      } else if (count <= 32) {
        LAPQ_DISPATCH(block32x2, 32)
      } else if (s1k3) {
#define LAPQ_S1(R, FULL) \
  block64_s1k3<R, FULL>(c, count, oc, kh, srcs, nr, o0 * stride_w, wb, za, d, row_bytes, dst_pixel_stride, e)
        if (count == 64) {
          if (e.wei_zp) LAPQ_S1(true, true); else LAPQ_S1(false, true);
        } else {
          if (e.wei_zp) LAPQ_S1(true, false); else LAPQ_S1(false, false);
        }
#undef LAPQ_S1
      } else if (s2k3) {
#define LAPQ_S2(R, FULL)           \
  for (size_t j = 0; j < nr; ++j) \
  block64_s2k3<R, FULL>(c, count, oc, srcs[j], o0 * stride_w, ncols, wb, za, x, d + j * row_bytes, dst_pixel_stride, e)
        if (count == 64) {
          if (e.wei_zp) LAPQ_S2(true, true); else LAPQ_S2(false, true);
        } else {
          if (e.wei_zp) LAPQ_S2(true, false); else LAPQ_S2(false, false);
        }
#undef LAPQ_S2
      } else {
        LAPQ_DISPATCH(block64, 64)
      }
#undef LAPQ_DISPATCH
#undef LAPQ_CALL
    }
  }
}

}  // namespace lapq
