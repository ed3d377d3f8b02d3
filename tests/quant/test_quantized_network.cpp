// The quantized network executor on a ResNet-style graph built in code:
// lowering shapes, thread-count independence, prefix caching, parameter
// updates == fresh lowering, config errors naming the layer. The
// ISA-dependent checks are in test_quantized_network_isa.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "quant/grid.h"
#include "quant/qops/qops.h"
#include "tests/quant/test_quantized_network_util.h"

namespace lapq::quant {
namespace {

using testing::all_variants;
using testing::bits_equal;
using testing::count_op;
using testing::make_config;
using testing::make_resnet;
using testing::random_input;
using testing::Variant;

const Shape kShape{3, 3, 10, 10};

// The unfolded paper form keeps BN only where the conv runs in FP32 (stem).
TEST(QuantizedNetwork, LoweringShapes) {
  Variant v;
  v.quantize_input = false;
  const Graph g = make_resnet(false);
  const Tensor x = random_input(kShape, 2);
  QuantizedNetwork net(g, make_config(g, v, x), kShape);
  const Graph& lg = net.lowered_graph();
  EXPECT_EQ(count_op(lg, "BatchNormalization"), 1) << lg.to_string();  // the stem's
  EXPECT_EQ(count_op(lg, "Relu"), 1) << lg.to_string();                // the stem's (FP32 conv)
  // Add + Relu + Quantize fused into a lapq.QAdd, and that into the QConv producing its f32
  // input (lapq.QConv with the residual as input 5; LAPQ_FUSE_QADD=0 keeps the QAdd).
  int fused = 0;
  for (const Node& n : lg.nodes) fused += n.op == kQConvOp && n.has_input(5);
  EXPECT_EQ(count_op(lg, kQAddOp) + fused, 2) << lg.to_string();
  EXPECT_EQ(count_op(lg, "Add"), 0) << lg.to_string();
  EXPECT_FALSE(net.weight_is_integer(0));                              // stem: FP32 input
  EXPECT_FALSE(net.weight_is_integer(net.config().weights.size() - 1));  // fc: FP32 input
  for (size_t i = 1; i + 1 < net.config().weights.size(); ++i) EXPECT_TRUE(net.weight_is_integer(i)) << i;
  EXPECT_NE(net.summary().find("BN absorbed"), std::string::npos) << net.summary();
  // u8 NHWC values.
  const int u8 = lg.find_value("b1.conv1.relu_out:u8");
  ASSERT_GE(u8, 0);
  EXPECT_EQ(lg.values[u8].dtype, DType::kU8);
  EXPECT_EQ(lg.values[u8].shape, (Shape{3, 10, 10, 8}));
}

// (2) Thread count does not change a bit.
TEST(QuantizedNetwork, SameResultOneAndTwoThreads) {
  const Shape shape{8, 3, 16, 16};
  for (const Variant& v : all_variants()) {
    if (v.fold_bn) continue;
    SCOPED_TRACE(v.str());
    const Graph g = make_resnet(v.fold_bn);
    const Tensor x = random_input(shape, 3);
    const QuantConfig cfg = make_config(g, v, x);
    QuantizedNetwork one(g, cfg, shape, 1), two(g, cfg, shape, 2);
    const Tensor y1 = one.forward(x), y2 = two.forward(x);
    EXPECT_TRUE(bits_equal(y1, y2));
  }
}

// (4) Prefix caching: save the live values at a node, change a clipping value,
// restore, run the suffix: equals a full forward bit for bit.
TEST(QuantizedNetwork, PrefixCachingEqualsFullForward) {
  for (bool fold : {false, true}) {
    Variant v;
    v.wbits = 4;
    v.abits = 4;
    v.fold_bn = fold;
    v.bias_correction = true;
    const Graph g = make_resnet(fold);
    const Tensor x = random_input(kShape, 6);
    QuantizedNetwork net(g, make_config(g, v, x), kShape, 2);
    auto check = [&](int first, auto&& change) {
      Plan& p = net.plan();
      p.set_input(0, x);
      p.run_nodes(0, first);
      std::vector<std::pair<int, Tensor>> saved;
      for (int val : net.live_values_at(first)) saved.emplace_back(val, p.value(val).clone());
      change();
      p.run_nodes(0, static_cast<int>(p.graph().nodes.size()));  // scribble over every buffer
      for (auto& [val, t] : saved) std::memcpy(p.mutable_value(val).raw(), t.raw(), t.nbytes());
      const Tensor suffix = net.forward_from(first);
      const Tensor full = net.forward(x);
      EXPECT_TRUE(bits_equal(suffix, full)) << "first node " << first;
    };
    for (size_t i = 0; i < net.config().weights.size(); ++i) {
      std::vector<float> alpha = net.config().weights[i].alpha;
      for (float& a : alpha) a *= 0.8f;
      check(net.first_node_of_weight(i), [&] { net.set_weight_alpha(i, alpha); });
    }
    for (size_t j = 0; j < net.config().acts.size(); ++j) {
      const ActQuant a = net.config().acts[j];
      check(net.first_node_of_act(j), [&] { net.set_act_range(j, a.alpha * 0.7f, a.lo * 0.9f); });
    }
  }
}

// Updating clipping values == lowering the changed config from scratch.
TEST(QuantizedNetwork, UpdatesEqualFreshLowering) {
  for (const Variant& v : all_variants()) {
    SCOPED_TRACE(v.str());
    const Graph g = make_resnet(v.fold_bn);
    const Tensor x = random_input(kShape, 8);
    QuantConfig cfg = make_config(g, v, x);
    QuantizedNetwork net(g, cfg, kShape);
    for (size_t i = 0; i < cfg.weights.size(); i += 2) {
      for (float& a : cfg.weights[i].alpha) a *= 0.6f;
      net.set_weight_alpha(i, cfg.weights[i].alpha);
    }
    for (size_t j = 0; j < cfg.acts.size(); j += 2) {
      cfg.acts[j].alpha *= 0.5f;
      net.set_act_range(j, cfg.acts[j].alpha, cfg.acts[j].lo);
    }
    QuantizedNetwork fresh(g, cfg, kShape);
    EXPECT_TRUE(bits_equal(net.forward(x), fresh.forward(x)));
  }
}

// (5) Config errors name the layer.
void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(QuantizedNetwork, ConfigErrorsNameTheLayer) {
  const Graph g = make_resnet(false);
  const Tensor x = random_input(kShape, 9);
  const QuantConfig good = make_config(g, Variant{}, x);
  {
    QuantConfig c = good;
    c.weights[2].bits = 9;
    expect_error([&] { QuantizedNetwork(g, c, kShape); }, "'b1.conv2'");
  }
  {
    QuantConfig c = good;
    c.weights[1].alpha = {1.f, 2.f};  // per tensor wants one
    expect_error([&] { QuantizedNetwork(g, c, kShape); }, "'b1.conv1'");
    c = good;
    c.weights[1].per_channel = true;  // per channel wants 8
    expect_error([&] { QuantizedNetwork(g, c, kShape); }, "expected 8");
  }
  {
    QuantConfig c = good;
    c.acts[1].bits = 1;
    expect_error([&] { QuantizedNetwork(g, c, kShape); }, c.acts[1].value_name);
  }
  {
    QuantConfig c = good;
    c.weights[0].node_name = "not_the_stem";
    expect_error([&] { QuantizedNetwork(g, c, kShape); }, "not_the_stem");
  }
  {
    QuantizedNetwork net(g, good, kShape);
    expect_error([&] { net.set_weight_alpha(3, {1.f, 2.f, 3.f}); }, "'b2.conv1'");
  }
  {  // a non-constant weight: Conv(x, Relu(W))
    Graph h = g;
    Node& conv = h.nodes[0];
    ASSERT_EQ(conv.op, "Conv");
    Value wv;
    wv.name = "relu_w";
    const int w_out = h.add_value(std::move(wv));
    Node relu;
    relu.op = "Relu";
    relu.name = "weight_relu";
    relu.inputs = {conv.inputs[1]};
    relu.outputs = {w_out};
    h.nodes[0].inputs[1] = w_out;
    h.add_node(std::move(relu));
    h.validate_and_sort();
    int conv_id = -1;
    for (size_t i = 0; i < h.nodes.size(); ++i)
      if (h.nodes[i].name == "stem") conv_id = static_cast<int>(i);
    QuantConfig c;
    WeightQuant w;
    w.node = conv_id;
    w.alpha = {1.f};
    c.weights.push_back(w);
    expect_error([&] { QuantizedNetwork(h, c, kShape); }, "'stem'");
  }
}

TEST(QuantizedNetwork, Helpers) {
  const Graph unfolded = make_resnet(false), folded = make_resnet(true);
  EXPECT_EQ(quantizable_weight_nodes(unfolded).size(), 8u);
  EXPECT_EQ(quantizable_weight_nodes(folded).size(), 8u);
  // ReLU outputs: stem, b1.conv1, b1.add, b2.conv1, b2.add, dw.
  EXPECT_EQ(relu_output_values(unfolded).size(), 6u);
  EXPECT_EQ(relu_output_values(folded).size(), 6u);
  const Tensor w = weight_oc_first(folded, quantizable_weight_nodes(folded).back());
  EXPECT_EQ(w.shape(), (Shape{10, 16}));
}

}  // namespace
}  // namespace lapq::quant
