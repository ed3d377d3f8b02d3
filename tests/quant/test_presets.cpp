// Presets choose the right tensors on a small ResNet-style graph built in code.
#include <gtest/gtest.h>

#include <algorithm>

#include "engine/error.h"
#include "engine/passes/passes.h"
#include "quant/presets.h"
#include "test_quantized_network_util.h"

namespace lapq::quant {
namespace {

Graph prepared(Preset p) {
  Graph g = testing::make_resnet(/*fold_bn=*/false);
  optimize(g, preset_pass_options(p));
  return g;
}

std::vector<std::string> weight_names(const QuantConfig& c) {
  std::vector<std::string> n;
  for (const WeightQuant& w : c.weights) n.push_back(w.node_name);
  return n;
}

TEST(Presets, ParseBits) {
  EXPECT_EQ(parse_bits("w4a4").w, 4);
  EXPECT_EQ(parse_bits("W3A2").a, 2);
  EXPECT_EQ(parse_bits("w4").a, 8);
  EXPECT_EQ(parse_bits("a5").w, 8);
  EXPECT_EQ(bits_name({4, 8}), "w4a8");
  for (const char* bad : {"", "w9a4", "w1a4", "4a4", "wa4", "a4w4", "w4a4x", "w44a4"})
    EXPECT_THROW(parse_bits(bad), Error) << bad;
  EXPECT_THROW(parse_preset("fast"), Error);
}

TEST(Presets, PaperExcludesFirstAndLastConvAndReluKeepsBn) {
  const Graph g = prepared(Preset::kPaper);
  EXPECT_TRUE(std::any_of(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op == "BatchNormalization"; }));
  PresetOptions o;
  o.preset = Preset::kPaper;
  o.bits = {4, 4};
  const QuantConfig c = make_preset_config(g, o);
  EXPECT_FALSE(c.batchnorm_folded);
  EXPECT_EQ(c.preset, "paper");
  // Convs in node order: stem, b1.conv1, b1.conv2, b2.conv1, b2.conv2, b2.proj, dw; FC stays FP32.
  const std::vector<std::string> want = {"b1.conv1", "b1.conv2", "b2.conv1", "b2.conv2", "b2.proj"};
  std::vector<std::string> got = weight_names(c);
  std::sort(got.begin(), got.end());
  std::vector<std::string> w = want;
  std::sort(w.begin(), w.end());
  EXPECT_EQ(got, w);
  for (const WeightQuant& q : c.weights) {
    EXPECT_EQ(q.grid, GridKind::kLapqMidRise);
    EXPECT_EQ(q.bits, 4);
    EXPECT_FALSE(q.per_channel);
    EXPECT_TRUE(q.bias_correction);
  }
  // ReLU outputs in order: stem.relu, b1.conv1.relu, b1.add(+relu), b2.conv1.relu, b2.add(+relu), dw.relu.
  const std::vector<int> relus = relu_output_values(g);
  ASSERT_EQ(relus.size(), 6u);
  ASSERT_EQ(c.acts.size(), 4u);
  for (size_t j = 0; j < 4; ++j) {
    EXPECT_EQ(c.acts[j].value, relus[j + 1]);
    EXPECT_EQ(c.acts[j].grid, GridKind::kUnsigned);
    EXPECT_EQ(c.acts[j].bits, 4);
  }
  for (int v : g.inputs)
    for (const ActQuant& a : c.acts) EXPECT_NE(a.value, v);
}

TEST(Presets, DeployQuantizesEveryLayerWithFirstAndLastAt8Bits) {
  const Graph g = prepared(Preset::kDeploy);
  EXPECT_FALSE(std::any_of(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op == "BatchNormalization"; }));
  PresetOptions o;
  o.bits = {4, 4};
  o.per_channel = true;
  const QuantConfig c = make_preset_config(g, o);
  EXPECT_TRUE(c.batchnorm_folded);
  ASSERT_EQ(c.weights.size(), 8u);  // 7 convs + FC
  EXPECT_EQ(c.weights.front().node_name, "stem");
  EXPECT_EQ(c.weights.back().node_name, "fc");
  EXPECT_EQ(c.weights.front().bits, 8);
  EXPECT_EQ(c.weights.back().bits, 8);
  for (size_t i = 1; i + 1 < c.weights.size(); ++i) {
    EXPECT_EQ(c.weights[i].bits, 4);
    EXPECT_EQ(c.weights[i].grid, GridKind::kSymmetric);
    EXPECT_TRUE(c.weights[i].per_channel);
    EXPECT_FALSE(c.weights[i].bias_correction);
  }
  // The network input and the FC's input are asymmetric at 8 bits; ReLU outputs unsigned at 4.
  ASSERT_FALSE(c.acts.empty());
  EXPECT_EQ(c.acts.front().value, g.inputs[0]);
  EXPECT_EQ(c.acts.front().grid, GridKind::kAsymmetric);
  EXPECT_EQ(c.acts.front().bits, 8);
  const int fc_in = g.nodes[c.weights.back().node].inputs[0];
  const auto fc_act = std::find_if(c.acts.begin(), c.acts.end(), [&](const ActQuant& a) { return a.value == fc_in; });
  ASSERT_NE(fc_act, c.acts.end());
  EXPECT_EQ(fc_act->bits, 8);
  const std::vector<int> relus = relu_output_values(g);
  for (int v : relus) {
    const auto it = std::find_if(c.acts.begin(), c.acts.end(), [&](const ActQuant& a) { return a.value == v; });
    ASSERT_NE(it, c.acts.end()) << g.values[v].name;
    EXPECT_EQ(it->grid, GridKind::kUnsigned);
  }
  // Every quantized layer reads a quantized activation (so it runs on the integer kernels).
  for (const WeightQuant& w : c.weights) {
    const int in = g.nodes[w.node].inputs[0];
    EXPECT_TRUE(std::any_of(c.acts.begin(), c.acts.end(), [&](const ActQuant& a) { return a.value == in; }))
        << w.node_name;
  }
}

TEST(Presets, LayerOverridesAndErrors) {
  const Graph g = prepared(Preset::kDeploy);
  PresetOptions o;
  o.bits = {4, 4};
  o.first_last_bits = 0;
  add_layer_bits(o, "b1.conv1=w2a3");
  const QuantConfig c = make_preset_config(g, o);
  EXPECT_EQ(c.weights.front().bits, 4);  // first_last_bits = 0: like the others
  for (const WeightQuant& w : c.weights) {
    if (w.node_name != "b1.conv1") continue;
    EXPECT_EQ(w.bits, 2);
    const int in = g.nodes[w.node].inputs[0];
    for (const ActQuant& a : c.acts) {
      if (a.value == in) { EXPECT_EQ(a.bits, 3); }
    }
  }
  PresetOptions bad = o;
  add_layer_bits(bad, "nope=w8a8");
  EXPECT_THROW(make_preset_config(g, bad), Error);
  EXPECT_THROW(add_layer_bits(bad, "w8a8"), Error);
  EXPECT_THROW(add_layer_bits(bad, "x=w9"), Error);
}

}  // namespace
}  // namespace lapq::quant
