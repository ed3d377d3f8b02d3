// The quantized network: an FP32 graph + a QuantConfig, lowered once onto the
// integer kernels (kernels/conv.h PackedConv) and run by lapq's own Plan. The
// same object is the quantizer's loss oracle (every LAPQ evaluation is a
// forward pass through it) and the deployed model, so the loss optimized is
// the loss deployed, bit for bit.
//
// Lowering (docs/quantized-execution.md):
//  - A quantized activation value lives as u8 NHWC codes (scale, zero point).
//  - A Conv / Gemm / MatMul with quantized weights whose input is a quantized
//    activation becomes one integer node "lapq.QConv": u8 src x s8/s4 weights
//    -> int32 -> epilogue. The node absorbs a following BatchNormalization
//    (unfolded graphs: BN's per-channel affine is folded into the epilogue's
//    scale and bias, the weights stay quantized before BN as LAPQ requires),
//    the fused / following Relu or Clip (qmin/qmax), and writes u8 codes of
//    its output activation when that value is quantized, else FP32 (NCHW).
//  - Bias correction: a real-valued per-channel weight zero point (kernel's
//    wei_zero_point, uses the activation row sums).
//  - A residual Add (+ Relu / Clip) with a quantized output becomes one
//    "lapq.QAdd" (reads codes or f32, writes codes; bit-identical to
//    Dequantize + Add + Relu + Quantize). When one input is a QConv's f32
//    output that only the QAdd reads, the two become one lapq.QConv with the
//    residual as input 5 (the add runs on each output tile in cache; same
//    bytes), unless every value must stay observable (reuse_memory = false)
//    or LAPQ_FUSE_QADD=0.
//  - "lapq.Quantize" (f32 NCHW -> u8 NHWC) where a quantized value is
//    produced by another FP32 node (e.g. the network input); "lapq.Dequantize"
//    (u8 NHWC -> f32 NCHW) where an FP32 node reads a quantized value.
//  - A quantized-weight node whose input is not quantized (the paper preset's
//    first quantized conv reads the unquantized first ReLU) runs in FP32 with
//    fake-quantized weights: simulation only; it is reported as such.
//  - Everything else runs as FP32 nodes of the ordinary engine.
//
//  - Weight codes: kSymmetric / kSymmetricFull codes q as they are (full range:
//    -2^(b-1) included, which every kernel accepts); kLapqMidRise codes are
//    stored as q - 2^(b-1) (b bits, so 8-bit LAPQ fits int8 and 4-bit fits
//    int4) with weight zero point -0.5: scale*(q - 2^(b-1) + 0.5) equals the
//    grid's (step/2)*(2q - 2^b + 1) exactly. Bias correction moves that zero
//    point per channel (-0.5 - shift/step). Containers of <= 4 bits pack int4.
//  - Epilogue (u8 output): scale[oc] = s_in*s_w[oc]*bn_mul[oc]/s_out,
//    bias[oc] = (bn_mul[oc]*(conv_bias[oc] - bn_mean[oc]) + bn_beta[oc])/s_out
//    (computed in double, rounded once); f32 output: the same without /s_out.
//
// Prefix caching: a change of one clipping value affects the network from one
// node on (the QConv or FP32 node of a weight; the producer of an activation:
// its lapq.Quantize or the QConv writing it). The caller saves the values
// live_values_at(node) once, and for each evaluation restores them into
// plan().mutable_value(v) and calls forward_from(node): the result equals
// forward() bit for bit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/plan.h"
#include "quant/quant_config.h"

namespace lapq::quant {

class QuantizedNetwork {
 public:
  // `fp32` is the graph the config refers to; input_shape is the concrete
  // [N, C, H, W] of one batch. Throws kInvalidArgument naming the layer for an
  // inconsistent config (bits, alpha count, a non-constant weight).
  QuantizedNetwork(const Graph& fp32, QuantConfig config, const Shape& input_shape, int num_threads = 0);
  // Same with full plan options (allow_fast = false: every lapq.* node runs its
  // scalar reference; reuse_memory = false: every value observable).
  QuantizedNetwork(const Graph& fp32, QuantConfig config, const Shape& input_shape, const PlanOptions& options);
  ~QuantizedNetwork();

  const QuantConfig& config() const { return config_; }
  const Graph& lowered_graph() const;   // with lapq.* nodes; printable
  Plan& plan();

  // Update clipping values; only the affected nodes are re-packed.
  void set_weight_alpha(size_t index, const std::vector<float>& alpha);
  void set_act_range(size_t index, float alpha, float lo = 0.f);
  // Index of the first lowered node whose output depends on weights[index] /
  // acts[index] (for prefix caching).
  int first_node_of_weight(size_t index) const;
  int first_node_of_act(size_t index) const;

  // Runs one batch [N, C, H, W] f32 (exactly input_shape) -> output 0 (logits, f32).
  Tensor forward(const Tensor& input);
  // Runs nodes [first, end) assuming the values live at `first` are in the
  // plan's buffers (restored by the caller); returns output 0.
  Tensor forward_from(int first);
  // Values produced before `node` and read at or after it (what a prefix
  // cache must save to resume at `node`).
  std::vector<int> live_values_at(int node) const;

  // Lowered node of weights[index] and whether it runs on the integer kernels
  // (false: FP32 node with fake-quantized weights, its input is not quantized
  // or its form is not lowered, e.g. Gemm with transA / alpha != 1).
  int node_of_weight(size_t index) const;
  bool weight_is_integer(size_t index) const;
  // One line per quantized layer: how it was lowered (for logs / `lapq info`).
  std::string summary() const;

 private:
  struct Impl;
  QuantConfig config_;
  std::unique_ptr<Impl> impl_;
};

// ---- Helpers for building configs (the graph is the one the config refers to) ----

// Conv / Gemm / MatMul nodes whose weight (input 1) is a constant, in node order.
std::vector<int> quantizable_weight_nodes(const Graph& graph);
// Values where an unsigned activation grid applies: outputs of Relu nodes, of
// Clip nodes with a constant lower bound >= 0 (ReLU6), and of nodes with a
// fused Relu / Clip (lower bound >= 0) activation; in node order.
std::vector<int> relu_output_values(const Graph& graph);
// The weights of a quantizable node as [OC, K] f32, output channel first, in
// the order the executor quantizes them (Conv: [OC, IC/group*KH*KW] as stored;
// Gemm transB=1: B; Gemm transB=0 / MatMul: B transposed). Per-channel
// clipping values and bias-correction shifts are per row of this matrix.
Tensor weight_oc_first(const Graph& graph, int node);

}  // namespace lapq::quant
