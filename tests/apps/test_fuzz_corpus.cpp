// Replays the fuzzers' whole seed corpus (tests/fuzz/corpus: valid files,
// their mutations and every input a fuzzer once crashed on) through the same
// entry points as the fuzz targets, in the ordinary (and sanitizer) test run:
// each input either succeeds or throws lapq::Error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/image/image.h"
#include "frontends/image/preprocess.h"
#include "frontends/image/preprocess_config.h"
#include "frontends/onnx/onnx_loader.h"
#include "quant/qmodel_file.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::pair<std::string, std::string>> corpus(const std::string& kind) {
  std::vector<std::pair<std::string, std::string>> files;
  fs::path dir = fs::path(LAPQ_SOURCE_DIR) / "tests/fuzz/corpus" / kind;
  for (auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    files.emplace_back(e.path().filename().string(), std::string(std::istreambuf_iterator<char>(in), {}));
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST(FuzzCorpus, OnnxInputsLoadOrFailCleanly) {
  int ok = 0, errors = 0;
  for (auto& [name, bytes] : corpus("onnx")) {
    try {
      lapq::Graph g = lapq::load_onnx_from_memory(bytes.data(), bytes.size(), name, "");
      lapq::optimize(g);
      std::vector<lapq::Shape> shapes;
      for (int v : g.inputs) {
        lapq::Shape s = g.values[v].shape;
        for (int64_t& d : s) if (d < 0) d = 1;
        shapes.push_back(s);
      }
      lapq::infer_shapes(g, shapes);
      ++ok;
    } catch (const lapq::Error&) {
      ++errors;
    }
  }
  EXPECT_GE(ok, 4);  // the valid seed models
  EXPECT_GE(errors, 1);
}

TEST(FuzzCorpus, ImagesDecodeOrFailCleanly) {
  int ok = 0, errors = 0;
  for (auto& [name, bytes] : corpus("image")) {
    try {
      lapq::Image img = lapq::decode_image_memory(
          {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, lapq::DecodeChannels::kRgb, name);
      lapq::PreprocessConfig cfg;
      cfg.height = cfg.width = cfg.crop_h = cfg.crop_w = 32;
      cfg.resize_short = 36;
      lapq::preprocess_image(img, cfg, name);
      ++ok;
    } catch (const lapq::Error&) {
      ++errors;
    }
  }
  EXPECT_GE(ok, 6);
  EXPECT_GE(errors, 1);
}

TEST(FuzzCorpus, CliValuesParseOrFailCleanly) {
  for (auto& [name, text] : corpus("cli_values")) {
    try {
      lapq::PreprocessConfig cfg;
      lapq::apply_preprocess_overrides(cfg, {text});
    } catch (const lapq::Error&) {
    }
    try {
      lapq::parse_preprocess_sidecar(text, name);
    } catch (const lapq::Error&) {
    }
  }
}

// Whole files and bare payloads (fuzz_qmodel_file wraps a payload in a valid
// header and checksum; the replay does the same).
TEST(FuzzCorpus, QuantizedModelFilesLoadOrFailCleanly) {
  const std::string path = std::string(LAPQ_BINARY_DIR) + "/fuzz_corpus_replay.lapq";
  int ok = 0, errors = 0;
  for (auto& [name, bytes] : corpus("qmodel")) {
    std::string file;
    if (bytes.compare(0, 8, std::string(lapq::quant::kQModelMagic, 8)) == 0) {
      file = bytes;
    } else {
      const std::string payload = bytes.substr(1);
      auto put = [&](uint64_t v, int n) { for (int i = 0; i < n; ++i) file.push_back(char((v >> (8 * i)) & 0xff)); };
      file.append(lapq::quant::kQModelMagic, 8);
      put(lapq::quant::kQModelVersion, 4);
      put(4, 4);
      put(payload.size(), 8);
      put(lapq::quant::fnv1a64(payload.data(), payload.size()), 8);
      file += payload;
    }
    std::ofstream(path, std::ios::binary) << file;
    try {
      lapq::quant::QuantizedModelFile q = lapq::quant::read_quantized_model(path);
      lapq::quant::load_quantized_graph(q, path);
      ++ok;
    } catch (const lapq::Error&) {
      ++errors;
    }
  }
  std::filesystem::remove(path);
  EXPECT_GE(ok, 2);      // the whole file and its payload
  EXPECT_GE(errors, 1);  // the truncated file
}
