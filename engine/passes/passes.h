// Graph passes run between loading a model and planning it:
//
//   fold_constants      nodes whose inputs are all constant run once through
//                       their reference implementation and become constants;
//                       Shape / Size of a value whose shape is fully static
//                       (no symbolic batch dim) become constants too.
//   remove_noops        Identity, inference-mode Dropout, Pad with zero pads,
//                       Cast to the same dtype: consumers are rewired to the
//                       input.
//   fold_batchnorm      BatchNormalization after a Conv / Gemm with constant
//                       weights is folded into the weights and bias.
//   fuse_activations    Relu, Clip (constant bounds), LeakyRelu, Sigmoid,
//                       HardSigmoid, HardSwish after Conv / Gemm / MatMul / Add
//                       become Node::activation of the producer.
//   eliminate_dead      nodes whose outputs reach no graph output are removed.
//
// Every pass keeps the graph valid and topologically sorted, keeps graph
// output names, and needs no concrete input shapes: shapes that depend on a
// symbolic input dimension (-1) are found by infer_symbolic_shapes().
#pragma once

#include "engine/graph.h"

namespace lapq {

struct PassOptions {
  bool fold_constants = true;
  bool fold_batchnorm = true;    // false keeps BN separate (the quantizer's unfolded form)
  bool fuse_activations = true;
  bool eliminate_dead = true;    // dead nodes and no-op nodes (Identity, Dropout, ...)
};

// Runs the enabled passes in order: fold constants, remove no-ops, fold BN,
// fuse activations, eliminate dead nodes. Leaves symbolic shapes on values.
void optimize(Graph& graph, const PassOptions& options = {});

// The single passes; each returns how many nodes it removed or changed.
int fold_constants(Graph& graph);
int remove_noops(Graph& graph);
int fold_batchnorm(Graph& graph);
int fuse_activations(Graph& graph);
int eliminate_dead_nodes(Graph& graph);

// Fixes the graph's input shapes (e.g. the batch size a Plan is built for)
// and folds again: Shape of values that are now static, and everything
// computed from it (PyTorch's x.view(x.size(0), -1)), become constants.
// Throws kShapeMismatch when a shape does not fit an input's declared shape.
void specialize_input_shapes(Graph& graph, const std::vector<Shape>& input_shapes);

// Sets dtype / shape / has_shape of every node output that can be inferred
// without concrete input sizes. The graph is probed twice with different
// sizes for each unknown (-1) input dimension: dimensions that agree are
// static, the others stay -1. Outputs whose inference fails (or depends on an
// input of unknown rank) get has_shape = false.
void infer_symbolic_shapes(Graph& graph);

}  // namespace lapq
