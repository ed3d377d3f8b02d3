// Residual fusion (engine/passes/residual_fusion.h): which Conv -> Add pairs
// a Plan fuses, and that the fused kernel computes what the Conv and the Add
// compute.
//
// Tolerance: the fused kernel is the convolution with one more summand (the
// residual r, already in dst), so the single-kernel bound of
// test_onednn_util.h applies with K + 1 terms and S = sum |w x| + |bias| + |r|
// (the reference convolution run on absolute values, plus |r|):
// |fused - ref| <= L 2 (K + 1) u S + 4 u |ref| + 1e-6. A residual added twice
// or not at all, or a wrong layout, moves outputs by about |r| ~ S / K or
// more, far above it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>

#include "engine/passes/residual_fusion.h"
#include "engine/plan.h"
#include "tests/engine/graph_builder.h"
#include "tests/engine/test_onednn_util.h"

namespace lapq {
namespace {

using test::abs_of;
using test::random_tensor;
using Kind = FusedActivation::Kind;

// A small graph: input (N, C, H, W), convolutions and Adds appended in order.
struct Builder : test::GraphBuilder {
  explicit Builder(Shape shape, uint32_t seed = 7) : rng(seed) { input(std::move(shape)); }
  int conv(int x, int64_t c, int64_t k, FusedActivation act = {}, int64_t stride = 1) {
    const float scale = 1.f / std::sqrt(static_cast<float>(c * k * k));
    Attributes a;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{stride, stride});
    a.set("pads", std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2});
    return node("Conv", {x, constant(random_tensor({c, c, k, k}, rng, -scale, scale)),
                         constant(random_tensor({c}, rng, -0.1f, 0.1f))},
                std::move(a), act);
  }
  int add(int a, int b, FusedActivation act = {}) { return node("Add", {a, b}, {}, act); }
  int relu(int x) { return node("Relu", {x}, {}); }
  // Shapes inferred, as the Plan has them.
  Graph finish(std::vector<int> outputs) {
    g.outputs = std::move(outputs);
    g.validate_and_sort();
    infer_shapes(g, {g.values[g.inputs[0]].shape});
    return g;
  }
  std::mt19937 rng;
};

std::vector<ResidualAdd> find(const Graph& g) {
  return find_residual_adds(g, std::vector<Layout>(g.values.size(), Layout::kPlain));
}

TEST(ResidualFusion, FindsTheBasicBlockPattern) {
  Builder b({1, 8, 6, 6});
  const int r = b.conv(0, 8, 3, {Kind::kRelu});  // node 0
  const int t = b.conv(r, 8, 3);                  // node 1 reads r: not fusable with residual r
  const int u = b.conv(t, 8, 1);                  // node 2
  const int y = b.add(u, r, {Kind::kRelu});       // node 3: u + r, r last read by node 1 < 2
  const Graph g = b.finish({b.conv(y, 8, 1)});
  const auto f = find(g);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].conv, 2);
  EXPECT_EQ(f[0].add, 3);
  EXPECT_EQ(f[0].residual, r);
}

TEST(ResidualFusion, BothInputsConvsFusesTheLaterOne) {
  Builder b({1, 8, 6, 6});
  const int x = b.conv(0, 8, 3, {Kind::kRelu});
  const int p = b.conv(x, 8, 1);  // node 1
  const int q = b.conv(x, 8, 1);  // node 2: computed last, fused; p is the residual
  const Graph g = b.finish({b.conv(b.add(p, q), 8, 1)});
  const auto f = find(g);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].conv, 2);
  EXPECT_EQ(f[0].residual, p);
}

TEST(ResidualFusion, DeclinesWhenTheSkippedValueOrTheResidualIsReadElsewhere) {
  {  // the convolution reads the residual itself: y = conv(r) + r
    Builder b({1, 8, 6, 6});
    const int r = b.conv(0, 8, 3, {Kind::kRelu});
    EXPECT_TRUE(find(b.finish({b.conv(b.add(b.conv(r, 8, 1), r), 8, 1)})).empty());
  }
  {  // the residual is read between the convolution and the Add
    Builder b({1, 8, 6, 6});
    const int r = b.conv(0, 8, 3, {Kind::kRelu});
    const int t = b.conv(0, 8, 1);
    const int z = b.relu(r);
    EXPECT_TRUE(find(b.finish({b.conv(b.add(t, r), 8, 1), z})).empty());
  }
  {  // the convolution output has a second reader
    Builder b({1, 8, 6, 6});
    const int r = b.conv(0, 8, 3, {Kind::kRelu});
    const int t = b.conv(0, 8, 1);
    EXPECT_TRUE(find(b.finish({b.conv(b.add(t, r), 8, 1), b.relu(t)})).empty());
  }
  {  // the convolution has its own activation
    Builder b({1, 8, 6, 6});
    const int r = b.conv(0, 8, 3, {Kind::kRelu});
    const int t = b.conv(0, 8, 1, {Kind::kRelu});
    EXPECT_TRUE(find(b.finish({b.conv(b.add(t, r), 8, 1)})).empty());
  }
  {  // the residual is the graph input; the Add's result is a graph output
    Builder b({1, 8, 6, 6});
    const int t = b.conv(0, 8, 3);
    const int y1 = b.add(t, 0);
    const int r = b.conv(y1, 8, 3, {Kind::kRelu});
    const int y2 = b.add(b.conv(y1, 8, 1), r);
    EXPECT_TRUE(find(b.finish({y2})).empty());
  }
}

