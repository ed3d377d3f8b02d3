#include "engine/passes/graph_edit.h"

#include <algorithm>

namespace lapq::passes {

bool is_graph_output(const Graph& g, int v) {
  return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

bool is_graph_input(const Graph& g, int v) {
  return std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end();
}

int add_constant(Graph& g, const std::string& base, Tensor t) {
  std::string name = base;
  for (int i = 1; g.find_value(name) >= 0; ++i) name = base + "_" + std::to_string(i);
  Value v;
  v.name = std::move(name);
  v.constant = std::move(t);  // add_value takes dtype and shape from it
  return g.add_value(std::move(v));
}

void redirect_output(Graph& g, int producer, int slot, int new_output) {
  Node& n = g.nodes[producer];
  g.values[n.outputs[slot]].producer = -1;
  n.outputs[slot] = new_output;
  g.values[new_output].producer = producer;
}

std::vector<std::vector<int>> live_consumers(const Graph& g, const std::vector<bool>& dead) {
  std::vector<std::vector<int>> c = g.consumers();
  for (auto& readers : c)
    std::erase_if(readers, [&](int n) { return n < static_cast<int>(dead.size()) && dead[n]; });
  return c;
}

bool bypass_node(Graph& g, int node_id, int input_slot, std::vector<bool>& dead) {
  const auto consumers = live_consumers(g, dead);
  const Node& n = g.nodes[node_id];
  if (!n.has_input(input_slot) || n.outputs.empty()) return false;
  const int src = n.inputs[input_slot];
  const int dst = n.outputs[0];
  // Other outputs (Dropout's mask) must be unused.
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (!consumers[n.outputs[k]].empty() || is_graph_output(g, n.outputs[k])) return false;
  if (is_graph_output(g, dst)) {
    const int p = g.values[src].producer;
    if (p < 0 || dead[p] || is_graph_output(g, src) || consumers[src].size() != 1) return false;
    const Node& prod = g.nodes[p];
    auto slot = std::find(prod.outputs.begin(), prod.outputs.end(), src) - prod.outputs.begin();
    g.values[dst].dtype = g.values[src].dtype;
    g.values[dst].shape = g.values[src].shape;
    g.values[dst].has_shape = g.values[src].has_shape;
    redirect_output(g, p, static_cast<int>(slot), dst);
  } else {
    for (int c : consumers[dst])
      for (int& v : g.nodes[c].inputs)
        if (v == dst) v = src;
  }
  dead[node_id] = true;
  return true;
}

const Tensor* constant_input(const Graph& g, const Node& n, size_t slot) {
  if (!n.has_input(slot)) return nullptr;
  const Value& v = g.values[n.inputs[slot]];
  return v.is_constant() ? &v.constant : nullptr;
}

}  // namespace lapq::passes
