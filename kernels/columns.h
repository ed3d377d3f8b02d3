// Vectorized helpers of the column-window convolution driver
// (kernels/conv_columns.cpp). Internal to kernels/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lapq {

// For IC = 3 and KH <= 7: col[i * 3KH + kh * 3 + c] = rows[kh][3i + c] for pixels
// i < n, in groups of g = min(64 / 3KH, 5) pixels (one masked 64-byte store per
// group, nothing written past the group) while every 16-byte load stays inside
// the rows (row_bytes each). Returns the pixels done (a multiple of g); the
// caller copies the rest. AVX-512 BW (broadcast + masked vpshufb per kernel row).
size_t u8_columns_c3__avx512(const uint8_t* const* rows, size_t KH, size_t n, size_t row_bytes, uint8_t* col);

}  // namespace lapq
