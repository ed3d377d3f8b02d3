#include "engine/passes/layout.h"

#include <numeric>
#include <set>
#include <string>

namespace lapq {

namespace {

// A value whose storage order could be chosen: a computed (not constant)
// float32 activation whose layout matters.
bool candidate(const Value& v) {
  return !v.is_constant() && v.has_shape && v.dtype == DType::kF32 && layout_matters(v.shape);
}

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(int a, int b) { parent[find(a)] = find(b); }
};

}  // namespace

bool is_flat_elementwise(const Node& node, const Graph& graph) {
  static const std::set<std::string> kOps = {
      "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",  "Elu",   "Selu",  "Softplus",
      "Softsign", "ThresholdedRelu", "Sqrt", "Exp", "Log", "Erf", "Reciprocal", "Round", "Floor", "Ceil",
      "Neg",  "Abs", "Sign", "Sin", "Cos", "Tan", "Clip"};
  if (!kOps.count(node.op) || node.outputs.size() != 1 || !node.has_input(0)) return false;
  // Clip's optional min / max are scalars; anything else would be indexed per element.
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    const int v = node.inputs[i];
    if (v >= 0 && (!graph.values[v].has_shape || shape_numel(graph.values[v].shape) != 1)) return false;
  }
  return true;
}

std::vector<Layout> assign_layouts(const Graph& g, const std::vector<LayoutSupport>& support) {
  const size_t nv = g.values.size();
  UnionFind groups(nv);
  std::vector<bool> pinned(nv, false), converted(nv, false);
  for (int v : g.inputs) pinned[v] = true;
  for (int v : g.outputs) pinned[v] = true;

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    std::vector<int> operands;
    for (int v : n.inputs)
      if (v >= 0 && candidate(g.values[v])) operands.push_back(v);
    for (int v : n.outputs)
      if (candidate(g.values[v])) operands.push_back(v);
    const LayoutSupport s = i < support.size() ? support[i] : LayoutSupport::kPlainOnly;
    if (s == LayoutSupport::kFollows) {
      for (size_t k = 1; k < operands.size(); ++k) groups.join(operands[0], operands[k]);
    } else if (s == LayoutSupport::kConverts) {
      // Input 0 and output 0 are free; any other activation (there should be
      // none for a Conv with constant weights) stays plain.
      for (int v : operands) {
        const bool x = n.has_input(0) && v == n.inputs[0];
        const bool y = !n.outputs.empty() && v == n.outputs[0];
        if (x || y) converted[v] = true;
        else pinned[v] = true;
      }
    } else {
      for (int v : operands) pinned[v] = true;
    }
  }

  std::vector<bool> group_pinned(nv, false), group_converted(nv, false);
  for (size_t v = 0; v < nv; ++v) {
    if (!candidate(g.values[v])) continue;
    const int root = groups.find(static_cast<int>(v));
    if (pinned[v]) group_pinned[root] = true;
    if (converted[v]) group_converted[root] = true;
  }
  std::vector<Layout> layout(nv, Layout::kPlain);
  for (size_t v = 0; v < nv; ++v) {
    if (!candidate(g.values[v])) continue;
    const int root = groups.find(static_cast<int>(v));
    if (!group_pinned[root] && group_converted[root]) layout[v] = Layout::kNhwc;
  }
  return layout;
}

}  // namespace lapq
