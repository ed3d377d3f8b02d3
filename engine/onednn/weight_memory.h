// Storage for the oneDNN kernels' reordered weights.
//
// At batch 1 the weights of ResNet-50's late layers (2-9 MB per layer, ~100 MB
// in all) stream from memory on every run; with 4 KiB pages that is one TLB
// miss every 4 KiB of weights. The buffers here come from 2 MiB-aligned
// chunks advised MADV_HUGEPAGE (transparent huge pages are in `madvise` mode
// on the target machine) and are carved in the order the kernels are built,
// so consecutive layers' weights are also contiguous. Measured in
// docs/fp32-path.md ("Huge pages for the weights").
//
// LAPQ_ONEDNN_HUGE_WEIGHTS=0 allocates each buffer on its own with plain
// 4 KiB pages instead (for measuring).
#pragma once

#include <cstddef>
#include <memory>

namespace lapq::onednn {

class WeightBuffer {
 public:
  WeightBuffer() = default;
  // 64-byte aligned, `bytes` long (uninitialized). Throws lapq::Error(kLimit)
  // when the memory cannot be had.
  static WeightBuffer allocate(size_t bytes);

  void* data() const { return data_; }
  explicit operator bool() const { return data_ != nullptr; }

  struct Chunk;  // a 2 MiB-aligned block several buffers share (weight_memory.cpp)

 private:
  std::shared_ptr<Chunk> chunk_;  // keeps the chunk alive while the buffer is
  void* data_ = nullptr;
};

// True when buffers come from huge-page chunks (LAPQ_ONEDNN_HUGE_WEIGHTS unset or != 0).
bool huge_weights_enabled();

}  // namespace lapq::onednn
