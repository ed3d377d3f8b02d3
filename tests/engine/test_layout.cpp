// Channels-last planning (engine/passes/layout.h): which values a Plan keeps
// NHWC, how many layout conversions remain, and that every node of an
// NHWC-planned network computes what the reference computes.
//
// Correctness is checked node by node: the channels-last plan keeps every
// value (reuse_memory = false); for each node the reference op runs on the
// plan's own inputs of that node (read through Plan::value(), i.e. converted
// back to NCHW) and its output must match the plan's within the per-node
// FP32 bound of test_onednn_util.h (|fast - ref| <= L 2 K u S + 4 u |ref| +
// 1e-6, K = the node's reduction length, S = sum |w x| from the reference run
// on absolute values). No error accumulates across layers this way, so the
// bound stays the single-kernel one, and a wrong layout (a transposed read
// or write) moves outputs by whole values, far above it.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "engine/passes/layout.h"
#include "engine/plan.h"
#include "tests/engine/graph_builder.h"
#include "tests/engine/test_onednn_util.h"

namespace lapq {
namespace {

using test::abs_of;
using test::random_tensor;

// Builds small CNNs node by node (random weights, NCHW as in ONNX).
class NetBuilder : public test::GraphBuilder {
 public:
  explicit NetBuilder(Shape shape, uint32_t seed = 1) : rng_(seed) {
    const int id = input(std::move(shape));
    channels_[id] = g.values[id].shape[1];
  }

  int conv(int x, int64_t oc, int64_t k, int64_t stride = 1, int64_t group = 1, FusedActivation act = {},
           bool bias = true) {
    const int64_t ic = channels_.at(x);
    const float scale = 1.f / std::sqrt(static_cast<float>(ic / group * k * k));
    std::vector<int> in = {x, constant(random_tensor({oc, ic / group, k, k}, rng_, -scale, scale))};
    if (bias) in.push_back(constant(random_tensor({oc}, rng_, -0.1f, 0.1f)));
    Attributes a;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{stride, stride});
    a.set("pads", std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2});
    a.set("group", group);
    const int y = node("Conv", in, std::move(a), act);
    channels_[y] = oc;
    return y;
  }
  int add(int a, int b, FusedActivation act = {}) { return keep_c(node("Add", {a, b}, {}, act), a); }
  int mul(int a, int b) { return keep_c(node("Mul", {a, b}, {}), a); }
  int relu(int x) { return keep_c(node("Relu", {x}, {}), x); }
  int maxpool(int x, int64_t k, int64_t stride, int64_t pad) {
    Attributes a;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{stride, stride});
    a.set("pads", std::vector<int64_t>{pad, pad, pad, pad});
    return keep_c(node("MaxPool", {x}, std::move(a)), x);
  }
  int avgpool(int x, int64_t k, int64_t stride) {
    Attributes a;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{stride, stride});
    return keep_c(node("AveragePool", {x}, std::move(a)), x);
  }
  int gap(int x) { return keep_c(node("GlobalAveragePool", {x}, {}), x); }
  int flatten(int x) {
    Attributes a;
    a.set("axis", int64_t{1});
    return node("Flatten", {x}, std::move(a));
  }
  int gemm(int x, int64_t in_features, int64_t out_features) {
    const int w = constant(random_tensor({out_features, in_features}, rng_, -0.1f, 0.1f));
    const int b = constant(random_tensor({out_features}, rng_, -0.1f, 0.1f));
    Attributes a;
    a.set("transB", int64_t{1});
    return node("Gemm", {x, w, b}, std::move(a));
  }
  int concat(const std::vector<int>& xs) {
    Attributes a;
    a.set("axis", int64_t{1});
    const int y = node("Concat", xs, std::move(a));
    channels_[y] = 0;
    for (int x : xs) channels_[y] += channels_.at(x);
    return y;
  }
  int reshape(int x, std::vector<int64_t> shape) {
    Tensor s(DType::kI64, {static_cast<int64_t>(shape.size())});
    std::memcpy(s.raw(), shape.data(), shape.size() * sizeof(int64_t));
    const int y = node("Reshape", {x, constant(std::move(s))}, {});
    if (shape.size() == 4) channels_[y] = shape[1];
    return y;
  }
  void output(int v) { g.outputs.push_back(v); }

 private:
  int keep_c(int y, int x) {
    if (channels_.count(x)) channels_[y] = channels_.at(x);
    return y;
  }
  std::mt19937 rng_;
  std::map<int, int64_t> channels_;
};

