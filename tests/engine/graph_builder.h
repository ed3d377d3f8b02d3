// Building a Graph node by node in engine tests: the input, constants and
// nodes (one output each). Test builders add their ops on top of it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/graph.h"

namespace lapq::test {

struct GraphBuilder {
  // Adds the graph input of `shape` and returns its value id.
  int input(Shape shape) {
    Value v;
    v.name = "input";
    v.shape = std::move(shape);
    v.has_shape = true;
    const int id = g.add_value(std::move(v));
    g.inputs.push_back(id);
    return id;
  }
  int constant(Tensor t) {
    Value v;
    v.name = "c" + std::to_string(g.values.size());
    v.constant = std::move(t);
    return g.add_value(std::move(v));
  }
  // Appends node `op` reading `in`; returns its output's value id.
  int node(const std::string& op, std::vector<int> in, Attributes a, FusedActivation act = {}) {
    Value out;
    out.name = op + std::to_string(g.nodes.size());
    const int y = g.add_value(std::move(out));
    Node n;
    n.op = op;
    n.name = op + "_" + std::to_string(g.nodes.size());
    n.inputs = std::move(in);
    n.outputs = {y};
    n.attrs = std::move(a);
    n.activation = act;
    g.add_node(std::move(n));
    return y;
  }

  Graph g;
};

}  // namespace lapq::test
