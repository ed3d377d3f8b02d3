// The lapq.* elementwise and pooling ops (quant/qops/): each fast candidate
// ("lapq-simd" for Quantize / Dequantize / QAdd, "lapq-int" for MaxPool) against
// the scalar reference, bit for bit, under every LAPQ_MAX_ISA cap, on awkward
// shapes (C = 1, 3, 17, 600 > one channel block; H*W = 1; pixel tails), zero
// points 0 / 128 / 255, every QAdd input layout; lapq.MaxPool against the FP32
// island it replaces (Dequantize -> MaxPool -> Quantize); the MaxPool lowering
// in a network (integer op chosen, fast == reference, updates == fresh lowering).
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <sstream>

#include "engine/op_registry.h"
#include "engine/plan.h"
#include "kernels/isa.h"
#include "quant/grid.h"
#include "quant/qops/qops.h"
#include "quant/quantized_network.h"
#include "tests/quant/test_quantized_network_util.h"

namespace lapq::quant {
namespace {

using testing::bits_equal;
using testing::count_op;

Tensor random_f32(const Shape& s, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  Tensor t(DType::kF32, s);
  for (float& x : t.span<float>()) x = d(rng);
  return t;
}

Tensor random_u8(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 255);
  Tensor t(DType::kU8, s);
  for (uint8_t& x : t.span<uint8_t>()) x = static_cast<uint8_t>(d(rng));
  return t;
}

// One node of type `op` on `inputs`: the reference result and the result of
// the named fast candidate (created through the registry, as the planner does;
// an empty name: the reference only).
struct OneNode {
  std::vector<Tensor> reference, fast;
  std::string impl;
};

OneNode run_one(const std::string& op, const Attributes& attrs, const std::vector<Tensor>& inputs,
                const std::string& candidate) {
  register_quant_ops();
  Graph g;
  g.opset = 13;
  Node n;
  n.op = op;
  n.name = "x";
  n.attrs = attrs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Value v;
    v.name = "in" + std::to_string(i);
    v.dtype = inputs[i].dtype();
    v.shape = inputs[i].shape();
    v.has_shape = true;
    n.inputs.push_back(g.add_value(std::move(v)));
  }
  Value y;
  y.name = "y";
  n.outputs.push_back(g.add_value(std::move(y)));
  g.add_node(std::move(n));
  std::vector<const Tensor*> in;
  for (const Tensor& t : inputs) in.push_back(&t);
  OneNode r;
  r.reference = run_reference(g, 0, in);
  Value& yv = g.values[g.nodes[0].outputs[0]];
  yv.dtype = r.reference[0].dtype();
  yv.shape = r.reference[0].shape();
  yv.has_shape = true;
  if (candidate.empty()) return r;  // reference only
  const OpSchema* s = OpRegistry::get().find(op);
  EXPECT_TRUE(s && !s->fast.empty() && s->fast[0].name == candidate) << op;
  if (!s || s->fast.empty()) return r;
  KernelRequest req{.graph = g, .node = g.nodes[0], .num_threads = 2, .in = {}, .out = {&yv}};
  for (int v : g.nodes[0].inputs) req.in.push_back(&g.values[v]);
  std::string why;
  std::unique_ptr<OpKernel> k = s->fast[0].create(req, &why);
  EXPECT_TRUE(k) << why;
  if (!k) return r;
  r.impl = k->impl_name();
  r.fast.emplace_back(yv.dtype, yv.shape);
  Tensor* out[] = {&r.fast[0]};
  k->run(in, out);
  return r;
}

struct Geometry {
  int64_t N, C, H, W;
  std::string str() const {
    std::ostringstream os;
    os << "N=" << N << " C=" << C << " H=" << H << " W=" << W;
    return os.str();
  }
  Shape nchw() const { return {N, C, H, W}; }
  Shape nhwc() const { return {N, H, W, C}; }
};

const std::vector<Geometry>& geometries() {
  static const std::vector<Geometry> g = {{1, 1, 5, 7},   {2, 3, 4, 4},  {2, 17, 3, 5},  {1, 64, 8, 8},
                                          {1, 600, 2, 3}, {3, 16, 1, 1}, {1, 40, 33, 9}, {2, 8, 17, 19},
                                          {1, 3, 40, 37}, {2, 7, 13, 11}};  // C < 8 over several pixel blocks
  return g;
}

