// Helpers shared by the oneDNN fast-kernel tests: one-node graphs, random
// tensors, and the FP32 comparison with its error bound.
//
// Tolerance: both the kernel and the reference sum K products in float32, in
// different orders. Each sum's rounding error is at most gamma_K * S with
// gamma_K ~= K * u (u = 2^-24) and S = sum |w * x| (+ |bias|) for that output,
// so |kernel - reference| <= 2 K u S (Higham, Accuracy and Stability, 3.1).
// The fused activation is applied after the sum; it is L-Lipschitz (L = 1
// for relu / clip, max(1, |slope|) leaky relu, 1/4 sigmoid, alpha
// hardsigmoid, 1.5 hardswish on the range that matters) and rounds itself by a
// few ulps, hence 4 u |ref| + 1e-6 on top. A real bug (a wrong tap, pad, group
// or transpose) moves an output by about one term |w x| ~ S / K, far above
// 2 K u S for the K < 1000 used here.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/op_registry.h"
#include "engine/plan.h"

namespace lapq::test {

inline constexpr double kUnitRoundoff = 1.0 / (1 << 24);

inline Tensor random_tensor(Shape shape, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::kF32, std::move(shape));
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& v : t.span<float>()) v = d(rng);
  return t;
}

inline Tensor abs_of(const Tensor& t) {
  Tensor a = t.clone();
  for (float& v : a.span<float>()) v = std::fabs(v);
  return a;
}

// A graph holding one node `op`: inputs[i] is a graph input when
// `constant[i]` is false (shape only), an initializer otherwise.
struct OneNode {
  Graph graph;
  std::vector<Tensor> tensors;  // every input's data, in node order

  OneNode(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<bool>& constant,
          Attributes attrs, FusedActivation act = {}) {
    Node n;
    n.op = op;
    n.name = "node";
    n.attrs = std::move(attrs);
    n.activation = act;
    for (size_t i = 0; i < inputs.size(); ++i) {
      Value v;
      v.name = "in" + std::to_string(i);
      v.shape = inputs[i].shape();
      v.has_shape = true;
      if (constant[i]) v.constant = inputs[i];
      int id = graph.add_value(std::move(v));
      if (!constant[i]) graph.inputs.push_back(id);
      n.inputs.push_back(id);
    }
    Value out;
    out.name = "out";
    int out_id = graph.add_value(std::move(out));
    n.outputs.push_back(out_id);
    graph.outputs.push_back(out_id);
    graph.add_node(std::move(n));
    graph.validate_and_sort();
    std::vector<Shape> in_shapes;
    for (int v : graph.inputs) in_shapes.push_back(graph.values[v].shape);
    infer_shapes(graph, in_shapes);
    tensors = inputs;
  }

  KernelRequest request(int num_threads = 1) const {
    KernelRequest r{graph, graph.nodes[0], num_threads, {}, {}};
    for (int v : graph.nodes[0].inputs) r.in.push_back(v >= 0 ? &graph.values[v] : nullptr);
    for (int v : graph.nodes[0].outputs) r.out.push_back(&graph.values[v]);
    return r;
  }

  // Reference output (activation applied here: references do not apply it).
  // With |inputs| and no activation it gives S = sum |w x| (+ |bias|).
  Tensor reference(const std::vector<Tensor>& inputs, bool apply_activation = true) const {
    std::vector<const Tensor*> in;
    for (const Tensor& t : inputs) in.push_back(&t);
    Tensor y = run_reference(graph, 0, in).at(0);
    if (!apply_activation) return y;
    const FusedActivation& act = graph.nodes[0].activation;
    for (float& v : y.span<float>()) v = act.apply(v);
    return y;
  }

  // Runs `kernel` on this node's inputs into a fresh output tensor.
  Tensor run(OpKernel& kernel) const {
    std::vector<const Tensor*> in;
    for (const Tensor& t : tensors) in.push_back(&t);
    const Value& y = graph.values[graph.nodes[0].outputs[0]];
    Tensor out(DType::kF32, y.shape);
    // Fill with garbage so a kernel that skips outputs cannot pass.
    for (float& v : out.span<float>()) v = NAN;
    Tensor* outs[] = {&out};
    kernel.run(in, outs);
    return out;
  }
};

// Expects |got - ref| <= L * 2 K u S + 4 u |ref| + 1e-6 per element, where
// `bound_sum` holds S for every output element.
inline void expect_close(const Tensor& got, const Tensor& ref, const Tensor& bound_sum, int64_t K, double lipschitz,
                         const std::string& what) {
  ASSERT_EQ(got.shape(), ref.shape()) << what;
  auto g = got.span<float>();
  auto r = ref.span<float>();
  auto s = bound_sum.span<float>();
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    double tol = lipschitz * 2.0 * K * kUnitRoundoff * s[i] + 4 * kUnitRoundoff * std::fabs(r[i]) + 1e-6;
    double err = std::fabs(double(g[i]) - double(r[i]));
    if (!(err <= tol)) {  // also catches NaN
      if (++bad <= 5)
        ADD_FAILURE() << what << ": element " << i << " got " << g[i] << " want " << r[i] << " (tol " << tol << ")";
    }
    if (err > worst) worst = err;
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << r.size() << " elements out of tolerance";
}

inline double lipschitz_of(const FusedActivation& a) {
  using K = FusedActivation::Kind;
  switch (a.kind) {
    case K::kLeakyRelu: return std::max(1.0, std::fabs(double(a.alpha)));
    case K::kSigmoid: return 0.25;
    case K::kHardSigmoid: return std::fabs(double(a.alpha));
    case K::kHardSwish: return 1.5 + 1e-3;  // derivative x/3 + 1/2 on [-3, 3], 1 above
    default: return 1.0;
  }
}

inline std::vector<FusedActivation> all_activations() {
  using K = FusedActivation::Kind;
  return {{K::kNone, 0, 0},      {K::kRelu, 0, 0},        {K::kClip, -0.5f, 0.75f}, {K::kClip, 0.f, 6.f},
          {K::kLeakyRelu, 0.1f, 0}, {K::kSigmoid, 0, 0},  {K::kHardSigmoid, 0.2f, 0.5f},
          {K::kHardSwish, 0, 0}};
}

}  // namespace lapq::test
