// The real model: PyTorch's ResNet-20 export loads, folds down to compute ops
// only, and reproduces PyTorch's logits on the golden inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"
#include "tests/integration/npy.h"

namespace lapq {
namespace {

const std::string kDir = std::string(LAPQ_SHARED_DATA_DIR) + "/cifar10";

bool have_model() {
  return std::filesystem::exists(kDir + "/resnet20.onnx") && std::filesystem::exists(kDir + "/resnet20_ref_input.npy") &&
         std::filesystem::exists(kDir + "/resnet20_ref_logits.npy");
}

std::map<std::string, int> op_counts(const Graph& g) {
  std::map<std::string, int> c;
  for (const Node& n : g.nodes) ++c[n.op];
  return c;
}

TEST(Resnet20, FoldsToComputeOpsOnly) {
  if (!have_model()) GTEST_SKIP() << "no " << kDir << "/resnet20.onnx";
  Graph g = load_onnx(kDir + "/resnet20.onnx");
  EXPECT_EQ(g.opset, 13);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].shape, (Shape{-1, 3, 32, 32}));
  optimize(g);
  std::cout << g.to_string();
  const std::set<std::string> allowed = {"Conv", "Add", "Slice", "Pad", "AveragePool", "Flatten", "Gemm"};
  for (const auto& [op, count] : op_counts(g)) EXPECT_TRUE(allowed.count(op)) << op << " x" << count << " left after folding";
  auto c = op_counts(g);
  EXPECT_EQ(c["Conv"], 19);
  EXPECT_EQ(c["Add"], 9);
  EXPECT_EQ(c["Pad"], 2);  // the shortcut pads; the zero Pad before AveragePool is gone
  EXPECT_EQ(c["Relu"], 0);  // all fused
  int relu_fused = 0;
  for (const Node& n : g.nodes) relu_fused += n.activation.kind == FusedActivation::Kind::kRelu;
  EXPECT_EQ(relu_fused, 19);
  // The symbolic batch survives the passes.
  EXPECT_EQ(g.values[g.outputs[0]].shape, (Shape{-1, 10}));
}

// all_passes = false: only constant folding (the export's Pad pads are
// computed at run time and must be folded before planning), so BN-free
// unfused graphs are checked too.
void check_parity(bool allow_fast, bool all_passes) {
  Graph g = load_onnx(kDir + "/resnet20.onnx");
  PassOptions passes;
  if (!all_passes) passes = {.fold_constants = true, .fold_batchnorm = false, .fuse_activations = false, .eliminate_dead = false};
  optimize(g, passes);
  Tensor input = testing::read_npy_f32(kDir + "/resnet20_ref_input.npy");
  Tensor expected = testing::read_npy_f32(kDir + "/resnet20_ref_logits.npy");
  ASSERT_EQ(input.shape(), (Shape{16, 3, 32, 32}));
  ASSERT_EQ(expected.shape(), (Shape{16, 10}));
  PlanOptions opt;
  opt.allow_fast = allow_fast;
  Plan plan(std::move(g), {input.shape()}, opt);
  std::vector<Tensor> out = plan.run({input});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].shape(), expected.shape());
  double max_err = 0;
  for (int64_t i = 0; i < expected.numel(); ++i)
    max_err = std::max(max_err, static_cast<double>(std::fabs(out[0].data<float>()[i] - expected.data<float>()[i])));
  std::cout << "resnet20 " << (allow_fast ? "fast" : "reference") << (all_passes ? " all passes" : " folding only")
            << ": max |logit - pytorch| = " << max_err << "\n";
  EXPECT_LE(max_err, 1e-4);
}

TEST(Resnet20, LogitsMatchPyTorchFast) {
  if (!have_model()) GTEST_SKIP() << "no " << kDir << "/resnet20.onnx";
  check_parity(true, true);
}

TEST(Resnet20, LogitsMatchPyTorchReference) {
  if (!have_model()) GTEST_SKIP() << "no " << kDir << "/resnet20.onnx";
  check_parity(false, true);
}

TEST(Resnet20, LogitsMatchPyTorchFoldingOnly) {
  if (!have_model()) GTEST_SKIP() << "no " << kDir << "/resnet20.onnx";
  check_parity(false, false);
}

}  // namespace
}  // namespace lapq
