// The quantized network executor, the ISA-dependent part (run under every
// LAPQ_MAX_ISA cap): fast kernels == references bit for bit, agreement with an
// independent float simulation of the quantized math, W8A8 close to FP32.
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

// (1) Every value of the lowered network, fast kernels vs the scalar reference.
TEST(QuantizedNetwork, FastEqualsReferenceEveryValue) {
  std::vector<Variant> variants = all_variants();
  Variant paper;
  paper.wbits = 4;
  paper.abits = 4;
  paper.bias_correction = true;
  paper.quantize_input = false;
  variants.push_back(paper);
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.str());
    const Graph g = make_resnet(v.fold_bn);
    const Tensor x = random_input(kShape, 1);
    const QuantConfig cfg = make_config(g, v, x);
    PlanOptions fast_opt, ref_opt;
    fast_opt.reuse_memory = ref_opt.reuse_memory = false;
    ref_opt.allow_fast = false;
    QuantizedNetwork fast(g, cfg, kShape, fast_opt), ref(g, cfg, kShape, ref_opt);
    const Graph& lg = fast.lowered_graph();
    // Integer nodes really are integer: every weight reading a quantized act is a QConv.
    const int expected_qconv = v.quantize_input ? 8 : 6;  // 7 convs + fc; paper: stem and fc simulated
    EXPECT_EQ(count_op(lg, kQConvOp), expected_qconv) << lg.to_string();
    EXPECT_EQ(count_op(lg, "BatchNormalization"), !v.fold_bn && !v.quantize_input ? 1 : 0) << lg.to_string();
    for (size_t i = 0; i < cfg.weights.size(); ++i) {
      if (fast.weight_is_integer(i)) {
        EXPECT_NE(fast.plan().impl_name(fast.node_of_weight(i)), "reference");
      }
      EXPECT_EQ(ref.plan().impl_name(ref.node_of_weight(i)), "reference");
    }
    const Tensor yf = fast.forward(x), yr = ref.forward(x);
    // Each lapq.* node of the fast network against its reference on the same inputs.
    int checked = 0;
    for (size_t i = 0; i < lg.nodes.size(); ++i) {
      const Node& n = lg.nodes[i];
      if (!n.op.starts_with("lapq.")) continue;
      std::vector<const Tensor*> in;
      for (int val : n.inputs) in.push_back(val >= 0 ? &fast.plan().value(val) : nullptr);
      const std::vector<Tensor> want = run_reference(lg, static_cast<int>(i), in);
      EXPECT_TRUE(bits_equal(want[0], fast.plan().value(n.outputs[0]))) << n.op << " '" << n.name << "'";
      ++checked;
    }
    EXPECT_GE(checked, 10);
    // The whole networks: FP32 nodes may use oneDNN in one and the reference in the other (not
    // bit-exact), so compare every value computed only by lapq.* nodes and exact FP32 ops.
    std::vector<bool> exact(lg.values.size(), true);
    int compared = 0;
    for (const Node& n : lg.nodes) {
      bool ok = n.op.starts_with("lapq.") || n.op == "Add" || n.op == "Relu" || n.op == "Flatten";
      for (int val : n.inputs) ok = ok && (val < 0 || exact[val]);
      for (int val : n.outputs) exact[val] = ok;
      if (!ok) continue;
      for (int val : n.outputs) {
        if (lg.values[val].name.ends_with(":nhwc")) continue;
        EXPECT_TRUE(bits_equal(fast.plan().value(val), ref.plan().value(val))) << lg.values[val].name;
        ++compared;
      }
    }
    EXPECT_GE(compared, v.quantize_input ? 10 : 0);  // paper: the FP32 stem feeds everything
  }
}

