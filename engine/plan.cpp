#include "engine/plan.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lapq {

namespace {

bool verbose_dispatch() {
  const char* v = std::getenv("LAPQ_VERBOSE");
  return v && *v && std::strcmp(v, "0") != 0;
}

// The reference implementation wrapped as a kernel: always applicable.
class ReferenceKernel final : public OpKernel {
 public:
  ReferenceKernel(const Node& node, ReferenceFn fn) : node_(node), fn_(fn) {}
  void run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override { fn_(node_, in, out); }
  std::string impl_name() const override { return "reference"; }

 private:
  const Node& node_;
  ReferenceFn fn_;
};

void check_input_shape(const Value& v, const Shape& given) {
  if (!v.has_shape) return;
  bool ok = v.shape.size() == given.size();
  for (size_t d = 0; ok && d < given.size(); ++d) ok = v.shape[d] < 0 || v.shape[d] == given[d];
  LAPQ_CHECK(ok, ErrorCode::kShapeMismatch, "input '", v.name, "' expects shape ", shape_str(v.shape), ", got ",
             shape_str(given));
  for (int64_t d : given)
    LAPQ_CHECK(d >= 0, ErrorCode::kShapeMismatch, "input '", v.name, "': shape ", shape_str(given),
               " must be concrete");
}

}  // namespace

void infer_shapes(Graph& graph, const std::vector<Shape>& input_shapes) {
  LAPQ_CHECK(input_shapes.size() == graph.inputs.size(), ErrorCode::kShapeMismatch, "the model has ",
             graph.inputs.size(), " input(s), ", input_shapes.size(), " shape(s) given");
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    Value& v = graph.values[graph.inputs[i]];
    check_input_shape(v, input_shapes[i]);
    v.shape = input_shapes[i];
    v.has_shape = true;
  }
  for (Value& v : graph.values) {
    if (v.is_constant()) {
      v.shape = v.constant.shape();
      v.dtype = v.constant.dtype();
      v.has_shape = true;
    }
  }
  const OpRegistry& registry = OpRegistry::get();
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    const OpSchema* schema = registry.find(node.op);
    LAPQ_CHECK(schema && schema->infer, ErrorCode::kUnsupported, "unsupported operator '", node.op, "' (node '",
               graph.node_label(static_cast<int>(i)), "', opset ", graph.opset, ")");
    int n_in = static_cast<int>(node.inputs.size());
    LAPQ_CHECK(n_in >= schema->min_inputs && n_in <= schema->max_inputs, ErrorCode::kInvalidModel, node.op, " '",
               graph.node_label(static_cast<int>(i)), "' has ", n_in, " inputs; expected ", schema->min_inputs,
               "..", schema->max_inputs);
    InferContext ctx{graph, node, static_cast<int>(i), {}, {}};
    for (int v : node.inputs) {
      if (v >= 0) {
        LAPQ_CHECK(graph.values[v].has_shape, ErrorCode::kInvalidModel, node.op, " '",
                   graph.node_label(static_cast<int>(i)), "': input '", graph.values[v].name, "' has no shape");
      }
      ctx.in.push_back(v >= 0 ? &graph.values[v] : nullptr);
    }
    for (int v : node.outputs) ctx.out.push_back(&graph.values[v]);
    schema->infer(ctx);
    // An unknown dim left with concrete inputs comes from the values of a
    // non-constant input (Reshape / ConstantOfShape / Range fed by a graph input).
    for (int v : node.outputs)
      LAPQ_CHECK(shape_known(graph.values[v].shape), ErrorCode::kUnsupported, node.op, " '",
                 graph.node_label(static_cast<int>(i)), "': output shape ", shape_str(graph.values[v].shape),
                 " depends on the values of a non-constant input; data-dependent shapes are not supported");
  }
}

Plan::Plan(Graph graph, const std::vector<Shape>& input_shapes, PlanOptions options)
    : graph_(std::move(graph)), options_(options) {
  infer_shapes(graph_, input_shapes);
  num_threads_ = options.num_threads > 0 ? options.num_threads : omp_get_max_threads();
  omp_set_num_threads(num_threads_);

  const bool verbose = verbose_dispatch();
  kernels_.resize(graph_.nodes.size());
  for (size_t i = 0; i < graph_.nodes.size(); ++i) kernels_[i] = make_kernel(i, verbose);
  plan_memory(options.reuse_memory);
}

Plan::~Plan() = default;

