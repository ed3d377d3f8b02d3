// Depthwise convolution microkernels (groups == IC == OC), u8 activations x
// s8 weights, same epilogue formula as kernels/gemm.h with, per output pixel
// and channel c:  acc = sum_t (a_t[c] - za) * w[c][t] + bias[c],
//                 rowsum = sum_t (a_t[c] - za)  (when wei_zp is set).
// Taps come through an indirection buffer: per output pixel, `taps` pointers to
// input pixels (out-of-image taps point at a row filled with za).
// int4 weights are stored in the int8 layouts here (depthwise weights are tiny).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/gemm.h"

namespace lapq {

enum class DwLayout {
  // int32 bias[Cp]; int8 w[T][Cp]; Cp = round_up(C, 16).
  c16_s8,
  // per block of 64 channels: int32 bias[64]; then per group g of 4 taps
  // (T padded to 4): 256 bytes ordered (i, L, j, t) = w[16L + 4i + j][4g + t],
  // the order punpck{l,h}{bw,wd} of four tap vectors produces (vpdpbusd operands).
  c64t4_s8,
};

// dst pixel p, channel c: dst + p * dst_pixel_stride + c (elements).
// ptrs: (npix, dw_padded_taps(layout, taps)) pointers to input pixels.
using DwUkernel = void (*)(size_t channels, size_t npix, size_t taps, const uint8_t* const* ptrs,
                           const void* w, int32_t za, void* dst, size_t dst_pixel_stride,
                           const GemmEpilogue* ep);

struct DwConfig {
  const char* name = "";
  Isa isa = Isa::scalar;
  DwLayout layout = DwLayout::c16_s8;
  DwUkernel ukernel = nullptr;
};

const DwConfig& dw_config(Isa isa);
size_t dw_padded_taps(DwLayout layout, size_t taps);
size_t dw_packed_bytes(DwLayout layout, size_t channels, size_t taps);
// w: (C, T) int8; bias (C) or nullptr; za folded as -za * sum_t w.
void pack_dw_weights(DwLayout layout, size_t channels, size_t taps, const int8_t* w, const int32_t* bias,
                     int32_t za, void* dst);
void unpack_dw_weights(DwLayout layout, size_t channels, size_t taps, const void* packed, int32_t za,
                       int8_t* w, int32_t* bias);

void u8s8_dwconv_c16__scalar(size_t, size_t, size_t, const uint8_t* const*, const void*, int32_t, void*, size_t, const GemmEpilogue*);
void u8s8_dwconv_c8__avx2(size_t, size_t, size_t, const uint8_t* const*, const void*, int32_t, void*, size_t, const GemmEpilogue*);
void u8s8_dwconv_c64t4__avx512vnni(size_t, size_t, size_t, const uint8_t* const*, const void*, int32_t, void*, size_t, const GemmEpilogue*);

}  // namespace lapq
