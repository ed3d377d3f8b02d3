// Adds the oneDNN fast candidates (Conv, Gemm, MatMul, ...) to the registry.
#pragma once
#include "engine/op_registry.h"
namespace lapq::onednn {
void register_kernels(OpRegistry& registry);
}  // namespace lapq::onednn
