// FP32 pooling and elementwise binary ops through oneDNN, on the plan's
// buffers as they are stored: plain NCHW / row-major, or channels-last when
// the plan keeps the node's activations NHWC (no layout conversion either
// way: both primitives run at memory speed on both layouts).
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

// Their LayoutQuery: kFollows (channels-last input -> channels-last output).
LayoutSupport pool_layout_support(const KernelRequest& req);
LayoutSupport binary_layout_support(const KernelRequest& req);

}  // namespace lapq::onednn