FusedActivation relu() { return {FusedActivation::Kind::kRelu}; }
FusedActivation relu6() { return {FusedActivation::Kind::kClip, 0.f, 6.f}; }
FusedActivation hardsigmoid() { return {FusedActivation::Kind::kHardSigmoid, 0.2f, 0.5f}; }

// ResNet basic blocks: stem 7x7 s2 + MaxPool, two stages (the second with a
// strided 1x1 downsample), GlobalAveragePool, Flatten, Gemm.
Graph resnet_like(int64_t N, int64_t HW, int blocks_per_stage = 1) {
  NetBuilder b({N, 3, HW, HW});
  int x = b.maxpool(b.conv(0, 16, 7, 2, 1, relu()), 3, 2, 1);
  int64_t c = 16;
  for (int64_t oc : {16, 32}) {
    for (int blk = 0; blk < blocks_per_stage; ++blk) {
      const int64_t stride = (oc != c && blk == 0) ? 2 : 1;
      const int y = b.conv(b.conv(x, oc, 3, stride, 1, relu()), oc, 3);
      const int shortcut = stride == 1 && oc == c ? x : b.conv(x, oc, 1, stride);
      x = b.add(y, shortcut, relu());
      c = oc;
    }
  }
  b.output(b.gemm(b.flatten(b.gap(x)), c, 10));
  b.g.validate_and_sort();
  return std::move(b.g);
}

// ResNet-18's topology (64..512 channels, 2 blocks per stage) at a given size.
Graph resnet18_topology(int64_t HW) {
  NetBuilder b({1, 3, HW, HW});
  int x = b.maxpool(b.conv(0, 64, 7, 2, 1, relu()), 3, 2, 1);
  int64_t c = 64;
  for (int64_t oc : {64, 128, 256, 512}) {
    for (int blk = 0; blk < 2; ++blk) {
      const int64_t stride = (oc != c && blk == 0) ? 2 : 1;
      const int y = b.conv(b.conv(x, oc, 3, stride, 1, relu()), oc, 3);
      const int shortcut = stride == 1 && oc == c ? x : b.conv(x, oc, 1, stride);
      x = b.add(y, shortcut, relu());
      c = oc;
    }
  }
  b.output(b.gemm(b.flatten(b.gap(x)), c, 1000));
  b.g.validate_and_sort();
  return std::move(b.g);
}

// MobileNetV2 inverted residuals (1x1 expand + ReLU6, depthwise 3x3 + ReLU6,
// 1x1 project, residual Add), a squeeze-excitation Mul (per-channel
// broadcast), an unfused Relu and an AveragePool.
Graph mobilenet_like(int64_t N, int64_t HW) {
  NetBuilder b({N, 3, HW, HW});
  int x = b.conv(0, 16, 3, 2, 1, relu6());
  auto block = [&](int in, int64_t c, int64_t oc, int64_t stride) {
    const int64_t e = c * 4;
    int y = b.conv(in, e, 1, 1, 1, relu6());
    y = b.conv(y, e, 3, stride, e, relu6());
    y = b.conv(y, oc, 1);
    return stride == 1 && c == oc ? b.add(y, in) : y;
  };
  x = block(x, 16, 16, 1);
  x = block(x, 16, 24, 2);
  x = block(x, 24, 24, 1);
  // Squeeze-excitation: x * hardsigmoid(W2 relu(W1 gap(x))).
  const int se = b.conv(b.conv(b.gap(x), 8, 1, 1, 1, relu()), 24, 1, 1, 1, hardsigmoid());
  x = b.relu(b.mul(x, se));
  x = b.avgpool(x, 2, 2);
  b.output(b.gemm(b.flatten(b.gap(b.conv(x, 32, 1, 1, 1, relu6()))), 32, 5));
  b.g.validate_and_sort();
  return std::move(b.g);
}

