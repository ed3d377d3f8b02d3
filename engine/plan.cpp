#include "engine/plan.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/memory.h"
#include "engine/passes/layout.h"

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

bool channels_last_allowed() {
  const char* v = std::getenv("LAPQ_CHANNELS_LAST");
  return !(v && std::strcmp(v, "0") == 0);
}

// LAPQ_RESIDUAL_FUSION=0 turns Conv + Add fusion off in every plan (measuring).
bool residual_fusion_allowed() {
  const char* v = std::getenv("LAPQ_RESIDUAL_FUSION");
  return !(v && std::strcmp(v, "0") == 0);
}

// (N, C, HW) <-> (N, HW, C), in blocks of 16 x 16 so both sides stay in cache.
void transpose_planes(const float* src, float* dst, int64_t N, int64_t rows, int64_t cols) {
  constexpr int64_t B = 16;
  for (int64_t n = 0; n < N; ++n) {
    const float* s = src + n * rows * cols;
    float* d = dst + n * rows * cols;
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (int64_t r0 = 0; r0 < rows; r0 += B)
      for (int64_t c0 = 0; c0 < cols; c0 += B)
        for (int64_t r = r0; r < std::min(rows, r0 + B); ++r)
          for (int64_t c = c0; c < std::min(cols, c0 + B); ++c) d[c * rows + r] = s[r * cols + c];
  }
}

void nhwc_to_nchw(const Tensor& src, Tensor& dst) {
  const Shape& s = src.shape();
  transpose_planes(src.data<float>(), dst.data<float>(), s[0], s[2] * s[3], s[1]);
}
void nchw_to_nhwc(const Tensor& src, Tensor& dst) {
  const Shape& s = src.shape();
  transpose_planes(src.data<float>(), dst.data<float>(), s[0], s[1], s[2] * s[3]);
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
  const size_t n = graph_.nodes.size();
  kernels_.resize(n);
  layouts_.assign(graph_.values.size(), Layout::kPlain);
  support_.assign(n, LayoutSupport::kPlainOnly);
  if (options.channels_last && options.allow_fast && channels_last_allowed()) {
    for (size_t i = 0; i < n; ++i) support_[i] = layout_support(i);
    layouts_ = assign_layouts(graph_, support_);
  }
  // A kernel that cannot take the layouts it was given (its candidate
  // declined after the query said yes) makes its node NCHW-only: assign again.
  for (bool done = false; !done;) {
    done = true;
    for (size_t i = 0; i < n && done; ++i) {
      kernels_[i] = make_kernel(i, verbose);
      if (kernels_[i]) continue;
      support_[i] = LayoutSupport::kPlainOnly;
      layouts_ = assign_layouts(graph_, support_);
      done = false;
    }
  }
  if (verbose) {
    int nhwc = 0;
    for (Layout l : layouts_) nhwc += l == Layout::kNhwc;
    std::fprintf(stderr, "lapq: layouts: %d value(s) channels-last, %d layout conversion(s) per run\n", nhwc,
                 layout_conversions());
  }
  // Residual fusion needs buffer reuse (the Add's result overwrites its
  // residual) and is invisible to readers of values (see residual_fusion.h).
  if (options.reuse_memory && options.allow_fast && residual_fusion_allowed())
    fusions_ = find_residual_adds(graph_, layouts_);
  plan_memory(options.reuse_memory);
  plan_residual_fusions(verbose);
}

Plan::~Plan() = default;

std::unique_ptr<OpKernel> Plan::make_fused_kernel(const ResidualAdd& f) const {
  const Node& conv = graph_.nodes[f.conv];
  const Node& add = graph_.nodes[f.add];
  const int y = add.outputs[0];
  KernelRequest request{graph_, conv, num_threads_, {}, {}};
  for (int v : conv.inputs) {
    request.in.push_back(v >= 0 ? &graph_.values[v] : nullptr);
    request.in_layouts.push_back(v >= 0 ? layouts_[v] : Layout::kPlain);
  }
  request.out = {&graph_.values[y]};
  request.out_layouts = {layouts_[y]};
  request.sum_activation = &add.activation;
  for (const FastCandidate& candidate : OpRegistry::get().find(conv.op)->fast) {
    if (!candidate.accepts_sum) continue;
    std::string ignored;
    if (auto kernel = candidate.create(request, &ignored)) return kernel;
  }
  return nullptr;
}

// Keeps the fusions whose Add result got its residual's buffer and whose
// Conv has a kernel that adds the residual; the others run unfused.
void Plan::plan_residual_fusions(bool verbose) {
  std::vector<ResidualAdd> kept;
  for (const ResidualAdd& f : fusions_) {
    const int y = graph_.nodes[f.add].outputs[0];
    if (buffers_[y].raw() != buffers_[f.residual].raw()) continue;
    std::unique_ptr<OpKernel> kernel = make_fused_kernel(f);
    if (!kernel) continue;
    if (verbose)
      std::fprintf(stderr, "lapq: node %d Conv '%s' + node %d Add '%s' -> %s\n", f.conv,
                   graph_.node_label(f.conv).c_str(), f.add, graph_.node_label(f.add).c_str(),
                   kernel->impl_name().c_str());
    kept.push_back(f);
    fused_kernels_.push_back(std::move(kernel));
  }
  fusions_ = std::move(kept);
  fusion_of_.assign(graph_.nodes.size(), -1);
  for (size_t k = 0; k < fusions_.size(); ++k)
    fusion_of_[fusions_[k].conv] = fusion_of_[fusions_[k].add] = static_cast<int>(k);
}