std::unique_ptr<OpKernel> Plan::make_kernel(size_t i, bool verbose) const {
  const Node& node = graph_.nodes[i];
  const OpSchema* schema = OpRegistry::get().find(node.op);  // checked by infer_shapes
  KernelRequest request{graph_, node, num_threads_, {}, {}};
  for (int v : node.inputs) request.in.push_back(v >= 0 ? &graph_.values[v] : nullptr);
  for (int v : node.outputs) request.out.push_back(&graph_.values[v]);
  std::unique_ptr<OpKernel> kernel;
  std::string reasons;
  if (options_.allow_fast) {
    for (const FastCandidate& candidate : schema->fast) {
      std::string why;
      kernel = candidate.create(request, &why);
      if (kernel) break;
      reasons += " " + candidate.name + ": " + (why.empty() ? "declined" : why) + ";";
    }
  }
  if (!kernel) {
    LAPQ_CHECK(schema->reference, ErrorCode::kUnsupported, "operator '", node.op, "' has no implementation");
    kernel = std::make_unique<ReferenceKernel>(node, schema->reference);
  }
  if (verbose)
    std::fprintf(stderr, "lapq: node %zu %s '%s' -> %s%s%s\n", i, node.op.c_str(),
                 graph_.node_label(static_cast<int>(i)).c_str(), kernel->impl_name().c_str(),
                 reasons.empty() ? "" : "  (declined:", reasons.empty() ? "" : (reasons + ")").c_str());
  return kernel;
}

void Plan::rebuild_kernel(int node_id) {
  LAPQ_CHECK(node_id >= 0 && node_id < static_cast<int>(graph_.nodes.size()), ErrorCode::kInternal,
             "rebuild_kernel: node id ", node_id, " out of range");
  for (int v : graph_.nodes[node_id].inputs) {
    if (v < 0 || !graph_.values[v].is_constant()) continue;
    const Value& val = graph_.values[v];
    LAPQ_CHECK(val.constant.shape() == val.shape && val.constant.dtype() == val.dtype, ErrorCode::kInternal,
               "rebuild_kernel: constant '", val.name, "' of node '", graph_.node_label(node_id),
               "' changed shape or dtype");
    buffers_[v] = val.constant;
  }
  kernels_[node_id].reset();
  kernels_[node_id] = make_kernel(static_cast<size_t>(node_id), false);  // quiet: called per evaluation
}

// Liveness-planned arena: walk the nodes in order; each output takes the
// best-fitting free slot (growing the largest free one when none fits) and a
// value's slot is freed after its last reader ran. Graph inputs and outputs
// keep private buffers so run() can hand them out safely.
void Plan::plan_memory(bool reuse) {
  const size_t nv = graph_.values.size();
  buffers_.assign(nv, Tensor());
  std::vector<bool> pinned(nv, false);
  for (int v : graph_.inputs) pinned[v] = true;
  for (int v : graph_.outputs) pinned[v] = true;

  std::vector<int> last_use(nv, -1);
  for (size_t i = 0; i < graph_.nodes.size(); ++i)
    for (int v : graph_.nodes[i].inputs) if (v >= 0) last_use[v] = static_cast<int>(i);

  struct Slot { size_t bytes = 0; bool free = true; };
  std::vector<Slot> slots;
  std::vector<int> slot_of(nv, -1);
  auto bytes_of = [&](int v) {
    const Value& val = graph_.values[v];
    return static_cast<size_t>(shape_numel(val.shape)) * dtype_size(val.dtype);
  };
  auto acquire = [&](size_t bytes) {
    int best = -1, largest = -1;
    for (size_t s = 0; s < slots.size(); ++s) {
      if (!slots[s].free) continue;
      if (slots[s].bytes >= bytes && (best < 0 || slots[s].bytes < slots[best].bytes)) best = static_cast<int>(s);
      if (largest < 0 || slots[s].bytes > slots[largest].bytes) largest = static_cast<int>(s);
    }
    int s = best >= 0 ? best : largest;
    if (s < 0) { slots.push_back({}); s = static_cast<int>(slots.size()) - 1; }
    slots[s].bytes = std::max(slots[s].bytes, bytes);
    slots[s].free = false;
    return s;
  };

  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& node = graph_.nodes[i];
    for (int v : node.outputs) {
      if (pinned[v] || !reuse) continue;
      slot_of[v] = acquire(bytes_of(v));
    }
    for (int v : node.outputs)  // outputs nobody reads (e.g. Dropout's mask)
      if (slot_of[v] >= 0 && last_use[v] < 0) slots[slot_of[v]].free = true;
    for (int v : node.inputs)
      if (v >= 0 && slot_of[v] >= 0 && last_use[v] == static_cast<int>(i)) slots[slot_of[v]].free = true;
  }

  arena_bytes_ = 0;
  std::vector<std::shared_ptr<std::byte[]>> slot_memory(slots.size());
  for (size_t s = 0; s < slots.size(); ++s) {
    size_t bytes = (slots[s].bytes + 63) / 64 * 64 + 64;
    auto* p = static_cast<std::byte*>(std::aligned_alloc(64, bytes));
    if (!p) throw Error(ErrorCode::kLimit, "out of memory planning activation buffers");
    std::memset(p, 0, bytes);
    slot_memory[s] = std::shared_ptr<std::byte[]>(p, [](std::byte* q) { std::free(q); });
    arena_bytes_ += slots[s].bytes;
  }
  for (size_t v = 0; v < nv; ++v) {
    const Value& val = graph_.values[v];
    if (val.is_constant()) { buffers_[v] = val.constant; continue; }
    if (!val.has_shape) continue;  // an unused value
    if (slot_of[v] >= 0) {
      buffers_[v] = Tensor::view(val.dtype, val.shape, slot_memory[slot_of[v]]);
    } else {
      buffers_[v] = Tensor(val.dtype, val.shape);
      arena_bytes_ += buffers_[v].nbytes();
    }
  }
}