// Layout borders: Concat of two convs (one path through a grouped conv), a conv output read by both a conv and
// a Flatten, a Reshape between convs, a conv output that is a graph output.
Graph mixed_graph(int64_t N, int64_t HW) {
  NetBuilder b({N, 8, HW, HW});
  const int a = b.conv(0, 8, 3, 1, 1, relu());
  const int c = b.conv(b.conv(a, 8, 3, 1, 2), 8, 3);      // a grouped (not depthwise) conv
  const int cat = b.concat({a, c});                       // Concat: NCHW only
  const int d = b.conv(cat, 16, 3, 2, 1, relu());
  const int e = b.conv(d, 16, 1);
  b.output(b.gemm(b.flatten(e), 16 * (HW / 2) * (HW / 2), 4));  // e read by Flatten and by the next conv
  const int f = b.conv(e, 16, 3);
  const int r = b.reshape(f, {N, 32, HW / 4, HW / 2});    // Reshape: NCHW only
  const int h = b.conv(r, 8, 3, 1, 1, relu());
  b.output(b.maxpool(b.conv(h, 8, 3), 2, 2, 0));           // NHWC group ending at a graph output
  b.output(h);
  b.g.validate_and_sort();
  return std::move(b.g);
}

int64_t reduction_length(const Graph& g, const Node& n) {
  if (n.op == "Conv") {
    const Shape& w = g.values[n.inputs[1]].constant.shape();
    return w[1] * w[2] * w[3];
  }
  if (n.op == "Gemm") return g.values[n.inputs[1]].constant.dim(1);
  if (n.op == "GlobalAveragePool") {
    const Shape& x = g.values[n.inputs[0]].shape;
    return x[2] * x[3];
  }
  if (n.op == "AveragePool") {
    const auto ks = n.attrs.get_ints("kernel_shape");
    return ks[0] * ks[1];
  }
  return 1;
}

// Runs `graph` planned channels-last and checks every node against the
// reference on that node's inputs (see the top of the file).
void check_nodes_against_reference(const Graph& graph, const Shape& input_shape, int threads, uint32_t seed) {
  PlanOptions po;
  po.num_threads = threads;
  po.reuse_memory = false;
  Plan plan(graph, {input_shape}, po);
  std::mt19937 rng(seed);
  const Tensor x = random_tensor(input_shape, rng);
  const std::vector<Tensor> outputs = plan.run({x});
  const Graph& g = plan.graph();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    std::vector<Tensor> in, abs_in;
    for (int v : n.inputs) {
      in.push_back(plan.value(v).clone());
      abs_in.push_back(plan.value(v).dtype() == DType::kF32 ? abs_of(plan.value(v)) : plan.value(v).clone());
    }
    std::vector<const Tensor*> pin, pabs;
    for (size_t k = 0; k < in.size(); ++k) {
      pin.push_back(&in[k]);
      pabs.push_back(&abs_in[k]);
    }
    Tensor ref = run_reference(g, static_cast<int>(i), pin).at(0);
    for (float& v : ref.span<float>()) v = n.activation.apply(v);
    const Tensor bound = run_reference(g, static_cast<int>(i), pabs).at(0);
    const std::string what = n.op + " '" + n.name + "' (" + plan.impl_name(static_cast<int>(i)) + ")";
    test::expect_close(plan.value(n.outputs[0]), ref, bound, reduction_length(g, n), test::lipschitz_of(n.activation),
                       what);
  }
  // run() hands out the graph outputs in NCHW: the same data value() shows.
  for (size_t k = 0; k < g.outputs.size(); ++k)
    EXPECT_TRUE(outputs[k].equals(plan.value(g.outputs[k]))) << "output " << k;
}

int count_nhwc(const Plan& plan) {
  int n = 0;
  for (size_t v = 0; v < plan.graph().values.size(); ++v) n += plan.layout(static_cast<int>(v)) == Layout::kNhwc;
  return n;
}

TEST(Layout, ResNetLikeMatchesReferencePerNode) {
  check_nodes_against_reference(resnet_like(1, 32), {1, 3, 32, 32}, 1, 11);
  check_nodes_against_reference(resnet_like(2, 30), {2, 3, 30, 30}, 2, 12);
}

TEST(Layout, MobileNetLikeMatchesReferencePerNode) {
  check_nodes_against_reference(mobilenet_like(1, 32), {1, 3, 32, 32}, 1, 21);
  check_nodes_against_reference(mobilenet_like(2, 34), {2, 3, 34, 34}, 2, 22);
}

TEST(Layout, MixedGraphMatchesReferencePerNode) {
  check_nodes_against_reference(mixed_graph(1, 16), {1, 8, 16, 16}, 1, 31);
  check_nodes_against_reference(mixed_graph(2, 16), {2, 8, 16, 16}, 2, 32);
}

