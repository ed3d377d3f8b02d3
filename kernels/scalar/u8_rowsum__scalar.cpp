// Scalar row sums (the reference of kernels/rowsum.h) and the ISA table.
#include "engine/error.h"
#include "kernels/rowsum.h"

namespace lapq {

void u8_rowsum__scalar(size_t rows, const uint8_t* a, size_t stride, size_t len, int32_t offset, int32_t* out) {
  for (size_t r = 0; r < rows; ++r) {
    int32_t s = offset;
    for (size_t k = 0; k < len; ++k) s += a[r * stride + k];
    out[r] = s;
  }
}

void u16_rowsum__scalar(size_t rows, const uint16_t* a, size_t stride, size_t len, int32_t offset, int32_t* out) {
  for (size_t r = 0; r < rows; ++r) {
    int32_t s = offset;
    for (size_t k = 0; k < len; ++k) s += a[r * stride + k];
    out[r] = s;
  }
}

void u8_rowsum_indirect__scalar(size_t rows, size_t taps, const uint8_t* const* ptrs, size_t len, int32_t offset,
                                int32_t* out) {
  for (size_t r = 0; r < rows; ++r) {
    int32_t s = offset;
    for (size_t t = 0; t < taps; ++t)
      for (size_t k = 0; k < len; ++k) s += ptrs[r * taps + t][k];
    out[r] = s;
  }
}

const RowSumKernels& rowsum_kernels(Isa isa) {
  static const RowSumKernels scalar{u8_rowsum__scalar, u16_rowsum__scalar, u8_rowsum_indirect__scalar};
  static const RowSumKernels avx2{u8_rowsum__avx2, u16_rowsum__avx2, u8_rowsum_indirect__avx2};
  static const RowSumKernels avx512{u8_rowsum__avx512, u16_rowsum__avx512, u8_rowsum_indirect__avx512};
  LAPQ_CHECK(isa_supported(isa), ErrorCode::kUnsupported, "rowsum_kernels: ISA ", isa_name(isa),
             " is not supported by this CPU (host: ", isa_name(host_isa()), ")");
  switch (isa) {
    case Isa::scalar: return scalar;
    case Isa::avx2: case Isa::avxvnni: return avx2;
    case Isa::avx512: case Isa::avx512vnni: return avx512;
  }
  return scalar;
}

}  // namespace lapq
