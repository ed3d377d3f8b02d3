// ONNX frontend: an ONNX model file -> lapq::Graph (validated, topologically
// sorted, constants attached, no passes applied: call lapq::optimize() from
// engine/passes/passes.h next). See docs/onnx-frontend.md.
//
// Errors (lapq::Error):
//   kIo           the file cannot be opened / read
//   kInvalidModel not a parsable ONNX model, inconsistent sizes, dangling
//                 inputs, cycles, external data outside the model folder
//   kUnsupported  an opset outside 7..18, a non-default op domain, an op lapq
//                 does not implement, float16 / string / sparse data
//   kLimit        a tensor above kMaxTensorElements / max_tensor_bytes() or
//                 of rank above kMaxTensorRank, a file above 2 GiB, a graph
//                 above the limits below
//
// The loader does not recurse: subgraph attributes (If / Loop / Scan bodies)
// are refused as unsupported, and protobuf's own parser stops at 100 levels
// of message nesting (a deeper file is "not a valid ONNX model").
#pragma once

#include <cstddef>
#include <string>

#include "engine/graph.h"

namespace lapq {

// Oldest / newest default-domain opset the frontend accepts.
inline constexpr int kMinOnnxOpset = 7;
inline constexpr int kMaxOnnxOpset = 18;

// Graph-size limits (kLimit). Far above any CNN (ResNet-50: ~180 nodes, 100 MB
// of weights); they bound the memory a small hostile file can make lapq take
// beyond what protobuf already holds.
inline constexpr int kMaxGraphNodes = 1 << 20;
inline constexpr int kMaxGraphValues = 1 << 22;
inline constexpr int64_t kMaxInitializerBytes = int64_t{1} << 32;  // all initializers and constants, 4 GiB
inline constexpr int kMaxAttributeElements = 1 << 20;  // entries of an ints / floats attribute, bytes of a string

// Loads the model at `path`; external data files are looked up in its folder.
Graph load_onnx(const std::string& path);

// Loads a serialized ModelProto held in memory. `name_for_errors` is used in
// messages; external data files are looked up in `base_dir_for_external_data`
// (empty: a model with external data is rejected).
Graph load_onnx_from_memory(const void* data, size_t size, const std::string& name_for_errors,
                            const std::string& base_dir_for_external_data);

// Reads one serialized TensorProto file (the input_*.pb / output_*.pb files of
// the ONNX test suites). Same dtype rules as initializers.
Tensor load_onnx_tensor(const std::string& path);

}  // namespace lapq
