// The quantized model file (.lapq): the FP32 ONNX bytes, how they were
// prepared (graph passes, resolved preprocessing, labels), the QuantConfig and
// the integer weight codes, in one versioned, checksummed file.
// Layout and rules: docs/quantized-model-file.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/passes/passes.h"
#include "frontends/image/preprocess.h"
#include "quant/quant_config.h"

namespace lapq::quant {

inline constexpr char kQModelMagic[8] = {'L', 'A', 'P', 'Q', 'Q', 'M', 'D', 'L'};
// Format versions: 1 (the original), 2 (adds the weight grid "symmetric-full").
// A file is written with the lowest version that can hold its config (2 only when a
// layer uses kSymmetricFull), so older builds keep reading everything they can run;
// this build reads both.
inline constexpr uint32_t kQModelVersion = 2;
inline constexpr uint32_t kQModelMinVersion = 1;
// The version save_quantized_model writes for `config`.
uint32_t qmodel_version_for(const QuantConfig& config);

// FNV-1a, 64 bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
uint64_t fnv1a64(const void* data, size_t size);

struct QuantizedModelFile {
  std::string onnx;                 // the original ONNX file's bytes
  std::string source_name;          // the ONNX file's name (informational)
  PassOptions passes;               // applied to the loaded ONNX graph before the config's ids
  PreprocessConfig preprocess;      // resolved (sidecar + overrides); labels_path is not stored
  std::vector<std::string> labels;  // class names (may be empty)
  QuantConfig config;
  std::string report;               // the quantization report (JSON text, may be empty)
  std::vector<int16_t> codes;       // as read from the file (filled by read_quantized_model)
};

// True when the file starts with the magic bytes (false when unreadable or short).
bool is_quantized_model_file(const std::string& path);

// The integer weight codes of every quantized layer of `graph` under `config`
// (grid codes, int_params(grid) form), concatenated in config order.
std::vector<int16_t> weight_codes(const Graph& graph, const QuantConfig& config);

// Writes `f`; `graph` is f.onnx after f.passes (for the weight codes). kIo on failure.
void save_quantized_model(const std::string& path, const QuantizedModelFile& f, const Graph& graph);
// Reads and checks the header, the checksum and the sections: Error
// kInvalidModel naming the file for a wrong magic, an unsupported version, a
// bad checksum, a truncated file or a malformed section; kIo when unreadable.
// Does not build the graph: see load_quantized_graph.
QuantizedModelFile read_quantized_model(const std::string& path);
// Loads f.onnx, applies f.passes and checks the config against it (names, and
// the stored weight codes against the codes recomputed from the FP32 weights).
Graph load_quantized_graph(const QuantizedModelFile& f, const std::string& path_for_errors);

}  // namespace lapq::quant