// input x -> A: conv 3x3 + ReLU -> r;  B: conv kxk on x -> t;  y = act(t + r)
// (or r + t);  C: conv 1x1 on y -> output. B + Add is the fusable pair.
struct Block {
  Graph g;
  int r, t, y, a_node, b_node, add_node;
};
Block make_block(const Shape& in, int64_t k, FusedActivation act, bool residual_first, bool a_after_b) {
  Builder b(in, 11 + static_cast<uint32_t>(k));
  Block blk;
  const int64_t c = in[1];
  if (a_after_b) {  // both inputs are fusable convolutions: A (3x3), computed last, is fused, t is its residual
    blk.t = b.conv(0, c, k);
    blk.r = b.conv(0, c, 3);
  } else {
    blk.r = b.conv(0, c, 3, {Kind::kRelu});
    blk.t = b.conv(0, c, k);
  }
  blk.y = residual_first ? b.add(blk.r, blk.t, act) : b.add(blk.t, blk.r, act);
  blk.g = b.finish({b.conv(blk.y, c, 1)});
  blk.a_node = blk.g.values[blk.r].producer;
  blk.b_node = blk.g.values[blk.t].producer;
  blk.add_node = blk.g.values[blk.y].producer;
  return blk;
}

// Reference of one node on the given inputs; `abs` runs it on |inputs| (S).
Tensor reference(const Graph& g, int node, std::vector<Tensor> in, bool abs) {
  std::vector<const Tensor*> p;
  for (Tensor& t : in) {
    if (abs && t.dtype() == DType::kF32) t = abs_of(t);
    p.push_back(&t);
  }
  return run_reference(g, node, p).at(0);
}

void check_block(int64_t k, FusedActivation act, bool channels_last, int64_t N, int threads, bool residual_first,
                 bool a_after_b) {
  const Shape in{N, 16, 12, 12};  // 144 pixels: NCHW 1x1 convolutions run as a GEMM
  Block blk = make_block(in, k, act, residual_first, a_after_b);
  const std::string what = "k" + std::to_string(k) + " act" + std::to_string(int(act.kind)) +
                           (channels_last ? " nhwc" : " nchw") + " N" + std::to_string(N) + " t" +
                           std::to_string(threads) + (residual_first ? " r+t" : " t+r") + (a_after_b ? " A last" : "");
  PlanOptions po;
  po.num_threads = threads;
  po.channels_last = channels_last;
  Plan plan(blk.g, {in}, po);
  // Channels-last: every convolution writes NHWC in place. NCHW: only the
  // 1x1 GEMM adds in place (3x3 runs in NHWC with a dst reorder: declined).
  const int fused_conv = a_after_b ? blk.a_node : blk.b_node;
  const bool fused_is_1x1 = !a_after_b && k == 1;
  ASSERT_EQ(plan.residual_fusions(), channels_last || fused_is_1x1 ? 1 : 0) << what;
  std::mt19937 rng(5);
  const Tensor x = random_tensor(in, rng);
  const int residual = a_after_b ? blk.t : blk.r;

  // Unfused run (an observer sees every node): keep the residual it feeds the Add.
  Tensor r_value;
  plan.set_observer([&](int node, Plan& p) {
    if (p.graph().nodes[node].outputs[0] == residual) r_value = p.value(residual).clone();
  });
  const Tensor out_unfused = plan.run({x})[0];
  const Tensor y_unfused = plan.value(blk.y).clone();
  plan.set_observer({});
  const Tensor out_fused = plan.run({x})[0];
  const Tensor y_fused = plan.value(blk.y).clone();  // nothing after the last conv reuses y's buffer

  // y = act(conv(x) + r) for the fused convolution, bound with K + 1 terms.
  const Graph& g = plan.graph();
  const Tensor conv = reference(g, fused_conv, {x, g.values[g.nodes[fused_conv].inputs[1]].constant,
                                                g.values[g.nodes[fused_conv].inputs[2]].constant},
                                false);
  Tensor s = reference(g, fused_conv, {x, g.values[g.nodes[fused_conv].inputs[1]].constant,
                                       g.values[g.nodes[fused_conv].inputs[2]].constant},
                       true);
  Tensor y_ref = conv.clone();
  for (int64_t i = 0; i < y_ref.numel(); ++i) {
    y_ref.data<float>()[i] = act.apply(conv.data<float>()[i] + r_value.data<float>()[i]);
    s.data<float>()[i] += std::fabs(r_value.data<float>()[i]);
  }
  const int64_t K = 16 * (fused_conv == blk.b_node ? k * k : 9) + 1;
  test::expect_close(y_fused, y_ref, s, K, test::lipschitz_of(act), what + " fused y");
  test::expect_close(y_unfused, y_ref, s, K, test::lipschitz_of(act), what + " unfused y");
  // The last convolution read y in its stored layout: its output is C(y).
  const int c_node = g.values[g.outputs[0]].producer;
  std::vector<Tensor> c_in = {y_fused, g.values[g.nodes[c_node].inputs[1]].constant,
                              g.values[g.nodes[c_node].inputs[2]].constant};
  test::expect_close(out_fused, reference(g, c_node, c_in, false), reference(g, c_node, c_in, true), 16, 1.0,
                     what + " output");
  EXPECT_EQ(out_fused.shape(), out_unfused.shape());
}

