// Determinism on the embedded model (models/fashion_resnet.onnx), W8A8 and
// W4A4: the integer network gives bit-identical logits with 1 and 2 threads,
// run after run and after a save / load; quantizing twice with the same
// seed gives identical step sizes and report. (test_quantized_network.cpp and
// test_lapq.cpp check the same on small graphs built in code.)
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "api/quantize.h"

namespace lapq {
namespace {

const std::string kModels = std::string(LAPQ_SOURCE_DIR) + "/models/";

// The 8 reference test images the model ships with, [8, 1, 28, 28], labels 0..7.
Tensor reference_input() {
  Tensor x(DType::kF32, {8, 1, 28, 28});
  std::ifstream f(kModels + "fashion_resnet_ref_input.bin", std::ios::binary);
  f.read(static_cast<char*>(x.raw()), static_cast<std::streamsize>(x.nbytes()));
  EXPECT_EQ(f.gcount(), static_cast<std::streamsize>(x.nbytes()));
  return x;
}

QuantizedModel quantize_embedded(const Model& fp32, quant::Bits bits, quant::InitMethod method) {
  QuantizeOptions o;
  o.preset.bits = bits;
  o.lapq.method = method;
  o.lapq.quiet = true;
  o.lapq.num_threads = 1;  // the quantizer's own runs; inference threads are varied below
  o.lapq.max_evals = 40;
  o.lapq.pscan.count = 3;
  o.calib = quant::make_calibration(reference_input(), {0, 1, 2, 3, 4, 5, 6, 7}, 4);
  return quantize(fp32, o);
}

bool same_bits(const Tensor& a, const Tensor& b) { return a.equals(b); }

class EmbeddedModelDeterminism : public ::testing::TestWithParam<quant::Bits> {};

TEST_P(EmbeddedModelDeterminism, IntegerInferenceIsBitIdenticalAcrossThreadsAndRuns) {
  if (!std::filesystem::exists(kModels + "fashion_resnet.onnx")) GTEST_SKIP() << "default model absent";
  const Model fp32 = Model::load(kModels + "fashion_resnet.onnx");
  QuantizedModel qm = quantize_embedded(fp32, GetParam(), quant::InitMethod::kMax);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("lapq_determinism_" + std::to_string(::getpid()) + ".lapq")).string();
  qm.save(path);
  QuantizedModel one = QuantizedModel::load(path, 1), two = QuantizedModel::load(path, 2);
  std::filesystem::remove(path);
  const Tensor x = reference_input();
  const Tensor y1 = one.forward(x);
  ASSERT_EQ(y1.shape(), (Shape{8, 10}));
  EXPECT_TRUE(same_bits(y1, two.forward(x)));  // 1 vs 2 threads
  EXPECT_TRUE(same_bits(y1, one.forward(x)));  // the same network again
  EXPECT_TRUE(same_bits(y1, two.forward(x)));
  EXPECT_TRUE(same_bits(y1, qm.forward(x)));   // the in-memory model before saving
  // Batch composition does not change an image's logits either.
  const Tensor first = Tensor::from<float>({1, 1, 28, 28}, std::span<const float>(x.data<float>(), 28 * 28));
  const Tensor y_first = two.forward(first);
  EXPECT_EQ(std::memcmp(y_first.raw(), y1.raw(), 10 * sizeof(float)), 0);
}

TEST_P(EmbeddedModelDeterminism, SameSeedGivesSameStepSizesAndReport) {
  if (!std::filesystem::exists(kModels + "fashion_resnet.onnx")) GTEST_SKIP() << "default model absent";
  const Model fp32 = Model::load(kModels + "fashion_resnet.onnx");
  const QuantizedModel a = quantize_embedded(fp32, GetParam(), quant::InitMethod::kLapq);
  const QuantizedModel b = quantize_embedded(fp32, GetParam(), quant::InitMethod::kLapq);
  ASSERT_EQ(a.config().weights.size(), b.config().weights.size());
  ASSERT_GT(a.config().weights.size(), 0u);
  for (size_t i = 0; i < a.config().weights.size(); ++i)
    EXPECT_EQ(a.config().weights[i].alpha, b.config().weights[i].alpha) << i;
  ASSERT_EQ(a.config().acts.size(), b.config().acts.size());
  for (size_t i = 0; i < a.config().acts.size(); ++i)
    EXPECT_EQ(a.config().acts[i].alpha, b.config().acts[i].alpha) << i;
  EXPECT_GT(a.report().powell_evals, 0);
  EXPECT_EQ(a.report().powell_evals, b.report().powell_evals);
  EXPECT_EQ(a.report().final_loss, b.report().final_loss);
  // The JSON reports differ only in timings.
  ASSERT_EQ(a.report().stages.size(), b.report().stages.size());
  for (size_t i = 0; i < a.report().stages.size(); ++i) {
    EXPECT_EQ(a.report().stages[i].stage, b.report().stages[i].stage);
    EXPECT_EQ(a.report().stages[i].loss, b.report().stages[i].loss) << a.report().stages[i].stage;
  }
}

INSTANTIATE_TEST_SUITE_P(Bits, EmbeddedModelDeterminism, ::testing::Values(quant::Bits{8, 8}, quant::Bits{4, 4}),
                         [](const auto& info) { return quant::bits_name(info.param); });

}  // namespace
}  // namespace lapq
