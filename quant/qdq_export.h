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
