// The bodies of the fuzz targets, shared with the corpus replay test
// (tests/apps/test_fuzz_corpus.cpp) so both exercise exactly the same code.
// Each returns true when the input was accepted, false when it was rejected
// with lapq::Error; anything else (a crash, another exception) is a bug.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/error.h"
#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/image/image.h"
#include "frontends/image/preprocess.h"
#include "frontends/image/preprocess_config.h"
#include "frontends/onnx/onnx_loader.h"
#include "quant/qdq_import.h"
#include "quant/qmodel_file.h"
#include "quant/quantized_network.h"

namespace lapq::fuzz {

// libFuzzer reports any single allocation above its malloc limit (4 GiB in
// tools/fuzz.sh) as a crash; lapq's own per-tensor limit (4 GiB by default)
// is lowered so an input asking for a huge tensor is rejected with kLimit,
// as it would be in production, only sooner.
inline constexpr size_t kFuzzMaxTensorBytes = size_t{64} << 20;
inline void limit_tensor_bytes() { set_max_tensor_bytes(kFuzzMaxTensorBytes); }

// ONNX bytes -> loader, graph passes, shape inference (symbolic dims = 1).
inline bool onnx_model(const uint8_t* data, size_t size, const std::string& name) {
  limit_tensor_bytes();
  try {
    Graph g = load_onnx_from_memory(data, size, name, "");
    optimize(g);
    std::vector<Shape> shapes;
    for (int v : g.inputs) {
      Shape s = g.values[v].shape;
      for (int64_t& d : s) if (d < 0) d = 1;
      shapes.push_back(s);
    }
    infer_shapes(g, shapes);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Image bytes -> decode, resize 36 -> crop 32 (every decoded size exercises
// the resampler). Huge decoded images are skipped to keep runs fast.
inline bool image(const uint8_t* data, size_t size, const std::string& name) {
  try {
    Image img = decode_image_memory({data, size}, DecodeChannels::kRgb, name);
    if (static_cast<int64_t>(img.width) * img.height > 4096 * 4096) return true;
    PreprocessConfig cfg;
    cfg.height = cfg.width = cfg.crop_h = cfg.crop_w = 32;
    cfg.resize_short = 36;
    preprocess_image(img, cfg, name);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Text -> a preprocessing override ("crop=32") and a sidecar JSON document.
inline bool cli_value(const std::string& text, const std::string& name) {
  bool ok = true;
  try {
    PreprocessConfig cfg;
    apply_preprocess_overrides(cfg, {text});
  } catch (const Error&) {
    ok = false;
  }
  try {
    parse_preprocess_sidecar(text, name);
  } catch (const Error&) {
    ok = false;
  }
  return ok;
}

// Most mutations of a whole .lapq file only hit the checksum check, so unless
// the input starts with the file magic (then it is the whole file), input[1:]
// is used as the PAYLOAD of a file with a valid header and checksum
// (docs/quantized-model-file.md): the section parser, the META JSON, the
// embedded ONNX and the weight-code check all see the data. `path` is a
// scratch file.
inline bool quantized_model_file(const uint8_t* data, size_t size, const std::string& path) {
  limit_tensor_bytes();
  std::string file;
  const bool whole_file = size >= 8 && std::memcmp(data, quant::kQModelMagic, 8) == 0;
  if (!whole_file && size > 0) {
    const char* payload = reinterpret_cast<const char*>(data + 1);
    const size_t n = size - 1;
    auto put = [&](uint64_t v, int bytes) {
      for (int i = 0; i < bytes; ++i) file.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    file.append(quant::kQModelMagic, 8);
    put(quant::kQModelVersion, 4);
    put(4, 4);  // sections
    put(n, 8);
    put(quant::fnv1a64(payload, n), 8);
    file.append(payload, n);
  } else {
    file.assign(reinterpret_cast<const char*>(data), size);
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  std::fwrite(file.data(), 1, file.size(), f);
  std::fclose(f);
  try {
    quant::QuantizedModelFile q = quant::read_quantized_model(path);
    quant::load_quantized_graph(q, path);
    return true;
  } catch (const Error&) {
    return false;
  }
}

// ONNX QDQ bytes -> the QDQ importer (FP32 graph + QuantConfig), then, when it
// imports, the quantized network lowered onto the integer kernels for one
// [1, C, 8, 8] batch (C from the model's input when it is 1..16, else 3) and
// one forward pass, so the lowering sees every config the importer accepts.
inline bool qdq_model(const uint8_t* data, size_t size, const std::string& name) {
  limit_tensor_bytes();
  try {
    const quant::QdqImport r =
        quant::import_qdq_from_memory(std::string(reinterpret_cast<const char*>(data), size), name);
    int64_t channels = 3;
    if (!r.graph.inputs.empty()) {
      const Shape& declared = r.graph.values[r.graph.inputs[0]].shape;
      if (declared.size() == 4 && declared[1] >= 1 && declared[1] <= 16) channels = declared[1];
    }
    const Shape shape{1, channels, 8, 8};
    Tensor x(DType::kF32, shape);
    float* px = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) px[i] = static_cast<float>((i * 37) % 19) / 9.f - 1.f;
    quant::QuantizedNetwork net(r.graph, r.file.config, shape, 1);
    net.forward(x);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace lapq::fuzz