TEST(ResidualFusion, FusedBlockMatchesConvPlusAdd) {
  for (bool channels_last : {true, false})
    for (int64_t k : {1, 3})
      for (FusedActivation act : {FusedActivation{}, FusedActivation{Kind::kRelu}, FusedActivation{Kind::kClip, 0, 6}})
        check_block(k, act, channels_last, 1, 1, false, false);
  check_block(3, {Kind::kRelu}, true, 2, 2, true, false);
  check_block(1, {Kind::kRelu}, false, 2, 2, true, false);
  check_block(1, {Kind::kRelu}, true, 1, 2, false, true);
  check_block(3, {}, true, 2, 1, true, true);
}

TEST(ResidualFusion, NotWithoutBufferReuse) {
  Block blk = make_block({1, 16, 12, 12}, 1, {Kind::kRelu}, false, false);
  PlanOptions po;
  po.num_threads = 1;
  po.reuse_memory = false;  // every value must stay readable: nothing is skipped
  EXPECT_EQ(Plan(blk.g, {{1, 16, 12, 12}}, po).residual_fusions(), 0);
}

// A ResNet-style network (basic blocks, a strided 1x1 downsample, graph
// input and output outside): every block's last Add is fused, and run() with
// the fused kernels gives the unfused result up to the per-layer rounding
// bound above (checked per block in FusedBlockMatchesConvPlusAdd); over the
// few layers here that stays below 1e-4 of the output's magnitude.
TEST(ResidualFusion, ResNetStyleNetwork) {
  const Shape in{1, 16, 16, 16};
  Builder b(in, 3);
  int x = b.conv(0, 16, 3, {Kind::kRelu});
  for (int blk = 0; blk < 3; ++blk) {
    const int y = b.conv(b.conv(x, 16, 3, {Kind::kRelu}), 16, blk == 2 ? 1 : 3);
    x = b.add(y, x, {Kind::kRelu});
  }
  const Graph g = b.finish({b.conv(x, 16, 1)});
  for (bool channels_last : {true, false}) {
    PlanOptions po;
    po.num_threads = 1;
    po.channels_last = channels_last;
    Plan plan(g, {in}, po);
    EXPECT_EQ(plan.residual_fusions(), channels_last ? 3 : 1);  // NCHW: only the 1x1 GEMM
    std::mt19937 rng(9);
    const Tensor input = random_tensor(in, rng);
    const Tensor fused = plan.run({input})[0];
    plan.set_observer([](int, Plan&) {});
    const Tensor unfused = plan.run({input})[0];
    float scale = 0;
    for (float v : unfused.span<float>()) scale = std::max(scale, std::fabs(v));
    for (int64_t i = 0; i < fused.numel(); ++i)
      ASSERT_NEAR(fused.data<float>()[i], unfused.data<float>()[i], 1e-4f * scale) << i;
  }
}

}  // namespace
}  // namespace lapq
