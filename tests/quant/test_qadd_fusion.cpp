// The lowering's fused residual add: a lapq.QConv whose f32 output only a
// lapq.QAdd reads runs as one node (quant/qops/qops.h, kernels/conv.h
// ResidualAddU8). The fused network must equal the unfused one bit for bit —
// logits and every fused node's codes — for W8A8 / W4A8 / W4A4 / W2A4, 1-3
// threads, the reference kernels, parameter updates and prefix caching; the
// unfused forms are LAPQ_FUSE_QADD=0 and reuse_memory = false (every value
// observable). Graphs: the ResNet-style test graph (residual in u8 codes, and
// in f32 from a second QConv: the downsampling block) and one whose adds follow
// a 7x7 conv on the 3-channel input (column-window path), a depthwise conv and
// a 1x1 projection. Run under every LAPQ_MAX_ISA cap.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>

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

int fused_nodes(const Graph& lg) {
  int n = 0;
  for (const Node& node : lg.nodes) n += node.op == kQConvOp && node.has_input(5);
  return n;
}

// A network lowered with LAPQ_FUSE_QADD=0.
std::unique_ptr<QuantizedNetwork> unfused_by_env(const Graph& g, const QuantConfig& cfg, const Shape& shape,
                                                 int threads) {
  setenv("LAPQ_FUSE_QADD", "0", 1);
  auto net = std::make_unique<QuantizedNetwork>(g, cfg, shape, threads);
  unsetenv("LAPQ_FUSE_QADD");
  return net;
}

// input -> stem 3x3 + Relu (a0); 7x7 conv on the input + a0 -> Relu (a1); depthwise
// 3x3 on a1 + a1 -> Relu (a2); 1x1 expand + Relu, 1x1 project + a2 -> Relu (a3);
// GAP, Flatten, Gemm.
Graph make_paths_net(bool fold_bn) {
  testing::NetBuilder b(fold_bn, 11);
  const int x = b.image_input();
  const int a0 = b.conv_bn("stem", x, 3, 16, 3, 1, 1, true);
  const int c7 = b.conv_bn("c7", x, 3, 16, 7, 1, 1, false);
  const int a1 = b.add_relu("add1", c7, a0);
  const int dw = b.conv_bn("dw", a1, 16, 16, 3, 1, 16, false);
  const int a2 = b.add_relu("add2", a1, dw);  // the conv is the Add's second input
  const int e = b.conv_bn("expand", a2, 16, 48, 1, 1, 1, true);
  const int pr = b.conv_bn("project", e, 48, 16, 1, 1, 1, false);
  const int a3 = b.add_relu("add3", pr, a2);
  b.classifier_head(a3, 16);
  b.g.validate_and_sort();
  return b.g;
}

// Codes of every fused node's output, copied right after the node ran.
std::map<std::string, Tensor> fused_codes(QuantizedNetwork& net, const Tensor& x) {
  std::map<std::string, Tensor> codes;
  const Graph& lg = net.lowered_graph();
  net.plan().set_observer([&](int node, Plan& p) {
    const Node& n = lg.nodes[node];
    if (n.op == kQConvOp && n.has_input(5)) codes[lg.values[n.outputs[0]].name] = p.value(n.outputs[0]).clone();
  });
  net.forward(x);
  net.plan().set_observer({});
  return codes;
}

