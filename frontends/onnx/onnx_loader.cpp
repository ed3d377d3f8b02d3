// ModelProto -> Graph. The protobuf types do the decoding; this file checks
// what protobuf cannot (sizes against shapes, opsets, domains, supported ops)
// and builds the index-based Graph. Constant nodes become constant values
// right away, so passes and plans never see them.
#include "frontends/onnx/onnx_loader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <unordered_map>

#include "engine/op_registry.h"
#include "frontends/onnx/onnx_tensor.h"

namespace lapq {

namespace {

using onnx_frontend::dtype_from_onnx;
using onnx_frontend::tensor_from_proto;
using AP = onnx::AttributeProto;

bool is_default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

std::string node_label(const onnx::NodeProto& n) {
  if (!n.name().empty()) return n.name();
  for (const auto& o : n.output()) if (!o.empty()) return o;
  return "<unnamed " + n.op_type() + ">";
}

// Old files may leave AttributeProto.type unset; the set field tells.
AP::AttributeType attribute_type(const AP& a) {
  if (a.type() != AP::UNDEFINED) return a.type();
  if (a.has_f()) return AP::FLOAT;
  if (a.has_i()) return AP::INT;
  if (a.has_s()) return AP::STRING;
  if (a.has_t()) return AP::TENSOR;
  if (a.ints_size()) return AP::INTS;
  if (a.floats_size()) return AP::FLOATS;
  return AP::UNDEFINED;
}

AttrValue convert_attribute(const AP& a, const std::string& where, const std::string& base_dir) {
  const int64_t elements = std::max<int64_t>({a.ints_size(), a.floats_size(), static_cast<int64_t>(a.s().size())});
  LAPQ_CHECK(elements <= kMaxAttributeElements, ErrorCode::kLimit, "attribute '", a.name(), "' of ", where, " has ",
             elements, " entries; lapq's limit is ", kMaxAttributeElements);
  switch (attribute_type(a)) {
    case AP::FLOAT: return a.f();
    case AP::INT: return static_cast<int64_t>(a.i());
    case AP::STRING: return a.s();
    case AP::INTS: return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case AP::FLOATS: return std::vector<float>(a.floats().begin(), a.floats().end());
    case AP::TENSOR: return tensor_from_proto(a.t(), base_dir, "tensor attribute '" + a.name() + "' of " + where);
    case AP::UNDEFINED:
      throw Error(ErrorCode::kInvalidModel, "attribute '" + a.name() + "' of " + where + " has no value");
    default:
      throw Error(ErrorCode::kUnsupported, "attribute '" + a.name() + "' of " + where + " has type " +
                                               AP::AttributeType_Name(attribute_type(a)) +
                                               ", which lapq does not support");
  }
}

class GraphBuilder {
 public:
  GraphBuilder(const onnx::ModelProto& model, std::string file, std::string base_dir)
      : model_(model), file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  Graph build() {
    read_opset();
    const onnx::GraphProto& g = model_.graph();
    graph_.name = g.name().empty() ? file_ : g.name();
    LAPQ_CHECK(g.node_size() <= kMaxGraphNodes, ErrorCode::kLimit, "model '", file_, "' has ", g.node_size(),
               " nodes; lapq's limit is ", kMaxGraphNodes);
    for (const auto& init : g.initializer()) add_initializer(init);
    for (const auto& in : g.input()) add_input(in);
    for (const auto& n : g.node()) add_node(n);
    LAPQ_CHECK(g.output_size() > 0, ErrorCode::kInvalidModel, "model '", file_, "' has no graph outputs");
    for (const auto& out : g.output()) {
      LAPQ_CHECK(!out.name().empty(), ErrorCode::kInvalidModel, "model '", file_, "' has an unnamed graph output");
      graph_.outputs.push_back(value_id(out.name()));
    }
    graph_.validate_and_sort();
    normalize_opset_forms(graph_);  // opset-dependent meanings the reference ops cannot see
    warn_nonfinite_constants();
    return std::move(graph_);
  }

