// Layout assignment (run by the Plan after shape inference): which 4-D
// float32 activations are stored channels-last (NHWC) instead of NCHW.
//
// oneDNN's fast convolutions compute in NHWC; with NCHW activations each one
// pays a reorder on both sides (up to 0.45 ms per layer, docs/fp32-path.md).
// Here a value is stored NHWC when everything that touches it can handle that:
//
//   * values joined by a kFollows node (pooling, Add / Mul, Relu, ...) share
//     one layout: they form a group (union-find);
//   * a kConverts node (Conv) separates its input from its output, so a
//     chain Conv -> Relu -> MaxPool -> Conv is two groups split at the Convs;
//   * a group is NHWC when no member is touched by a kPlainOnly node (Flatten,
//     Reshape, Concat, quantizer ops, a reference Conv, ...), a graph input or
//     a graph output, and some member is read or written by a kConverts node
//     (otherwise NHWC gains nothing).
//
// Only values whose layout matters (layout_matters(): 4-D, C > 1, H * W > 1)
// take part; the others read the same in both orders (the pooled (N, C, 1, 1)
// vector before Flatten, a per-channel (1, C, 1, 1) scale). Conversions then
// happen only inside kConverts kernels at group borders: in ResNet-18 the stem
// convolution reads the NCHW image and nothing else converts.
#pragma once

#include <vector>

#include "engine/graph.h"
#include "engine/op_registry.h"

namespace lapq {

// `support[i]` is what node i's kernel can do (LayoutSupport); the graph has
// inferred shapes. Returns one Layout per value (constants: kPlain).
std::vector<Layout> assign_layouts(const Graph& graph, const std::vector<LayoutSupport>& support);

// Ops whose reference implementation treats the data as a flat array of
// independent elements (one data input; any other inputs are scalars): they
// compute the same on either layout (kFollows without a fast kernel).
bool is_flat_elementwise(const Node& node, const Graph& graph);

}  // namespace lapq
