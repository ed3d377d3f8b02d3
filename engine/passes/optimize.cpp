#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/passes/passes.h"

namespace lapq {

void optimize(Graph& g, const PassOptions& options) {
  g.validate_and_sort();
  int folded = 0, noops = 0, bn = 0, fused = 0, dead = 0;
  // Dead nodes first: folding them would be wasted work (and may fail).
  if (options.eliminate_dead) dead += eliminate_dead_nodes(g);
  if (options.fold_constants) folded = fold_constants(g);
  if (options.eliminate_dead) noops = remove_noops(g);
  if (options.fold_batchnorm) bn = fold_batchnorm(g);
  if (options.fuse_activations) fused = fuse_activations(g);
  if (options.eliminate_dead) dead += eliminate_dead_nodes(g);
  infer_symbolic_shapes(g);
  g.validate_and_sort();
  const char* verbose = std::getenv("LAPQ_VERBOSE");
  if (verbose && *verbose && std::strcmp(verbose, "0") != 0)
    std::fprintf(stderr,
                 "lapq: optimize: %d folded, %d no-ops removed, %d batchnorms folded, %d activations fused, "
                 "%d dead nodes removed; %zu nodes left\n",
                 folded, noops, bn, fused, dead, g.nodes.size());
}

void specialize_input_shapes(Graph& g, const std::vector<Shape>& input_shapes) {
  LAPQ_CHECK(input_shapes.size() == g.inputs.size(), ErrorCode::kShapeMismatch, "the model has ", g.inputs.size(),
             " input(s), ", input_shapes.size(), " shape(s) given");
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    Value& v = g.values[g.inputs[i]];
    const Shape& given = input_shapes[i];
    bool fits = !v.has_shape || v.shape.size() == given.size();
    for (size_t d = 0; fits && d < given.size() && v.has_shape; ++d) fits = v.shape[d] < 0 || v.shape[d] == given[d];
    LAPQ_CHECK(fits && shape_known(given), ErrorCode::kShapeMismatch, "input '", v.name, "' expects shape ",
               v.has_shape ? shape_str(v.shape) : std::string("of any rank"), ", got ", shape_str(given));
    v.shape = given;
    v.has_shape = true;
  }
  fold_constants(g);
  eliminate_dead_nodes(g);
}

}  // namespace lapq
