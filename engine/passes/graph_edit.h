// Small graph-editing helpers shared by the passes (internal).
#pragma once

#include <string>
#include <vector>

#include "engine/graph.h"

namespace lapq::passes {

bool is_graph_output(const Graph& g, int value_id);
bool is_graph_input(const Graph& g, int value_id);

// Adds a constant value named after `base` (made unique) and returns its id.
int add_constant(Graph& g, const std::string& base, Tensor t);

// Makes node `producer` write `new_output` in place of its output slot
// `slot` (the old output value is left unreferenced for compact()).
void redirect_output(Graph& g, int producer, int slot, int new_output);

// Removes node `node_id` (marking it in `dead`) so that readers of its output
// 0 read its input `input_slot` instead. When the output is a graph output,
// the producer of the input is renamed to write it, which needs that input to
// be produced by a node and read by nobody else; returns false (and changes
// nothing) when the node cannot be bypassed. Nodes marked in `dead` are
// ignored as readers.
bool bypass_node(Graph& g, int node_id, int input_slot, std::vector<bool>& dead);

// Readers of each value among the nodes not marked dead.
std::vector<std::vector<int>> live_consumers(const Graph& g, const std::vector<bool>& dead);

// A constant input of a node as floats / ints, or nullptr / empty when the
// input is absent or not constant.
const Tensor* constant_input(const Graph& g, const Node& n, size_t slot);

}  // namespace lapq::passes
