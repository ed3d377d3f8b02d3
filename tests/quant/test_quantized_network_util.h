// A small ResNet-style FP32 graph built in code (Conv+BN+Relu stem, an
// identity residual block, a stride-2 block with a 1x1 projection, a
// depthwise conv, GlobalAveragePool, Flatten, Gemm) in two forms: BN unfolded
// with separate Relu nodes (the LAPQ form) or BN folded into the convs with
// Relu fused into Conv / Add (what lapq::optimize produces), and configs for it.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/plan.h"
#include "quant/quant_config.h"
#include "quant/quantized_network.h"

namespace lapq::quant::testing {

// Same dtype, shape and bytes.
inline bool bits_equal(const Tensor& a, const Tensor& b) { return a.equals(b); }

// Nodes of type `op` in `g`.
inline int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op == op;
  return n;
}

struct NetBuilder {
  Graph g;
  std::mt19937 rng;
  bool fold;
  explicit NetBuilder(bool fold_bn, uint32_t seed = 7) : rng(seed), fold(fold_bn) { g.opset = 13; }

  int constant(Tensor t, const std::string& name) {
    Value v;
    v.name = name;
    v.constant = std::move(t);  // add_value takes dtype and shape from it
    return g.add_value(std::move(v));
  }
  Tensor uniform(Shape s, float lo, float hi) {
    Tensor t(DType::kF32, std::move(s));
    std::uniform_real_distribution<float> d(lo, hi);
    for (float& x : t.span<float>()) x = d(rng);
    return t;
  }
  int node(const std::string& op, const std::string& name, std::vector<int> in, Attributes attrs = {},
           FusedActivation act = {}) {
    Node n;
    n.op = op;
    n.name = name;
    n.inputs = std::move(in);
    n.attrs = std::move(attrs);
    n.activation = act;
    Value v;
    v.name = name + "_out";
    n.outputs = {g.add_value(std::move(v))};
    g.add_node(std::move(n));
    return g.nodes.back().outputs[0];
  }
  // Conv + BN (+ Relu). Folded: BN folded into weight and bias, Relu fused.
  int conv_bn(const std::string& name, int x, int ic, int oc, int k, int stride, int group, bool relu) {
    const int icg = ic / group;
    const float bound = std::sqrt(3.0f / float(icg * k * k));
    Tensor w = uniform({oc, icg, k, k}, -bound, bound);
    Tensor gamma = uniform({oc}, 0.5f, 1.5f), beta = uniform({oc}, -0.3f, 0.3f);
    Tensor mean = uniform({oc}, -0.2f, 0.2f), var = uniform({oc}, 0.3f, 1.2f);
    Attributes a;
    a.set("kernel_shape", std::vector<int64_t>{k, k});
    a.set("strides", std::vector<int64_t>{stride, stride});
    a.set("pads", std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2});
    a.set("group", int64_t{group});
    FusedActivation r;
    r.kind = FusedActivation::Kind::kRelu;
    if (fold) {
      Tensor b(DType::kF32, {oc});
      const int64_t per = w.numel() / oc;
      for (int c = 0; c < oc; ++c) {
        const float m = gamma.data<float>()[c] / std::sqrt(var.data<float>()[c] + 1e-5f);
        for (int64_t j = 0; j < per; ++j) w.data<float>()[c * per + j] *= m;
        b.data<float>()[c] = beta.data<float>()[c] - mean.data<float>()[c] * m;
      }
      return node("Conv", name, {x, constant(std::move(w), name + ".w"), constant(std::move(b), name + ".b")}, a,
                  relu ? r : FusedActivation{});
    }
    int y = node("Conv", name, {x, constant(std::move(w), name + ".w")}, a);
    Attributes bna;
    bna.set("epsilon", 1e-5f);
    y = node("BatchNormalization", name + ".bn",
             {y, constant(std::move(gamma), name + ".gamma"), constant(std::move(beta), name + ".beta"),
              constant(std::move(mean), name + ".mean"), constant(std::move(var), name + ".var")},
             bna);
    return relu ? node("Relu", name + ".relu", {y}) : y;
  }
  int add_relu(const std::string& name, int a, int b) {
    FusedActivation r;
    r.kind = FusedActivation::Kind::kRelu;
    if (fold) return node("Add", name, {a, b}, {}, r);
    return node("Relu", name + ".relu", {node("Add", name, {a, b})});
  }
  // The graph input "input" [N, 3, H, W] (N, H, W symbolic).
  int image_input() {
    Value in;
    in.name = "input";
    in.shape = {-1, 3, -1, -1};
    in.has_shape = true;
    const int x = g.add_value(std::move(in));
    g.inputs.push_back(x);
    return x;
  }
  // GlobalAveragePool -> Flatten -> Gemm (transB) to 10 logits, made the graph's output.
  int classifier_head(int x, int channels) {
    const int gap = node("GlobalAveragePool", "gap", {x});
    Attributes fa;
    fa.set("axis", int64_t{1});
    const int flat = node("Flatten", "flatten", {gap}, fa);
    Attributes ga;
    ga.set("transB", int64_t{1});
    const int logits = node("Gemm", "fc",
                            {flat, constant(uniform({10, channels}, -0.5f, 0.5f), "fc.w"),
                             constant(uniform({10}, -0.1f, 0.1f), "fc.b")},
                            ga);
    g.outputs.push_back(logits);
    return logits;
  }
};

