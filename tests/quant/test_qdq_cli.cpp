// `lapq export --format onnx-qdq` and `lapq import` end to end on the embedded
// model: on-the-spot W8A8 export with its sidecar, import back, re-export, and
// the errors users can cause (wrong format, an FP32 file given to import).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/apps/cli_runner.h"

namespace lapq::testing {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(QdqCli, ExportImportReexport) {
  TempDir tmp;
  const std::string q = tmp.str("q.onnx"), lq = tmp.str("q.lapq"), back = tmp.str("back.lapq");
  RunResult r = run_command(lapq_bin() + " export --format onnx-qdq --bits w8a8 -t 1 --save-lapq " + lq + " " +
                            default_model() + " " + q);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("16 quantized weights"), std::string::npos) << r.output;
  ASSERT_TRUE(fs::exists(lq));
  // The sidecar carries the model's preprocessing and labels.
  const std::string sidecar = read_text(q + ".json");
  EXPECT_NE(sidecar.find("\"gray\""), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("q.onnx.labels.txt"), std::string::npos) << sidecar;
  EXPECT_NE(read_text(q + ".labels.txt").find("Ankle_boot"), std::string::npos);

  r = run_command(lapq_bin() + " import --format onnx-qdq " + q + " " + back);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("W8 symmetric"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("16 quantized weights, 15 quantized activations"), std::string::npos) << r.output;
  r = run_command(lapq_bin() + " export --format onnx-qdq --bias float " + back + " " + tmp.str("again.onnx"));
  EXPECT_EQ(r.status, 0) << r.output;
}

// A PyTorch export whose int8 weights use code -128 (tools/make_pytorch_qdq_fixture.py):
// every layer on the full-range grid, none in FP32; export of the .lapq keeps the grid.
TEST(QdqCli, ImportPyTorchFullRangeWeights) {
  TempDir tmp;
  const std::string src = std::string(LAPQ_SOURCE_DIR) + "/tests/quant/data/pytorch_qdq_fullrange.onnx";
  const std::string lq = tmp.str("pt.lapq"), again = tmp.str("again.onnx");
  RunResult r = run_command(lapq_bin() + " import --format onnx-qdq " + src + " " + lq);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Conv '/Conv': W8 symmetric-full per-channel"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Gemm '/Gemm': W8 symmetric-full"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("FP32"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4 quantized weights, 6 quantized activations"), std::string::npos) << r.output;
  r = run_command(lapq_bin() + " export --format onnx-qdq " + lq + " " + again);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_command(lapq_bin() + " import --format onnx-qdq " + again + " " + tmp.str("again.lapq"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Conv '/Conv_2': W8 symmetric-full per-channel"), std::string::npos) << r.output;
}

TEST(QdqCli, UserErrors) {
  TempDir tmp;
  RunResult r = run_command(lapq_bin() + " import --format onnx-qdq " + default_model() + " " + tmp.str("x.lapq"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no QuantizeLinear / DequantizeLinear"), std::string::npos) << r.output;
  r = run_command(lapq_bin() + " export --format tflite " + default_model() + " " + tmp.str("x.onnx"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("unknown format 'tflite'"), std::string::npos) << r.output;
  r = run_command(lapq_bin() + " import --format onnx-qdq " + tmp.str("missing.onnx") + " " + tmp.str("x.lapq"));
  EXPECT_EQ(r.status, 3) << r.output;
}

}  // namespace
}  // namespace lapq::testing
