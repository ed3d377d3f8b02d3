// Row sums on AVX2 (kernels/rowsum.h): vpsadbw sums 8 bytes per u64 lane (exact);
// four rows' partial-sum vectors are reduced together. Row tails go through a
// zero-padded copy, so nothing past len is read.
#include <immintrin.h>

#include <cstring>

#include "kernels/rowsum.h"

namespace lapq {
namespace {

inline __m256i sad_run(__m256i acc, const uint8_t* p, size_t len) {
  const __m256i z = _mm256_setzero_si256();
  size_t k = 0;
  for (; k + 32 <= len; k += 32)
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k)), z));
  if (k < len) {
    alignas(32) uint8_t tmp[32] = {};
    std::memcpy(tmp, p + k, len - k);
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_load_si256(reinterpret_cast<const __m256i*>(tmp)), z));
  }
  return acc;
}

// v[r] = 4 u64 partial sums of row r -> 4 int32 totals + offset.
inline void reduce4(const __m256i v[4], int32_t offset, int32_t* out, size_t count) {
  const __m256i a0 = _mm256_add_epi64(_mm256_unpacklo_epi64(v[0], v[1]), _mm256_unpackhi_epi64(v[0], v[1]));
  const __m256i a1 = _mm256_add_epi64(_mm256_unpacklo_epi64(v[2], v[3]), _mm256_unpackhi_epi64(v[2], v[3]));
  // a0 = (r0, r1 | r0, r1), a1 = (r2, r3 | r2, r3) per 128-bit half
  const __m256i d = _mm256_add_epi64(_mm256_permute2x128_si256(a0, a1, 0x20), _mm256_permute2x128_si256(a0, a1, 0x31));
  alignas(32) int64_t s[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(s), d);
  for (size_t i = 0; i < count; ++i) out[i] = offset + static_cast<int32_t>(s[i]);
}

}  // namespace

void u8_rowsum__avx2(size_t rows, const uint8_t* a, size_t stride, size_t len, int32_t offset, int32_t* out) {
  for (size_t r0 = 0; r0 < rows; r0 += 4) {
    const size_t count = rows - r0 < 4 ? rows - r0 : 4;
    __m256i v[4];
    for (size_t i = 0; i < 4; ++i)
      v[i] = i < count ? sad_run(_mm256_setzero_si256(), a + (r0 + i) * stride, len) : _mm256_setzero_si256();
    reduce4(v, offset, out + r0, count);
  }
}

void u8_rowsum_indirect__avx2(size_t rows, size_t taps, const uint8_t* const* ptrs, size_t len, int32_t offset,
                              int32_t* out) {
  for (size_t r0 = 0; r0 < rows; r0 += 4) {
    const size_t count = rows - r0 < 4 ? rows - r0 : 4;
    __m256i v[4];
    for (size_t i = 0; i < 4; ++i) {
      v[i] = _mm256_setzero_si256();
      if (i < count)
        for (size_t t = 0; t < taps; ++t) v[i] = sad_run(v[i], ptrs[(r0 + i) * taps + t], len);
    }
    reduce4(v, offset, out + r0, count);
  }
}

void u16_rowsum__avx2(size_t rows, const uint16_t* a, size_t stride, size_t len, int32_t offset, int32_t* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (size_t r = 0; r < rows; ++r) {
    const uint16_t* p = a + r * stride;
    __m256i acc = _mm256_setzero_si256();  // int32 lanes; values <= 255, vpmaddwd exact
    size_t k = 0;
    for (; k + 16 <= len; k += 16)
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + k)), ones));
    alignas(32) int32_t s[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(s), acc);
    int32_t t = offset;
    for (int i = 0; i < 8; ++i) t += s[i];
    for (; k < len; ++k) t += p[k];
    out[r] = t;
  }
}

}  // namespace lapq
