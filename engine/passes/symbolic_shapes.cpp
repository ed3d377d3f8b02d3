// Shape inference without concrete input sizes. The registry's infer
// functions want concrete shapes, so the graph is probed twice with two
// different sizes substituted for every unknown input dimension; a dimension
// that comes out equal in both probes does not depend on the unknown sizes.
#include <exception>

#include "engine/op_registry.h"
#include "engine/passes/passes.h"

namespace lapq {

namespace {

// Sizes substituted for -1 input dims. Not 1: a size-1 dim broadcasts and
// could hide the dependence on the batch.
constexpr int64_t kProbeSizes[2] = {2, 3};

Graph make_probe(const Graph& g, int64_t size) {
  Graph p = g;  // constants share storage: cheap
  for (int v : p.inputs)
    for (int64_t& d : p.values[v].shape)
      if (d < 0) d = size;
  for (const Node& n : p.nodes)
    for (int o : n.outputs) p.values[o].has_shape = false;
  return p;
}

// Infers node `id` in probe `p`; false when an input lacks a shape or the
// infer function refuses.
bool infer_in_probe(Graph& p, int id) {
  const Node& node = p.nodes[id];
  const OpSchema* schema = OpRegistry::get().find(node.op);
  if (!schema || !schema->infer) return false;
  InferContext ctx{p, node, id, {}, {}};
  for (int v : node.inputs) {
    if (v >= 0 && !p.values[v].has_shape) return false;
    ctx.in.push_back(v >= 0 ? &p.values[v] : nullptr);
  }
  for (int v : node.outputs) ctx.out.push_back(&p.values[v]);
  try {
    schema->infer(ctx);
  } catch (const std::exception&) {
    for (int v : node.outputs) p.values[v].has_shape = false;
    return false;
  }
  for (int v : node.outputs)
    if (!p.values[v].has_shape) return false;
  return true;
}

}  // namespace

void infer_symbolic_shapes(Graph& g) {
  Graph probes[2] = {make_probe(g, kProbeSizes[0]), make_probe(g, kProbeSizes[1])};
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const int id = static_cast<int>(i);
    bool ok = infer_in_probe(probes[0], id);
    ok = infer_in_probe(probes[1], id) && ok;
    for (int o : g.nodes[i].outputs) {
      Value& v = g.values[o];
      if (v.is_constant()) continue;
      const Value& a = probes[0].values[o];
      const Value& b = probes[1].values[o];
      v.has_shape = ok && a.dtype == b.dtype && a.shape.size() == b.shape.size();
      if (!v.has_shape) {
        v.shape.clear();
        for (auto& p : probes) p.values[o].has_shape = false;  // downstream is unknown too
        continue;
      }
      v.dtype = a.dtype;
      v.shape = a.shape;
      for (size_t d = 0; d < v.shape.size(); ++d)
        if (a.shape[d] != b.shape[d]) v.shape[d] = -1;
    }
  }
}

}  // namespace lapq
