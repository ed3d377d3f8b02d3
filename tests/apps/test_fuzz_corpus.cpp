// Replays the fuzzers' whole seed corpus (tests/fuzz/corpus: valid files,
// their mutations and every input a fuzzer once crashed on) through the fuzz
// targets' own entry points (tests/fuzz/fuzz_entries.h), in the ordinary (and
// sanitizer) test run: each input either succeeds or throws lapq::Error.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/fuzz/fuzz_entries.h"

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

const uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

TEST(FuzzCorpus, OnnxInputsLoadOrFailCleanly) {
  int ok = 0, errors = 0;
  for (auto& [name, bytes] : corpus("onnx")) (lapq::fuzz::onnx_model(bytes_of(bytes), bytes.size(), name) ? ok : errors)++;
  EXPECT_GE(ok, 4);  // the valid seed models
  EXPECT_GE(errors, 1);
}

TEST(FuzzCorpus, ImagesDecodeOrFailCleanly) {
  int ok = 0, errors = 0;
  for (auto& [name, bytes] : corpus("image")) (lapq::fuzz::image(bytes_of(bytes), bytes.size(), name) ? ok : errors)++;
  EXPECT_GE(ok, 6);
  EXPECT_GE(errors, 1);
}

TEST(FuzzCorpus, CliValuesParseOrFailCleanly) {
  for (auto& [name, text] : corpus("cli_values")) lapq::fuzz::cli_value(text, name);
}

// Whole files and bare payloads (wrapped in a valid header and checksum).
TEST(FuzzCorpus, QuantizedModelFilesLoadOrFailCleanly) {
  const std::string path = std::string(LAPQ_BINARY_DIR) + "/fuzz_corpus_replay.lapq";
  int ok = 0, errors = 0;
  for (auto& [name, bytes] : corpus("qmodel"))
    (lapq::fuzz::quantized_model_file(bytes_of(bytes), bytes.size(), path) ? ok : errors)++;
  std::filesystem::remove(path);
  EXPECT_GE(ok, 2);      // the whole file and its payload
  EXPECT_GE(errors, 1);  // the truncated file
}

// QDQ models: the three valid seeds (lapq's export, ORT-style, PyTorch-style)
// import and run one batch on the integer network; every broken_* model and
// every regression input is refused with lapq::Error.
TEST(FuzzCorpus, QdqModelsImportAndRunOrFailCleanly) {
  int ok = 0, errors = 0;
  for (auto& [name, bytes] : corpus("qdq")) {
    const bool accepted = lapq::fuzz::qdq_model(bytes_of(bytes), bytes.size(), name);
    (accepted ? ok : errors)++;
    if (name.ends_with(".onnx") && name.starts_with("qdq_")) {
      EXPECT_TRUE(accepted) << name;
    }
    if (name.starts_with("broken_")) {
      EXPECT_FALSE(accepted) << name;
    }
  }
  EXPECT_GE(ok, 3);
  EXPECT_GE(errors, 6);
}
