// u8_columns_c3__avx512 (kernels/columns.h): the per-output-row column
// rearrangement of the column-window driver for 3-channel inputs (the stem).
// Per group of g pixels (g * 3KH <= 64 output bytes), each kernel row's 3g
// source bytes are broadcast to the four 128-bit lanes, so one in-lane vpshufb
// can move them to any of the 64 positions; the kernel rows merge under
// disjoint byte masks and one masked store writes the group. The scalar
// equivalent is KH 3-byte copies per pixel (~17 % of the stem's time).
#include <immintrin.h>

#include "kernels/columns.h"

namespace lapq {

namespace {

struct Shuffles {
  alignas(64) uint8_t ctrl[8][7][64];  // [KH][kh]: source byte (0..15) per destination byte
  __mmask64 mask[8][7] = {};           // destination bytes written by kernel row kh
  int group[8] = {};                   // pixels per group
};

Shuffles make_shuffles() {
  Shuffles s{};
  for (int KH = 1; KH <= 7; ++KH) {
    const int colb = 3 * KH, g = 64 / colb < 5 ? 64 / colb : 5;
    s.group[KH] = g;
    for (int p = 0; p < g * colb; ++p) {
      const int j = p / colb, kh = p % colb / 3, c = p % 3;
      s.ctrl[KH][kh][p] = static_cast<uint8_t>(3 * j + c);
      s.mask[KH][kh] |= __mmask64(1) << p;
    }
  }
  return s;
}

}  // namespace

size_t u8_columns_c3__avx512(const uint8_t* const* rows, size_t KH, size_t n, size_t row_bytes, uint8_t* col) {
  static const Shuffles sh = make_shuffles();
  if (KH < 1 || KH > 7) return 0;
  const size_t g = sh.group[KH], colb = 3 * KH;
  const __mmask64 store_mask = (g * colb >= 64) ? ~__mmask64(0) : (__mmask64(1) << (g * colb)) - 1;
  __m512i ctrl[7];
  for (size_t kh = 0; kh < KH; ++kh) ctrl[kh] = _mm512_load_si512(sh.ctrl[KH][kh]);
  size_t i = 0;
  for (; i + g <= n && 3 * i + 16 <= row_bytes; i += g) {
    __m512i v = _mm512_setzero_si512();
    for (size_t kh = 0; kh < KH; ++kh) {
      const __m512i src = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[kh] + 3 * i)));
      v = _mm512_mask_shuffle_epi8(v, sh.mask[KH][kh], src, ctrl[kh]);
    }
    _mm512_mask_storeu_epi8(col + i * colb, store_mask, v);
  }
  return i;
}

}  // namespace lapq