 private:
  void read_opset() {
    int opset = -1;
    for (const auto& imp : model_.opset_import())
      if (is_default_domain(imp.domain())) opset = static_cast<int>(std::min<int64_t>(imp.version(), 1 << 30));
    if (opset < 0) {
      // Models of other domains only (training ops, ML ops): name the first
      // such node rather than calling the model invalid.
      for (const auto& n : model_.graph().node())
        LAPQ_CHECK(is_default_domain(n.domain()), ErrorCode::kUnsupported, "node '", node_label(n),
                   "' uses operator '", n.op_type(), "' of domain '", n.domain(),
                   "', which lapq does not support (only the default ONNX domain)");
      throw Error(ErrorCode::kInvalidModel, "model '" + file_ + "' declares no opset for the default ONNX domain");
    }
    LAPQ_CHECK(opset >= kMinOnnxOpset && opset <= kMaxOnnxOpset, ErrorCode::kUnsupported, "model '", file_,
               "' uses ONNX opset ", opset, "; lapq supports opsets ", kMinOnnxOpset, "..", kMaxOnnxOpset);
    graph_.opset = opset;
  }

  // Id of the value called `name`, created on first mention (a node may
  // read a value that a later node in file order produces).
  int value_id(const std::string& name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    LAPQ_CHECK(graph_.values.size() < static_cast<size_t>(kMaxGraphValues), ErrorCode::kLimit, "model '", file_,
               "' has more than ", kMaxGraphValues, " values (tensors); lapq's limit is ", kMaxGraphValues);
    Value v;
    v.name = name;
    int id = graph_.add_value(std::move(v));
    ids_.emplace(name, id);
    return id;
  }

  void add_initializer(const onnx::TensorProto& init) {
    LAPQ_CHECK(!init.name().empty(), ErrorCode::kInvalidModel, "model '", file_, "' has an unnamed initializer");
    LAPQ_CHECK(!ids_.count(init.name()), ErrorCode::kInvalidModel, "model '", file_, "' has two initializers named '",
               init.name(), "'");
    set_constant(value_id(init.name()), tensor_from_proto(init, base_dir_, "initializer '" + init.name() + "'"));
  }

  // Adds a constant's bytes to the model's total (initializers, Constant
  // nodes, tensor attributes); each tensor alone is bounded by
  // max_tensor_bytes() before it is allocated.
  void count_constant_bytes(size_t bytes, const std::string& what) {
    constant_bytes_ += static_cast<int64_t>(bytes);
    LAPQ_CHECK(constant_bytes_ <= kMaxInitializerBytes, ErrorCode::kLimit, "model '", file_, "' holds more than ",
               kMaxInitializerBytes, " bytes of initializers and constants (reached at ", what,
               "); lapq's limit is ", kMaxInitializerBytes);
  }

  void set_constant(int id, Tensor t) {
    count_constant_bytes(t.nbytes(), "'" + graph_.values[id].name + "'");
    Value& v = graph_.values[id];
    v.dtype = t.dtype();
    v.shape = t.shape();
    v.has_shape = true;
    v.constant = std::move(t);
  }

  void add_input(const onnx::ValueInfoProto& in) {
    LAPQ_CHECK(!in.name().empty(), ErrorCode::kInvalidModel, "model '", file_, "' has an unnamed graph input");
    auto it = ids_.find(in.name());
    if (it != ids_.end()) {
      // An input with an initializer of the same name is a constant (a
      // default the caller could override; lapq freezes it).
      LAPQ_CHECK(graph_.values[it->second].is_constant(), ErrorCode::kInvalidModel, "model '", file_,
                 "' lists graph input '", in.name(), "' twice");
      return;
    }
    const std::string what = "graph input '" + in.name() + "'";
    LAPQ_CHECK(in.type().has_tensor_type(), ErrorCode::kUnsupported, what,
               " is not a tensor (sequences, maps and optionals are not supported)");
    const auto& tt = in.type().tensor_type();
    int id = value_id(in.name());
    Value& v = graph_.values[id];
    v.dtype = dtype_from_onnx(tt.elem_type(), what);
    if (tt.has_shape()) {
      v.has_shape = true;
      for (const auto& d : tt.shape().dim()) {
        // dim_param ("N") or nothing: symbolic, known only at plan time.
        if (d.has_dim_value()) {
          LAPQ_CHECK(d.dim_value() >= 0, ErrorCode::kInvalidModel, what, " has a negative dimension");
          v.shape.push_back(d.dim_value());
        } else {
          v.shape.push_back(-1);
        }
      }
      check_shape_limits(v.shape, what);
    }
    graph_.inputs.push_back(id);
  }

