// Depthwise weight packers (layouts in kernels/dwconv.h) and the config table.
#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "kernels/dwconv.h"

namespace lapq {

const DwConfig& dw_config(Isa isa) {
  static const DwConfig scalar{"u8s8_dwconv_c16__scalar", Isa::scalar, DwLayout::c16_s8, u8s8_dwconv_c16__scalar};
  static const DwConfig avx2{"u8s8_dwconv_c8__avx2", Isa::avx2, DwLayout::c16_s8, u8s8_dwconv_c8__avx2};
  static const DwConfig vnni{"u8s8_dwconv_c64t4__avx512vnni", Isa::avx512vnni, DwLayout::c64t4_s8, nullptr,
                             u8s8_dwconv_c64t4__avx512vnni};
  LAPQ_CHECK(isa_supported(isa), ErrorCode::kUnsupported,
             "dw_config: ISA ", isa_name(isa), " is not supported by this CPU");
  switch (isa) {
    case Isa::scalar: return scalar;
    case Isa::avx2:
    case Isa::avxvnni:  // the AVX2 kernel (no AVX-VNNI depthwise kernel yet)
    case Isa::avx512: return avx2;  // no separate AVX-512 (non-VNNI) depthwise kernel
    case Isa::avx512vnni: return vnni;
  }
  return scalar;
}

size_t dw_packed_bytes(DwLayout layout, size_t channels, size_t kh, size_t kw) {
  if (layout == DwLayout::c16_s8) {
    const size_t cp = (channels + 15) / 16 * 16;
    return cp * 4 + cp * kh * kw;
  }
  const size_t blocks = (channels + 63) / 64, khb = (kh + 3) / 4;
  return blocks * (256 + 256 * kw * khb);
}

size_t dw_row_scratch_bytes(size_t ow, size_t kh, size_t kw, size_t stride_w, size_t dilation_w) {
  const size_t khp = (kh + 3) / 4 * 4, iwp = (ow - 1) * stride_w + (kw - 1) * dilation_w + 1;
  const size_t x64 = iwp * khp * 64;                                                    // block64
  const size_t x32 = khp * stride_w * dw32x2_slots(ow, kw, stride_w, dilation_w) * 32;  // block32x2
  return std::max(x64, x32);  // (3x3 stride 2 interleaves into registers: no scratch)
}

namespace {
// Position (i, L, j) of channel c within its 64-channel block (c64t4_s8).
size_t lane_pos(size_t c) {
  const size_t cc = c % 64, L = cc / 16, i = (cc % 16) / 4, j = cc % 4;
  return i * 16 + L * 4 + j;
}
// Byte offset of w[c][y][x] and of bias[c] in the packed buffer.
size_t w_offset(DwLayout layout, size_t channels, size_t kh, size_t kw, size_t c, size_t y, size_t x) {
  if (layout == DwLayout::c16_s8) {
    const size_t cp = (channels + 15) / 16 * 16;
    return cp * 4 + (y * kw + x) * cp + c;
  }
  const size_t khb = (kh + 3) / 4, bb = 256 + 256 * kw * khb;
  return (c / 64) * bb + 256 + (x * khb + y / 4) * 256 + lane_pos(c) * 4 + y % 4;
}
size_t bias_offset(DwLayout layout, size_t kh, size_t kw, size_t c) {
  if (layout == DwLayout::c16_s8) return c * 4;
  const size_t bb = 256 + 256 * kw * ((kh + 3) / 4);
  return (c / 64) * bb + lane_pos(c) * 4;
}
}  // namespace

void pack_dw_weights(DwLayout layout, size_t channels, size_t kh, size_t kw, const int8_t* w, const int32_t* bias,
                     int32_t za, void* dst) {
  const size_t taps = kh * kw;
  auto* out = static_cast<uint8_t*>(dst);
  std::memset(out, 0, dw_packed_bytes(layout, channels, kh, kw));
  for (size_t c = 0; c < channels; ++c) {
    int64_t sum = 0;
    for (size_t t = 0; t < taps; ++t) {
      const int8_t v = w[c * taps + t];
      sum += v;
      out[w_offset(layout, channels, kh, kw, c, t / kw, t % kw)] = static_cast<uint8_t>(v);
    }
    const int32_t folded = static_cast<int32_t>((bias ? int64_t{bias[c]} : 0) - int64_t{za} * sum);
    std::memcpy(out + bias_offset(layout, kh, kw, c), &folded, 4);
  }
}

void unpack_dw_weights(DwLayout layout, size_t channels, size_t kh, size_t kw, const void* packed, int32_t za,
                       int8_t* w, int32_t* bias) {
  const size_t taps = kh * kw;
  const auto* in = static_cast<const uint8_t*>(packed);
  for (size_t c = 0; c < channels; ++c) {
    int64_t sum = 0;
    for (size_t t = 0; t < taps; ++t) {
      const int8_t v = static_cast<int8_t>(in[w_offset(layout, channels, kh, kw, c, t / kw, t % kw)]);
      w[c * taps + t] = v;
      sum += v;
    }
    int32_t folded;
    std::memcpy(&folded, in + bias_offset(layout, kh, kw, c), 4);
    bias[c] = static_cast<int32_t>(folded + int64_t{za} * sum);
  }
}

}  // namespace lapq
