// The operator table: built once from the per-family registration functions
// in engine/ops/, then the fast candidates (oneDNN) are attached.
#include "engine/op_registry.h"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "engine/onednn/register.h"
#include "engine/ops/op_util.h"

namespace lapq {

const OpRegistry& OpRegistry::get() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    ops::register_elementwise_ops(r);
    ops::register_conv_ops(r);
    ops::register_matmul_ops(r);
    ops::register_pool_ops(r);
    ops::register_normalization_ops(r);
    ops::register_reduce_ops(r);
    ops::register_shape_ops(r);
    ops::register_slice_pad_gather_ops(r);
    ops::register_constant_ops(r);
    onednn::register_kernels(r);
    return r;
  }();
  return registry;
}

namespace {

// Extension schemas: published once (release) and never changed or freed, so
// readers need no lock; writers are serialized by the mutex.
constexpr int kMaxExtensions = 64;
std::atomic<const OpSchema*> g_extensions[kMaxExtensions];
std::atomic<int> g_extension_count{0};
std::mutex g_extension_mutex;

const OpSchema* find_extension(const std::string& type) {
  const int n = g_extension_count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    const OpSchema* s = g_extensions[i].load(std::memory_order_acquire);
    if (s->type == type) return s;
  }
  return nullptr;
}

}  // namespace

void OpRegistry::register_extension(OpSchema s) {
  LAPQ_CHECK(!s.type.empty() && s.infer && s.reference, ErrorCode::kInternal,
             "OpRegistry::register_extension: schema '", s.type, "' needs a type, infer and reference");
  const OpRegistry& table = get();  // built first, so a duplicate of a built-in op is caught
  std::lock_guard<std::mutex> lock(g_extension_mutex);
  LAPQ_CHECK(!table.find(s.type), ErrorCode::kInternal, "OpRegistry::register_extension: op '", s.type,
             "' registered twice");
  const int n = g_extension_count.load(std::memory_order_relaxed);
  LAPQ_CHECK(n < kMaxExtensions, ErrorCode::kLimit, "OpRegistry::register_extension: more than ", kMaxExtensions,
             " extension ops");
  g_extensions[n].store(new OpSchema(std::move(s)), std::memory_order_release);  // lives for the process
  g_extension_count.store(n + 1, std::memory_order_release);
}

const OpSchema* OpRegistry::find(const std::string& type) const {
  auto it = ops_.find(type);
  return it == ops_.end() ? find_extension(type) : &it->second;
}

OpSchema* OpRegistry::find_mutable(const std::string& type) {
  auto it = ops_.find(type);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::op_types() const {
  std::vector<std::string> v;
  v.reserve(ops_.size());
  for (const auto& [k, s] : ops_) v.push_back(k);
  const int n = g_extension_count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) v.push_back(g_extensions[i].load(std::memory_order_acquire)->type);
  std::sort(v.begin(), v.end());
  return v;
}

OpSchema& OpRegistry::add(OpSchema s) {
  LAPQ_CHECK(!s.type.empty() && s.infer && s.reference, ErrorCode::kInternal,
             "OpRegistry::add: schema '", s.type, "' needs a type, infer and reference");
  LAPQ_CHECK(!ops_.count(s.type), ErrorCode::kInternal, "OpRegistry::add: op '", s.type, "' registered twice");
  std::string type = s.type;
  return ops_.emplace(std::move(type), std::move(s)).first->second;
}

std::string InferContext::where() const {
  std::string label = node.name;
  if (label.empty() && !node.outputs.empty() && node.outputs[0] >= 0 &&
      node.outputs[0] < static_cast<int>(graph.values.size()))
    label = graph.values[node.outputs[0]].name;
  return node.op + " '" + label + "'";
}

void normalize_opset_forms(Graph& graph) {
  for (Node& n : graph.nodes) {
    if ((n.op == "Softmax" || n.op == "LogSoftmax") && graph.opset < 13 && !n.attrs.has(kLegacyCoerce2dAttr))
      n.attrs.set(kLegacyCoerce2dAttr, int64_t{1});
  }
}

std::vector<Tensor> run_reference(const Graph& graph, int node_id, std::span<const Tensor* const> in) {
  LAPQ_CHECK(node_id >= 0 && node_id < static_cast<int>(graph.nodes.size()), ErrorCode::kInternal,
             "run_reference: node id ", node_id, " out of range");
  const Node& node = graph.nodes[node_id];
  const OpSchema* schema = OpRegistry::get().find(node.op);
  LAPQ_CHECK(schema, ErrorCode::kUnsupported, "op ", node.op, " (node '", graph.node_label(node_id),
             "') is not supported by lapq");
  LAPQ_CHECK(in.size() <= node.inputs.size(), ErrorCode::kInternal, "run_reference: ", in.size(),
             " tensors for node '", graph.node_label(node_id), "' with ", node.inputs.size(), " inputs");

  // Every input is presented as a constant so inference can read shape data.
  std::vector<Value> in_vals(node.inputs.size());
  std::vector<const Value*> in_ptrs(node.inputs.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i] || node.inputs[i] < 0) continue;
    Value& v = in_vals[i];
    v.name = graph.values.at(node.inputs[i]).name;
    v.dtype = in[i]->dtype();
    v.shape = in[i]->shape();
    v.has_shape = true;
    v.constant = *in[i];
    in_ptrs[i] = &v;
  }
  std::vector<Value> out_vals(node.outputs.size());
  std::vector<Value*> out_ptrs(node.outputs.size(), nullptr);
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (node.outputs[i] < 0) continue;
    out_vals[i].name = graph.values.at(node.outputs[i]).name;
    out_ptrs[i] = &out_vals[i];
  }
  InferContext ctx{graph, node, node_id, in_ptrs, out_ptrs};
  schema->infer(ctx);

  std::vector<Tensor> outs(node.outputs.size());
  std::vector<Tensor*> out_t(node.outputs.size(), nullptr);
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (!out_ptrs[i]) continue;
    LAPQ_CHECK(out_vals[i].has_shape, ErrorCode::kInternal, ctx.where(), ": inference left output ", i,
               " without a shape");
    outs[i] = Tensor(out_vals[i].dtype, out_vals[i].shape);
    out_t[i] = &outs[i];
  }
  std::vector<const Tensor*> in_t(node.inputs.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) in_t[i] = node.inputs[i] < 0 ? nullptr : in[i];
  schema->reference(node, in_t, out_t);
  return outs;
}

}  // namespace lapq
