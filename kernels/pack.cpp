// Weight packers for the GEMM layouts of kernels/gemm.h, and their inverses
// (used by the round-trip tests). Block of 16 output channels: int32 bias with
// the compensation -za * sum_k w folded in, then the weights.
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "kernels/gemm.h"

namespace lapq {

int gemm_layout_kr(GemmLayout layout) {
  switch (layout) {
    case GemmLayout::n16c4_s8: return 4;
    case GemmLayout::n16c8_s4: return 8;
    case GemmLayout::n16c2_s16: return 2;
    case GemmLayout::n16c2_s4: return 2;
  }
  return 4;
}

size_t gemm_padded_k(GemmLayout layout, size_t k) {
  const size_t kr = gemm_layout_kr(layout);
  return (k + kr - 1) / kr * kr;
}

size_t gemm_block_bytes(GemmLayout layout, size_t k) {
  const size_t kp = gemm_padded_k(layout, k);
  switch (layout) {
    case GemmLayout::n16c4_s8: return 64 + kp * 16;
    case GemmLayout::n16c8_s4: return 64 + kp * 8;
    case GemmLayout::n16c2_s16: return 64 + kp * 32;
    case GemmLayout::n16c2_s4: return 64 + kp * 8;
  }
  return 0;
}

namespace {
bool is_s4(GemmLayout l) { return l == GemmLayout::n16c8_s4 || l == GemmLayout::n16c2_s4; }
// The n16c8_s4 kernels accumulate 16*w; the n16c2_s4 ones unpack to exact values.
int32_t bias_factor(GemmLayout l) { return l == GemmLayout::n16c8_s4 ? 16 : 1; }
uint8_t nib(int8_t v) { return static_cast<uint8_t>(v) & 0x0F; }
int8_t sext4(uint8_t v) { return static_cast<int8_t>(static_cast<uint8_t>(v << 4)) >> 4; }
}  // namespace

void pack_gemm_weights(GemmLayout layout, size_t n, size_t k, const int8_t* w, const int32_t* bias,
                       int32_t za, void* dst) {
  const size_t kp = gemm_padded_k(layout, k), bb = gemm_block_bytes(layout, k);
  const size_t nblocks = (n + 15) / 16;
  std::memset(dst, 0, nblocks * bb);
  for (size_t b = 0; b < nblocks; ++b) {
    uint8_t* block = static_cast<uint8_t*>(dst) + b * bb;
    for (size_t j = 0; j < 16; ++j) {
      const size_t oc = b * 16 + j;
      if (oc >= n) break;
      const int8_t* wr = w + oc * k;  // (k)
      int64_t sum = 0;
      for (size_t i = 0; i < k; ++i) {
        LAPQ_CHECK(!is_s4(layout) || (wr[i] >= -8 && wr[i] <= 7), ErrorCode::kInvalidArgument,
                   "pack_gemm_weights: weight ", int(wr[i]), " at (", oc, ",", i, ") does not fit int4");
        sum += wr[i];
      }
      const int64_t b64 = (bias ? int64_t{bias[oc]} : 0) - int64_t{za} * sum;
      const int32_t folded = static_cast<int32_t>(static_cast<uint32_t>(b64 * bias_factor(layout)));
      std::memcpy(block + 4 * j, &folded, 4);
      uint8_t* wb = block + 64;
      for (size_t i = 0; i < k; ++i) {
        const int8_t v = wr[i];
        switch (layout) {
          case GemmLayout::n16c4_s8:  // (Kp/4, 16, 4)
            reinterpret_cast<int8_t*>(wb)[(i / 4) * 64 + j * 4 + i % 4] = v;
            break;
          case GemmLayout::n16c8_s4: {  // (Kp/8, 16, 4) nibbles 4 apart in K
            const size_t r = i % 8;
            wb[(i / 8) * 64 + j * 4 + r % 4] |= r < 4 ? nib(v) : static_cast<uint8_t>(nib(v) << 4);
            break;
          }
          case GemmLayout::n16c2_s16: {  // (Kp/2, 16, 2) int16
            const int16_t v16 = v;
            std::memcpy(wb + ((i / 2) * 32 + j * 2 + i % 2) * 2, &v16, 2);
            break;
          }
          case GemmLayout::n16c2_s4:  // (Kp/2, 16) nibble pairs adjacent in K
            wb[(i / 2) * 16 + j] |= i % 2 == 0 ? nib(v) : static_cast<uint8_t>(nib(v) << 4);
            break;
        }
      }
    }
  }
  (void)kp;
}

void unpack_gemm_weights(GemmLayout layout, size_t n, size_t k, const void* packed, int32_t za,
                         int8_t* w, int32_t* bias) {
  const size_t bb = gemm_block_bytes(layout, k);
  for (size_t oc = 0; oc < n; ++oc) {
    const uint8_t* block = static_cast<const uint8_t*>(packed) + (oc / 16) * bb;
    const size_t j = oc % 16;
    const uint8_t* wb = block + 64;
    int64_t sum = 0;
    for (size_t i = 0; i < k; ++i) {
      int8_t v = 0;
      switch (layout) {
        case GemmLayout::n16c4_s8: v = reinterpret_cast<const int8_t*>(wb)[(i / 4) * 64 + j * 4 + i % 4]; break;
        case GemmLayout::n16c8_s4: {
          const size_t r = i % 8;
          const uint8_t byte = wb[(i / 8) * 64 + j * 4 + r % 4];
          v = sext4(r < 4 ? byte : static_cast<uint8_t>(byte >> 4));
          break;
        }
        case GemmLayout::n16c2_s16: {
          int16_t v16;
          std::memcpy(&v16, wb + ((i / 2) * 32 + j * 2 + i % 2) * 2, 2);
          v = static_cast<int8_t>(v16);
          break;
        }
        case GemmLayout::n16c2_s4: {
          const uint8_t byte = wb[(i / 2) * 16 + j];
          v = sext4(i % 2 == 0 ? byte : static_cast<uint8_t>(byte >> 4));
          break;
        }
      }
      w[oc * k + i] = v;
      sum += v;
    }
    int32_t folded;
    std::memcpy(&folded, block + 4 * j, 4);
    bias[oc] = static_cast<int32_t>(folded / bias_factor(layout) + int64_t{za} * sum);
  }
}

uint8_t* int4_panel_scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  const uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + (64 - p % 64) % 64;
}

}  // namespace lapq
