// FP32 Gemm and MatMul with a constant right-hand side through oneDNN's
// matmul primitive: dst(M, N) = act(src(M, K) x wei(K, N) + bias(N)).
//   Gemm:   transA / transB; alpha folded into the weights and beta into the
//           bias at plan time; C must be a constant per-column bias (N), (1, N)
//           or a scalar.
//   MatMul: A of any rank >= 1 (leading dims folded into M), B constant 2-D.
// The weights are reordered once into the primitive's format (any).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/op_registry.h"

namespace lapq::onednn {

// wei: (K, N) row-major, or (N, K) when trans_wei. bias: N values or empty.
// trans_src: src is stored (K, M).
std::unique_ptr<OpKernel> make_matmul(int64_t M, int64_t K, int64_t N, bool trans_src, const float* wei,
                                      bool trans_wei, float alpha, const std::vector<float>& bias,
                                      const FusedActivation& act, int num_threads, const std::string& op);

std::unique_ptr<OpKernel> create_gemm_kernel(const KernelRequest& req, std::string* why_not);
std::unique_ptr<OpKernel> create_matmul_kernel(const KernelRequest& req, std::string* why_not);

}  // namespace lapq::onednn
