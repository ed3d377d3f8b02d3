// u8s8_dwconv_c64t4__avx512vnni: depthwise convolution, one output row per call,
// 64 channels per step.
// Layout c64t4_s8, per 64-channel block: int32 bias[64] in lane order (i, L, j) =
// channel 16L + 4i + j; then per (kw, kernel-row group hb) 256 bytes (i, L, j, t) =
// w[16L + 4i + j][4hb + t][kw].
// Phase 1: each input column of the row's window is interleaved once: four kernel
// rows (64 channels each) go through punpck{l,h}bw + punpck{l,h}wd into x0..x3,
// where 128-bit lane L of x_i holds channels 16L+4i .. 16L+4i+3 with their 4 rows
// adjacent (a vpdpbusd operand). Stride-1 3x3 reuses every column for 3 outputs.
// Phase 2: per output, KW * KHp/4 * 4 vpdpbusd. Accumulators stay in lane order;
// the epilogue constants are transposed once per block, and vpackssdw/vpackuswb
// (per-lane) bring the bytes back to channel order for free.
// Row sums for weight zero points: vpdpbusd with all-ones weights.
// Overflow: |sum| <= KH*KW*255*128, tiny.
#include <immintrin.h>

#include <algorithm>

#include "kernels/dwconv.h"

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

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

// Interleaved columns per chunk of outputs (u8s8_dwconv_c64t4__avx512vnni): 64
// columns (16 KiB for KH <= 4) plus the input lines they read stay in L1 while
// every 64-channel block of the chunk runs (measured: ~10-15 % faster than whole
// 112-pixel rows for C >= 96, no change at 56 px).
constexpr size_t kChunkCols = 64;

