// Elementwise activations fused into the node producing their input, so the
// executor (or a fast kernel) applies them on the producer's output while it
// is still in cache. Only when the producer's output has no other reader and
// is not a graph output (nobody may observe the pre-activation values).
#include <limits>
#include <optional>

#include "engine/passes/graph_edit.h"
#include "engine/passes/passes.h"

namespace lapq {

namespace {

using Kind = FusedActivation::Kind;
using passes::constant_input;

bool is_fusable_producer(const std::string& op) {
  return op == "Conv" || op == "Gemm" || op == "MatMul" || op == "Add";
}

// A scalar constant bound of Clip (opset 11+ inputs), or `fallback` when the
// input is omitted; nullopt when the bound is not a constant scalar.
std::optional<float> clip_bound(const Graph& g, const Node& n, size_t slot, float fallback) {
  if (!n.has_input(slot)) return fallback;
  const Tensor* t = constant_input(g, n, slot);
  if (!t || t->numel() != 1 || t->dtype() != DType::kF32) return std::nullopt;
  return t->data<float>()[0];
}

std::optional<FusedActivation> as_activation(const Graph& g, const Node& n) {
  FusedActivation a;
  if (n.op == "Relu") {
    a.kind = Kind::kRelu;
  } else if (n.op == "LeakyRelu") {
    a.kind = Kind::kLeakyRelu;
    a.alpha = n.attrs.get_float("alpha", 0.01f);
  } else if (n.op == "Sigmoid") {
    a.kind = Kind::kSigmoid;
  } else if (n.op == "HardSigmoid") {
    a.kind = Kind::kHardSigmoid;
    a.alpha = n.attrs.get_float("alpha", 0.2f);
    a.beta = n.attrs.get_float("beta", 0.5f);
  } else if (n.op == "HardSwish") {
    a.kind = Kind::kHardSwish;
  } else if (n.op == "Clip") {
    constexpr float kLow = std::numeric_limits<float>::lowest(), kHigh = std::numeric_limits<float>::max();
    a.kind = Kind::kClip;
    if (g.opset < 11) {
      a.alpha = n.attrs.get_float("min", kLow);
      a.beta = n.attrs.get_float("max", kHigh);
    } else {
      auto lo = clip_bound(g, n, 1, kLow), hi = clip_bound(g, n, 2, kHigh);
      if (!lo || !hi) return std::nullopt;
      a.alpha = *lo;
      a.beta = *hi;
    }
  } else {
    return std::nullopt;
  }
  return a;
}

}  // namespace

int fuse_activations(Graph& g) {
  infer_symbolic_shapes(g);  // dtypes: only float32 outputs take an activation
  std::vector<bool> dead(g.nodes.size(), false);
  const auto consumers = g.consumers();
  int fused = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& act = g.nodes[i];
    if (!act.has_input(0) || act.outputs.size() != 1) continue;
    auto a = as_activation(g, act);
    if (!a) continue;
    const int x = act.inputs[0];
    const int p = g.values[x].producer;
    if (p < 0 || dead[p] || consumers[x].size() != 1 || passes::is_graph_output(g, x)) continue;
    const Node& prod = g.nodes[p];
    if (!is_fusable_producer(prod.op) || prod.outputs.size() != 1 || prod.activation.kind != Kind::kNone) continue;
    const Value& xv = g.values[x];
    if (!xv.has_shape || xv.dtype != DType::kF32) continue;
    const int y = act.outputs[0];
    g.nodes[p].activation = *a;
    passes::redirect_output(g, p, 0, y);
    g.values[y].dtype = xv.dtype;
    g.values[y].shape = xv.shape;
    g.values[y].has_shape = true;
    dead[i] = true;
    ++fused;
  }
  g.compact(dead);
  return fused;
}

}  // namespace lapq