// An independent float simulation of the quantized math: the FP32 graph with
// fake-quantized weights (grid.h + bias correction, computed here) and, after
// every quantized activation, the grid's fake quantization. Teacher forcing:
// after comparing a quantized activation's codes, the simulation continues
// from the integer network's codes, so every layer is compared on identical
// inputs and a rounding difference cannot spread.
//
// Tolerance: both compute the same real number y = conv(x_hat, w_hat) * bn + b
// in units of the output step. The float reference accumulates K <= 144
// products in float (relative error <= K * 2^-24 ~ 1e-5 of sum |x w|); the
// integer kernel is exact up to ~5 float roundings of the epilogue. A code can
// therefore differ only by one and only where y lies within ~1e-4 steps of a
// rounding boundary: for continuous random data that is a tiny fraction. We
// allow |diff| <= 1 on at most 0.2% of the codes, and f32 logits within
// 1e-4 * (1 + max |logit|).
void check_against_simulation(const Graph& g, const QuantConfig& cfg, const Tensor& x) {
  const Shape kShape = x.shape();
  {
    PlanOptions no_reuse;
    no_reuse.reuse_memory = false;
    QuantizedNetwork net(g, cfg, kShape, no_reuse);
    const Tensor y_int = net.forward(x);
    const Graph& lg = net.lowered_graph();

    // Fake-quantized weights.
    Graph sim = g;
    for (const WeightQuant& w : cfg.weights) {
      const Node& n = sim.nodes[w.node];
      Tensor& wt = sim.values[n.inputs[1]].constant;
      const Tensor m = weight_oc_first(g, w.node);
      const int64_t OC = m.dim(0), K = m.dim(1);
      std::vector<Grid> grids;
      for (int64_t c = 0; c < OC; ++c) grids.push_back(make_grid(w.grid, w.alpha[w.per_channel ? c : 0], w.bits));
      std::vector<float> master(m.span<float>().begin(), m.span<float>().end()), hat(master.size());
      quantize_dequantize_per_channel(grids, master, hat);
      if (w.bias_correction) bias_correct_weights(master, hat, OC);
      const bool transposed = n.op == "MatMul" || (n.op == "Gemm" && n.attrs.get_int("transB", 0) == 0);
      Tensor t(DType::kF32, wt.shape());
      for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t k = 0; k < K; ++k) t.data<float>()[transposed ? k * OC + oc : oc * K + k] = hat[oc * K + k];
      wt = t;
    }
    std::map<int, const ActQuant*> act_of;
    for (const ActQuant& a : cfg.acts) act_of[a.value] = &a;
    auto grid_of = [](const ActQuant& a) {
      return a.grid == GridKind::kUnsigned ? make_unsigned_grid(a.alpha, a.bits)
                                           : make_asymmetric_grid(a.lo, a.alpha, a.bits);
    };
    int64_t checked = 0, differing = 0;
    auto compare_and_force = [&](int value, Tensor& t) {
      const Grid grid = grid_of(*act_of.at(value));
      const IntParams ip = int_params(grid);
      const Tensor& codes = net.plan().value(lg.find_value(g.values[value].name + ":u8"));
      const Shape& s = t.shape();
      const int64_t N = s[0], C = s[1], HW = t.numel() / (N * C);
      float* p = t.data<float>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t hw = 0; hw < HW; ++hw) {
            float& f = p[(n * C + c) * HW + hw];
            const int32_t want = quantize_code(grid, f);
            const int32_t got = codes.data<uint8_t>()[(n * HW + hw) * C + c];
            ++checked;
            if (want != got) {
              ++differing;
              EXPECT_LE(std::abs(want - got), 1) << g.values[value].name;
            }
            f = static_cast<float>(got - ip.zero_point) * ip.scale;  // continue from the integer codes
          }
    };
    Tensor xin = x.clone();
    if (act_of.count(g.inputs[0])) compare_and_force(g.inputs[0], xin);
    PlanOptions ref;
    ref.reuse_memory = false;
    Plan plan(sim, {kShape}, ref);
    plan.set_observer([&](int node, Plan& p) {
      for (int o : sim.nodes[node].outputs)
        if (act_of.count(o)) compare_and_force(o, p.mutable_value(o));
    });
    const Tensor y_sim = plan.run({xin})[0];
    EXPECT_LE(differing, std::max<int64_t>(2, checked / 500)) << differing << " of " << checked << " codes differ";
    float max_abs = 0.f, max_diff = 0.f;
    for (int64_t i = 0; i < y_sim.numel(); ++i) {
      max_abs = std::max(max_abs, std::fabs(y_sim.data<float>()[i]));
      max_diff = std::max(max_diff, std::fabs(y_sim.data<float>()[i] - y_int.data<float>()[i]));
    }
    EXPECT_LE(max_diff, 1e-4f * (1.f + max_abs));
  }
}

TEST(QuantizedNetwork, AgreesWithFloatSimulation) {
  for (const Variant& v : all_variants()) {
    SCOPED_TRACE(v.str());
    const Graph g = make_resnet(v.fold_bn);
    const Tensor x = random_input(kShape, 4);
    check_against_simulation(g, make_config(g, v, x), x);
  }
}

