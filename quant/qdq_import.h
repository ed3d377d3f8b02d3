// ONNX QDQ import: a model with QuantizeLinear / DequantizeLinear (lapq's own
// export, ONNX Runtime's quantizer in QDQ format, PyTorch's exporter) -> the
// FP32 graph + QuantConfig the quantized executor lowers onto the integer
// kernels (lapq.QConv / QAdd / Quantize / Dequantize), i.e. the same network
// the quantizer would have built for those grids.
//
//   quant::QdqImport r = quant::import_qdq("model.qdq.onnx");
//   lapq::QuantizedModel qm(std::move(r.file), std::move(r.graph), path, threads);
//
// Recognized (docs/qdq.md):
//  - DequantizeLinear of an integer initializer (or of QuantizeLinear of a float
//    initializer) feeding a Conv / Gemm / MatMul weight: the layer's weight grid
//    (symmetric, zero point 0; lapq's mid-rise grid when the file says so);
//    any other DequantizeLinear of an initializer (int32 bias, zero points != 0,
//    code -128) is folded into an FP32 constant.
//  - QuantizeLinear -> DequantizeLinear on an activation, same scale and zero
//    point, per tensor: an activation grid (uint8 zero point 0: unsigned;
//    otherwise asymmetric; int8 is uint8 shifted by 128). A Clip right before
//    QuantizeLinear that cuts the codes to 2^b levels makes it a b-bit grid.
// Errors (lapq::Error naming the node): kInvalidModel for malformed QDQ (zero,
// negative or non-finite scale, a per-axis scale whose length is not the
// axis's size, a zero point of another shape or of an undefined / mismatched
// type, a codes-vs-grid hint mismatch); kUnsupported for forms lapq cannot run
// (requantization between different grids, per-channel activations, a
// QuantizeLinear / DequantizeLinear left unpaired, a per-axis weight scale on an
// axis that is not the output channels).
#pragma once

#include <string>

#include "engine/graph.h"
#include "quant/qmodel_file.h"

namespace lapq::quant {

struct QdqImport {
  QuantizedModelFile file;  // FP32 ONNX bytes (Q/DQ removed), passes, preprocessing, labels, config
  Graph graph;              // file.onnx after file.passes: the graph the config refers to
  std::string summary;      // one line per weight / activation: how it was recognized
};

// True when the ONNX file has QuantizeLinear or DequantizeLinear nodes.
bool is_qdq_model_file(const std::string& path);

// From a file (preprocessing from its sidecar, like an FP32 model) or from memory.
QdqImport import_qdq(const std::string& path);
QdqImport import_qdq_from_memory(const std::string& bytes, const std::string& name_for_errors);

}  // namespace lapq::quant
