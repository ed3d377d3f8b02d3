// Nodes that pass their input through unchanged at inference time.
#include <algorithm>

#include "engine/passes/graph_edit.h"
#include "engine/passes/passes.h"

namespace lapq {

namespace {

using passes::constant_input;

bool all_zero(const Tensor* t) {
  if (!t) return false;
  auto v = t->to_i64();
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; });
}

// Dropout is the identity unless training_mode (opset 12+) is given and not a
// constant false.
bool is_inference_dropout(const Graph& g, const Node& n) {
  if (!n.has_input(2)) return true;
  const Tensor* training = constant_input(g, n, 2);
  return training && all_zero(training);
}

bool is_noop(const Graph& g, const Node& n) {
  if (n.op == "Identity") return true;
  if (n.op == "Dropout") return is_inference_dropout(g, n);
  if (n.op == "Pad") {
    // Opset < 11 keeps pads in an attribute, later in input 1. Zero pads are
    // a no-op in every mode and for any axes.
    if (g.opset < 11) {
      auto pads = n.attrs.get_ints("pads");
      return !pads.empty() && std::ranges::all_of(pads, [](int64_t p) { return p == 0; });
    }
    return all_zero(constant_input(g, n, 1));
  }
  if (n.op == "Cast") {
    const Value& src = g.values[n.inputs[0]];
    const Value& dst = g.values[n.outputs[0]];
    return src.has_shape && dst.has_shape && src.dtype == dst.dtype;
  }
  return false;
}

}  // namespace

int remove_noops(Graph& g) {
  infer_symbolic_shapes(g);  // Cast needs both dtypes
  std::vector<bool> dead(g.nodes.size(), false);
  int removed = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.inputs.empty() || n.outputs.empty() || !is_noop(g, n)) continue;
    if (passes::bypass_node(g, static_cast<int>(i), 0, dead)) ++removed;
  }
  g.compact(dead);
  return removed;
}

}  // namespace lapq
