#include "engine/passes/residual_fusion.h"

#include <algorithm>

namespace lapq {

namespace {

bool is_output(const Graph& g, int v) { return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end(); }
bool is_input(const Graph& g, int v) { return std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end(); }

bool same_f32_shape(const Value& a, const Value& b) {
  return a.has_shape && b.has_shape && a.dtype == DType::kF32 && b.dtype == DType::kF32 && a.shape == b.shape;
}

}  // namespace

std::vector<ResidualAdd> find_residual_adds(const Graph& g, const std::vector<Layout>& layouts) {
  const auto consumers = g.consumers();
  std::vector<ResidualAdd> found;
  for (size_t a = 0; a < g.nodes.size(); ++a) {
    const Node& add = g.nodes[a];
    if (add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    const int y = add.outputs[0];
    const int in0 = add.inputs[0], in1 = add.inputs[1];
    if (in0 < 0 || in1 < 0 || in0 == in1 || is_output(g, y)) continue;
    const Value& yv = g.values[y];
    if (!same_f32_shape(g.values[in0], yv) || !same_f32_shape(g.values[in1], yv)) continue;
    if (layouts[in0] != layouts[y] || layouts[in1] != layouts[y]) continue;

    // The Conv whose output t only this Add reads; the later one when both qualify.
    auto fusable_conv = [&](int t) {
      const int p = g.values[t].producer;
      if (p < 0 || is_output(g, t)) return -1;
      const Node& c = g.nodes[p];
      const bool ok = c.op == "Conv" && c.outputs.size() == 1 && c.activation.kind == FusedActivation::Kind::kNone &&
                      consumers[t].size() == 1;
      return ok ? p : -1;
    };
    const int c0 = fusable_conv(in0), c1 = fusable_conv(in1);
    const int t = c1 > c0 ? in1 : in0;
    const int c = std::max(c0, c1);
    if (c < 0) continue;
    const int r = t == in0 ? in1 : in0;
    const Value& rv = g.values[r];
    // r must be ready when the Conv runs and nobody else may read it from then on.
    if (rv.is_constant() || is_input(g, r) || is_output(g, r) || rv.producer < 0 || rv.producer >= c) continue;
    bool read_later = false;
    for (int reader : consumers[r]) read_later |= reader >= c && reader != static_cast<int>(a);
    if (read_later) continue;
    found.push_back({c, static_cast<int>(a), r});
  }
  return found;
}

}  // namespace lapq