void check_graph(const Graph& g, const Variant& v, const Shape& shape, int expect_fused) {
  SCOPED_TRACE(v.str());
  const Tensor x = random_input(shape, 5);
  const QuantConfig cfg = make_config(g, v, x);
  QuantizedNetwork fused(g, cfg, shape, 2);
  const Graph& lg = fused.lowered_graph();
  ASSERT_EQ(fused_nodes(lg), expect_fused) << lg.to_string();
  EXPECT_NE(fused.summary().find("QConv+QAdd"), std::string::npos) << fused.summary();
  for (size_t i = 0; i < lg.nodes.size(); ++i)
    if (lg.nodes[i].op == kQConvOp && lg.nodes[i].has_input(5)) {
      EXPECT_TRUE(fused.plan().impl_name(static_cast<int>(i)).ends_with("+qadd"))
          << fused.plan().impl_name(static_cast<int>(i));
    }
  const auto by_env = unfused_by_env(g, cfg, shape, 2);
  EXPECT_EQ(fused_nodes(by_env->lowered_graph()), 0);
  EXPECT_EQ(count_op(by_env->lowered_graph(), kQAddOp), count_op(lg, kQAddOp) + expect_fused);
  PlanOptions observable;
  observable.reuse_memory = false;
  QuantizedNetwork unfused(g, cfg, shape, observable);
  EXPECT_EQ(fused_nodes(unfused.lowered_graph()), 0);
  PlanOptions ref_opt;
  ref_opt.allow_fast = false;
  QuantizedNetwork reference(g, cfg, shape, ref_opt);  // fused, reference kernels
  EXPECT_EQ(fused_nodes(reference.lowered_graph()), expect_fused);

  const Tensor y = fused.forward(x);
  EXPECT_TRUE(bits_equal(y, by_env->forward(x)));
  EXPECT_TRUE(bits_equal(y, unfused.forward(x)));
  EXPECT_TRUE(bits_equal(y, reference.forward(x)));
  // Each fused node's codes == the unfused QAdd's output (same value name).
  const std::map<std::string, Tensor> codes = fused_codes(fused, x);
  ASSERT_EQ(codes.size(), size_t(expect_fused));
  for (const auto& [name, t] : codes) {
    const int id = unfused.lowered_graph().find_value(name);
    ASSERT_GE(id, 0) << name;
    EXPECT_EQ(unfused.lowered_graph().nodes[unfused.lowered_graph().values[id].producer].op, kQAddOp);
    EXPECT_TRUE(bits_equal(t, unfused.plan().value(id))) << name;
  }
  for (int threads : {1, 3}) {
    QuantizedNetwork other(g, cfg, shape, threads);
    EXPECT_TRUE(bits_equal(y, other.forward(x))) << threads << " threads";
  }
}

TEST(QAddFusion, ResNetGraphEqualsUnfused) {
  const Shape shape{2, 3, 12, 12};
  const std::vector<Variant> vs = all_variants();  // 8 per bit width: take 2 of each (both BN forms)
  for (size_t i = 0; i < vs.size(); ++i)
    if (i % 8 == 0 || i % 8 == 7) check_graph(make_resnet(vs[i].fold_bn), vs[i], shape, 2);
}

TEST(QAddFusion, ColumnDepthwiseAndProjectionPaths) {
  const Shape shape{1, 3, 14, 14};
  const std::vector<Variant> vs = all_variants();
  for (size_t i = 0; i < vs.size(); ++i)
    if (i % 8 == 3 || i % 8 == 4) check_graph(make_paths_net(vs[i].fold_bn), vs[i], shape, 3);
}

// Clipping-value updates through the fused node (its conv's weights and input grid,
// the residual's grid, the output grid) == an unfused network lowered from the
// changed config; prefix caching from the fused node's index.
TEST(QAddFusion, UpdatesAndPrefixCaching) {
  const Shape shape{2, 3, 10, 10};
  Variant v;
  v.wbits = 4;
  v.per_channel = true;
  v.bias_correction = true;
  const Graph g = make_resnet(true);
  const Tensor x = random_input(shape, 9);
  QuantConfig cfg = make_config(g, v, x);
  QuantizedNetwork net(g, cfg, shape, 2);
  ASSERT_EQ(fused_nodes(net.lowered_graph()), 2);
  for (size_t i = 0; i < cfg.weights.size(); ++i) {
    for (float& a : cfg.weights[i].alpha) a *= 0.7f;
    const int first = net.first_node_of_weight(i);
    Plan& p = net.plan();
    p.set_input(0, x);
    p.run_nodes(0, first);
    std::vector<std::pair<int, Tensor>> saved;
    for (int val : net.live_values_at(first)) saved.emplace_back(val, p.value(val).clone());
    net.set_weight_alpha(i, cfg.weights[i].alpha);
    for (auto& [val, t] : saved) std::memcpy(p.mutable_value(val).raw(), t.raw(), t.nbytes());
    const Tensor suffix = net.forward_from(first);
    EXPECT_TRUE(bits_equal(suffix, unfused_by_env(g, cfg, shape, 1)->forward(x))) << "weight " << i;
  }
  for (size_t j = 0; j < cfg.acts.size(); ++j) {
    cfg.acts[j].alpha *= 0.6f;
    net.set_act_range(j, cfg.acts[j].alpha, cfg.acts[j].lo);
    EXPECT_TRUE(bits_equal(net.forward(x), unfused_by_env(g, cfg, shape, 1)->forward(x))) << "act " << j;
  }
}

}  // namespace
}  // namespace lapq::quant
