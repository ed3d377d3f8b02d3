// Plan + executor: a graph compiled for fixed input shapes. Built once:
// shapes inferred, one kernel chosen per node (fast candidates first, the
// reference last), weights packed by the kernels, activation buffers assigned
// from a liveness-planned arena. run() then allocates nothing.
//
// The quantizer uses the lower-level hooks: value(), run_nodes() (a node range
// from buffers already filled: prefix caching) and the observer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/op_registry.h"
#include "engine/passes/residual_fusion.h"

namespace lapq {

// Bytes the activation buffers of one Plan may take together (kLimit above it,
// checked before anything is allocated). Each tensor is bounded by
// max_tensor_bytes(); this bounds their sum, e.g. a model whose many
// activations each fit but together exceed the machine (or a large batch).
// Default: the machine's physical memory. Process-wide.
size_t max_activation_bytes();
void set_max_activation_bytes(size_t bytes);

struct PlanOptions {
  int num_threads = 0;        // 0 = all cores (omp_get_max_threads)
  bool allow_fast = true;     // false = reference implementations only
  bool reuse_memory = true;   // false = every value keeps its own buffer (observers see all)
  // Store 4-D activations channels-last between kernels that handle it
  // (engine/passes/layout.h); value() still shows NCHW. The environment
  // variable LAPQ_CHANNELS_LAST=0 turns it off for every plan (measuring).
  bool channels_last = true;
};

class Plan {
 public:
  // `graph` must be validated and sorted; input_shapes[i] gives the concrete
  // shape of graph.inputs[i] (e.g. with the batch size filled in). Throws
  // kShapeMismatch when a shape does not fit the model's declared input.
  Plan(Graph graph, const std::vector<Shape>& input_shapes, PlanOptions options = {});
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // Runs the whole graph. inputs[i] must have input_shape(i) and float32.
  // Returns the graph outputs (copies owned by the caller).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  // Lower level: copy inputs in, run nodes [first, last), read values.
  void set_input(int i, const Tensor& t);
  void run_nodes(int first, int last);
  // A value's data in NCHW, whatever its storage layout (valid while its
  // buffer is not reused). For a channels-last value this is a converted
  // copy, refreshed at each call; writes through mutable_value() are
  // converted back when run_nodes() starts and after each observer call.
  const Tensor& value(int value_id) const;
  Tensor& mutable_value(int value_id);
  // How the plan stores a value (kNhwc: channels-last between kernels).
  Layout layout(int value_id) const { return layouts_.at(value_id); }
  // Layout conversions the kernels perform per run (at group borders).
  int layout_conversions() const;
  // Conv -> Add pairs run as one kernel when no observer is set
  // (engine/passes/residual_fusion.h).
  int residual_fusions() const { return static_cast<int>(fusions_.size()); }

  // Called after each node ran (node id, plan). Keeps running when empty.
  void set_observer(std::function<void(int, Plan&)> observer) { observer_ = std::move(observer); }

  const Graph& graph() const { return graph_; }
  // For changing a node's attributes or the data of its constant inputs in
  // place (the quantizer's per-evaluation parameter updates); call
  // rebuild_kernel(node) afterwards. Shapes, dtypes and the graph's structure
  // must not change.
  Graph& mutable_graph() { return graph_; }
  // Chooses and creates the kernel of one node again (weights re-packed from
  // the current constant data) and re-binds its constant inputs' buffers.
  void rebuild_kernel(int node_id);
  const Shape& input_shape(int i) const;
  int num_threads() const { return num_threads_; }
  std::string impl_name(int node_id) const;
  // Bytes held by activation buffers (after reuse) and by all values.
  size_t arena_bytes() const { return arena_bytes_; }

 private:
  void plan_memory(bool reuse);
  LayoutSupport layout_support(size_t node_id) const;
  // nullptr when the node has channels-last operands and no kernel honours them.
  std::unique_ptr<OpKernel> make_kernel(size_t node_id, bool verbose) const;
  void flush_written_values();
  // Residual fusion: the kernel computing a Conv and its Add in one pass.
  std::unique_ptr<OpKernel> make_fused_kernel(const ResidualAdd& f) const;
  void plan_residual_fusions(bool verbose);
  Graph graph_;
  PlanOptions options_;
  int num_threads_ = 1;
  std::vector<std::unique_ptr<OpKernel>> kernels_;  // one per node
  std::vector<Tensor> buffers_;                      // one per value (views into arenas when reused)
  std::vector<Layout> layouts_;                      // storage layout per value
  std::vector<LayoutSupport> support_;               // per node: what its kernel does with NHWC
  mutable std::vector<Tensor> nchw_copies_;          // value() of channels-last values
  std::vector<int> written_;                         // channels-last values written via mutable_value()
  std::vector<std::shared_ptr<void>> arenas_;
  size_t arena_bytes_ = 0;
  std::function<void(int, Plan&)> observer_;
  // Residual fusions whose Add result shares the residual's buffer, their
  // kernels, and per node the fusion it starts (Conv) or ends (Add), or -1.
  std::vector<ResidualAdd> fusions_;
  std::vector<std::unique_ptr<OpKernel>> fused_kernels_;
  std::vector<int> fusion_of_;
};

// Fills shapes/dtypes of every value for concrete input shapes (in node
// order). Throws naming the node whose inference failed.
void infer_shapes(Graph& graph, const std::vector<Shape>& input_shapes);

}  // namespace lapq