// K3 = true: KW == 3 and KH <= 4 (the common 3x3), weights held in 12 registers.
template <bool ROWSUM, bool K3>
void block64(size_t c, size_t count, size_t ow_count, size_t kh, size_t kw, size_t stride_w, size_t dil_w,
             const uint8_t* const* col_ptrs, size_t iwp, size_t ncols, const uint8_t* wb, int32_t za, __m512i* x,
             void* dst, size_t dst_pixel_stride, const GemmEpilogue& e) {
  const size_t khb = (kh + 3) / 4, khp = khb * 4;
  const __mmask64 mask = count >= 64 ? ~__mmask64(0) : (__mmask64(1) << count) - 1;
  const __m512i zrow = _mm512_maskz_set1_epi8(mask, static_cast<char>(za));
  // Phase 1: interleave every column: x[(col * khb + hb) * 4 + i].
  for (size_t col = 0; col < ncols; ++col)
    for (size_t hb = 0; hb < khb; ++hb) {
      const uint8_t* const* p = col_ptrs + hb * 4 * iwp + col;  // (KHp, iwp)
      const __m512i t0 = _mm512_maskz_loadu_epi8(mask, p[0 * iwp] + c);
      const __m512i t1 = _mm512_maskz_loadu_epi8(mask, p[1 * iwp] + c);
      const __m512i t2 = _mm512_maskz_loadu_epi8(mask, p[2 * iwp] + c);
      const __m512i t3 = hb * 4 + 3 < kh ? _mm512_maskz_loadu_epi8(mask, p[3 * iwp] + c) : zrow;  // KH = 3: za row
      const __m512i u01l = _mm512_unpacklo_epi8(t0, t1), u01h = _mm512_unpackhi_epi8(t0, t1);
      const __m512i u23l = _mm512_unpacklo_epi8(t2, t3), u23h = _mm512_unpackhi_epi8(t2, t3);
      __m512i* xo = x + (col * khb + hb) * 4;
      _mm512_store_si512(xo + 0, _mm512_unpacklo_epi16(u01l, u23l));
      _mm512_store_si512(xo + 1, _mm512_unpackhi_epi16(u01l, u23l));
      _mm512_store_si512(xo + 2, _mm512_unpacklo_epi16(u01h, u23h));
      _mm512_store_si512(xo + 3, _mm512_unpackhi_epi16(u01h, u23h));
    }
  // Epilogue constants in lane order, once per block.
  __m512 scale[4], bias[4], zw[4];
  load_lane_order(e.scale, c, count, scale);
  if (e.bias) load_lane_order(e.bias, c, count, bias);
  if (ROWSUM) load_lane_order(e.wei_zp, c, count, zw);
  const __m512i ibias[4] = {_mm512_loadu_si512(wb), _mm512_loadu_si512(wb + 64), _mm512_loadu_si512(wb + 128),
                            _mm512_loadu_si512(wb + 192)};
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
  // Phase 2: outputs.
  for (size_t o = 0; o < ow_count; ++o) {
    __m512i a0 = ibias[0], a1 = ibias[1], a2 = ibias[2], a3 = ibias[3];
    __m512i r0 = _mm512_setzero_si512(), r1 = r0, r2 = r0, r3 = r0;
    if constexpr (K3) {
      const __m512i* xc = x + o * stride_w * 4;
      const size_t dq = dil_w * 4;
#define LAPQ_TAP(q)                                                                              \
  a0 = _mm512_dpbusd_epi32(a0, xc[q * dq + 0], w##q##0);                                         \
  a1 = _mm512_dpbusd_epi32(a1, xc[q * dq + 1], w##q##1);                                         \
  a2 = _mm512_dpbusd_epi32(a2, xc[q * dq + 2], w##q##2);                                         \
  a3 = _mm512_dpbusd_epi32(a3, xc[q * dq + 3], w##q##3);                                         \
  if (ROWSUM) {                                                                                  \
    r0 = _mm512_dpbusd_epi32(r0, xc[q * dq + 0], ones);                                          \
    r1 = _mm512_dpbusd_epi32(r1, xc[q * dq + 1], ones);                                          \
    r2 = _mm512_dpbusd_epi32(r2, xc[q * dq + 2], ones);                                          \
    r3 = _mm512_dpbusd_epi32(r3, xc[q * dq + 3], ones);                                          \
  }
      LAPQ_TAP(0) LAPQ_TAP(1) LAPQ_TAP(2)
#undef LAPQ_TAP
    } else {
      for (size_t q = 0; q < kw; ++q) {
        const __m512i* xc = x + (o * stride_w + q * dil_w) * khb * 4;
        const uint8_t* wq = wt + q * khb * 256;
        for (size_t hb = 0; hb < khb; ++hb, xc += 4, wq += 256) {
          a0 = _mm512_dpbusd_epi32(a0, xc[0], _mm512_loadu_si512(wq));
          a1 = _mm512_dpbusd_epi32(a1, xc[1], _mm512_loadu_si512(wq + 64));
          a2 = _mm512_dpbusd_epi32(a2, xc[2], _mm512_loadu_si512(wq + 128));
          a3 = _mm512_dpbusd_epi32(a3, xc[3], _mm512_loadu_si512(wq + 192));
          if (ROWSUM) {
            r0 = _mm512_dpbusd_epi32(r0, xc[0], ones);
            r1 = _mm512_dpbusd_epi32(r1, xc[1], ones);
            r2 = _mm512_dpbusd_epi32(r2, xc[2], ones);
            r3 = _mm512_dpbusd_epi32(r3, xc[3], ones);
          }
        }
      }
    }
    const __m512i acc[4] = {a0, a1, a2, a3}, rsum[4] = {r0, r1, r2, r3};
    __m512 y[4];
    for (int i = 0; i < 4; ++i) {  // kernels/gemm.h formula, same operation order
      __m512 t = _mm512_cvtepi32_ps(acc[i]);
      if (ROWSUM) t = _mm512_sub_ps(t, _mm512_mul_ps(zw[i], _mm512_cvtepi32_ps(_mm512_sub_epi32(rsum[i], kza))));
      y[i] = _mm512_mul_ps(t, scale[i]);
      if (e.bias) y[i] = _mm512_add_ps(y[i], bias[i]);
    }
    if (e.f32_out) {
      transpose_lanes(y);
      float* d = static_cast<float*>(dst) + o * dst_pixel_stride + c;
      for (size_t L = 0; L < 4 && L * 16 < count; ++L) _mm512_mask_storeu_ps(d + L * 16, mask16(count - L * 16), y[L]);
    } else {
      // Lane L of packs(q0, q1) holds channels 16L..16L+7, of packs(q2, q3) 16L+8..16L+15;
      // vpackuswb joins them: channel order without a permute.
      const __m512i p01 = _mm512_packs_epi32(epilogue_q(y[0], e), epilogue_q(y[1], e));
      const __m512i p23 = _mm512_packs_epi32(epilogue_q(y[2], e), epilogue_q(y[3], e));
      _mm512_mask_storeu_epi8(static_cast<uint8_t*>(dst) + o * dst_pixel_stride + c, mask,
                              _mm512_packus_epi16(p01, p23));
    }
  }
}

// A tail block of <= 32 channels: the same algorithm on ymm (lanes L = 0, 1 of the
// c64t4 layout are the first 32 bytes of every 64-byte group), half the work of
// a masked zmm block. Epilogue constants are gathered into lane order once.
template <bool ROWSUM, bool K3>
void block32(size_t c, size_t count, size_t ow_count, size_t kh, size_t kw, size_t stride_w, size_t dil_w,
             const uint8_t* const* col_ptrs, size_t iwp, size_t ncols, const uint8_t* wb, int32_t za, __m256i* x,
             void* dst, size_t dst_pixel_stride, const GemmEpilogue& e) {
  const size_t khb = (kh + 3) / 4, khp = khb * 4;
  const __mmask32 mask = count >= 32 ? ~__mmask32(0) : (__mmask32(1) << count) - 1;
  const __m256i zrow = _mm256_maskz_set1_epi8(mask, static_cast<char>(za));
  for (size_t col = 0; col < ncols; ++col)
    for (size_t hb = 0; hb < khb; ++hb) {
      const uint8_t* const* p = col_ptrs + hb * 4 * iwp + col;  // (KHp, iwp)
      const __m256i t0 = _mm256_maskz_loadu_epi8(mask, p[0 * iwp] + c);
      const __m256i t1 = hb * 4 + 1 < kh ? _mm256_maskz_loadu_epi8(mask, p[1 * iwp] + c) : zrow;
      const __m256i t2 = hb * 4 + 2 < kh ? _mm256_maskz_loadu_epi8(mask, p[2 * iwp] + c) : zrow;
      const __m256i t3 = hb * 4 + 3 < kh ? _mm256_maskz_loadu_epi8(mask, p[3 * iwp] + c) : zrow;
      const __m256i u01l = _mm256_unpacklo_epi8(t0, t1), u01h = _mm256_unpackhi_epi8(t0, t1);
      const __m256i u23l = _mm256_unpacklo_epi8(t2, t3), u23h = _mm256_unpackhi_epi8(t2, t3);
      __m256i* xo = x + (col * khb + hb) * 4;
      _mm256_store_si256(xo + 0, _mm256_unpacklo_epi16(u01l, u23l));
      _mm256_store_si256(xo + 1, _mm256_unpackhi_epi16(u01l, u23l));
      _mm256_store_si256(xo + 2, _mm256_unpacklo_epi16(u01h, u23h));
      _mm256_store_si256(xo + 3, _mm256_unpackhi_epi16(u01h, u23h));
    }
  // Lane order: vector i, lane L, element j = channel 16L + 4i + j.
  alignas(32) float sc[4][8] = {}, bi[4][8] = {}, zp[4][8] = {};
  for (size_t i = 0; i < 4; ++i)
    for (size_t L = 0; L < 2; ++L)
      for (size_t j = 0; j < 4; ++j) {
        const size_t ch = 16 * L + 4 * i + j;
        if (ch >= count) continue;
        sc[i][L * 4 + j] = e.scale[c + ch];
        if (e.bias) bi[i][L * 4 + j] = e.bias[c + ch];
        if (ROWSUM) zp[i][L * 4 + j] = e.wei_zp[c + ch];
      }
  __m256i ibias[4];
  for (int i = 0; i < 4; ++i) ibias[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 64 * i));
  const __m256i ones = _mm256_set1_epi8(1);
  const __m256i kza = _mm256_set1_epi32(static_cast<int32_t>(kw * khp) * za);
  const __m512i kza512 = _mm512_set1_epi32(static_cast<int32_t>(kw * khp) * za);
  // The same constants as zmm pairs (vectors 0|1 and 2|3) for the u8 epilogue.
  const __m512 sc2[2] = {_mm512_insertf32x8(_mm512_castps256_ps512(_mm256_load_ps(sc[0])), _mm256_load_ps(sc[1]), 1),
                         _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_load_ps(sc[2])), _mm256_load_ps(sc[3]), 1)};
  const __m512 bi2[2] = {_mm512_insertf32x8(_mm512_castps256_ps512(_mm256_load_ps(bi[0])), _mm256_load_ps(bi[1]), 1),
                         _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_load_ps(bi[2])), _mm256_load_ps(bi[3]), 1)};
  const __m512 zp2[2] = {_mm512_insertf32x8(_mm512_castps256_ps512(_mm256_load_ps(zp[0])), _mm256_load_ps(zp[1]), 1),
                         _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_load_ps(zp[2])), _mm256_load_ps(zp[3]), 1)};
  const uint8_t* wt = wb + 256;
  __m256i w3[3][4];  // K3: (kw, i)
  if constexpr (K3)
    for (int q = 0; q < 3; ++q)
      for (int i = 0; i < 4; ++i) w3[q][i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt + q * 256 + 64 * i));
  for (size_t o = 0; o < ow_count; ++o) {
    __m256i a[4] = {ibias[0], ibias[1], ibias[2], ibias[3]};
    __m256i r[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    if constexpr (K3) {  // 3 columns x 1 row group, weights in registers
      for (int q = 0; q < 3; ++q) {
        const __m256i* xc = x + (o * stride_w + q * dil_w) * 4;
        for (int i = 0; i < 4; ++i) {
          a[i] = _mm256_dpbusd_epi32(a[i], xc[i], w3[q][i]);
          if (ROWSUM) r[i] = _mm256_dpbusd_epi32(r[i], xc[i], ones);
        }
      }
    } else {
      for (size_t q = 0; q < kw; ++q) {
        const __m256i* xc = x + (o * stride_w + q * dil_w) * khb * 4;
        const uint8_t* wq = wt + q * khb * 256;
        for (size_t hb = 0; hb < khb; ++hb, xc += 4, wq += 256)
          for (int i = 0; i < 4; ++i) {
            a[i] = _mm256_dpbusd_epi32(a[i], xc[i], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq + 64 * i)));
            if (ROWSUM) r[i] = _mm256_dpbusd_epi32(r[i], xc[i], ones);
          }
      }
    }
    if (!e.f32_out) {
      // u8: the four ymm accumulators as two zmm (half the epilogue instructions).
      const __m512i z[2] = {_mm512_inserti64x4(_mm512_castsi256_si512(a[0]), a[1], 1),
                            _mm512_inserti64x4(_mm512_castsi256_si512(a[2]), a[3], 1)};
      __m512i q[2];
      for (int h = 0; h < 2; ++h) {  // kernels/gemm.h formula, same operation order
        __m512 t = _mm512_cvtepi32_ps(z[h]);
        if (ROWSUM) {
          const __m512i rz = _mm512_inserti64x4(_mm512_castsi256_si512(r[2 * h]), r[2 * h + 1], 1);
          t = _mm512_sub_ps(t, _mm512_mul_ps(zp2[h], _mm512_cvtepi32_ps(_mm512_sub_epi32(rz, kza512))));
        }
        __m512 y = _mm512_mul_ps(t, sc2[h]);
        if (e.bias) y = _mm512_add_ps(y, bi2[h]);
        q[h] = epilogue_q(y, e);
      }
      // Lanes of q[0]: a0 L0, a0 L1, a1 L0, a1 L1 (channels 0-3, 16-19, 4-7, 20-23 ...);
      // per-lane packs then one vpermd restore channel order.
      const __m512i p = _mm512_packus_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_setzero_si512());
      const __m512i v = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 8, 1, 9, 4, 12, 5, 13, 0, 0, 0, 0, 0, 0, 0, 0), p);
      _mm256_mask_storeu_epi8(static_cast<uint8_t*>(dst) + o * dst_pixel_stride + c, mask, _mm512_castsi512_si256(v));
      continue;
    }
    __m256 y[4];
    for (int i = 0; i < 4; ++i) {  // kernels/gemm.h formula, same operation order
      __m256 t = _mm256_cvtepi32_ps(a[i]);
      if (ROWSUM) t = _mm256_sub_ps(t, _mm256_mul_ps(_mm256_load_ps(zp[i]), _mm256_cvtepi32_ps(_mm256_sub_epi32(r[i], kza))));
      y[i] = _mm256_mul_ps(t, _mm256_load_ps(sc[i]));
      if (e.bias) y[i] = _mm256_add_ps(y[i], _mm256_load_ps(bi[i]));
    }
    alignas(32) float out[4][8];
    for (int i = 0; i < 4; ++i) _mm256_store_ps(out[i], y[i]);
    float* d = static_cast<float*>(dst) + o * dst_pixel_stride + c;
    for (size_t i = 0; i < 4; ++i)
      for (size_t L = 0; L < 2; ++L)
        for (size_t j = 0; j < 4; ++j)
          if (16 * L + 4 * i + j < count) d[16 * L + 4 * i + j] = out[i][L * 4 + j];
  }
}

}  // namespace

