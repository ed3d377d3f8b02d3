// u8s8_gemm_1x16c4__scalar: the portable reference microkernel.
// Packed layout n16c4_s8 per 16-channel block: int32 bias[16]; int8 w[Kp/4][16][4].
// One row at a time, 16 channels per block; int32 accumulation wraps like the
// SIMD kernels (the packer bounds K so it never does).
#include <cstring>

#include "kernels/epilogue.h"
#include "kernels/gemm.h"

namespace lapq {

void u8s8_gemm_1x16c4__scalar(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                              const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                              const GemmEpilogue* ep) {
  for (size_t m = 0; m < mr; ++m) {
    const uint8_t* arow = static_cast<const uint8_t*>(a) + m * a_stride;  // (Kp) u8
    for (size_t n0 = 0; n0 < nc; n0 += 16) {
      const uint8_t* block = static_cast<const uint8_t*>(w) + (n0 / 16) * w_block_bytes;
      const int8_t* wb = reinterpret_cast<const int8_t*>(block + 64);  // (Kp/4, 16, 4)
      for (size_t j = 0; j < 16 && n0 + j < nc; ++j) {
        int32_t bias;
        std::memcpy(&bias, block + 4 * j, 4);
        uint32_t acc = static_cast<uint32_t>(bias);
        for (size_t k = 0; k < kp; ++k)
          acc += static_cast<uint32_t>(int32_t{arow[k]} * int32_t{wb[(k / 4) * 64 + j * 4 + k % 4]});
        epilogue_store(static_cast<int32_t>(acc), ep->rowsum ? ep->rowsum[m] : 0, n0 + j, *ep, dst, m * dst_stride + n0 + j);
      }
    }
  }
}

}  // namespace lapq