  void add_node(const onnx::NodeProto& n) {
    const std::string label = node_label(n);
    const std::string where = "node '" + label + "' (" + n.op_type() + ")";
    LAPQ_CHECK(is_default_domain(n.domain()), ErrorCode::kUnsupported, "node '", label, "' uses operator '",
               n.op_type(), "' of domain '", n.domain(), "', which lapq does not support (only the default ONNX domain)");
    if (n.op_type() == "Constant") return add_constant_node(n, label);

    const OpSchema* schema = OpRegistry::get().find(n.op_type());
    LAPQ_CHECK(schema, ErrorCode::kUnsupported, "unsupported operator '", n.op_type(), "' (node '", label, "', opset ",
               graph_.opset, ")");
    LAPQ_CHECK(graph_.opset >= schema->since_opset, ErrorCode::kUnsupported, "operator '", n.op_type(), "' (node '",
               label, "') is supported from opset ", schema->since_opset, " on; the model uses opset ", graph_.opset);

    Node node;
    node.op = n.op_type();
    node.name = n.name();
    for (const auto& in : n.input()) node.inputs.push_back(in.empty() ? -1 : value_id(in));
    while (!node.inputs.empty() && node.inputs.back() < 0) node.inputs.pop_back();
    const int count = static_cast<int>(node.inputs.size());
    LAPQ_CHECK(count >= schema->min_inputs && count <= schema->max_inputs, ErrorCode::kInvalidModel, where, " has ",
               count, " inputs; ", n.op_type(), " takes ", schema->min_inputs, "..", schema->max_inputs);
    int num_outputs = n.output_size();
    while (num_outputs > 0 && n.output(num_outputs - 1).empty()) --num_outputs;  // omitted trailing outputs
    for (int i = 0; i < num_outputs; ++i) {
      const std::string& out = n.output(i);
      if (out.empty()) {
        // An omitted optional output in the middle: a private placeholder.
        node.outputs.push_back(value_id(label + ":unused_output_" + std::to_string(i)));
        continue;
      }
      int id = value_id(out);
      LAPQ_CHECK(!graph_.values[id].is_constant() && !is_graph_input(id), ErrorCode::kInvalidModel, where,
                 " writes '", out, "', which is already an initializer or graph input");
      node.outputs.push_back(id);
    }
    LAPQ_CHECK(!node.outputs.empty(), ErrorCode::kInvalidModel, where, " has no outputs");
    for (const auto& a : n.attribute()) {
      AttrValue value = convert_attribute(a, where, base_dir_);
      if (const Tensor* t = std::get_if<Tensor>(&value))
        count_constant_bytes(t->nbytes(), "attribute '" + a.name() + "' of " + where);
      node.attrs.set(a.name(), std::move(value));
    }
    graph_.add_node(std::move(node));
  }

  bool is_graph_input(int id) const {
    for (int i : graph_.inputs) if (i == id) return true;
    return false;
  }

