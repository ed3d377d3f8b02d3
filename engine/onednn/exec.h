// Allocation-free execution helpers for the oneDNN kernels. The C++ API's
// primitive::execute takes an std::unordered_map; run() instead passes a
// fixed array to the C API, and rebinds data handles only when they change.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstddef>
#include <initializer_list>

#include "engine/error.h"
#include "engine/onednn/context.h"

namespace lapq::onednn {

// A memory object whose data lives either in an engine tensor (bound per run)
// or at `offset` in the shared Workspace.
struct BoundMemory {
  dnnl::memory mem;
  size_t offset = 0;
  void* bound = nullptr;

  BoundMemory() = default;
  BoundMemory(dnnl::memory m) : mem(std::move(m)) {}  // NOLINT: implicit on purpose
  // Points the memory at `ptr`, or at workspace + offset when ws != nullptr.
  void bind(void* ptr, std::byte* ws) {
    void* p = ws ? static_cast<void*>(ws + offset) : ptr;
    if (p != bound) {
      mem.set_data_handle(p);
      bound = p;
    }
  }
};

struct ExecArg {
  ExecArg(int a, const dnnl::memory& m) : arg(a), mem(m.get(true)) {}
  int arg;
  dnnl_memory_t mem;  // nullptr = absent (e.g. no bias): skipped
};

inline void execute(const dnnl::primitive& prim, std::initializer_list<ExecArg> args) {
  dnnl_exec_arg_t a[8];
  int n = 0;
  for (const ExecArg& x : args)
    if (x.mem && n < 8) a[n++] = dnnl_exec_arg_t{x.arg, x.mem};
  dnnl_status_t st = dnnl_primitive_execute(prim.get(), cpu_stream().get(), n, a);
  LAPQ_CHECK(st == dnnl_success, ErrorCode::kInternal, "oneDNN primitive execution failed (status ", int(st), ")");
}

}  // namespace lapq::onednn
