// FP32 pooling and elementwise binary ops through oneDNN, on the engine's
// plain NCHW / row-major buffers (no layout conversion: both primitives run
// at memory speed on plain layouts).
//   MaxPool / AveragePool (2-D; pads, auto_pad, strides, dilations, ceil_mode,
//   count_include_pad), GlobalAveragePool / GlobalMaxPool: pooling_v2.
//   Add / Mul with numpy broadcasting of one side (oneDNN broadcasts src1 only;
//   the commutative ops swap the sides when needed): binary, plus the fused
//   activation as a post-op.
#pragma once

#include <memory>
#include <string>

#include "engine/op_registry.h"

namespace lapq::onednn {

std::unique_ptr<OpKernel> create_pool_kernel(const KernelRequest& req, std::string* why_not);
std::unique_ptr<OpKernel> create_binary_kernel(const KernelRequest& req, std::string* why_not);

}  // namespace lapq::onednn
