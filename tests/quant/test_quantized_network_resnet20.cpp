// The shared CIFAR-10 ResNet-20 (BN folded, Relu fused into Conv / Add,
// option-A shortcuts) at W8A8 with max-abs / max clipping computed from a few
// golden inputs: logits close to FP32, top-1 agreement on most of the 16.
// Skips when ../shared/data/cifar10 is absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"
#include "quant/quantized_network.h"
#include "tests/integration/npy.h"

namespace lapq::quant {
namespace {

const std::string kDir = std::string(LAPQ_SHARED_DATA_DIR) + "/cifar10";

int argmax(const float* p, int n) { return static_cast<int>(std::max_element(p, p + n) - p); }

TEST(QuantizedNetworkResnet20, W8A8CloseToFp32) {
  if (!std::filesystem::exists(kDir + "/resnet20.onnx") || !std::filesystem::exists(kDir + "/resnet20_ref_input.npy"))
    GTEST_SKIP() << "no " << kDir << "/resnet20.onnx";
  Graph g = load_onnx(kDir + "/resnet20.onnx");
  optimize(g);
  const Tensor input = lapq::testing::read_npy_f32(kDir + "/resnet20_ref_input.npy");
  ASSERT_EQ(input.shape(), (Shape{16, 3, 32, 32}));

  // FP32 values of every tensor (for the activation ranges: the first 4 inputs only).
  PlanOptions keep;
  keep.reuse_memory = false;
  Plan fp(g, {input.shape()}, keep);
  const Tensor y_fp = fp.run({input})[0];
  const int64_t calib = 4;

  QuantConfig cfg;
  for (int n : quantizable_weight_nodes(g)) {
    if (g.nodes[n].op != "Conv") continue;  // the FC stays FP32 (its input is not a ReLU output)
    WeightQuant w;
    w.node = n;
    w.node_name = g.node_label(n);
    w.bits = 8;
    w.grid = GridKind::kSymmetric;
    w.per_channel = true;
    const Tensor m = weight_oc_first(g, n);
    for (int64_t oc = 0; oc < m.dim(0); ++oc) {
      float a = 0.f;
      for (int64_t k = 0; k < m.dim(1); ++k) a = std::max(a, std::fabs(m.data<float>()[oc * m.dim(1) + k]));
      w.alpha.push_back(a);
    }
    cfg.weights.push_back(w);
  }
  ActQuant in;
  in.value = g.inputs[0];
  in.value_name = g.values[in.value].name;
  in.grid = GridKind::kAsymmetric;
  const auto x = input.span<float>().first(static_cast<size_t>(calib * 3 * 32 * 32));
  in.lo = *std::min_element(x.begin(), x.end());
  in.alpha = *std::max_element(x.begin(), x.end());
  cfg.acts.push_back(in);
  for (int v : relu_output_values(g)) {
    ActQuant a;
    a.value = v;
    a.value_name = g.values[v].name;
    const Tensor& t = fp.value(v);
    const auto s = t.span<float>().first(static_cast<size_t>(t.numel() / t.dim(0) * calib));
    a.alpha = *std::max_element(s.begin(), s.end());
    cfg.acts.push_back(a);
  }
  EXPECT_EQ(cfg.weights.size(), 19u);
  EXPECT_EQ(cfg.acts.size(), 20u);

  QuantizedNetwork net(g, cfg, input.shape(), 2);
  for (size_t i = 0; i < cfg.weights.size(); ++i) EXPECT_TRUE(net.weight_is_integer(i)) << cfg.weights[i].node_name;
  const Tensor y_q = net.forward(input);
  ASSERT_EQ(y_q.shape(), y_fp.shape());
  int agree = 0;
  float max_diff = 0.f, max_abs = 0.f;
  for (int n = 0; n < 16; ++n) {
    agree += argmax(y_q.data<float>() + n * 10, 10) == argmax(y_fp.data<float>() + n * 10, 10);
    for (int k = 0; k < 10; ++k) {
      max_abs = std::max(max_abs, std::fabs(y_fp.data<float>()[n * 10 + k]));
      max_diff = std::max(max_diff, std::fabs(y_fp.data<float>()[n * 10 + k] - y_q.data<float>()[n * 10 + k]));
    }
  }
  std::cout << "resnet20 W8A8: top-1 agreement " << agree << "/16, max |logit diff| " << max_diff << " (max |logit| "
            << max_abs << ")\n";
  EXPECT_GE(agree, 14);  // measured 15 with ranges from 4 images, 16 with all 16
  EXPECT_LE(max_diff, 0.1f * max_abs);
}

}  // namespace
}  // namespace lapq::quant
