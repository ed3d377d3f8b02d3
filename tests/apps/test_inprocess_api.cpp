// The in-process API (api/lapq.h) on a graph built in code and on the
// embedded default model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "api/lapq.h"

using namespace lapq;

namespace {

int add_const(Graph& g, const std::string& name, Shape shape, std::mt19937& rng) {
  Tensor t(DType::kF32, shape);
  std::normal_distribution<float> d(0.f, 0.3f);
  for (float& v : t.span<float>()) v = d(rng);
  Value v;
  v.name = name;
  v.constant = t;
  return g.add_value(v);
}

int add_value(Graph& g, const std::string& name) {
  Value v;
  v.name = name;
  return g.add_value(v);
}

// x[N,3,8,8] -> Conv 3x3 (8) -> Relu -> GlobalAveragePool -> Flatten -> Gemm (5)
Graph tiny_cnn() {
  std::mt19937 rng(7);
  Graph g;
  g.name = "tiny";
  Value in;
  in.name = "x";
  in.shape = {-1, 3, 8, 8};
  in.has_shape = true;
  g.inputs.push_back(g.add_value(in));
  int w = add_const(g, "w", {8, 3, 3, 3}, rng), b = add_const(g, "b", {8}, rng);
  int fw = add_const(g, "fw", {5, 8}, rng), fb = add_const(g, "fb", {5}, rng);
  int c = add_value(g, "c"), r = add_value(g, "r"), p = add_value(g, "p"), f = add_value(g, "f"),
      y = add_value(g, "y");
  Node conv{"Conv", "conv", {g.inputs[0], w, b}, {c}, {}, {}};
  conv.attrs.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.add_node(conv);
  g.add_node(Node{"Relu", "relu", {c}, {r}, {}, {}});
  g.add_node(Node{"GlobalAveragePool", "gap", {r}, {p}, {}, {}});
  g.add_node(Node{"Flatten", "flat", {p}, {f}, {}, {}});
  Node gemm{"Gemm", "fc", {f, fw, fb}, {y}, {}, {}};
  gemm.attrs.set("transB", int64_t{1});
  g.add_node(gemm);
  g.outputs.push_back(y);
  g.validate_and_sort();
  return g;
}

Tensor random_input(Shape s, unsigned seed) {
  Tensor t(DType::kF32, s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (float& v : t.span<float>()) v = d(rng);
  return t;
}

}  // namespace

TEST(InprocessApi, ForwardMatchesReferenceAndClassifyIsConsistent) {
  Model fast(tiny_cnn());
  ModelOptions ref_opts;
  ref_opts.allow_fast = false;
  Model ref(tiny_cnn(), ref_opts);
  // Fusion happened: Relu folded into the Conv.
  EXPECT_EQ(fast.graph().nodes.size(), 4u);
  Tensor x = random_input(fast.input_shape(3), 1);
  Tensor a = fast.forward(x), b = ref.forward(x);
  ASSERT_EQ(a.shape(), (Shape{3, 5}));
  // K = 27 products per conv output and 8 per FC output: fp32 reordering
  // errors are ~1e-6 relative; 1e-4 absolute leaves a wide margin.
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-4);

  auto preds = fast.classify(x, 5);
  ASSERT_EQ(preds.size(), 3u);
  for (int n = 0; n < 3; ++n) {
    double total = 0;
    for (size_t k = 0; k < preds[n].size(); ++k) {
      total += preds[n][k].probability;
      if (k) {
        EXPECT_GE(preds[n][k - 1].probability, preds[n][k].probability);
      }
      EXPECT_EQ(preds[n][k].logit, a.data<float>()[n * 5 + preds[n][k].class_index]);
    }
    EXPECT_NEAR(total, 1.0, 1e-5);  // all 5 classes listed
  }
}

TEST(InprocessApi, WrongInputShapeIsAShapeMismatch) {
  Model m(tiny_cnn());
  try {
    m.forward(random_input({1, 3, 9, 9}, 2));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kShapeMismatch);
    EXPECT_NE(std::string(e.what()).find("[?,3,8,8]"), std::string::npos) << e.what();
  }
}

TEST(InprocessApi, PlansAreCachedPerBatchSize) {
  Model m(tiny_cnn());
  Tensor x1 = random_input(m.input_shape(1), 3);
  Tensor x4 = random_input(m.input_shape(4), 3);
  Tensor y1 = m.forward(x1);
  Tensor y4 = m.forward(x4);
  // Row 0 of the batch-4 input equals the batch-1 input (same seed, same first values).
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(y1.data<float>()[k], y4.data<float>()[k], 1e-5);
  EXPECT_EQ(&m.plan_for(m.input_shape(1)), &m.plan_for(m.input_shape(1)));
}

TEST(InprocessApi, DefaultModelLoadsWithSidecarAndLabels) {
  std::string path = std::string(LAPQ_SOURCE_DIR) + "/models/fashion_resnet.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "default model absent";
  Model m = Model::load(path);
  EXPECT_EQ(m.labels().size(), 10u);
  EXPECT_EQ(m.label(1), "Trouser");
  EXPECT_EQ(m.preprocess().channels, 1);
  EXPECT_EQ(m.input_shape(2), (Shape{2, 1, 28, 28}));
}

namespace {
std::vector<float> read_f32(const std::string& path, size_t count) {
  std::vector<float> v(count);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  size_t n = std::fread(v.data(), sizeof(float), count, f);
  std::fclose(f);
  return n == count ? v : std::vector<float>{};
}
}  // namespace

// FP32 parity with PyTorch on the embedded model's golden data (8 test images,
// preprocessed by the training script; BN kept in the file, folded by lapq).
// 1e-4 as for ResNet-20: fp32 summation order differs from PyTorch's.
TEST(InprocessApi, DefaultModelMatchesPyTorchLogits) {
  std::string dir = std::string(LAPQ_SOURCE_DIR) + "/models/";
  if (!std::filesystem::exists(dir + "fashion_resnet.onnx")) GTEST_SKIP() << "default model absent";
  std::vector<float> in = read_f32(dir + "fashion_resnet_ref_input.bin", 8 * 28 * 28);
  std::vector<float> ref = read_f32(dir + "fashion_resnet_ref_logits.bin", 8 * 10);
  ASSERT_FALSE(in.empty());
  ASSERT_FALSE(ref.empty());
  for (bool fold_bn : {true, false}) {
    ModelOptions o;
    o.passes.fold_batchnorm = fold_bn;
    Model m = Model::load(dir + "fashion_resnet.onnx", o);
    Tensor logits = m.forward(Tensor::from<float>({8, 1, 28, 28}, std::span<const float>(in)));
    ASSERT_EQ(logits.shape(), (Shape{8, 10}));
    for (int i = 0; i < 80; ++i) EXPECT_NEAR(logits.data<float>()[i], ref[i], 1e-4) << "index " << i << " fold " << fold_bn;
  }
}
