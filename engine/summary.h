// Per-layer statistics of a graph with inferred shapes: parameters and
// multiply-accumulates (MACs) of Conv / Gemm / MatMul, output shapes.
// Used by `lapq info` and by `lapq bench` (GMAC/s, % of peak).
#pragma once

#include <string>
#include <vector>

#include "engine/graph.h"

namespace lapq {

struct LayerSummary {
  int node_id;
  std::string op;
  std::string name;
  Shape output_shape;
  int64_t params = 0;  // elements of constant inputs (weights, biases, BN stats)
  int64_t macs = 0;    // multiply-accumulates for the graph's batch size
  std::string activation;  // fused activation, if any
};

struct GraphSummary {
  std::vector<LayerSummary> layers;
  int64_t total_params = 0;
  int64_t total_macs = 0;
  std::vector<std::pair<std::string, int>> op_counts;  // sorted by op type
};

// `graph` must have shapes inferred (infer_shapes or a Plan's graph).
GraphSummary summarize(const Graph& graph);
// MACs of one node (0 for ops without multiply-accumulates).
int64_t node_macs(const Graph& graph, const Node& node);

}  // namespace lapq
