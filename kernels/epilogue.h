// The scalar epilogue: the reference definition of the requantization
// formula documented in kernels/gemm.h. Baseline code only (never include
// from a per-ISA file: these are out-of-line functions on purpose).
#pragma once

#include <cstdint>

#include "kernels/gemm.h"

namespace lapq {

// y for accumulator acc (bias already added) of channel n of a call; rowsum is
// sum_k (a - za) of the row (used only when ep.wei_zp is set).
float epilogue_value(int32_t acc, int32_t rowsum, size_t n, const GemmEpilogue& ep);
// u8 output: clamp(nearbyint(y) + zp, qmin, qmax).
uint8_t epilogue_to_u8(float y, const GemmEpilogue& ep);
// Stores one value to dst (u8 or float per ep.f32_out) at element index idx.
void epilogue_store(int32_t acc, int32_t rowsum, size_t n, const GemmEpilogue& ep, void* dst, size_t idx);

}  // namespace lapq
