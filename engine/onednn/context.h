// Shared oneDNN plumbing for the FP32 fast path: the process-wide CPU engine
// and stream, fused activations as post-ops, and small helpers the kernels
// (conv.cpp, matmul.cpp) share.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "engine/graph.h"

namespace lapq::onednn {

// One CPU engine and one in-order stream for the whole process (created on
// first use; oneDNN's CPU stream is a thin handle, executing on it is
// synchronous with the OpenMP runtime).
dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();

// The post-ops that apply `act` to a primitive's output; empty for kNone.
// HardSigmoid has no eltwise algorithm in oneDNN 2.6: linear(alpha, beta)
// followed by clip(0, 1).
dnnl::post_ops activation_post_ops(const FusedActivation& act);

// Primitive attributes every lapq kernel uses: user-managed scratchpad (each
// kernel owns its scratchpad, allocated at plan time, so run() allocates
// nothing and two plans can run on two threads) plus the fused activation.
dnnl::primitive_attr make_attr(const FusedActivation& act);
// The same with a `sum` post-op first: dst = act(op(src) + dst) (residual
// fusion: dst holds the residual on entry).
dnnl::primitive_attr make_sum_attr(const FusedActivation& act);

// Sets omp_set_num_threads(n) for the lifetime of the object and restores the
// previous value. oneDNN sizes its work partitioning when a primitive is
// created, so primitives are created under the plan's thread count.
class ScopedThreads {
 public:
  explicit ScopedThreads(int n);
  ~ScopedThreads();
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int saved_;
};

// Implementation string of a primitive ("brgconv:avx512_core").
std::string impl_info(const dnnl::primitive_desc_base& pd);

}  // namespace lapq::onednn

namespace lapq::onednn {

// Process-wide scratch memory shared by every oneDNN kernel: layout-converted
// activations and the primitives' scratchpads. Kernels reserve their size at
// plan time; run() takes the lock and uses the buffer, so run() allocates
// nothing, the memory is one buffer (and stays cache-warm) instead of one per
// layer, and plans running on different threads take turns instead of
// corrupting each other's scratch data.
class Workspace {
 public:
  static Workspace& get();
  // Grows the buffer to at least `bytes` (plan time).
  void reserve(size_t bytes);
  // Holds the lock while alive; data is 64-byte aligned, >= the reserved size.
  struct Lease {
    std::unique_lock<std::mutex> lock;
    std::byte* data = nullptr;
  };
  Lease acquire();

 private:
  std::mutex mutex_;
  std::shared_ptr<std::byte[]> buffer_;
  size_t size_ = 0;
};

// Rounds up to a multiple of 64 bytes (offsets inside the workspace).
inline size_t align64(size_t n) { return (n + 63) & ~size_t{63}; }

}  // namespace lapq::onednn
