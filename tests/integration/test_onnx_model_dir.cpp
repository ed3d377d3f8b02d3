// Optional parity check on more exported models: every <name>.onnx in
// $LAPQ_ONNX_MODELS_DIR that has <name>_in.npy and <name>_out.npy (float32,
// written by tests/integration/export_torchvision_models.py) must reproduce
// the framework's outputs. Skipped when the variable is unset.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"
#include "tests/integration/npy.h"

namespace lapq {
namespace {

namespace fs = std::filesystem;

// |lapq - framework| relative to the largest |framework output|: FP32
// reassociation (BN folding, blocked GEMMs) over ~50 layers stays far below.
constexpr double kRelTol = 1e-4;

TEST(OnnxModelDir, OutputsMatchTheFramework) {
  const char* dir = std::getenv("LAPQ_ONNX_MODELS_DIR");
  if (!dir || !*dir) GTEST_SKIP() << "LAPQ_ONNX_MODELS_DIR is not set";
  int checked = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".onnx") continue;
    const std::string stem = (e.path().parent_path() / e.path().stem()).string();
    if (!fs::exists(stem + "_in.npy") || !fs::exists(stem + "_out.npy")) continue;
    SCOPED_TRACE(e.path().string());
    Tensor input = testing::read_npy_f32(stem + "_in.npy");
    Tensor expected = testing::read_npy_f32(stem + "_out.npy");
    for (bool fast : {true, false}) {
      Graph g = load_onnx(e.path().string());
      const size_t loaded_nodes = g.nodes.size();
      optimize(g);
      // ShuffleNet's x.view(x.size(0), ...) needs the batch to fold.
      specialize_input_shapes(g, {input.shape()});
      const size_t optimized_nodes = g.nodes.size();
      Plan plan(std::move(g), {input.shape()}, PlanOptions{.allow_fast = fast});
      Tensor out = plan.run({input})[0];
      ASSERT_EQ(out.shape(), expected.shape());
      double max_err = 0, max_ref = 0;
      for (int64_t i = 0; i < out.numel(); ++i) {
        max_err = std::max(max_err, static_cast<double>(std::fabs(out.data<float>()[i] - expected.data<float>()[i])));
        max_ref = std::max(max_ref, static_cast<double>(std::fabs(expected.data<float>()[i])));
      }
      std::cout << e.path().filename().string() << (fast ? " fast" : " reference") << ": " << loaded_nodes << " -> "
                << optimized_nodes << " nodes, max |diff| " << max_err << " (max |output| " << max_ref << ")\n";
      EXPECT_LE(max_err, kRelTol * std::max(1.0, max_ref));
    }
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no <name>.onnx with <name>_in.npy / <name>_out.npy in " << dir;
}

}  // namespace
}  // namespace lapq
