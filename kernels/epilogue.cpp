#include "kernels/epilogue.h"

#include <cmath>

namespace lapq {

float epilogue_value(int32_t acc, int32_t rowsum, size_t n, const GemmEpilogue& ep) {
  float t = static_cast<float>(acc);
  if (ep.wei_zp) {
    const float corr = ep.wei_zp[n] * static_cast<float>(rowsum);
    t = t - corr;
  }
  float y = t * ep.scale[n];
  if (ep.bias) y = y + ep.bias[n];
  return y;
}

uint8_t epilogue_to_u8(float y, const GemmEpilogue& ep) {
  // max/min in the order the SIMD kernels use; NaN is not a valid input.
  y = y < ep.lo ? ep.lo : y;
  y = y > ep.hi ? ep.hi : y;
  return static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(y)) + ep.zp);
}

void epilogue_store(int32_t acc, int32_t rowsum, size_t n, const GemmEpilogue& ep, void* dst, size_t idx) {
  const float y = epilogue_value(acc, rowsum, n, ep);
  if (ep.f32_out)
    static_cast<float*>(dst)[idx] = y;
  else
    static_cast<uint8_t*>(dst)[idx] = epilogue_to_u8(y, ep);
}

}  // namespace lapq
