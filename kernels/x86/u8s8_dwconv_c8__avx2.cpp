// u8s8_dwconv_c8__avx2: depthwise microkernel for AVX2 (and the AVX-512 cap).
// Layout c16_s8: int32 bias[Cp]; int8 w[T][Cp]. 8 channels per step: u8 and s8
// widened to int32, vpmulld, exact (|a*w| <= 255*128). Channel tails (< 8) use
// zero-padded copies of the inputs.
#include <immintrin.h>

#include "kernels/dwconv.h"

namespace lapq {
namespace {

#include "kernels/x86/avx2_epilogue.inc"

inline void step8(size_t c, size_t count, size_t cp, size_t taps, const uint8_t* const* pp, const uint8_t* w,
                  int32_t za, void* dst, size_t idx, const GemmEpilogue* ep) {
  const int8_t* wt = reinterpret_cast<const int8_t*>(w + cp * 4);  // (T, Cp)
  __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + c * 4));  // bias (Cp padded)
  __m256i rs = _mm256_setzero_si256();
  for (size_t t = 0; t < taps; ++t) {
    __m128i a8;
    if (count == 8) {
      a8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(pp[t] + c));
    } else {
      uint8_t tmp[8] = {};
      for (size_t j = 0; j < count; ++j) tmp[j] = pp[t][c + j];
      a8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(tmp));
    }
    const __m256i a = _mm256_cvtepu8_epi32(a8);
    const __m256i wv = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(wt + t * cp + c)));
    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(a, wv));
    rs = _mm256_add_epi32(rs, a);
  }
  rs = _mm256_sub_epi32(rs, _mm256_set1_epi32(static_cast<int32_t>(taps) * za));
  epilogue_store8(acc, _mm256_cvtepi32_ps(rs), c, count, ep, dst, idx);
}

}  // namespace

void u8s8_dwconv_c8__avx2(size_t channels, size_t npix, size_t taps, const uint8_t* const* ptrs, const void* w,
                          int32_t za, void* dst, size_t dst_pixel_stride, const GemmEpilogue* ep) {
  const size_t cp = (channels + 15) / 16 * 16;
  const auto* w8 = static_cast<const uint8_t*>(w);
  for (size_t p = 0; p < npix; ++p)
    for (size_t c = 0; c < channels; c += 8) {
      const size_t count = channels - c < 8 ? channels - c : 8;
      step8(c, count, cp, taps, ptrs + p * taps, w8, za, dst, p * dst_pixel_stride + c, ep);
    }
}

}  // namespace lapq
