// oneDNN int8 convolution (u8 src, s8 weights, u8 dst, NHWC, per-channel output
// scales): the yardstick the kernel benchmarks compare against.
#pragma once

#include <memory>
#include <vector>

#include "kernels/conv.h"

namespace lapq::bench {

// Caps oneDNN's ISA at avx512_core_vnni (call before creating primitives).
void cap_onednn_isa();

class OnednnConv {
 public:
  OnednnConv(const ConvParams& p, int N, int H, int W, const std::vector<int8_t>& wei_ohwi,
             const std::vector<float>& scale);
  ~OnednnConv();
  void run(const uint8_t* src, uint8_t* dst);
  const char* impl_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lapq::bench