LayoutSupport Plan::layout_support(size_t i) const {
  const Node& node = graph_.nodes[i];
  const OpSchema* schema = OpRegistry::get().find(node.op);
  KernelRequest request{graph_, node, num_threads_, {}, {}};
  for (int v : node.inputs) request.in.push_back(v >= 0 ? &graph_.values[v] : nullptr);
  for (int v : node.outputs) request.out.push_back(&graph_.values[v]);
  for (const FastCandidate& candidate : schema->fast) {
    if (!candidate.layouts) continue;
    const LayoutSupport s = candidate.layouts(request);
    if (s != LayoutSupport::kPlainOnly) return s;
  }
  return is_flat_elementwise(node, graph_) ? LayoutSupport::kFollows : LayoutSupport::kPlainOnly;
}

std::unique_ptr<OpKernel> Plan::make_kernel(size_t i, bool verbose) const {
  const Node& node = graph_.nodes[i];
  const OpSchema* schema = OpRegistry::get().find(node.op);  // checked by infer_shapes
  KernelRequest request{graph_, node, num_threads_, {}, {}};
  bool channels_last = false;
  for (int v : node.inputs) {
    request.in.push_back(v >= 0 ? &graph_.values[v] : nullptr);
    request.in_layouts.push_back(v >= 0 ? layouts_[v] : Layout::kPlain);
    channels_last |= request.in_layouts.back() != Layout::kPlain;
  }
  for (int v : node.outputs) {
    request.out.push_back(&graph_.values[v]);
    request.out_layouts.push_back(layouts_[v]);
    channels_last |= request.out_layouts.back() != Layout::kPlain;
  }
  std::unique_ptr<OpKernel> kernel;
  std::string reasons;
  if (options_.allow_fast) {
    for (const FastCandidate& candidate : schema->fast) {
      // With channels-last operands only candidates that said they handle them.
      if (channels_last) {
        KernelRequest plain{graph_, node, num_threads_, request.in, request.out};
        if (!candidate.layouts || candidate.layouts(plain) == LayoutSupport::kPlainOnly) continue;
      }
      std::string why;
      kernel = candidate.create(request, &why);
      if (kernel) break;
      reasons += " " + candidate.name + ": " + (why.empty() ? "declined" : why) + ";";
    }
  }
  if (!kernel) {
    // The reference computes in NCHW; flat elementwise ops compute the same on any layout.
    if (channels_last && !is_flat_elementwise(node, graph_)) {
      if (verbose)
        std::fprintf(stderr, "lapq: node %zu %s '%s': no kernel for channels-last operands%s; planning it NCHW\n", i,
                     node.op.c_str(), graph_.node_label(static_cast<int>(i)).c_str(), reasons.c_str());
      return nullptr;
    }
    LAPQ_CHECK(schema->reference, ErrorCode::kUnsupported, "operator '", node.op, "' has no implementation");
    kernel = std::make_unique<ReferenceKernel>(node, schema->reference);
  }
  if (verbose)
    std::fprintf(stderr, "lapq: node %zu %s '%s' -> %s%s%s%s\n", i, node.op.c_str(),
                 graph_.node_label(static_cast<int>(i)).c_str(), kernel->impl_name().c_str(),
                 channels_last ? " [nhwc]" : "", reasons.empty() ? "" : "  (declined:",
                 reasons.empty() ? "" : (reasons + ")").c_str());
  return kernel;
}

int Plan::layout_conversions() const {
  int n = 0;
  for (const auto& k : kernels_) n += k ? k->layout_conversions() : 0;
  return n;
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
  LAPQ_CHECK(kernels_[node_id], ErrorCode::kInternal, "rebuild_kernel: node '", graph_.node_label(node_id),
             "' has no kernel for its channels-last operands any more");
  // A fused Conv + Add kernel holds the Conv's weights too (none: run unfused).
  if (!fusion_of_.empty() && fusion_of_[node_id] >= 0 && fusions_[fusion_of_[node_id]].conv == node_id)
    fused_kernels_[fusion_of_[node_id]] = make_fused_kernel(fusions_[fusion_of_[node_id]]);
}

namespace {
size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : SIZE_MAX;
}
std::atomic<size_t> g_max_activation_bytes{physical_memory_bytes()};
}  // namespace

