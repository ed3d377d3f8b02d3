// Shared by the lapq.* op files of quant/qops/ (not a public header): attribute
// parsing and the fast candidates registered by register_quant_ops().
#pragma once

#include <memory>
#include <string>

#include "engine/op_registry.h"

namespace lapq::quant::qops {

inline std::string where_of(const Node& n) { return n.op + " '" + n.name + "'"; }

// Output (or input) grid attributes: scale, zero_point, qmin, qmax; validated.
struct QuantAttrs {
  float scale = 1.f;
  int32_t zero_point = 0, qmin = 0, qmax = 255;
};
QuantAttrs quant_attrs(const Node& n);

// One QAdd input as the attributes describe it (layout_a / scale_a / zero_point_a, or _b).
struct QAddInputAttrs {
  int64_t layout = 0;  // 0 f32 NCHW, 1 u8 NHWC codes, 2 f32 NHWC
  float scale = 1.f;
  int32_t zero_point = 0;
};
QAddInputAttrs qadd_input_attrs(const Node& n, int i);

// Fast candidates "lapq-simd" (quant/qops/qops_fast.cpp): kernels/elementwise.h for
// the active ISA, OpenMP over blocks of pixels; bit-identical to the references.
std::unique_ptr<OpKernel> quantize_fast(const KernelRequest& r, std::string* why_not);
std::unique_ptr<OpKernel> dequantize_fast(const KernelRequest& r, std::string* why_not);
std::unique_ptr<OpKernel> qadd_fast(const KernelRequest& r, std::string* why_not);

// lapq.MaxPool's schema (quant/qops/qmaxpool.cpp): reference and the "lapq-int" fast kernel.
OpSchema qmaxpool_schema();

}  // namespace lapq::quant::qops
