#include "engine/summary.h"

#include <map>

namespace lapq {

int64_t node_macs(const Graph& g, const Node& n) {
  auto shape = [&](size_t i) -> const Shape& { return g.values[n.inputs[i]].shape; };
  const Shape& out = g.values[n.outputs[0]].shape;
  if (!shape_known(out)) return 0;
  if (n.op == "Conv" && n.inputs.size() >= 2) {
    const Shape& w = shape(1);  // [OC, IC/groups, KH, KW...]
    int64_t per_output = 1;
    for (size_t d = 1; d < w.size(); ++d) per_output *= w[d];
    return shape_numel(out) * per_output;
  }
  if (n.op == "Gemm" && n.inputs.size() >= 2) {
    const Shape& a = shape(0);
    int64_t k = n.attrs.get_int("transA", 0) ? a[0] : a[1];
    return shape_numel(out) * k;
  }
  if (n.op == "MatMul" && n.inputs.size() >= 2) {
    const Shape& a = shape(0);
    int64_t k = a.empty() ? 1 : a.back();
    return shape_numel(out) * k;
  }
  return 0;
}

GraphSummary summarize(const Graph& g) {
  GraphSummary s;
  std::map<std::string, int> counts;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    LayerSummary l;
    l.node_id = static_cast<int>(i);
    l.op = n.op;
    l.name = g.node_label(static_cast<int>(i));
    if (!n.outputs.empty()) l.output_shape = g.values[n.outputs[0]].shape;
    for (int v : n.inputs)
      if (v >= 0 && g.values[v].is_constant() && (n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul" ||
                                                   n.op == "BatchNormalization" || n.op == "PRelu"))
        l.params += g.values[v].constant.numel();
    l.macs = node_macs(g, n);
    l.activation = n.activation.str();
    s.total_params += l.params;
    s.total_macs += l.macs;
    counts[n.op]++;
    s.layers.push_back(std::move(l));
  }
  s.op_counts.assign(counts.begin(), counts.end());
  return s;
}

}  // namespace lapq
