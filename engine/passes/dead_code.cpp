#include "engine/passes/passes.h"

namespace lapq {

int eliminate_dead_nodes(Graph& g) {
  std::vector<bool> live_value(g.values.size(), false);
  for (int v : g.outputs) live_value[v] = true;
  std::vector<bool> dead(g.nodes.size(), true);
  int removed = 0;
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = g.nodes[i];
    for (int o : n.outputs) if (live_value[o]) dead[i] = false;
    if (dead[i]) { ++removed; continue; }
    for (int v : n.inputs) if (v >= 0) live_value[v] = true;
  }
  g.compact(dead);
  return removed;
}

}  // namespace lapq
