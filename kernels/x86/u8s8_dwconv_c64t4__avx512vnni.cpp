// u8s8_dwconv_c64t4__avx512vnni: depthwise microkernel, 64 channels per step.
// Layout c64t4_s8, per 64-channel block: int32 bias[64]; then per group of 4
// taps, 256 bytes ordered (i, L, j, t) = w[16L + 4i + j][4g + t].
// Four tap vectors (64 channels each) are interleaved with punpck{l,h}bw and
// punpck{l,h}wd into r0..r3, where 128-bit lane L of r_i holds channels
// 16L+4i .. 16L+4i+3 with their 4 taps adjacent: one vpdpbusd each. After the
// taps, a 4x4 transpose of 128-bit lanes (vshufi32x4) restores channel order.
// Row sums for weight zero points use vpdpbusd with all-ones weights.
// Overflow: |sum| <= T*255*128, tiny.
#include <immintrin.h>

#include "kernels/dwconv.h"

namespace lapq {
namespace {

#include "kernels/x86/avx512_epilogue.inc"

inline void transpose_lanes(__m512i v[4]) {
  const __m512i t0 = _mm512_shuffle_i32x4(v[0], v[1], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i t1 = _mm512_shuffle_i32x4(v[2], v[3], _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i t2 = _mm512_shuffle_i32x4(v[0], v[1], _MM_SHUFFLE(3, 2, 3, 2));
  const __m512i t3 = _mm512_shuffle_i32x4(v[2], v[3], _MM_SHUFFLE(3, 2, 3, 2));
  v[0] = _mm512_shuffle_i32x4(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
  v[1] = _mm512_shuffle_i32x4(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
  v[2] = _mm512_shuffle_i32x4(t2, t3, _MM_SHUFFLE(2, 0, 2, 0));
  v[3] = _mm512_shuffle_i32x4(t2, t3, _MM_SHUFFLE(3, 1, 3, 1));
}

template <bool ROWSUM>
void block64(size_t c, size_t count, size_t tp, const uint8_t* const* pp, const uint8_t* wb, int32_t za,
             void* dst, size_t idx, const GemmEpilogue* ep) {
  const __mmask64 mask = count >= 64 ? ~__mmask64(0) : (__mmask64(1) << count) - 1;
  __m512i acc[4], rs[4];
  for (int i = 0; i < 4; ++i) acc[i] = rs[i] = _mm512_setzero_si512();
  const __m512i ones = _mm512_set1_epi8(1);
  const uint8_t* wg = wb + 256;  // (Tp/4, 4, 4, 4, 4) int8
  for (size_t t = 0; t < tp; t += 4, wg += 256) {
    const __m512i t0 = _mm512_maskz_loadu_epi8(mask, pp[t] + c);
    const __m512i t1 = _mm512_maskz_loadu_epi8(mask, pp[t + 1] + c);
    const __m512i t2 = _mm512_maskz_loadu_epi8(mask, pp[t + 2] + c);
    const __m512i t3 = _mm512_maskz_loadu_epi8(mask, pp[t + 3] + c);
    const __m512i u01l = _mm512_unpacklo_epi8(t0, t1), u01h = _mm512_unpackhi_epi8(t0, t1);
    const __m512i u23l = _mm512_unpacklo_epi8(t2, t3), u23h = _mm512_unpackhi_epi8(t2, t3);
    const __m512i r[4] = {_mm512_unpacklo_epi16(u01l, u23l), _mm512_unpackhi_epi16(u01l, u23l),
                          _mm512_unpacklo_epi16(u01h, u23h), _mm512_unpackhi_epi16(u01h, u23h)};
    for (int i = 0; i < 4; ++i) {
      acc[i] = _mm512_dpbusd_epi32(acc[i], r[i], _mm512_loadu_si512(wg + 64 * i));
      if (ROWSUM) rs[i] = _mm512_dpbusd_epi32(rs[i], r[i], ones);
    }
  }
  transpose_lanes(acc);
  if (ROWSUM) transpose_lanes(rs);
  const __m512i tza = _mm512_set1_epi32(static_cast<int32_t>(tp) * za);  // padded taps read za too
  const GemmEpilogue e = *ep;  // a local copy: byte stores cannot alias it
  __m512 y[4];
  for (size_t L = 0; L < 4; ++L) {
    const size_t n0 = L * 16;
    const size_t cnt = count > n0 ? count - n0 : 0;
    const __m512i a = _mm512_add_epi32(acc[L], _mm512_loadu_si512(wb + n0 * 4));
    const __m512 r = ROWSUM ? _mm512_cvtepi32_ps(_mm512_sub_epi32(rs[L], tza)) : _mm512_setzero_ps();
    y[L] = epilogue_y(a, r, c + n0, cnt, e, false);
  }
  if (e.f32_out) {
    float* d = static_cast<float*>(dst) + idx;
    for (size_t L = 0; L < 4 && L * 16 < count; ++L) _mm512_mask_storeu_ps(d + L * 16, mask16(count - L * 16), y[L]);
  } else {
    store_u8x64(epilogue_q(y[0], e), epilogue_q(y[1], e), epilogue_q(y[2], e), epilogue_q(y[3], e),
                static_cast<uint8_t*>(dst) + idx, count);
  }
}

}  // namespace

void u8s8_dwconv_c64t4__avx512vnni(size_t channels, size_t npix, size_t taps, const uint8_t* const* ptrs,
                                   const void* w, int32_t za, void* dst, size_t dst_pixel_stride,
                                   const GemmEpilogue* ep) {
  const size_t tp = (taps + 3) / 4 * 4, bb = 256 + 64 * tp;
  const auto* w8 = static_cast<const uint8_t*>(w);
  for (size_t p = 0; p < npix; ++p) {
    const uint8_t* const* pp = ptrs + p * tp;
    for (size_t c = 0; c < channels; c += 64) {
      const size_t count = channels - c < 64 ? channels - c : 64;
      const uint8_t* wb = w8 + (c / 64) * bb;
      if (ep->wei_zp)
        block64<true>(c, count, tp, pp, wb, za, dst, p * dst_pixel_stride + c, ep);
      else
        block64<false>(c, count, tp, pp, wb, za, dst, p * dst_pixel_stride + c, ep);
    }
  }
}

}  // namespace lapq