// Input [N, 3, H, W] -> logits [N, 10].
inline Graph make_resnet(bool fold_bn, uint32_t seed = 7) {
  NetBuilder b(fold_bn, seed);
  const int x = b.image_input();
  const int a0 = b.conv_bn("stem", x, 3, 8, 3, 1, 1, true);
  const int b1 = b.conv_bn("b1.conv1", a0, 8, 8, 3, 1, 1, true);
  const int c1 = b.conv_bn("b1.conv2", b1, 8, 8, 3, 1, 1, false);
  const int a1 = b.add_relu("b1.add", c1, a0);
  const int b2 = b.conv_bn("b2.conv1", a1, 8, 16, 3, 2, 1, true);
  const int c2 = b.conv_bn("b2.conv2", b2, 16, 16, 3, 1, 1, false);
  const int p2 = b.conv_bn("b2.proj", a1, 8, 16, 1, 2, 1, false);
  const int a2 = b.add_relu("b2.add", c2, p2);
  const int d = b.conv_bn("dw", a2, 16, 16, 3, 1, 16, true);
  b.classifier_head(d, 16);
  b.g.validate_and_sort();
  return b.g;
}

inline Tensor random_input(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  Tensor t(DType::kF32, s);
  for (float& x : t.span<float>()) x = d(rng);
  return t;
}

// Every value of the FP32 graph after one run (memory not reused).
inline std::vector<Tensor> fp32_values(const Graph& g, const Tensor& input) {
  PlanOptions o;
  o.reuse_memory = false;
  Plan p(g, {input.shape()}, o);
  p.run({input});
  std::vector<Tensor> v;
  for (size_t i = 0; i < g.values.size(); ++i) v.push_back(p.value(static_cast<int>(i)).clone());
  return v;
}

struct Variant {
  int wbits = 8, abits = 8;
  bool per_channel = false, bias_correction = false, fold_bn = false;
  GridKind wgrid = GridKind::kLapqMidRise;
  bool quantize_input = true;  // false: the "paper" form (first conv reads FP32 -> simulation)
  std::string str() const {
    return "W" + std::to_string(wbits) + "A" + std::to_string(abits) + (per_channel ? "_pc" : "_pt") +
           (bias_correction ? "_bc" : "") + (fold_bn ? "_folded" : "_unfolded") +
           "_" + grid_kind_name(wgrid) + (quantize_input ? "" : "_paper");
  }
};

// Weights: every Conv / Gemm, max-abs clipping. Activations: every ReLU output
// (unsigned, max clipping), and unless `paper`, the network input and the
// Flatten output (asymmetric, min/max) so every weight node runs on integers.
inline QuantConfig make_config(const Graph& g, const Variant& v, const Tensor& calib) {
  const std::vector<Tensor> vals = fp32_values(g, calib);
  QuantConfig c;
  c.batchnorm_folded = v.fold_bn;
  for (int n : quantizable_weight_nodes(g)) {
    WeightQuant w;
    w.node = n;
    w.node_name = g.node_label(n);
    w.bits = v.wbits;
    w.grid = v.wgrid;
    w.per_channel = v.per_channel;
    w.bias_correction = v.bias_correction;
    const Tensor m = weight_oc_first(g, n);
    const int64_t OC = m.dim(0), K = m.dim(1);
    std::vector<float> amax(static_cast<size_t>(OC), 0.f);
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t k = 0; k < K; ++k) amax[oc] = std::max(amax[oc], std::fabs(m.data<float>()[oc * K + k]));
    w.alpha = v.per_channel ? amax : std::vector<float>{*std::max_element(amax.begin(), amax.end())};
    c.weights.push_back(w);
  }
  std::vector<int> acts;
  if (v.quantize_input) acts.push_back(g.inputs[0]);
  for (int a : relu_output_values(g)) acts.push_back(a);
  if (v.quantize_input) acts.push_back(g.find_value("flatten_out"));
  std::sort(acts.begin(), acts.end(), [&](int x, int y) { return g.values[x].producer < g.values[y].producer; });
  for (int a : acts) {
    ActQuant q;
    q.value = a;
    q.value_name = g.values[a].name;
    q.bits = v.abits;
    const auto s = vals[a].span<float>();
    const float lo = *std::min_element(s.begin(), s.end()), hi = *std::max_element(s.begin(), s.end());
    if (lo >= 0.f) {
      q.grid = GridKind::kUnsigned;
      q.alpha = hi;
    } else {
      q.grid = GridKind::kAsymmetric;
      q.lo = lo;
      q.alpha = hi;
    }
    c.acts.push_back(q);
  }
  return c;
}

inline std::vector<Variant> all_variants() {
  std::vector<Variant> out;
  const int bits[4][2] = {{8, 8}, {4, 8}, {4, 4}, {2, 4}};
  for (auto& wa : bits)
    for (int pc = 0; pc < 2; ++pc)
      for (int bc = 0; bc < 2; ++bc)
        for (int fold = 0; fold < 2; ++fold) {
          Variant v;
          v.wbits = wa[0];
          v.abits = wa[1];
          v.per_channel = pc;
          v.bias_correction = bc;
          v.fold_bn = fold;
          // Alternate the weight grid so both integer forms meet every bit width.
          v.wgrid = (pc + bc + fold) % 2 ? GridKind::kSymmetric : GridKind::kLapqMidRise;
          out.push_back(v);
        }
  return out;
}

}  // namespace lapq::quant::testing
