// Row sums on AVX-512 (kernels/rowsum.h). vpsadbw against zero sums 8 bytes into
// each u64 lane (exact); a row's vector of 8 partial sums is reduced together with
// seven other rows' by a transpose-add tree (14 instructions per 8 rows), so short
// rows (K = 64) cost little more than their one load. Tails use masked loads:
// nothing past len is read.
#include <immintrin.h>

#include "kernels/rowsum.h"

namespace lapq {
namespace {

inline __mmask64 tail_mask(size_t n) { return n >= 64 ? ~__mmask64(0) : (__mmask64(1) << n) - 1; }

// 8 u64 partial sums of len bytes at p (added to acc).
inline __m512i sad_run(__m512i acc, const uint8_t* p, size_t len) {
  const __m512i z = _mm512_setzero_si512();
  size_t k = 0;
  for (; k + 64 <= len; k += 64) acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_loadu_si512(p + k), z));
  if (k < len) acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(tail_mask(len - k), p + k), z));
  return acc;
}

// v[r] = 8 u64 partial sums of row r (< 2^32 in total) -> 8 int32 totals + offset.
inline void reduce8(const __m512i v[8], int32_t offset, int32_t* out, size_t count) {
  __m512i a[4];
  for (int i = 0; i < 4; ++i)  // 128-bit lane: (row 2i, row 2i+1) pair sums
    a[i] = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_epi64(v[2 * i], v[2 * i + 1]));
  const __m512i b0 = _mm512_add_epi64(_mm512_shuffle_i64x2(a[0], a[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                      _mm512_shuffle_i64x2(a[0], a[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i b1 = _mm512_add_epi64(_mm512_shuffle_i64x2(a[2], a[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                      _mm512_shuffle_i64x2(a[2], a[3], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i d = _mm512_add_epi64(_mm512_shuffle_i64x2(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_i64x2(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m256i s = _mm256_add_epi32(_mm512_cvtepi64_epi32(d), _mm256_set1_epi32(offset));
  _mm256_mask_storeu_epi32(out, static_cast<__mmask8>((1u << count) - 1), s);
}

}  // namespace

void u8_rowsum__avx512(size_t rows, const uint8_t* a, size_t stride, size_t len, int32_t offset, int32_t* out) {
  for (size_t r0 = 0; r0 < rows; r0 += 8) {
    const size_t count = rows - r0 < 8 ? rows - r0 : 8;
    __m512i v[8];
    for (size_t i = 0; i < 8; ++i)
      v[i] = i < count ? sad_run(_mm512_setzero_si512(), a + (r0 + i) * stride, len) : _mm512_setzero_si512();
    reduce8(v, offset, out + r0, count);
  }
}

void u8_rowsum_indirect__avx512(size_t rows, size_t taps, const uint8_t* const* ptrs, size_t len, int32_t offset,
                                int32_t* out) {
  for (size_t r0 = 0; r0 < rows; r0 += 8) {
    const size_t count = rows - r0 < 8 ? rows - r0 : 8;
    __m512i v[8];
    for (size_t i = 0; i < 8; ++i) {
      v[i] = _mm512_setzero_si512();
      if (i < count)
        for (size_t t = 0; t < taps; ++t) v[i] = sad_run(v[i], ptrs[(r0 + i) * taps + t], len);
    }
    reduce8(v, offset, out + r0, count);
  }
}

void u16_rowsum__avx512(size_t rows, const uint16_t* a, size_t stride, size_t len, int32_t offset, int32_t* out) {
  const __m512i ones = _mm512_set1_epi16(1);
  for (size_t r = 0; r < rows; ++r) {
    const uint16_t* p = a + r * stride;
    __m512i acc = _mm512_setzero_si512();  // int32 lanes; values <= 255, vpmaddwd exact
    size_t k = 0;
    for (; k + 32 <= len; k += 32) acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_loadu_si512(p + k), ones));
    if (k < len) {
      const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (len - k)) - 1);
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maskz_loadu_epi16(m, p + k), ones));
    }
    out[r] = offset + _mm512_reduce_add_epi32(acc);
  }
}

}  // namespace lapq
