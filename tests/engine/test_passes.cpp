// Graph passes on small graphs built in code: each pass must change the graph
// the way it claims and leave the outputs equal (run through the reference
// Plan before and after).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/passes/passes.h"
#include "engine/plan.h"

namespace lapq {
namespace {

// A tiny graph builder: values named v0, v1, ... unless named.
struct Builder {
  Graph g;
  std::mt19937 rng{42};

  int input(Shape shape, DType dtype = DType::kF32) {
    Value v;
    v.name = "in";
    v.name += std::to_string(g.inputs.size());
    v.dtype = dtype;
    v.shape = std::move(shape);
    v.has_shape = true;
    int id = g.add_value(std::move(v));
    g.inputs.push_back(id);
    return id;
  }
  int constant(Tensor t) {
    Value v;
    v.name = "c";  // (+= avoids a GCC 12 -Wrestrict false positive on "c" + string)
    v.name += std::to_string(g.values.size());
    v.dtype = t.dtype();
    v.shape = t.shape();
    v.has_shape = true;
    v.constant = std::move(t);
    return g.add_value(std::move(v));
  }
  int random(Shape shape, float lo = -1.f, float hi = 1.f) {
    Tensor t(DType::kF32, std::move(shape));
    std::uniform_real_distribution<float> d(lo, hi);
    for (float& x : t.span<float>()) x = d(rng);
    return constant(std::move(t));
  }
  int ints(std::vector<int64_t> v) {
    return constant(Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, std::span<const int64_t>(v)));
  }
  std::vector<int> node_n(const std::string& op, std::vector<int> inputs, int num_outputs, Attributes attrs = {}) {
    Node n;
    n.op = op;
    n.name = op + std::to_string(g.nodes.size());
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    std::vector<int> outs;
    for (int k = 0; k < num_outputs; ++k) {
      Value v;
      v.name = n.name + "_out" + std::to_string(k);
      outs.push_back(g.add_value(std::move(v)));
    }
    n.outputs = outs;
    g.add_node(std::move(n));
    return outs;
  }
  int node(const std::string& op, std::vector<int> inputs, Attributes attrs = {}) {
    return node_n(op, std::move(inputs), 1, std::move(attrs))[0];
  }
  void output(int v) { g.outputs.push_back(v); }
};

Attributes attrs(std::initializer_list<std::pair<const char*, AttrValue>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

Tensor random_input(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-2.f, 2.f);
  Tensor t(DType::kF32, shape);
  for (float& x : t.span<float>()) x = d(rng);
  return t;
}

std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  Plan plan(g, shapes, PlanOptions{.allow_fast = false});
  return plan.run(inputs);
}

// Outputs equal within `tol` (relative to max(1, |expected|)).
void expect_same(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got[k].shape(), want[k].shape());
    ASSERT_EQ(got[k].dtype(), want[k].dtype());
    if (got[k].dtype() != DType::kF32) {
      EXPECT_TRUE(got[k].equals(want[k]));
      continue;
    }
    for (int64_t i = 0; i < got[k].numel(); ++i) {
      float a = got[k].data<float>()[i], b = want[k].data<float>()[i];
      ASSERT_LE(std::fabs(a - b), tol * std::max(1.f, std::fabs(b))) << "output " << k << " element " << i;
    }
  }
}

int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op == op;
  return n;
}

// ---- constant folding ----------------------------------------------------------------

TEST(ConstantFolding, FoldsConstantChains) {
  Builder b;
  int x = b.input({2, 3});
  int c = b.random({3, 2});
  int t = b.node("Transpose", {c}, attrs({{"perm", std::vector<int64_t>{1, 0}}}));
  int r = b.node("Reshape", {t, b.ints({2, 3})});
  int y = b.node("Add", {x, r});
  b.output(y);
  Graph before = b.g;
  EXPECT_EQ(fold_constants(b.g), 2);
  ASSERT_EQ(b.g.nodes.size(), 1u);
  EXPECT_EQ(b.g.nodes[0].op, "Add");
  Tensor in = random_input({2, 3}, 1);
  expect_same(run(b.g, {in}), run(before, {in}), 0);
}

