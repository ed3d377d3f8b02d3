#include "engine/onednn/register.h"

#include "engine/onednn/conv.h"
#include "engine/onednn/matmul.h"
#include "engine/onednn/pool_binary.h"

namespace lapq::onednn {

void register_kernels(OpRegistry& registry) {
  auto add = [&](const char* op, KernelFactory f, LayoutQuery layouts = nullptr, bool accepts_sum = false) {
    // The op may be absent from a reduced table (tests): nothing to extend then.
    if (OpSchema* s = registry.find_mutable(op))
      s->fast.push_back(FastCandidate{"onednn", std::move(f), layouts, accepts_sum});
  };
  add("Conv", create_conv_kernel, conv_layout_support, /*accepts_sum=*/true);
  add("Gemm", create_gemm_kernel);
  add("MatMul", create_matmul_kernel);
  for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"})
    add(op, create_pool_kernel, pool_layout_support);
  for (const char* op : {"Add", "Mul"}) add(op, create_binary_kernel, binary_layout_support);
}

}  // namespace lapq::onednn
