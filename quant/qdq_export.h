// ONNX QDQ export: a quantized model (FP32 graph + QuantConfig) -> a standard
// ONNX model in which every quantized weight is an integer initializer read
// through DequantizeLinear and every quantized activation passes through a
// QuantizeLinear -> DequantizeLinear pair whose grid is lapq's grid exactly.
// ONNX Runtime fuses these into its integer kernels (QLinearConv, QGemm, ...).
// The mapping of each lapq grid and the limits are in docs/qdq.md.
//
//   quant::QdqExportOptions o;                    // opset 13, int32 bias
//   std::string bytes = quant::export_qdq(qm.graph(), qm.config(), o);
//   quant::save_qdq("model.qdq.onnx", qm.graph(), qm.config(), o);
//
// Errors: kUnsupported naming the layer for what QDQ cannot express (weight
// bias correction: a real-valued weight zero point), kIo when the file cannot
// be written.
#pragma once

#include <string>

#include "engine/graph.h"
#include "quant/quant_config.h"

namespace lapq::quant {

struct QdqExportOptions {
  // Conv / Gemm / MatMul bias of a layer with a quantized input: int32 codes
  // with scale s_in * s_w read through DequantizeLinear (the form ONNX Runtime
  // fuses into QLinearConv / QGemm; the bias is rounded to that grid). false:
  // the FP32 bias as it is (exact; ORT then runs those layers unfused, on
  // dequantized weights).
  bool int32_bias = true;
  // Default-domain opset of the file; raised to the graph's own opset when
  // that is newer. 13 is the first with per-axis QuantizeLinear /
  // DequantizeLinear.
  int opset = 13;
  // ONNX Runtime runs a Conv / Gemm on its int8 kernels only when its output
  // goes through QuantizeLinear too. lapq keeps the output of a quantized layer
  // in FP32 where it is not a quantized activation (the convs of a residual
  // branch feed the residual add in FP32; a conv before a MaxPool whose output
  // is quantized). With this set, such outputs get a QuantizeLinear ->
  // DequantizeLinear as well: before a MaxPool, the MaxPool output's grid (exact:
  // max commutes with a monotone quantizer); elsewhere an 8-bit grid fitted
  // max-abs (min / max) on `calib` (batches for the graph's input). The file is
  // then a slightly more quantized model than the .lapq (lapq's importer runs
  // exactly that model); it exists to time ORT's fully fused int8 path.
  bool quantize_layer_outputs = false;
  std::vector<Tensor> calib;
};

// Metadata key that tells an importer the grid of a weight initializer
// ("lapq-midrise:4", "symmetric:8"): the codes alone do not say how many
// bits the grid has, or that odd codes come from the LAPQ mid-rise grid.
inline constexpr const char* kQdqWeightGridKey = "lapq.weight_grid:";

// `graph` is the FP32 graph the config refers to (QuantizedModel::graph()).
// Returns the serialized ModelProto.
std::string export_qdq(const Graph& graph, const QuantConfig& config, const QdqExportOptions& options = {});
void save_qdq(const std::string& path, const Graph& graph, const QuantConfig& config,
              const QdqExportOptions& options = {});

}  // namespace lapq::quant
