// Residual fusion: Conv -> Add (+ activation) computed by one kernel.
//
// In a residual block y = act(conv(x) + r) the separate Add reads two full
// activations and writes a third (ResNet-50's first stage: ~0.35 ms per Add
// at batch 1, memory-bound). oneDNN's `sum` post-op instead adds the value
// already in the convolution's destination while the output tile is in
// registers. So the Plan writes the Add's result y into the residual r's
// buffer (y takes over r's buffer: plan_memory's in-place aliasing) and runs
// at the Conv a kernel computing y = act(conv(x) + y); the Add is skipped.
//
// The fused kernel skips the conv output t, so the Plan uses it only when
// nobody can see t: not with an observer set (the unfused Conv and Add then
// run, the Add in place on r's buffer), not without buffer reuse
// (reuse_memory = false promises every value stays readable), and only when
// the run covers both nodes. Conditions on the graph (find_residual_adds):
//   * the Add has two inputs of the same shape as its output, float32;
//   * t comes from a Conv without a fused activation, t's only reader is the
//     Add, t and y are not graph outputs;
//   * r is computed (not a constant, not a graph input or output) before the
//     Conv runs, and no node from the Conv up to the Add other than the Add
//     reads r (its buffer becomes y when the Conv runs);
//   * t, r and y share one storage layout.
// When both inputs are Conv outputs (ResNet's downsampling block) the one
// computed last is fused and the other is the residual.
#pragma once

#include <vector>

#include "engine/graph.h"
#include "engine/op_registry.h"

namespace lapq {

struct ResidualAdd {
  int conv = -1;      // node computing t
  int add = -1;       // node computing y = t + r
  int residual = -1;  // value id of r
};

// `layouts` is the storage layout per value (the Plan's). Node ids ascending.
std::vector<ResidualAdd> find_residual_adds(const Graph& graph, const std::vector<Layout>& layouts);

}  // namespace lapq