size_t max_activation_bytes() { return g_max_activation_bytes.load(std::memory_order_relaxed); }
void set_max_activation_bytes(size_t bytes) { g_max_activation_bytes.store(bytes, std::memory_order_relaxed); }

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
  // In place: a fused Add's result takes over its residual's buffer when the
  // residual's last reader is that Add (residual_fusion.h).
  std::vector<int> takes_over(nv, -1);
  std::vector<bool> handed_over(nv, false);
  for (const ResidualAdd& f : fusions_) takes_over[graph_.nodes[f.add].outputs[0]] = f.residual;

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
      const int r = takes_over[v];
      if (r >= 0 && slot_of[r] >= 0 && last_use[r] == static_cast<int>(i) && bytes_of(r) == bytes_of(v)) {
        slot_of[v] = slot_of[r];
        handed_over[r] = true;
        continue;
      }
      slot_of[v] = acquire(bytes_of(v));
    }
    for (int v : node.outputs)  // outputs nobody reads (e.g. Dropout's mask)
      if (slot_of[v] >= 0 && last_use[v] < 0) slots[slot_of[v]].free = true;
    for (int v : node.inputs)
      if (v >= 0 && slot_of[v] >= 0 && last_use[v] == static_cast<int>(i) && !handed_over[v])
        slots[slot_of[v]].free = true;
  }

  auto slot_alloc_bytes = [](const Slot& slot) { return (slot.bytes + 63) / 64 * 64 + 64; };
  size_t total = 0;  // the arena plus the private buffers of inputs / outputs
  for (const Slot& slot : slots) total += slot_alloc_bytes(slot);
  for (size_t v = 0; v < nv; ++v)
    if (slot_of[v] < 0 && !graph_.values[v].is_constant() && graph_.values[v].has_shape) total += bytes_of(static_cast<int>(v));
  std::string input_shapes;
  for (int v : graph_.inputs) input_shapes += (input_shapes.empty() ? "" : ", ") + shape_str(graph_.values[v].shape);
  LAPQ_CHECK(total <= max_activation_bytes(), ErrorCode::kLimit, "the activations of this model for input shape ",
             input_shapes, " need ", total, " bytes, above lapq's limit of ", max_activation_bytes(),
             " bytes (the machine's memory by default; a smaller batch needs less)");

  arena_bytes_ = 0;
  std::vector<std::shared_ptr<std::byte[]>> slot_memory(slots.size());
  for (size_t s = 0; s < slots.size(); ++s) {
    const size_t bytes = slot_alloc_bytes(slots[s]);
    try {
      slot_memory[s] = allocate_plan_buffer(bytes);
    } catch (const Error&) {
      throw Error(ErrorCode::kLimit, "out of memory planning activation buffers");
    }
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

const Tensor& Plan::value(int value_id) const {
  const Tensor& stored = buffers_.at(value_id);
  if (layouts_[value_id] == Layout::kPlain) return stored;
  if (nchw_copies_.size() != buffers_.size()) nchw_copies_.resize(buffers_.size());
  Tensor& copy = nchw_copies_[value_id];
  if (copy.empty()) copy = Tensor(stored.dtype(), stored.shape());
  nhwc_to_nchw(stored, copy);
  return copy;
}

Tensor& Plan::mutable_value(int value_id) {
  if (layouts_.at(value_id) == Layout::kPlain) return buffers_.at(value_id);
  Tensor& copy = const_cast<Tensor&>(value(value_id));
  if (std::find(written_.begin(), written_.end(), value_id) == written_.end()) written_.push_back(value_id);
  return copy;
}

// Values written through mutable_value() in NCHW go back to their storage.
void Plan::flush_written_values() {
  for (int v : written_) nchw_to_nhwc(nchw_copies_[v], buffers_[v]);
  written_.clear();
}

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
  if (!written_.empty()) flush_written_values();
  std::vector<const Tensor*> in;
  std::vector<Tensor*> out;
  // Fused Conv + Add kernels only where no observer could see the skipped
  // Conv output, and only for pairs wholly inside [first, last).
  const bool fused = !observer_ && !fusions_.empty();
  for (int i = first; i < last; ++i) {
    const Node& node = graph_.nodes[i];
    in.clear();
    out.clear();
    for (int v : node.inputs) in.push_back(v >= 0 ? &buffers_[v] : nullptr);
    if (fused && fusion_of_[i] >= 0 && fused_kernels_[fusion_of_[i]]) {
      const ResidualAdd& f = fusions_[fusion_of_[i]];
      if (i == f.add && f.conv >= first) continue;  // the Conv's fused kernel computed it
      if (i == f.conv && f.add < last) {
        out.push_back(&buffers_[graph_.nodes[f.add].outputs[0]]);  // holds the residual (same buffer)
        fused_kernels_[fusion_of_[i]]->run(in, out);
        continue;
      }
    }
    for (int v : node.outputs) out.push_back(&buffers_[v]);
    kernels_[i]->run(in, out);
    if (node.activation.kind != FusedActivation::Kind::kNone && !kernels_[i]->fuses_activation()) {
      Tensor& y = *out[0];
      const int64_t n = y.numel(), chunk = 16384;
      float* p = y.data<float>();
#pragma omp parallel for schedule(static) if (n > 4 * chunk)
      for (int64_t j = 0; j < n; j += chunk) node.activation.apply(p + j, std::min(chunk, n - j));
    }
    if (observer_) {
      observer_(i, *this);
      if (!written_.empty()) flush_written_values();  // the observer changed a value the next nodes read
    }
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
