// u8s8_dwconv_c16__scalar: reference depthwise microkernel.
// Layout c16_s8: int32 bias[Cp]; int8 w[T][Cp] (Cp = round_up(C, 16)).
#include <cstring>

#include "kernels/dwconv.h"
#include "kernels/epilogue.h"

namespace lapq {

void u8s8_dwconv_c16__scalar(size_t channels, size_t npix, size_t taps, const uint8_t* const* ptrs,
                             const void* w, int32_t za, void* dst, size_t dst_pixel_stride,
                             const GemmEpilogue* ep) {
  const size_t cp = (channels + 15) / 16 * 16;
  const auto* bias = static_cast<const uint8_t*>(w);                       // (Cp) int32
  const auto* wt = reinterpret_cast<const int8_t*>(bias + cp * 4);         // (T, Cp) int8
  for (size_t p = 0; p < npix; ++p) {
    const uint8_t* const* pp = ptrs + p * taps;
    for (size_t c = 0; c < channels; ++c) {
      int32_t b;
      std::memcpy(&b, bias + c * 4, 4);
      uint32_t acc = static_cast<uint32_t>(b);
      int32_t rs = 0;
      for (size_t t = 0; t < taps; ++t) {
        const int32_t a = pp[t][c];
        acc += static_cast<uint32_t>(a * int32_t{wt[t * cp + c]});
        rs += a - za;
      }
      epilogue_store(static_cast<int32_t>(acc), rs, c, *ep, dst, p * dst_pixel_stride + c);
    }
  }
}

}  // namespace lapq