  void add_constant_node(const onnx::NodeProto& n, const std::string& label) {
    const std::string where = "Constant node '" + label + "'";
    LAPQ_CHECK(n.output_size() == 1 && !n.output(0).empty(), ErrorCode::kInvalidModel, where,
               " must have exactly one output");
    LAPQ_CHECK(n.attribute_size() == 1, ErrorCode::kInvalidModel, where, " must have exactly one value attribute");
    const AP& a = n.attribute(0);
    Tensor t;
    if (a.name() == "value") {
      LAPQ_CHECK(attribute_type(a) == AP::TENSOR, ErrorCode::kInvalidModel, where, ": 'value' is not a tensor");
      t = tensor_from_proto(a.t(), base_dir_, where);
    } else if (a.name() == "value_float") {
      t = Tensor::scalar_f32(a.f());
    } else if (a.name() == "value_floats") {
      t = Tensor::from<float>({a.floats_size()}, std::span<const float>(a.floats().data(), a.floats_size()));
    } else if (a.name() == "value_int") {
      t = Tensor::from<int64_t>({}, {static_cast<int64_t>(a.i())});
    } else if (a.name() == "value_ints") {
      std::vector<int64_t> v(a.ints().begin(), a.ints().end());
      t = Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, std::span<const int64_t>(v));
    } else {
      throw Error(ErrorCode::kUnsupported, where + " has attribute '" + a.name() + "', which lapq does not support");
    }
    int id = value_id(n.output(0));
    LAPQ_CHECK(!graph_.values[id].is_constant() && !is_graph_input(id), ErrorCode::kInvalidModel, where, " writes '",
               n.output(0), "', which is already an initializer or graph input");
    set_constant(id, std::move(t));
  }

  // NaN / Inf weights load (inference propagates them, as onnxruntime does)
  // but are reported on stderr; `lapq quantize` refuses them (quant/lapq.cpp,
  // docs/errors.md).
  void warn_nonfinite_constants() const {
    std::string names;
    int tensors = 0;
    for (const Value& v : graph_.values) {
      if (!v.is_constant() || v.dtype != DType::kF32) continue;
      const auto data = v.constant.span<float>();
      if (std::all_of(data.begin(), data.end(), [](float x) { return std::isfinite(x); })) continue;
      if (++tensors <= 3) names += std::string(names.empty() ? "" : ", ") + "'" + v.name + "'";
    }
    if (tensors == 0) return;
    std::fprintf(stderr, "lapq: warning: model '%s' has NaN / Inf weights in %d tensor(s) (%s%s); outputs may be NaN\n",
                 file_.c_str(), tensors, names.c_str(), tensors > 3 ? ", ..." : "");
  }

  const onnx::ModelProto& model_;
  std::string file_;
  std::string base_dir_;
  Graph graph_;
  std::unordered_map<std::string, int> ids_;
  int64_t constant_bytes_ = 0;
};

}  // namespace

Graph load_onnx_from_memory(const void* data, size_t size, const std::string& name_for_errors,
                            const std::string& base_dir_for_external_data) {
  LAPQ_CHECK(size <= static_cast<size_t>(std::numeric_limits<int>::max()), ErrorCode::kLimit, "model '",
             name_for_errors, "' is ", size, " bytes; lapq reads models up to 2 GiB");
  onnx::ModelProto model;
  // Random bytes sometimes parse as a protobuf with unknown fields only; a
  // real model has an IR version and a graph.
  bool ok = size > 0 && data && model.ParseFromArray(data, static_cast<int>(size)) && model.ir_version() > 0 &&
            model.has_graph();
  LAPQ_CHECK(ok, ErrorCode::kInvalidModel, "not a valid ONNX model: ", name_for_errors);
  return GraphBuilder(model, name_for_errors, base_dir_for_external_data).build();
}

Graph load_onnx(const std::string& path) {
  std::string bytes = onnx_frontend::read_whole_file(path, "model file");
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return load_onnx_from_memory(bytes.data(), bytes.size(), path, dir);
}

Tensor load_onnx_tensor(const std::string& path) {
  std::string bytes = onnx_frontend::read_whole_file(path, "tensor file");
  onnx::TensorProto proto;
  LAPQ_CHECK(!bytes.empty() && proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())),
             ErrorCode::kInvalidModel, "not a valid ONNX tensor file: ", path);
  std::string dir = std::filesystem::path(path).parent_path().string();
  return onnx_frontend::tensor_from_proto(proto, dir.empty() ? "." : dir, "tensor '" + proto.name() + "' in " + path);
}

}  // namespace lapq