TEST(Layout, ResNet18PlanConvertsOnlyTheImage) {
  Plan plan(resnet18_topology(64), {{1, 3, 64, 64}}, PlanOptions{.num_threads = 1});
  // The stem reads the NCHW image (one reorder); every other value between
  // the stem and GlobalAveragePool is NHWC, the pooled 1x1 vector reads the
  // same in both orders.
  EXPECT_EQ(plan.layout_conversions(), 1);
  const Graph& g = plan.graph();
  int convs = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op == "Conv") {
      ++convs;
      const std::string impl = plan.impl_name(static_cast<int>(i));
      EXPECT_NE(impl.find("nhwc"), std::string::npos) << n.name << ": " << impl;
      EXPECT_EQ(impl.find("reorder") != std::string::npos, n.inputs[0] == g.inputs[0]) << n.name << ": " << impl;
      EXPECT_EQ(plan.layout(n.outputs[0]), Layout::kNhwc) << n.name;
    }
    if (n.op == "Add" || n.op == "MaxPool") {
      EXPECT_EQ(plan.layout(n.outputs[0]), Layout::kNhwc) << n.name;
    }
    if (n.op == "GlobalAveragePool" || n.op == "Flatten" || n.op == "Gemm") {
      EXPECT_EQ(plan.layout(n.outputs[0]), Layout::kPlain) << n.name;
    }
  }
  EXPECT_EQ(convs, 20);
  EXPECT_EQ(plan.layout(g.inputs[0]), Layout::kPlain);
  EXPECT_EQ(count_nhwc(plan), 20 + 8 + 1);  // conv outputs, block Adds, MaxPool
}

TEST(Layout, MixedGraphKeepsBordersPlain) {
  Plan plan(mixed_graph(1, 16), {{1, 8, 16, 16}}, PlanOptions{.num_threads = 1});
  const Graph& g = plan.graph();
  for (const Node& n : g.nodes) {
    if (n.op == "Concat" || n.op == "Reshape") {
      for (int v : n.inputs) {
        if (!g.values[v].is_constant()) {
          EXPECT_EQ(plan.layout(v), Layout::kPlain) << n.name;
        }
      }
      EXPECT_EQ(plan.layout(n.outputs[0]), Layout::kPlain) << n.name;
    }
    if (n.op == "Flatten") {
      EXPECT_EQ(plan.layout(n.inputs[0]), Layout::kPlain) << "read by Flatten";
    }
  }
  for (int v : g.outputs) EXPECT_EQ(plan.layout(v), Layout::kPlain);
  // The first conv's output feeds Concat (plain) and a conv; the second conv
  // reads it plain: some values are NHWC (the d -> e chain is read by Flatten:
  // plain), and the conv -> conv -> MaxPool group before the output is NHWC.
  EXPECT_GT(count_nhwc(plan), 0);
  EXPECT_GT(plan.layout_conversions(), 0);
}

TEST(Layout, OffGivesPlainPlansAndSameOutputs) {
  const Graph g = mobilenet_like(1, 32);
  PlanOptions off;
  off.num_threads = 1;
  off.channels_last = false;
  Plan plain(g, {{1, 3, 32, 32}}, off);
  Plan nhwc(g, {{1, 3, 32, 32}}, PlanOptions{.num_threads = 1});
  EXPECT_EQ(count_nhwc(plain), 0);
  EXPECT_GT(count_nhwc(nhwc), 0);
  PlanOptions ref_options;
  ref_options.allow_fast = false;
  Plan ref(g, {{1, 3, 32, 32}}, ref_options);
  EXPECT_EQ(count_nhwc(ref), 0);  // the reference ops are NCHW
  EXPECT_EQ(ref.layout_conversions(), 0);
}

