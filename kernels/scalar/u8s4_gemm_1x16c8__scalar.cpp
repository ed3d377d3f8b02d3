// u8s4_gemm_1x16c8__scalar: reference microkernel for int4 weights.
// Packed layout n16c8_s4 per 16-channel block: int32 bias16[16] (bias x16);
// uint8 w[Kp/8][16][4], byte (i, n, j) = w[n][8i+j] (low nibble) | w[n][8i+4+j] (high).
// Accumulates 16*w like the SIMD kernel ((v << 4) & 0xF0 and v & 0xF0 read as
// int8), then scales by 0.0625f, which is exact.
#include <cstring>

#include "kernels/epilogue.h"
#include "kernels/gemm.h"

namespace lapq {

void u8s4_gemm_1x16c8__scalar(size_t mr, size_t nc, size_t kp, const void* a, size_t a_stride,
                              const void* w, size_t w_block_bytes, void* dst, size_t dst_stride,
                              const GemmEpilogue* ep) {
  for (size_t m = 0; m < mr; ++m) {
    const uint8_t* arow = static_cast<const uint8_t*>(a) + m * a_stride;  // (Kp) u8
    for (size_t n0 = 0; n0 < nc; n0 += 16) {
      const uint8_t* block = static_cast<const uint8_t*>(w) + (n0 / 16) * w_block_bytes;
      const uint8_t* wb = block + 64;  // (Kp/8, 16, 4) nibble pairs
      for (size_t j = 0; j < 16 && n0 + j < nc; ++j) {
        int32_t bias16;
        std::memcpy(&bias16, block + 4 * j, 4);
        uint32_t acc = static_cast<uint32_t>(bias16);
        for (size_t k8 = 0; k8 < kp; k8 += 8) {
          for (size_t i = 0; i < 4; ++i) {
            const uint8_t v = wb[(k8 / 8) * 64 + j * 4 + i];
            const int8_t lo16 = static_cast<int8_t>(static_cast<uint8_t>(v << 4));
            const int8_t hi16 = static_cast<int8_t>(v & 0xF0);
            acc += static_cast<uint32_t>(int32_t{arow[k8 + i]} * lo16);
            acc += static_cast<uint32_t>(int32_t{arow[k8 + 4 + i]} * hi16);
          }
        }
        // Every term is a multiple of 16, so this division is exact; the SIMD
        // kernel's (float)acc16 * 0.0625f equals (float)acc1 bit for bit.
        const int32_t acc1 = static_cast<int32_t>(acc) / 16;
        epilogue_store(acc1, ep->rowsum ? ep->rowsum[m] : 0, n0 + j, *ep, dst, m * dst_stride + n0 + j);
      }
    }
  }
}

}  // namespace lapq