void u8s8_dwconv_c64t4__avx512vnni(size_t channels, size_t ow_count, size_t kh, size_t kw, size_t stride_w,
                                   size_t dilation_w, const uint8_t* const* col_ptrs, size_t iwp, const void* w,
                                   int32_t za, void* scratch, void* dst, size_t dst_pixel_stride,
                                   const GemmEpilogue* ep) {
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  const size_t bb = 256 + 256 * kw * ((kh + 3) / 4);
  const auto* w8 = static_cast<const uint8_t*>(w);
  auto* x = static_cast<__m512i*>(scratch);
  // Wide rows in chunks of outputs whose interleaved columns (256 bytes per column and
  // row group) stay in L1 between the two phases (kChunkCols); neighbouring chunks
  // share (KW - 1) * dilation columns, interleaved twice.
  const size_t span = (kw - 1) * dilation_w + 1, khb = (kh + 3) / 4;
  const size_t max_cols = std::max(kChunkCols / khb, span + stride_w);
  const size_t chunk = (max_cols - span) / stride_w + 1;
  const size_t esz = e.f32_out ? 4 : 1;
  for (size_t o0 = 0; o0 < ow_count; o0 += chunk)
  for (size_t c = 0; c < channels; c += 64) {
    const size_t oc = std::min(chunk, ow_count - o0), ncols = (oc - 1) * stride_w + span;
    const uint8_t* const* cp = col_ptrs + o0 * stride_w;
    void* d = static_cast<uint8_t*>(dst) + o0 * dst_pixel_stride * esz;
    const size_t count = channels - c < 64 ? channels - c : 64;
    const uint8_t* wb = w8 + (c / 64) * bb;
    const bool k3 = kw == 3 && kh <= 4;
    if (count <= 32) {
      auto* x32 = static_cast<__m256i*>(scratch);
#define LAPQ_CALL(R, K) \
  block32<R, K>(c, count, oc, kh, kw, stride_w, dilation_w, cp, iwp, ncols, wb, za, x32, d, dst_pixel_stride, e)
      if (e.wei_zp) {
        if (k3) LAPQ_CALL(true, true); else LAPQ_CALL(true, false);
      } else {
        if (k3) LAPQ_CALL(false, true); else LAPQ_CALL(false, false);
      }
#undef LAPQ_CALL
      continue;
    }
#define LAPQ_CALL(R, K) \
  block64<R, K>(c, count, oc, kh, kw, stride_w, dilation_w, cp, iwp, ncols, wb, za, x, d, dst_pixel_stride, e)
    if (e.wei_zp) {
      if (k3) LAPQ_CALL(true, true); else LAPQ_CALL(true, false);
    } else {
      if (k3) LAPQ_CALL(false, true); else LAPQ_CALL(false, false);
    }
#undef LAPQ_CALL
  }
}

}  // namespace lapq