// The quantizer's prefix cache: values read with value() and written back
// with mutable_value() (NCHW both ways) must resume a run exactly.
TEST(Layout, MutableValueWritesReachChannelsLastStorage) {
  const Graph g = resnet_like(1, 32);
  PlanOptions po;
  po.num_threads = 1;
  po.reuse_memory = false;
  Plan plan(g, {{1, 3, 32, 32}}, po);
  std::mt19937 rng(5);
  const Tensor x1 = random_tensor({1, 3, 32, 32}, rng), x2 = random_tensor({1, 3, 32, 32}, rng);
  const Tensor want = plan.run({x1})[0];
  // Resume point: after the first block's Add (an NHWC value read later).
  const Graph& pg = plan.graph();
  int resume = -1, live = -1;
  for (size_t i = 0; i < pg.nodes.size(); ++i)
    if (pg.nodes[i].op == "Add") {
      resume = static_cast<int>(i) + 1;
      live = pg.nodes[i].outputs[0];
      break;
    }
  ASSERT_GE(resume, 0);
  ASSERT_EQ(plan.layout(live), Layout::kNhwc);
  const Tensor saved = plan.value(live).clone();
  const Tensor other = plan.run({x2})[0];
  ASSERT_FALSE(other.equals(want));
  Tensor& dst = plan.mutable_value(live);
  std::memcpy(dst.raw(), saved.raw(), saved.nbytes());
  plan.run_nodes(resume, static_cast<int>(pg.nodes.size()));
  EXPECT_TRUE(plan.value(pg.outputs[0]).equals(want));
}

// Teacher forcing (the quantizer's simulation test): an observer rewrites a
// channels-last value right after its producer ran; the next nodes must read
// the rewritten data, exactly as in a plan that stores it NCHW.
TEST(Layout, ObserverWritesReachTheNextNodes) {
  const Graph g = resnet_like(1, 32);
  std::mt19937 rng(6);
  const Tensor x = random_tensor({1, 3, 32, 32}, rng);
  auto run_forced = [&](bool channels_last) {
    PlanOptions po;
    po.num_threads = 1;
    po.reuse_memory = false;
    po.channels_last = channels_last;
    Plan plan(g, {{1, 3, 32, 32}}, po);
    const Graph& pg = plan.graph();
    int forced = 0;
    plan.set_observer([&](int node, Plan& p) {
      if (pg.nodes[node].op != "Add") return;
      Tensor& t = p.mutable_value(pg.nodes[node].outputs[0]);
      float* d = t.data<float>();
      d[0] = 100.f;  // n = 0, c = 0, h = 0, w = 0 in NCHW
      d[1] = -50.f;  // w = 1 of that channel: a transposed write would hit channel 1 instead
      ++forced;
    });
    std::vector<Tensor> y = plan.run({x});
    EXPECT_EQ(forced, 2);
    EXPECT_EQ(plan.layout(pg.nodes[4].outputs[0]), channels_last ? Layout::kNhwc : Layout::kPlain);
    return y[0];
  };
  const Tensor a = run_forced(true), b = run_forced(false);
  // The plans differ only in kernel summation order (~1e-6 relative on O(1)
  // logits); an ignored or misplaced write of 100 moves them by far more.
  ASSERT_EQ(a.numel(), b.numel());
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-3f) << i;
}

// assign_layouts on its own: groups through kFollows nodes, split at
// kConverts nodes, pinned by a kPlainOnly reader.
TEST(Layout, AssignLayoutsGroupsAndPins) {
  NetBuilder b({1, 4, 8, 8});
  const int a = b.conv(0, 4, 3);  // node 0
  const int r = b.relu(a);        // node 1 (kFollows)
  const int c = b.conv(r, 4, 3);  // node 2
  const int f = b.flatten(c);     // node 3 (plain only)
  b.output(f);
  b.g.validate_and_sort();
  Graph g = std::move(b.g);
  infer_shapes(g, {{1, 4, 8, 8}});
  using S = LayoutSupport;
  std::vector<Layout> l = assign_layouts(g, {S::kConverts, S::kFollows, S::kConverts, S::kPlainOnly});
  EXPECT_EQ(l[g.inputs[0]], Layout::kPlain);  // graph input
  EXPECT_EQ(l[a], Layout::kNhwc);
  EXPECT_EQ(l[r], Layout::kNhwc);
  EXPECT_EQ(l[c], Layout::kPlain);            // read by Flatten
  // A plain-only Relu kernel pins its whole group.
  l = assign_layouts(g, {S::kConverts, S::kPlainOnly, S::kConverts, S::kPlainOnly});
  EXPECT_EQ(l[a], Layout::kPlain);
  EXPECT_EQ(l[r], Layout::kPlain);
  // Without a converting node nothing is worth storing NHWC.
  l = assign_layouts(g, {S::kPlainOnly, S::kFollows, S::kPlainOnly, S::kPlainOnly});
  EXPECT_EQ(l[r], Layout::kPlain);
}

}  // namespace
}  // namespace lapq