struct QGrid {
  float scale;
  int64_t zp, qmin, qmax;
};
const QGrid kGrids[] = {{0.05f, 0, 0, 255}, {0.021f, 128, 0, 255}, {0.013f, 255, 0, 255}, {0.25f, 3, 1, 14}};

Attributes grid_attrs(const QGrid& g) {
  Attributes a;
  a.set("scale", g.scale);
  a.set("zero_point", g.zp);
  a.set("qmin", g.qmin);
  a.set("qmax", g.qmax);
  return a;
}

TEST(QOps, QuantizeFastEqualsReference) {
  for (const Geometry& geo : geometries())
    for (const QGrid& q : kGrids) {
      SCOPED_TRACE(geo.str() + " zp=" + std::to_string(q.zp));
      const Tensor x = random_f32(geo.nchw(), -300 * q.scale, 300 * q.scale, static_cast<uint32_t>(geo.C + q.zp));
      const OneNode r = run_one(kQuantizeOp, grid_attrs(q), {x}, "lapq-simd");
      ASSERT_EQ(r.fast.size(), 1u);
      EXPECT_TRUE(bits_equal(r.fast[0], r.reference[0])) << r.impl;
    }
  // [N, K] input (an FC's input).
  const Tensor x2 = random_f32({5, 77}, -2.f, 2.f, 3);
  const OneNode r = run_one(kQuantizeOp, grid_attrs(kGrids[1]), {x2}, "lapq-simd");
  EXPECT_TRUE(bits_equal(r.fast.at(0), r.reference[0]));
  EXPECT_EQ(r.fast[0].shape(), (Shape{5, 1, 1, 77}));
}

TEST(QOps, DequantizeFastEqualsReference) {
  for (const Geometry& geo : geometries())
    for (const QGrid& q : kGrids) {
      SCOPED_TRACE(geo.str() + " zp=" + std::to_string(q.zp));
      const OneNode r = run_one(kDequantizeOp, grid_attrs(q), {random_u8(geo.nhwc(), static_cast<uint32_t>(geo.H))},
                                "lapq-simd");
      ASSERT_EQ(r.fast.size(), 1u);
      EXPECT_TRUE(bits_equal(r.fast[0], r.reference[0])) << r.impl;
    }
  Attributes a = grid_attrs(kGrids[2]);
  a.set("rank", int64_t{2});
  const OneNode r = run_one(kDequantizeOp, a, {random_u8({4, 1, 1, 33}, 9)}, "lapq-simd");
  EXPECT_TRUE(bits_equal(r.fast.at(0), r.reference[0]));
  EXPECT_EQ(r.fast[0].shape(), (Shape{4, 33}));
}

TEST(QOps, QAddFastEqualsReferenceEveryLayout) {
  int cases = 0;
  for (const Geometry& geo : geometries())
    for (int64_t la = 0; la <= 2; ++la)
      for (int64_t lb = 0; lb <= 2; ++lb) {
        const QGrid& out = kGrids[(la + 2 * lb + geo.C) % 4];
        const QGrid& ga = kGrids[(la + 1) % 4];
        const QGrid& gb = kGrids[(lb + 2) % 4];
        SCOPED_TRACE(geo.str() + " layouts " + std::to_string(la) + "," + std::to_string(lb));
        Attributes a = grid_attrs(out);
        a.set("layout_a", la);
        a.set("layout_b", lb);
        a.set("scale_a", ga.scale);
        a.set("zero_point_a", ga.zp);
        a.set("scale_b", gb.scale);
        a.set("zero_point_b", gb.zp);
        auto input = [&](int64_t layout, uint32_t seed) {
          if (layout == 1) return random_u8(geo.nhwc(), seed);
          return random_f32(layout == 0 ? geo.nchw() : geo.nhwc(), -150 * out.scale, 150 * out.scale, seed);
        };
        const OneNode r = run_one(kQAddOp, a, {input(la, 1), input(lb, 2)}, "lapq-simd");
        ASSERT_EQ(r.fast.size(), 1u);
        EXPECT_TRUE(bits_equal(r.fast[0], r.reference[0])) << r.impl;
        ++cases;
      }
  EXPECT_EQ(cases, 90);
}

// ---- lapq.MaxPool ------------------------------------------------------------------

