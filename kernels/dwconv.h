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
  // per block of 64 channels: int32 bias[64] ordered (i, L, j) = channel
  // 16L + 4i + j; then for kw, for kernel-row group hb (KH padded to 4):
  // 256 bytes ordered (i, L, j, t) = w[16L + 4i + j][kh = 4hb + t][kw] (0 past KH),
  // the order punpck{l,h}{bw,wd} of four kernel rows produces (vpdpbusd operands).
  c64t4_s8,
};

// Row kernel (c64t4_s8): nrows output rows of ow_count pixels; output row j is
// written at dst + j * dst_row_stride (elements) and reads the window rows
// rows[j * KHp .. j * KHp + KHp - 1]: KHp = round_up(KH, 4) input rows (their
// pixel 0; pixel stride = channels bytes), nullptr for a row outside the image or
// kh >= KH. Column col of
// the padded window (output o reads columns o*stride_w + kw*dilation_w) is input
// column col - pad_left; nullptr rows and columns outside [0, in_w) read `zero`
// (a pixel of za). No per-column pointer table: the kernel computes addresses.
// scratch: 64-byte aligned, dw_row_scratch_bytes(ow_count, ...) bytes (interleaved
// columns, reused by every output that reads them).
using DwRowUkernel = void (*)(size_t channels, size_t ow_count, size_t kh, size_t kw, size_t stride_w,
                              size_t dilation_w, size_t nrows, const uint8_t* const* rows, size_t in_w,
                              size_t pad_left, const uint8_t* zero, const void* w, int32_t za, void* scratch,
                              void* dst, size_t dst_row_stride, size_t dst_pixel_stride, const GemmEpilogue* ep);

// Pixel kernel (c16_s8). dst pixel p, channel c: dst + p * dst_pixel_stride + c
// (elements). ptrs: (npix, taps) pointers to input pixels.
using DwUkernel = void (*)(size_t channels, size_t npix, size_t taps, const uint8_t* const* ptrs,
                           const void* w, int32_t za, void* dst, size_t dst_pixel_stride,
                           const GemmEpilogue* ep);

struct DwConfig {
  const char* name = "";
  Isa isa = Isa::scalar;
  DwLayout layout = DwLayout::c16_s8;
  DwUkernel ukernel = nullptr;        // c16_s8 layout
  DwRowUkernel row_ukernel = nullptr;  // c64t4_s8 layout
};

// Slots per stride phase of the two-outputs-per-zmm block (<= 32 channels): column
// phase + stride * slot; reads reach slot ow + (KW-1)*dil/stride, writes slot
// ceil(ncols / stride); even, so that slot pairs are 64-byte aligned.
inline size_t dw32x2_slots(size_t ow, size_t kw, size_t stride_w, size_t dilation_w) {
  return (ow + (kw - 1) * dilation_w / stride_w + 3) / 2 * 2;
}
// Scratch of the row kernel for rows of ow outputs (either block shape).
size_t dw_row_scratch_bytes(size_t ow, size_t kh, size_t kw, size_t stride_w, size_t dilation_w);

const DwConfig& dw_config(Isa isa);
size_t dw_packed_bytes(DwLayout layout, size_t channels, size_t kh, size_t kw);
// w: (C, KH, KW) int8; bias (C) or nullptr; za folded as -za * sum w.
void pack_dw_weights(DwLayout layout, size_t channels, size_t kh, size_t kw, const int8_t* w, const int32_t* bias,
                     int32_t za, void* dst);
void unpack_dw_weights(DwLayout layout, size_t channels, size_t kh, size_t kw, const void* packed, int32_t za,
                       int8_t* w, int32_t* bias);

void u8s8_dwconv_c16__scalar(size_t, size_t, size_t, const uint8_t* const*, const void*, int32_t, void*, size_t, const GemmEpilogue*);
void u8s8_dwconv_c8__avx2(size_t, size_t, size_t, const uint8_t* const*, const void*, int32_t, void*, size_t, const GemmEpilogue*);
void u8s8_dwconv_c64t4__avx512vnni(size_t, size_t, size_t, size_t, size_t, size_t, size_t, const uint8_t* const*,
                                   size_t, size_t, const uint8_t*, const void*, int32_t, void*, void*, size_t, size_t,
                                   const GemmEpilogue*);

}  // namespace lapq