const Shape& Plan::input_shape(int i) const { return graph_.values.at(graph_.inputs.at(i)).shape; }

std::string Plan::impl_name(int node_id) const { return kernels_.at(node_id)->impl_name(); }

const Tensor& Plan::value(int value_id) const { return buffers_.at(value_id); }
Tensor& Plan::mutable_value(int value_id) { return buffers_.at(value_id); }

void Plan::set_input(int i, const Tensor& t) {
  LAPQ_CHECK(i >= 0 && i < static_cast<int>(graph_.inputs.size()), ErrorCode::kInvalidArgument,
             "input index ", i, " out of range");
  const Value& v = graph_.values[graph_.inputs[i]];
  LAPQ_CHECK(t.shape() == v.shape, ErrorCode::kShapeMismatch, "input '", v.name, "': the plan was built for shape ",
             shape_str(v.shape), ", got ", shape_str(t.shape()));
  LAPQ_CHECK(t.dtype() == v.dtype, ErrorCode::kShapeMismatch, "input '", v.name, "': expected ",
             dtype_name(v.dtype), ", got ", dtype_name(t.dtype()));
  Tensor& dst = buffers_[graph_.inputs[i]];
  std::memcpy(dst.raw(), t.raw(), t.nbytes());
}

void Plan::run_nodes(int first, int last) {
  omp_set_num_threads(num_threads_);  // another plan in this thread may have changed it
  std::vector<const Tensor*> in;
  std::vector<Tensor*> out;
  for (int i = first; i < last; ++i) {
    const Node& node = graph_.nodes[i];
    in.clear();
    out.clear();
    for (int v : node.inputs) in.push_back(v >= 0 ? &buffers_[v] : nullptr);
    for (int v : node.outputs) out.push_back(&buffers_[v]);
    kernels_[i]->run(in, out);
    if (node.activation.kind != FusedActivation::Kind::kNone && !kernels_[i]->fuses_activation()) {
      Tensor& y = *out[0];
      const int64_t n = y.numel(), chunk = 16384;
      float* p = y.data<float>();
#pragma omp parallel for schedule(static) if (n > 4 * chunk)
      for (int64_t j = 0; j < n; j += chunk) node.activation.apply(p + j, std::min(chunk, n - j));
    }
    if (observer_) observer_(i, *this);
  }
}

std::vector<Tensor> Plan::run(const std::vector<Tensor>& inputs) {
  LAPQ_CHECK(inputs.size() == graph_.inputs.size(), ErrorCode::kShapeMismatch, "the model has ",
             graph_.inputs.size(), " input(s), ", inputs.size(), " given");
  for (size_t i = 0; i < inputs.size(); ++i) set_input(static_cast<int>(i), inputs[i]);
  run_nodes(0, static_cast<int>(graph_.nodes.size()));
  std::vector<Tensor> outputs;
  for (int v : graph_.outputs) outputs.push_back(buffers_[v].clone());
  return outputs;
}

}  // namespace lapq