// Other forms: an asymmetric QConv output without activation, Clip (ReLU6) in
// FP32 then Quantize, MatMul and Gemm transB=0 on integers, Gemm alpha != 1
// simulated; also fast == reference per node.
TEST(QuantizedNetwork, OtherLayerForms) {
  testing::NetBuilder b(true, 11);
  Value in;
  in.name = "input";
  in.shape = {-1, 3, 6, 6};
  in.has_shape = true;
  const int x = b.g.add_value(std::move(in));
  b.g.inputs.push_back(x);
  Attributes ca;
  ca.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  const int y = b.node("Conv", "conv", {x, b.constant(b.uniform({8, 3, 3, 3}, -0.5f, 0.5f), "conv.w")}, ca);
  const int z = b.node("Clip", "relu6", {y, b.constant(Tensor::scalar_f32(0.f), "lo"), b.constant(Tensor::scalar_f32(1.f), "hi")});
  const int gap = b.node("GlobalAveragePool", "gap", {z});
  Attributes fa;
  fa.set("axis", int64_t{1});
  const int f = b.node("Flatten", "flatten", {gap}, fa);
  const int m = b.node("MatMul", "matmul", {f, b.constant(b.uniform({8, 12}, -1.f, 1.f), "mm.w")});
  const int h = b.node("Gemm", "fc", {m, b.constant(b.uniform({12, 5}, -1.f, 1.f), "fc.w"), b.constant(b.uniform({5}, -1.f, 1.f), "fc.b")});
  Attributes sa;
  sa.set("alpha", 0.5f);
  sa.set("transB", int64_t{1});
  const int o = b.node("Gemm", "scaled", {h, b.constant(b.uniform({4, 5}, -1.f, 1.f), "sc.w")}, sa);
  b.g.outputs.push_back(o);
  b.g.validate_and_sort();
  const Graph& g = b.g;
  const Shape shape{4, 3, 6, 6};
  const Tensor input = random_input(shape, 12);
  const std::vector<Tensor> vals = testing::fp32_values(g, input);
  for (int wbits : {8, 4}) {
    QuantConfig cfg;
    for (int n : quantizable_weight_nodes(g)) {
      WeightQuant w;
      w.node = n;
      w.bits = wbits;
      w.per_channel = true;
      w.bias_correction = true;
      w.grid = GridKind::kLapqMidRise;
      const Tensor wm = weight_oc_first(g, n);
      for (int64_t oc = 0; oc < wm.dim(0); ++oc) {
        float a = 0.f;
        for (int64_t k = 0; k < wm.dim(1); ++k) a = std::max(a, std::fabs(wm.data<float>()[oc * wm.dim(1) + k]));
        w.alpha.push_back(a);
      }
      cfg.weights.push_back(w);
    }
    for (int v : {x, y, z, f, m, h}) {
      ActQuant a;
      a.value = v;
      a.bits = 8;
      const auto s = vals[v].span<float>();
      a.lo = *std::min_element(s.begin(), s.end());
      a.alpha = *std::max_element(s.begin(), s.end());
      a.grid = a.lo < 0.f ? GridKind::kAsymmetric : GridKind::kUnsigned;
      cfg.acts.push_back(a);
    }
    EXPECT_EQ(cfg.acts[1].grid, GridKind::kAsymmetric);
    PlanOptions keep;
    keep.reuse_memory = false;
    QuantizedNetwork net(g, cfg, shape, keep);
    EXPECT_TRUE(net.weight_is_integer(0) && net.weight_is_integer(1) && net.weight_is_integer(2)) << net.summary();
    EXPECT_FALSE(net.weight_is_integer(3)) << net.summary();  // alpha = 0.5
    net.forward(input);
    const Graph& lg = net.lowered_graph();
    for (size_t i = 0; i < lg.nodes.size(); ++i) {
      const Node& n = lg.nodes[i];
      if (!n.op.starts_with("lapq.")) continue;
      std::vector<const Tensor*> ins;
      for (int val : n.inputs) ins.push_back(val >= 0 ? &net.plan().value(val) : nullptr);
      EXPECT_TRUE(bits_equal(run_reference(lg, static_cast<int>(i), ins)[0], net.plan().value(n.outputs[0]))) << n.name;
    }
    check_against_simulation(g, cfg, input);
  }
}

// W8A8 logits are close to FP32 logits (no teacher forcing: the real error).
TEST(QuantizedNetwork, W8A8CloseToFp32) {
  for (bool fold : {false, true}) {
    Variant v;
    v.fold_bn = fold;
    v.per_channel = true;
    const Graph g = make_resnet(fold);
    const Shape shape{16, 3, 12, 12};
    const Tensor x = random_input(shape, 5);
    QuantizedNetwork net(g, make_config(g, v, x), shape);
    const Tensor yq = net.forward(x);
    Plan fp(g, {shape});
    const Tensor yf = fp.run({x})[0];
    float max_abs = 0.f, max_diff = 0.f;
    for (int64_t i = 0; i < yf.numel(); ++i) {
      max_abs = std::max(max_abs, std::fabs(yf.data<float>()[i]));
      max_diff = std::max(max_diff, std::fabs(yf.data<float>()[i] - yq.data<float>()[i]));
    }
    // 8-bit steps are ~0.4% of each range; a few layers of them stay within a few percent.
    EXPECT_LE(max_diff, 0.05f * max_abs) << "fold=" << fold;
  }
}

}  // namespace
}  // namespace lapq::quant
