// Naive reference convolution: the definition the optimized paths are tested
// against, bit for bit. Direct loops over the window, int64 accumulation,
// the scalar epilogue of kernels/epilogue.cpp. Slow; first-class library code
// (usable as the always-accepting fallback implementation).
#pragma once

#include <cstdint>

#include "kernels/conv.h"

namespace lapq {

void conv_reference(const ConvParams& p, const ConvWeights& w, const uint8_t* src, int N, int H, int W,
                    uint8_t* dst, const RequantU8& out);
void conv_reference(const ConvParams& p, const ConvWeights& w, const uint8_t* src, int N, int H, int W,
                    float* dst, const DequantF32& out);

}  // namespace lapq
