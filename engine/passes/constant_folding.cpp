// Constant folding. Exports compute many small tensors at run time from
// constants (PyTorch's Pad pads: ConstantOfShape -> Concat -> Reshape ->
// Slice -> Transpose -> Cast); running those once here leaves only real
// compute in the graph.
#include <algorithm>
#include <set>

#include "engine/op_registry.h"
#include "engine/passes/graph_edit.h"
#include "engine/passes/passes.h"

namespace lapq {

namespace {

using passes::is_graph_output;

// Ops whose output is not a function of their inputs.
bool is_nondeterministic(const std::string& op) {
  static const std::set<std::string> kOps = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                             "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"};
  return kOps.count(op) != 0;
}

void make_constant(Graph& g, int value_id, Tensor t) {
  Value& v = g.values[value_id];
  v.dtype = t.dtype();
  v.shape = t.shape();
  v.has_shape = true;
  v.constant = std::move(t);
}

// Folds every node whose present inputs are all constant (in node order, so
// chains fold in one sweep). Returns the number of nodes folded.
int fold_constant_inputs(Graph& g, std::vector<bool>& dead) {
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (dead[i] || is_nondeterministic(n.op)) continue;
    bool all_constant = true;
    std::vector<const Tensor*> in;
    for (int v : n.inputs) {
      if (v >= 0 && !g.values[v].is_constant()) { all_constant = false; break; }
      in.push_back(v >= 0 ? &g.values[v].constant : nullptr);
    }
    if (!all_constant) continue;
    std::vector<Tensor> out = run_reference(g, static_cast<int>(i), in);
    LAPQ_CHECK(out.size() == n.outputs.size(), ErrorCode::kInternal, "run_reference returned ", out.size(),
               " outputs for ", n.op, " '", g.node_label(static_cast<int>(i)), "'");
    if (n.activation.kind != FusedActivation::Kind::kNone && !out.empty() && out[0].dtype() == DType::kF32) {
      for (float& x : out[0].span<float>()) x = n.activation.apply(x);
    }
    for (size_t k = 0; k < out.size(); ++k) make_constant(g, n.outputs[k], std::move(out[k]));
    dead[i] = true;
    ++folded;
  }
  return folded;
}

// Shape / Size of a value whose shape is static (no -1): the batch is
// symbolic in most models, so a Shape of an activation usually stays.
int fold_static_shapes(Graph& g, std::vector<bool>& dead) {
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (dead[i] || (n.op != "Shape" && n.op != "Size") || !n.has_input(0) || n.outputs.size() != 1) continue;
    const Value& src = g.values[n.inputs[0]];
    if (!src.has_shape || !shape_known(src.shape)) continue;
    if (n.op == "Size") {
      make_constant(g, n.outputs[0], Tensor::from<int64_t>({}, {shape_numel(src.shape)}));
    } else {
      // Opset 15 start / end: negative counts from the back, clamped.
      const int64_t rank = static_cast<int64_t>(src.shape.size());
      auto clamp = [&](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
      int64_t start = clamp(n.attrs.get_int("start", 0));
      int64_t end = clamp(n.attrs.get_int("end", rank));
      std::vector<int64_t> dims;
      for (int64_t d = start; d < end; ++d) dims.push_back(src.shape[d]);
      make_constant(g, n.outputs[0],
                    Tensor::from<int64_t>({static_cast<int64_t>(dims.size())}, std::span<const int64_t>(dims)));
    }
    dead[i] = true;
    ++folded;
  }
  return folded;
}

}  // namespace

int fold_constants(Graph& g) {
  int total = 0;
  for (;;) {
    std::vector<bool> dead(g.nodes.size(), false);
    int folded = fold_constant_inputs(g, dead);
    g.compact(dead);
    total += folded;
    // Static shapes may turn Shape nodes into constants, which may enable
    // more folding: repeat until nothing changes.
    infer_symbolic_shapes(g);
    dead.assign(g.nodes.size(), false);
    folded = fold_static_shapes(g, dead);
    g.compact(dead);
    total += folded;
    if (folded == 0) break;
  }
  return total;
}

}  // namespace lapq