// PyTorch's Pad pads: ConstantOfShape -> Concat -> Reshape -> Slice ->
// Transpose -> Reshape -> Cast, all from constants.
TEST(ConstantFolding, FoldsPyTorchPadChain) {
  Builder b;
  int x = b.input({-1, 2, 3, 3});
  Attributes zeros_i64;
  zeros_i64.set("value", Tensor::from<int64_t>({1}, {0}));
  int zeros = b.node("ConstantOfShape", {b.ints({4})}, zeros_i64);
  // torch pads (W_left, W_right, H_top, H_bottom) = (1, 1, 1, 1), then zeros for N and C.
  int cat = b.node("Concat", {b.ints({1, 1, 1, 1}), zeros}, attrs({{"axis", int64_t{0}}}));
  int r = b.node("Reshape", {cat, b.ints({-1, 2})});
  int s = b.node("Slice", {r, b.ints({-1}), b.ints({INT64_MIN + 1}), b.ints({0}), b.ints({-1})});
  int tr = b.node("Transpose", {s}, attrs({{"perm", std::vector<int64_t>{1, 0}}}));
  int flat = b.node("Reshape", {tr, b.ints({-1})});
  int pads = b.node("Cast", {flat}, attrs({{"to", int64_t{7}}}));
  int y = b.node("Pad", {x, pads, b.constant(Tensor::scalar_f32(0.f))}, attrs({{"mode", std::string("constant")}}));
  b.output(y);
  optimize(b.g);
  ASSERT_EQ(b.g.nodes.size(), 1u) << b.g.to_string();
  EXPECT_EQ(b.g.nodes[0].op, "Pad");
  // ONNX order: all begins, then all ends.
  const Tensor& p = b.g.values[b.g.nodes[0].inputs[1]].constant;
  EXPECT_EQ(p.to_i64(), (std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(b.g.values[b.g.outputs[0]].shape, (Shape{-1, 2, 5, 5}));

  // Same result as a Pad given the folded pads directly.
  Builder ref;
  int rx = ref.input({-1, 2, 3, 3});
  ref.output(ref.node("Pad", {rx, ref.ints({0, 0, 1, 1, 0, 0, 1, 1}), ref.constant(Tensor::scalar_f32(0.f))}));
  Tensor in = random_input({2, 2, 3, 3}, 2);
  expect_same(run(b.g, {in}), run(ref.g, {in}), 0);
}

TEST(ConstantFolding, ShapeOfStaticValueFoldsButNotWithSymbolicBatch) {
  for (bool symbolic : {false, true}) {
    Builder b;
    int x = b.input({symbolic ? -1 : 2, 3, 4});
    int relu = b.node("Relu", {x});
    int shape = b.node("Shape", {relu});
    int y = b.node("Reshape", {b.node("Neg", {x}), shape});
    b.output(y);
    Graph before = b.g;
    optimize(b.g);
    EXPECT_EQ(count_op(b.g, "Shape"), symbolic ? 1 : 0) << b.g.to_string();
    EXPECT_EQ(count_op(b.g, "Relu"), symbolic ? 1 : 0) << "the Relu only fed the Shape";
    // Once the batch is fixed (plan time) the Shape folds too.
    specialize_input_shapes(b.g, {{2, 3, 4}});
    EXPECT_EQ(count_op(b.g, "Shape"), 0);
    EXPECT_EQ(b.g.nodes.size(), 2u) << b.g.to_string();  // Neg, Reshape
    Tensor in = random_input({2, 3, 4}, 3);
    Graph ref = before;
    specialize_input_shapes(ref, {{2, 3, 4}});
    std::vector<Tensor> want = run(ref, {in});
    expect_same(run(b.g, {in}), want, 0);
    for (int64_t i = 0; i < in.numel(); ++i) EXPECT_EQ(want[0].data<float>()[i], -in.data<float>()[i]);
  }
}

TEST(ConstantFolding, ShapeStartEndAndSize) {
  Builder b;
  int x = b.input({2, 3, 4, 5});
  int s = b.node("Shape", {x}, attrs({{"start", int64_t{1}}, {"end", int64_t{-1}}}));
  int n = b.node("Size", {x});
  b.output(s);
  b.output(n);
  fold_constants(b.g);
  EXPECT_TRUE(b.g.nodes.empty());
  EXPECT_EQ(b.g.values[b.g.outputs[0]].constant.to_i64(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(b.g.values[b.g.outputs[1]].constant.to_i64(), (std::vector<int64_t>{120}));
  EXPECT_EQ(b.g.values[b.g.outputs[1]].constant.shape(), Shape{});
}

TEST(ConstantFolding, FoldedActivationIsApplied) {
  Builder b;
  int c = b.random({4});
  int y = b.node("Add", {c, c});
  b.g.nodes[0].activation.kind = FusedActivation::Kind::kRelu;
  b.output(y);
  const std::vector<float> cv = b.g.values[c].constant.to_f32();
  fold_constants(b.g);
  ASSERT_TRUE(b.g.nodes.empty());
  std::vector<float> got = b.g.values[b.g.outputs[0]].constant.to_f32();
  for (size_t i = 0; i < cv.size(); ++i) EXPECT_EQ(got[i], std::max(0.f, cv[i] + cv[i]));
}

// ---- batch norm folding --------------------------------------------------------------

int add_bn(Builder& b, int x, int64_t channels) {
  int scale = b.random({channels}, 0.5f, 1.5f), bias = b.random({channels});
  int mean = b.random({channels}), var = b.random({channels}, 0.1f, 2.f);
  return b.node("BatchNormalization", {x, scale, bias, mean, var}, attrs({{"epsilon", 1e-3f}}));
}

TEST(BatchNormFolding, ConvWithAndWithoutBiasAndGroups) {
  for (int variant = 0; variant < 3; ++variant) {
    Builder b;
    const int64_t group = variant == 2 ? 2 : 1;
    int x = b.input({-1, 4, 6, 6});
    std::vector<int> in = {x, b.random({6, 4 / group, 3, 3})};
    if (variant != 1) in.push_back(b.random({6}));
    int c = b.node("Conv", in, attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"group", group}}));
    b.output(add_bn(b, c, 6));
    Graph before = b.g;
    EXPECT_EQ(fold_batchnorm(b.g), 1);
    EXPECT_EQ(count_op(b.g, "BatchNormalization"), 0);
    ASSERT_EQ(b.g.nodes.size(), 1u);
    EXPECT_EQ(b.g.values[b.g.outputs[0]].name, before.values[before.outputs[0]].name);
    Tensor input = random_input({2, 4, 6, 6}, 4);
    // Folding reassociates (conv - mean) * s into conv(W * s): a few float
    // roundings on values of magnitude ~10.
    expect_same(run(b.g, {input}), run(before, {input}), 2e-5);
  }
}

TEST(BatchNormFolding, GemmBothLayouts) {
  for (int64_t trans_b : {0, 1}) {
    Builder b;
    int x = b.input({-1, 8});
    int w = b.random(trans_b ? Shape{5, 8} : Shape{8, 5});
    int g = b.node("Gemm", {x, w, b.random({5})},
                   attrs({{"transB", trans_b}, {"alpha", 0.5f}, {"beta", 2.f}}));
    b.output(add_bn(b, g, 5));
    Graph before = b.g;
    EXPECT_EQ(fold_batchnorm(b.g), 1);
    EXPECT_EQ(b.g.nodes.size(), 1u);
    Tensor input = random_input({3, 8}, 5);
    expect_same(run(b.g, {input}), run(before, {input}), 2e-5);
  }
}

TEST(BatchNormFolding, KeepsBnWhenConvOutputHasOtherReadersOrOptionOff) {
  Builder b;
  int x = b.input({1, 2, 4, 4});
  int c = b.node("Conv", {x, b.random({2, 2, 1, 1})});
  int bn = add_bn(b, c, 2);
  b.output(b.node("Add", {bn, c}));
  EXPECT_EQ(fold_batchnorm(b.g), 0);
  EXPECT_EQ(count_op(b.g, "BatchNormalization"), 1);

  Builder o;
  int ox = o.input({1, 2, 4, 4});
  o.output(add_bn(o, o.node("Conv", {ox, o.random({2, 2, 1, 1})}), 2));
  optimize(o.g, PassOptions{.fold_batchnorm = false});
  EXPECT_EQ(count_op(o.g, "BatchNormalization"), 1);
}

// ---- activation fusion ---------------------------------------------------------------

struct ActCase {
  const char* op;
  FusedActivation::Kind kind;
};

TEST(ActivationFusion, EveryActivationAfterEveryProducer) {
  const ActCase acts[] = {{"Relu", FusedActivation::Kind::kRelu},
                          {"Clip", FusedActivation::Kind::kClip},
                          {"LeakyRelu", FusedActivation::Kind::kLeakyRelu},
                          {"Sigmoid", FusedActivation::Kind::kSigmoid},
                          {"HardSigmoid", FusedActivation::Kind::kHardSigmoid},
                          {"HardSwish", FusedActivation::Kind::kHardSwish}};
  for (const char* producer : {"Conv", "Gemm", "MatMul", "Add"}) {
    for (const ActCase& act : acts) {
      SCOPED_TRACE(std::string(producer) + " + " + act.op);
      Builder b;
      Shape in_shape = std::string(producer) == "Conv" ? Shape{-1, 3, 5, 5} : Shape{-1, 6};
      int x = b.input(in_shape);
      int p;
      if (std::string(producer) == "Conv") p = b.node("Conv", {x, b.random({4, 3, 3, 3}), b.random({4})});
      else if (std::string(producer) == "Gemm") p = b.node("Gemm", {x, b.random({6, 4}), b.random({4})});
      else if (std::string(producer) == "MatMul") p = b.node("MatMul", {x, b.random({6, 4})});
      else p = b.node("Add", {x, b.random({6})});
      int y;
      if (std::string(act.op) == "Clip") {
        y = b.node("Clip", {p, b.constant(Tensor::scalar_f32(0.f)), b.constant(Tensor::scalar_f32(6.f))});
      } else if (std::string(act.op) == "LeakyRelu") {
        y = b.node("LeakyRelu", {p}, attrs({{"alpha", 0.1f}}));
      } else if (std::string(act.op) == "HardSigmoid") {
        y = b.node("HardSigmoid", {p}, attrs({{"alpha", 0.3f}, {"beta", 0.4f}}));
      } else {
        y = b.node(act.op, {p});
      }
      b.output(y);
      Graph before = b.g;
      EXPECT_EQ(fuse_activations(b.g), 1);
      ASSERT_EQ(b.g.nodes.size(), 1u);
      EXPECT_EQ(b.g.nodes[0].activation.kind, act.kind);
      Shape run_shape = in_shape;
      run_shape[0] = 2;
      Tensor input = random_input(run_shape, 6);
      // FusedActivation::apply and the reference op may differ in the last
      // bit (Sigmoid's exp, HardSigmoid's multiply-add).
      expect_same(run(b.g, {input}), run(before, {input}), 1e-6);
    }
  }
}

TEST(ActivationFusion, NotWhenPreActivationIsObservable) {
  Builder b;
  int x = b.input({2, 4});
  int a = b.node("Add", {x, b.random({4})});
  b.output(b.node("Relu", {a}));
  b.output(a);  // the pre-activation value is a graph output
  EXPECT_EQ(fuse_activations(b.g), 0);

  Builder two;
  int tx = two.input({2, 4});
  int ta = two.node("Add", {tx, two.random({4})});
  int r = two.node("Relu", {ta});
  two.output(two.node("Mul", {r, ta}));  // a second reader
  EXPECT_EQ(fuse_activations(two.g), 0);

  Builder clip;  // bounds that are not constant
  int cx = clip.input({2, 4});
  int lo = clip.input({});
  int ca = clip.node("Add", {cx, clip.random({4})});
  clip.output(clip.node("Clip", {ca, lo}));
  EXPECT_EQ(fuse_activations(clip.g), 0);
}

// ---- no-ops and dead nodes -----------------------------------------------------------

TEST(NoopRemoval, IdentityDropoutZeroPadAndSameCast) {
  Builder b;
  int x = b.input({-1, 3});
  int i1 = b.node("Identity", {x});
  auto drop = b.node_n("Dropout", {i1}, 2);  // mask unused
  int pad = b.node("Pad", {drop[0], b.ints({0, 0, 0, 0})});
  int cast = b.node("Cast", {pad}, attrs({{"to", int64_t{1}}}));
  int n = b.node("Neg", {cast});
  int out = b.node("Identity", {n});  // graph output: its name must survive
  b.output(out);
  const std::string out_name = b.g.values[out].name;
  Graph before = b.g;
  EXPECT_EQ(remove_noops(b.g), 5);
  ASSERT_EQ(b.g.nodes.size(), 1u) << b.g.to_string();
  EXPECT_EQ(b.g.nodes[0].op, "Neg");
  EXPECT_EQ(b.g.values[b.g.outputs[0]].name, out_name);
  EXPECT_EQ(b.g.nodes[0].inputs[0], b.g.inputs[0]);
  Tensor in = random_input({4, 3}, 7);
  expect_same(run(b.g, {in}), run(before, {in}), 0);
}

TEST(NoopRemoval, KeepsWhatCannotBeBypassed) {
  Builder b;
  int x = b.input({3});
  b.output(b.node("Identity", {x}));  // input straight to output: renaming impossible
  auto drop = b.node_n("Dropout", {x}, 2);
  b.output(drop[1]);                  // the mask is used
  int p = b.node("Pad", {x, b.ints({1, 0})});
  b.output(p);                        // real padding
  EXPECT_EQ(remove_noops(b.g), 0);
  EXPECT_EQ(b.g.nodes.size(), 3u);
}

TEST(DeadNodes, RemovesWhatReachesNoOutput) {
  Builder b;
  int x = b.input({4});
  int used = b.node("Relu", {x});
  int unused = b.node("Neg", {x});
  b.node("Abs", {unused});
  b.output(used);
  EXPECT_EQ(eliminate_dead_nodes(b.g), 2);
  ASSERT_EQ(b.g.nodes.size(), 1u);
  EXPECT_EQ(b.g.nodes[0].op, "Relu");
  EXPECT_EQ(b.g.inputs.size(), 1u);
}

// ---- the driver and symbolic shapes --------------------------------------------------

TEST(Optimize, ConvBnReluNetworkAnyBatch) {
  Builder b;
  int x = b.input({-1, 3, 8, 8});
  int c1 = b.node("Conv", {x, b.random({8, 3, 3, 3}), b.random({8})}, attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  int r1 = b.node("Relu", {add_bn(b, c1, 8)});
  int c2 = b.node("Conv", {r1, b.random({8, 8, 3, 3})}, attrs({{"strides", std::vector<int64_t>{2, 2}}}));
  int r2 = b.node("Clip", {add_bn(b, c2, 8), b.constant(Tensor::scalar_f32(0.f)), b.constant(Tensor::scalar_f32(6.f))});
  int pool = b.node("GlobalAveragePool", {r2});
  int flat = b.node("Flatten", {b.node("Identity", {pool})});
  b.output(b.node("Gemm", {flat, b.random({10, 8}), b.random({10})}, attrs({{"transB", int64_t{1}}})));
  Graph before = b.g;
  optimize(b.g);
  EXPECT_EQ(b.g.nodes.size(), 5u) << b.g.to_string();  // Conv, Conv, GlobalAveragePool, Flatten, Gemm
  EXPECT_EQ(b.g.nodes[0].activation.kind, FusedActivation::Kind::kRelu);
  EXPECT_EQ(b.g.nodes[1].activation.kind, FusedActivation::Kind::kClip);
  EXPECT_EQ(b.g.values[b.g.nodes[1].outputs[0]].shape, (Shape{-1, 8, 3, 3}));
  EXPECT_EQ(b.g.values[b.g.outputs[0]].shape, (Shape{-1, 10}));
  for (int64_t n : {1, 3}) {
    Tensor in = random_input({n, 3, 8, 8}, 8);
    expect_same(run(b.g, {in}), run(before, {in}), 2e-5);
  }
}

TEST(SymbolicShapes, BatchDependentDimsStayUnknown) {
  Builder b;
  int x = b.input({-1, 4});
  int t = b.node("Transpose", {x}, attrs({{"perm", std::vector<int64_t>{1, 0}}}));
  int f = b.node("Flatten", {t}, attrs({{"axis", int64_t{1}}}));
  int u = b.input({-1, 4});  // unknown rank: no shape
  b.g.values[u].has_shape = false;
  int v = b.node("Relu", {u});
  b.output(f);
  b.output(v);
  infer_symbolic_shapes(b.g);
  EXPECT_EQ(b.g.values[t].shape, (Shape{4, -1}));
  EXPECT_EQ(b.g.values[f].shape, (Shape{4, -1}));
  EXPECT_FALSE(b.g.values[v].has_shape);
}

}  // namespace
}  // namespace lapq
