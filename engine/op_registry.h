// The operator registry: one explicit table (engine/ops/registry.cpp) from an
// ONNX op type to its schema: shape inference, the reference implementation
// (first-class library code, always applicable) and an ordered list of fast
// candidates. The planner asks the candidates in order; each either returns a
// kernel or says why it declines; the reference is the last resort.
// LAPQ_VERBOSE=1 prints the choice per node (and the reasons).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/graph.h"

namespace lapq {

// Shape / dtype inference. `in[i]` is nullptr for an omitted optional input;
// a constant input has its data in in[i]->constant (needed by Reshape, Slice,
// ...). Set dtype, shape and has_shape = true on every out[i]; throw
// kShapeMismatch / kInvalidModel naming the node on inconsistent inputs.
struct InferContext {
  const Graph& graph;
  const Node& node;
  int node_id;
  std::vector<const Value*> in;
  std::vector<Value*> out;
  int opset() const { return graph.opset; }
  // "Conv 'conv1'" for error messages.
  std::string where() const;
};
using InferFn = void (*)(InferContext& ctx);

// Reference implementation: outputs are preallocated with the inferred
// dtype/shape; `in[i]` is nullptr for an omitted optional input. It does NOT
// apply node.activation (the executor does, see OpKernel::fuses_activation).
using ReferenceFn = void (*)(const Node& node, std::span<const Tensor* const> in, std::span<Tensor* const> out);

// Storage order of an activation inside a Plan. The graph, every shape and
// Plan::value() stay NCHW; a Plan may keep 4-D float32 activations
// channels-last between kernels that can read and write them so (see
// engine/passes/layout.h). kPlain = row-major as the shape says (NCHW).
enum class Layout : uint8_t { kPlain, kNhwc };

// True when the storage order of a value of this shape matters: 4-D with
// C > 1 and H * W > 1. Otherwise NCHW and NHWC address the same bytes.
inline bool layout_matters(const Shape& s) { return s.size() == 4 && s[1] > 1 && s[2] * s[3] > 1; }

// What a fast candidate can do with channels-last (NHWC) activations of a node.
enum class LayoutSupport : uint8_t {
  kPlainOnly,  // NCHW only
  kConverts,   // input 0 and output 0 each in either layout, independently (Conv: converts as needed)
  kFollows,    // all 4-D activations of the node in one common layout (pooling, elementwise)
};

// A ready-to-run implementation of one node for fixed input shapes. Created
// once per plan (weights packed / reordered there); run() must not allocate.
class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual void run(std::span<const Tensor* const> in, std::span<Tensor* const> out) = 0;
  virtual std::string impl_name() const = 0;
  // True when run() already applies node.activation.
  virtual bool fuses_activation() const { return false; }
  // Layout conversions run() performs between a value's storage layout and
  // the layout the kernel computes in (e.g. NCHW input -> NHWC convolution).
  virtual int layout_conversions() const { return 0; }
};

// What a candidate sees when asked to implement a node.
struct KernelRequest {
  const Graph& graph;       // shapes inferred for the plan's input shapes
  const Node& node;
  int num_threads;
  // Input values (nullptr = omitted); constant inputs (weights) carry data.
  std::vector<const Value*> in;
  std::vector<const Value*> out;
  // Storage layout of each input / output; missing entries are kPlain. Only
  // candidates whose LayoutQuery allows it are given a non-plain layout.
  std::vector<Layout> in_layouts = {};
  std::vector<Layout> out_layouts = {};
  Layout in_layout(size_t i) const { return i < in_layouts.size() ? in_layouts[i] : Layout::kPlain; }
  Layout out_layout(size_t i) const { return i < out_layouts.size() ? out_layouts[i] : Layout::kPlain; }
  // Residual fusion (engine/passes/residual_fusion.h), asked only of
  // candidates with FastCandidate::accepts_sum: when set, out[0] is the
  // result of the Add reading this node's output, and the kernel computes
  // out = sum_activation(node(in) + out): run() finds the Add's other input
  // (the residual) already in out[0]. node.activation is kNone then.
  const FusedActivation* sum_activation = nullptr;
};
// Returns a kernel, or nullptr after writing a one-line reason to *why_not.
using KernelFactory = std::function<std::unique_ptr<OpKernel>(const KernelRequest&, std::string* why_not)>;

// Asked with all layouts kPlain: what the candidate could do with NHWC
// activations of this node. Candidates without a query are NCHW-only.
using LayoutQuery = LayoutSupport (*)(const KernelRequest&);

struct FastCandidate {
  std::string name;  // "onednn", "avx512vnni", ...
  KernelFactory create;
  LayoutQuery layouts = nullptr;
  bool accepts_sum = false;  // `create` honours KernelRequest::sum_activation
};

struct OpSchema {
  std::string type;
  int min_inputs = 1;
  int max_inputs = 1;
  int since_opset = 1;  // oldest opset lapq implements it for
  InferFn infer = nullptr;
  ReferenceFn reference = nullptr;
  std::vector<FastCandidate> fast;  // tried in order before the reference
};

class OpRegistry {
 public:
  // The process-wide table, built on first use.
  static const OpRegistry& get();
  const OpSchema* find(const std::string& type) const;
  std::vector<std::string> op_types() const;  // sorted
  // Building the table (registry.cpp and the fast-kernel registrations).
  OpSchema& add(OpSchema s);
  OpSchema* find_mutable(const std::string& type);

  // Ops defined outside the engine (the quantizer's "lapq.*" integer ops):
  // added to the process-wide table at any time, from any thread (lock-free
  // readers; at most 64 extensions). find() and op_types() see them. Throws
  // kInternal when the type is already registered. Call once per type (e.g.
  // under std::call_once) before planning a graph that uses it.
  static void register_extension(OpSchema s);

 private:
  std::unordered_map<std::string, OpSchema> ops_;
};

// Runs the reference implementation of `node` on `in` into freshly allocated
// outputs (after inferring their shapes); used by constant folding and tests.
std::vector<Tensor> run_reference(const Graph& graph, int node_id, std::span<const Tensor* const> in);

// A reference function sees the node but not the opset. The one meaning that
// depends on the opset alone is Softmax / LogSoftmax before opset 13 (input
// coerced to 2-D at `axis`); normalize_opset_forms() marks such nodes with
// this attribute (int 1). Call it once after import; Softmax inference throws
// when an unmarked pre-13 node would be computed differently.
inline constexpr const char* kLegacyCoerce2dAttr = "lapq.coerce_2d";
void normalize_opset_forms(Graph& graph);

}  // namespace lapq
