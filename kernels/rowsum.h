// Activation row sums for weight zero points: rowsum[m] = sum_k (a[m][k] - za),
// exact int32 (kernels/gemm.h). The drivers compute them once per M tile, beside
// the GEMM; these are the vectorized helpers (psadbw: 8 bytes summed per u64
// lane, exact), chosen with the kernels from the same Isa value.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/isa.h"

namespace lapq {

struct RowSumKernels {
  // out[r] = offset + sum of the len u8 at a + r * stride, r < rows.
  void (*u8)(size_t rows, const uint8_t* a, size_t stride, size_t len, int32_t offset, int32_t* out) = nullptr;
  // The same over u16 elements (stride and len in elements; values <= 255).
  void (*u16)(size_t rows, const uint16_t* a, size_t stride, size_t len, int32_t offset, int32_t* out) = nullptr;
  // out[r] = offset + sum over t < taps of the len u8 at ptrs[r * taps + t].
  void (*u8_indirect)(size_t rows, size_t taps, const uint8_t* const* ptrs, size_t len, int32_t offset,
                      int32_t* out) = nullptr;
};

// For an Isa not above host_isa().
const RowSumKernels& rowsum_kernels(Isa isa);

void u8_rowsum__scalar(size_t, const uint8_t*, size_t, size_t, int32_t, int32_t*);
void u16_rowsum__scalar(size_t, const uint16_t*, size_t, size_t, int32_t, int32_t*);
void u8_rowsum_indirect__scalar(size_t, size_t, const uint8_t* const*, size_t, int32_t, int32_t*);
void u8_rowsum__avx2(size_t, const uint8_t*, size_t, size_t, int32_t, int32_t*);
void u16_rowsum__avx2(size_t, const uint16_t*, size_t, size_t, int32_t, int32_t*);
void u8_rowsum_indirect__avx2(size_t, size_t, const uint8_t* const*, size_t, int32_t, int32_t*);
void u8_rowsum__avx512(size_t, const uint8_t*, size_t, size_t, int32_t, int32_t*);
void u16_rowsum__avx512(size_t, const uint16_t*, size_t, size_t, int32_t, int32_t*);
void u8_rowsum_indirect__avx512(size_t, size_t, const uint8_t* const*, size_t, int32_t, int32_t*);

}  // namespace lapq