struct PoolCase {
  std::vector<int64_t> kernel, strides, pads, dilations;
  int64_t ceil_mode = 0;
  std::string str() const {
    std::ostringstream os;
    os << "k" << kernel[0] << "x" << kernel[1] << " s" << strides[0] << " p" << pads[0] << pads[1] << pads[2]
       << pads[3] << " d" << dilations[0] << " ceil" << ceil_mode;
    return os.str();
  }
  Attributes attrs() const {
    Attributes a;
    a.set("kernel_shape", kernel);
    a.set("strides", strides);
    a.set("pads", pads);
    a.set("dilations", dilations);
    a.set("ceil_mode", ceil_mode);
    return a;
  }
};

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> c = {{{3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
                                          {{2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1},
                                          {{3, 2}, {1, 2}, {2, 0, 1, 1}, {2, 1}, 0},
                                          {{1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 0},
                                          {{3, 3}, {3, 3}, {1, 1, 1, 1}, {1, 1}, 1}};
  return c;
}

// The FP32 island lapq.MaxPool replaces: Dequantize (input grid), MaxPool,
// Quantize (output grid), each op's reference.
Tensor island(const Tensor& codes, const QGrid& in, const QGrid& out, const PoolCase& pc) {
  const OneNode dq = run_one(kDequantizeOp, grid_attrs(in), {codes}, "lapq-simd");
  const OneNode mp = run_one("MaxPool", pc.attrs(), {dq.reference[0]}, "");
  return run_one(kQuantizeOp, grid_attrs(out), {mp.reference[0]}, "lapq-simd").reference[0];
}

TEST(QOps, MaxPoolEqualsFp32IslandAndFastEqualsReference) {
  for (const PoolCase& pc : pool_cases())
    for (const Geometry& geo : {Geometry{2, 17, 9, 8}, Geometry{1, 64, 7, 7}, Geometry{1, 3, 4, 5}})
      for (int k = 0; k < 4; ++k) {
        const QGrid& in = kGrids[k];
        const QGrid& out = kGrids[k == 3 ? 3 : (k + 1) % 3];
        SCOPED_TRACE(pc.str() + " " + geo.str() + " grids " + std::to_string(k));
        Attributes a = pc.attrs();
        a.set("scale_in", in.scale);
        a.set("zero_point_in", in.zp);
        const Attributes out_attrs = grid_attrs(out);
        for (const auto& [key, v] : out_attrs.all()) a.set(key, v);
        const Tensor codes = random_u8(geo.nhwc(), static_cast<uint32_t>(k + geo.C));
        const OneNode r = run_one(kQMaxPoolOp, a, {codes}, "lapq-int");
        ASSERT_EQ(r.fast.size(), 1u);
        EXPECT_TRUE(bits_equal(r.fast[0], r.reference[0]));
        EXPECT_TRUE(bits_equal(r.reference[0], island(codes, in, out, pc)));
      }
  // Same grid in and out: the code map is the identity (codes pass through).
  Attributes a = pool_cases()[0].attrs();
  a.set("scale_in", 0.1f);
  a.set("zero_point_in", int64_t{0});
  const Attributes same = grid_attrs({0.1f, 0, 0, 255});
  for (const auto& [key, v] : same.all()) a.set(key, v);
  const Tensor codes = random_u8({1, 6, 6, 16}, 4);
  const OneNode r = run_one(kQMaxPoolOp, a, {codes}, "lapq-int");
  EXPECT_TRUE(bits_equal(r.fast.at(0), r.reference[0]));
  EXPECT_TRUE(bits_equal(r.reference[0], island(codes, {0.1f, 0, 0, 255}, {0.1f, 0, 0, 255}, pool_cases()[0])));
}

// input -> Conv + Relu -> MaxPool 3x3/2 -> Conv -> GAP -> output, with the Relu
// and MaxPool outputs quantized on different grids.
Graph pool_net() {
  testing::NetBuilder b(true, 5);
  Value in;
  in.name = "input";
  in.shape = {-1, 3, 11, 11};
  in.has_shape = true;
  const int x = b.g.add_value(std::move(in));
  b.g.inputs.push_back(x);
  const int r = b.conv_bn("c1", x, 3, 16, 3, 1, 1, true);
  const int p = b.node("MaxPool", "pool", {r}, pool_cases()[0].attrs());
  const int c = b.conv_bn("c2", p, 16, 8, 3, 1, 1, false);
  const int gap = b.node("GlobalAveragePool", "gap", {c});
  b.g.outputs.push_back(gap);
  b.g.validate_and_sort();
  return b.g;
}

QuantConfig pool_config(const Graph& g) {
  QuantConfig cfg;
  for (int n : quantizable_weight_nodes(g)) {
    WeightQuant w;
    w.node = n;
    w.bits = 8;
    w.grid = GridKind::kSymmetric;
    w.alpha = {0.5f};
    cfg.weights.push_back(w);
  }
  auto act = [&](const char* name, GridKind grid, float lo, float alpha) {
    ActQuant a;
    a.value = g.find_value(name);
    a.bits = 8;
    a.grid = grid;
    a.lo = lo;
    a.alpha = alpha;
    cfg.acts.push_back(a);
  };
  act("input", GridKind::kAsymmetric, -3.f, 3.f);
  act("c1_out", GridKind::kUnsigned, 0.f, 2.f);
  act("pool_out", GridKind::kAsymmetric, -0.5f, 1.5f);
  return cfg;
}

TEST(QOps, MaxPoolLoweredToIntegers) {
  const Graph g = pool_net();
  const Shape shape{2, 3, 11, 11};
  const Tensor x = testing::random_input(shape, 3);
  const QuantConfig cfg = pool_config(g);
  PlanOptions fast_opt, ref_opt;
  fast_opt.reuse_memory = ref_opt.reuse_memory = false;
  ref_opt.allow_fast = false;
  QuantizedNetwork fast(g, cfg, shape, fast_opt), ref(g, cfg, shape, ref_opt);
  const Graph& lg = fast.lowered_graph();
  EXPECT_EQ(count_op(lg, kQMaxPoolOp), 1) << lg.to_string();
  EXPECT_EQ(count_op(lg, "MaxPool"), 0) << lg.to_string();
  EXPECT_EQ(count_op(lg, kDequantizeOp), 0) << lg.to_string();  // c2's f32 output feeds the GAP
  int pool = -1;
  for (size_t i = 0; i < lg.nodes.size(); ++i)
    if (lg.nodes[i].op == kQMaxPoolOp) pool = static_cast<int>(i);
  EXPECT_EQ(fast.plan().impl_name(pool), "lapq-int");
  fast.forward(x);
  ref.forward(x);
  // The pool's codes and the integer conv reading them (the final GAP is FP32: oneDNN vs reference).
  EXPECT_TRUE(bits_equal(fast.plan().value(lg.nodes[pool].outputs[0]), ref.plan().value(lg.nodes[pool].outputs[0])));
  const int c2 = lg.find_value("c2_out");
  ASSERT_GE(c2, 0) << lg.to_string();
  EXPECT_TRUE(bits_equal(fast.plan().value(c2), ref.plan().value(c2)));

  // New grids for the pool's input and output: the updated network equals a fresh lowering.
  fast.set_act_range(1, 1.3f, 0.f);
  fast.set_act_range(2, 0.9f, -0.2f);
  QuantConfig cfg2 = cfg;
  cfg2.acts[1].alpha = 1.3f;
  cfg2.acts[2].alpha = 0.9f;
  cfg2.acts[2].lo = -0.2f;
  QuantizedNetwork fresh(g, cfg2, shape, fast_opt);
  EXPECT_TRUE(bits_equal(fast.forward(x), fresh.forward(x)));
  EXPECT_TRUE(bits_equal(fast.plan().value(lg.nodes[pool].outputs[0]),
                         fresh.plan().value(fresh.lowered_graph().nodes[pool].outputs[0])));
  EXPECT_NE(fast.summary().find("codes written by lapq.MaxPool 'pool'"), std::string::npos) << fast.summary();
}

// ---- Slice / Pad on codes (option-A shortcut) --------------------------------------

// input -> Conv + Relu (codes) -> Slice ::2 ::2 -> Pad channels 8 -> 16 -> Add with a
// stride-2 conv + Relu (codes) -> GAP. `identity`: an Identity (an FP32 op) before
// the Slice, which keeps the shortcut the FP32 island Dequantize -> Slice -> Pad.
Graph shortcut_net(bool identity) {
  testing::NetBuilder b(true, 9);
  Value in;
  in.name = "input";
  in.shape = {-1, 3, 8, 8};
  in.has_shape = true;
  const int x = b.g.add_value(std::move(in));
  b.g.inputs.push_back(x);
  const int c1 = b.conv_bn("c1", x, 3, 8, 3, 1, 1, true);
  const int c2 = b.conv_bn("c2", c1, 8, 16, 3, 2, 1, false);
  const int src = identity ? b.node("Identity", "id", {c1}) : c1;
  const int64_t kEnd = std::numeric_limits<int64_t>::max();
  auto i64 = [&](std::vector<int64_t> v, const std::string& name) {
    return b.constant(Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, std::span<const int64_t>(v)), name);
  };
  const int sl = b.node("Slice", "slice", {src, i64({0, 0}, "st"), i64({kEnd, kEnd}, "en"), i64({-2, 3}, "ax"),
                                           i64({2, 2}, "sp")});
  const int pd = b.node("Pad", "pad", {sl, i64({0, 4, 0, 0, 0, 4, 0, 0}, "pads")});
  const int add = b.add_relu("add", c2, pd);
  b.g.outputs.push_back(b.node("GlobalAveragePool", "gap", {add}));
  b.g.validate_and_sort();
  return b.g;
}

QuantConfig shortcut_config(const Graph& g) {
  QuantConfig cfg;
  for (int n : quantizable_weight_nodes(g)) {
    WeightQuant w;
    w.node = n;
    w.bits = 8;
    w.grid = GridKind::kSymmetric;
    w.alpha = {0.4f};
    cfg.weights.push_back(w);
  }
  auto act = [&](const char* name, float lo, float alpha) {
    ActQuant a;
    a.value = g.find_value(name);
    a.bits = 8;
    a.grid = GridKind::kAsymmetric;  // zero point != 0: the pad code matters
    a.lo = lo;
    a.alpha = alpha;
    cfg.acts.push_back(a);
  };
  act("input", -3.f, 3.f);
  act("c1_out", -0.3f, 2.f);
  act("add_out", -0.5f, 3.f);
  return cfg;
}

TEST(QOps, SliceAndPadRunOnCodes) {
  const Shape shape{2, 3, 8, 8};
  const Tensor x = testing::random_input(shape, 8);
  const Graph g = shortcut_net(false), gi = shortcut_net(true);
  PlanOptions keep;
  keep.reuse_memory = false;
  QuantizedNetwork views(g, shortcut_config(g), shape, keep), island(gi, shortcut_config(gi), shape, keep);
  const Graph& lg = views.lowered_graph();
  // The GAP's input is dequantized in both; the island also dequantizes c1's codes.
  EXPECT_EQ(count_op(lg, kDequantizeOp), 1) << lg.to_string();
  EXPECT_EQ(count_op(island.lowered_graph(), kDequantizeOp), 2) << island.lowered_graph().to_string();
  int views_on_codes = 0;
  for (const Node& n : lg.nodes) {
    if (n.op != "Slice" && n.op != "Pad") continue;
    EXPECT_EQ(lg.values[n.inputs[0]].dtype, DType::kU8) << n.name;
    ++views_on_codes;
  }
  EXPECT_EQ(views_on_codes, 2);
  auto add_codes = [](QuantizedNetwork& net) -> const Tensor& {
    return net.plan().value(net.lowered_graph().find_value("add_out:u8"));
  };
  views.forward(x);
  island.forward(x);
  EXPECT_TRUE(bits_equal(add_codes(views), add_codes(island)));
  // A new grid for the sliced codes (zero point 0 -> 51 -> ...) reaches the pad code and the QAdd.
  for (auto [alpha, lo] : {std::pair{1.1f, -0.6f}, std::pair{2.5f, 0.f}}) {
    views.set_act_range(1, alpha, lo);
    island.set_act_range(1, alpha, lo);
    views.forward(x);
    island.forward(x);
    EXPECT_TRUE(bits_equal(add_codes(views), add_codes(island))) << alpha << " " << lo;
    QuantConfig cfg = shortcut_config(g);
    cfg.acts[1].alpha = alpha;
    cfg.acts[1].lo = lo;
    QuantizedNetwork fresh(g, cfg, shape, keep);
    fresh.forward(x);
    EXPECT_TRUE(bits_equal(add_codes(views), add_codes(fresh)));
  }
}

}  // namespace
}  // namespace lapq::quant
