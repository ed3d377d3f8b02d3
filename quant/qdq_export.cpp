// Graph + QuantConfig -> ONNX QDQ model (see qdq_export.h and docs/qdq.md).
// The FP32 graph is written node by node (fused activations become their own
// nodes again); quantized weights become integer initializers + DequantizeLinear,
// quantized activations get QuantizeLinear -> DequantizeLinear after their
// producer, and every reader reads the dequantized value.
#include "quant/qdq_export.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "engine/error.h"
#include "engine/plan.h"
#include "quant/grid.h"

namespace lapq::quant {
namespace {

using TP = onnx::TensorProto;

int onnx_type(DType t) {
  switch (t) {
    case DType::kF32: return TP::FLOAT;
    case DType::kF64: return TP::DOUBLE;
    case DType::kF16: return TP::FLOAT16;
    case DType::kI64: return TP::INT64;
    case DType::kI32: return TP::INT32;
    case DType::kI16: return TP::INT16;
    case DType::kI8: return TP::INT8;
    case DType::kU8: return TP::UINT8;
    case DType::kBool: return TP::BOOL;
  }
  return TP::UNDEFINED;
}

void fill_tensor(TP* p, const std::string& name, const Tensor& t) {
  p->set_name(name);
  p->set_data_type(onnx_type(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  p->set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
}

// Ops whose inputs or attributes changed between the graph's opset and 13:
// a graph older than 13 containing one cannot simply be re-labelled opset 13.
bool changed_before_13(const std::string& op) {
  static const std::set<std::string> ops = {"Softmax", "LogSoftmax", "Hardmax", "Squeeze", "Unsqueeze", "Split",
                                            "ReduceSum", "Clip", "Pad", "Resize", "Upsample", "Slice", "TopK",
                                            "Dropout", "BatchNormalization"};
  return ops.count(op) != 0;
}

Grid act_grid(const ActQuant& q) {
  return q.grid == GridKind::kUnsigned ? make_unsigned_grid(q.alpha, q.bits) : make_asymmetric_grid(q.lo, q.alpha, q.bits);
}

class Exporter {
 public:
  Exporter(const Graph& g, const QuantConfig& c, const QdqExportOptions& o) : g_(g), c_(c), o_(o) {}

  std::string run() {
    index_config();
    plan_layer_outputs();
    const int opset = std::max(o_.opset, g_.opset);
    if (g_.opset < 13)
      for (const Node& n : g_.nodes)
        LAPQ_CHECK(!changed_before_13(n.op), ErrorCode::kUnsupported, "QDQ export: the model uses opset ", g_.opset,
                   " and a ", n.op, " node whose form changed by opset 13; re-export the FP32 model with opset >= 13");
    m_.set_ir_version(7);
    m_.set_producer_name("lapq");
    m_.set_producer_version("0.1.0");
    auto* imp = m_.add_opset_import();
    imp->set_domain("");
    imp->set_version(opset);
    gp_ = m_.mutable_graph();
    gp_->set_name(g_.name.empty() ? "lapq_qdq" : g_.name);
    read_name_.resize(g_.values.size());
    for (size_t v = 0; v < g_.values.size(); ++v) read_name_[v] = g_.values[v].name;
    for (const Value& v : g_.values) used_.insert(v.name);

    for (int in : g_.inputs) {
      declare(gp_->add_input(), g_.values[in]);
      if (act_of_[in] >= 0) emit_qdq(in);
    }
    for (size_t i = 0; i < g_.nodes.size(); ++i) emit_node(static_cast<int>(i));
    for (int out : g_.outputs) {
      declare(gp_->add_output(), g_.values[out]);
    }
    std::string bytes;
    LAPQ_CHECK(m_.SerializeToString(&bytes), ErrorCode::kInternal, "QDQ export: serializing the model failed");
    return bytes;
  }

 private:
  void index_config() {
    act_of_.assign(g_.values.size(), -1);
    wq_of_.assign(g_.nodes.size(), -1);
    for (size_t j = 0; j < c_.acts.size(); ++j) {
      const ActQuant& a = c_.acts[j];
      LAPQ_CHECK(a.value >= 0 && a.value < static_cast<int>(g_.values.size()) &&
                     (a.value_name.empty() || g_.values[a.value].name == a.value_name),
                 ErrorCode::kInvalidArgument, "QDQ export: quantized activation '", a.value_name,
                 "' does not match the graph");
      act_of_[a.value] = static_cast<int>(j);
    }
    for (size_t i = 0; i < c_.weights.size(); ++i) {
      const WeightQuant& w = c_.weights[i];
      LAPQ_CHECK(w.node >= 0 && w.node < static_cast<int>(g_.nodes.size()) &&
                     (w.node_name.empty() || g_.node_label(w.node) == w.node_name),
                 ErrorCode::kInvalidArgument, "QDQ export: quantized layer '", w.node_name, "' does not match the graph");
      wq_of_[w.node] = static_cast<int>(i);
    }
  }

  // Name, element type and shape of a graph input / output. Unknown dims are symbolic:
  // "N" for the batch (shared by inputs and outputs), "<value>_d<i>" otherwise.
  static void declare(onnx::ValueInfoProto* vi, const Value& v) {
    vi->set_name(v.name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_type(v.dtype));
    if (!v.has_shape && v.shape.empty()) return;
    auto* shape = tt->mutable_shape();
    for (size_t d = 0; d < v.shape.size(); ++d) {
      auto* dim = shape->add_dim();
      std::string param = d == 0 ? "N" : v.name;  // built by append: GCC 12 warns on "d" + to_string
      if (d > 0) param.append("_d").append(std::to_string(d));
      if (v.shape[d] >= 0)
        dim->set_dim_value(v.shape[d]);
      else
        dim->set_dim_param(param);
    }
  }

  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_.insert(name);
    return name;
  }

  std::string add_init(const std::string& base, const Tensor& t) {
    const std::string name = fresh(base);
    fill_tensor(gp_->add_initializer(), name, t);
    return name;
  }

  // The name a node reads for value v (an initializer is written on first use).
  std::string ref(int v) {
    if (v < 0) return "";
    const Value& val = g_.values[v];
    if (val.is_constant() && !emitted_.count(v)) {
      emitted_.insert(v);
      fill_tensor(gp_->add_initializer(), val.name, val.constant);
    }
    return read_name_[v];
  }

  onnx::NodeProto* add_node(const std::string& op, const std::string& name, std::vector<std::string> in,
                            std::vector<std::string> out) {
    auto* n = gp_->add_node();
    n->set_op_type(op);
    if (!name.empty()) n->set_name(fresh(name));
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }

  static void set_attr(onnx::NodeProto* n, const std::string& name, const AttrValue& v) {
    using AP = onnx::AttributeProto;
    auto* a = n->add_attribute();
    a->set_name(name);
    if (auto* i = std::get_if<int64_t>(&v)) {
      a->set_type(AP::INT);
      a->set_i(*i);
    } else if (auto* f = std::get_if<float>(&v)) {
      a->set_type(AP::FLOAT);
      a->set_f(*f);
    } else if (auto* s = std::get_if<std::string>(&v)) {
      a->set_type(AP::STRING);
      a->set_s(*s);
    } else if (auto* is = std::get_if<std::vector<int64_t>>(&v)) {
      a->set_type(AP::INTS);
      for (int64_t x : *is) a->add_ints(x);
    } else if (auto* fs = std::get_if<std::vector<float>>(&v)) {
      a->set_type(AP::FLOATS);
      for (float x : *fs) a->add_floats(x);
    } else {
      a->set_type(AP::TENSOR);
      fill_tensor(a->mutable_t(), "", std::get<Tensor>(v));
    }
  }

  // QuantizeLinear -> DequantizeLinear after value v (uint8, lapq's grid);
  // below 8 bits a Clip to the grid's code range first (uint8 saturates at 255).
  void emit_qdq(int v) { emit_qdq(v, act_grid(c_.acts[act_of_[v]])); }
  void emit_qdq(int v, const Grid& grid) {
    const int bits = grid.bits;
    const IntParams p = int_params(grid);
    const std::string& name = g_.values[v].name;
    std::string src = name;
    if (bits < 8) {
      // The dequantized values of the end codes, computed as lapq's Dequantize does.
      const float lo = static_cast<float>(p.code_min - p.zero_point) * p.scale;
      const float hi = static_cast<float>(p.code_max - p.zero_point) * p.scale;
      const std::string clipped = fresh(name + ":clip" + std::to_string(bits));
      add_node("Clip", clipped, {src, add_init(name + ":clip_lo", Tensor::scalar_f32(lo)),
                                 add_init(name + ":clip_hi", Tensor::scalar_f32(hi))},
               {clipped});
      src = clipped;
    }
    const std::string scale = add_init(name + ":scale", Tensor::scalar_f32(p.scale));
    const std::string zp =
        add_init(name + ":zero_point", Tensor::from<uint8_t>({}, {static_cast<uint8_t>(p.zero_point)}));
    const std::string qname = fresh(name + ":q"), dqname = fresh(name + ":dq");
    add_node("QuantizeLinear", qname, {src, scale, zp}, {qname});
    add_node("DequantizeLinear", dqname, {qname, scale, zp}, {dqname});
    read_name_[v] = dqname;
  }

  struct WeightOut {
    std::string dq;              // name of the dequantized weight
    std::vector<float> scale;    // per output channel (size 1 per tensor)
  };

  WeightOut emit_weight(int node_id, const WeightQuant& q) {
    const Node& n = g_.nodes[node_id];
    const std::string where = n.op + " '" + g_.node_label(node_id) + "'";
    LAPQ_CHECK(!q.bias_correction, ErrorCode::kUnsupported, "QDQ export: ", where,
               " uses LAPQ weight bias correction (a real-valued per-channel weight zero point), which "
               "DequantizeLinear cannot express; quantize without bias correction (e.g. --preset deploy)");
    const Value& wv = g_.values[n.inputs[1]];
    LAPQ_CHECK(wv.is_constant() && wv.constant.dtype() == DType::kF32, ErrorCode::kInvalidArgument, "QDQ export: ",
               where, ": the weight is not an FP32 constant");
    const Tensor& w = wv.constant;
    // Output-channel axis of the stored weight: Conv [OC, ...], Gemm transB=1 [OC, K], else [K, OC].
    int axis = 0;
    if (n.op != "Conv") {
      LAPQ_CHECK(w.rank() == 2, ErrorCode::kUnsupported, "QDQ export: ", where, ": weight of rank ", w.rank());
      axis = (n.op == "Gemm" && n.attrs.get_int("transB", 0) != 0) ? 0 : 1;
    }
    const int64_t OC = w.dim(axis), total = w.numel();
    const int64_t inner = axis == 0 ? total / std::max<int64_t>(OC, 1) : 1;
    LAPQ_CHECK(q.alpha.size() == (q.per_channel ? static_cast<size_t>(OC) : 1), ErrorCode::kInvalidArgument,
               "QDQ export: ", where, ": ", q.alpha.size(), " clipping values for ", OC, " output channels");
    std::vector<Grid> grids;
    for (size_t c = 0; c < q.alpha.size(); ++c) grids.push_back(make_grid(q.grid, q.alpha[c], q.bits));
    // 8-bit mid-rise codes are odd numbers in [-255, 255]: int32 (DequantizeLinear takes int32 with zero point 0).
    const bool wide = int_params(grids[0]).code_max > 127;
    Tensor codes(wide ? DType::kI32 : DType::kI8, w.shape());
    const float* src = w.data<float>();
    for (int64_t i = 0; i < total; ++i) {
      const int64_t oc = axis == 0 ? i / inner : i % OC;
      const int32_t code = quantize_code(grids[q.per_channel ? oc : 0], src[i]);
      if (wide)
        codes.data<int32_t>()[i] = code;
      else
        codes.data<int8_t>()[i] = static_cast<int8_t>(code);
    }
    WeightOut out;
    for (const Grid& gr : grids) out.scale.push_back(int_params(gr).scale);
    const Shape sshape = q.per_channel ? Shape{OC} : Shape{};
    const std::string base = wv.name;
    const std::string codes_name = add_init(base + ":codes", codes);
    const std::string scale_name =
        add_init(base + ":scale", Tensor::from<float>(sshape, std::span<const float>(out.scale)));
    std::vector<std::string> in = {codes_name, scale_name};
    if (!wide) in.push_back(add_init(base + ":zero_point", Tensor(DType::kI8, sshape)));  // zeros
    out.dq = fresh(base + ":dq");
    auto* dq = add_node("DequantizeLinear", out.dq, in, {out.dq});
    if (q.per_channel) set_attr(dq, "axis", int64_t{axis});
    auto* meta = m_.add_metadata_props();
    meta->set_key(std::string(kQdqWeightGridKey) + codes_name);
    meta->set_value(std::string(grid_kind_name(q.grid)) + ":" + std::to_string(q.bits));
    return out;
  }

  // int32 bias codes on the grid s_in * s_w (per output channel), read through DequantizeLinear.
  std::string emit_int32_bias(int node_id, const WeightOut& w, float s_in) {
    const Node& n = g_.nodes[node_id];
    const Tensor& b = g_.values[n.inputs[2]].constant;
    const int64_t OC = b.numel();
    std::vector<float> scale(w.scale.size());
    for (size_t c = 0; c < scale.size(); ++c) scale[c] = s_in * w.scale[c];
    Tensor codes(DType::kI32, {OC});
    for (int64_t c = 0; c < OC; ++c) {
      const double s = scale[scale.size() == 1 ? 0 : c];
      const double r = std::nearbyint(static_cast<double>(b.data<float>()[c]) / s);
      codes.data<int32_t>()[c] = static_cast<int32_t>(
          std::clamp(r, double(std::numeric_limits<int32_t>::min()), double(std::numeric_limits<int32_t>::max())));
    }
    const std::string base = g_.values[n.inputs[2]].name;
    const std::string codes_name = add_init(base + ":codes", codes);
    const Shape sshape = scale.size() == 1 ? Shape{} : Shape{OC};
    const std::string scale_name = add_init(base + ":scale", Tensor::from<float>(sshape, std::span<const float>(scale)));
    const std::string dq = fresh(base + ":dq");
    auto* node = add_node("DequantizeLinear", dq, {codes_name, scale_name}, {dq});
    if (scale.size() > 1) set_attr(node, "axis", int64_t{0});
    return dq;
  }

  void emit_node(int id) {
    const Node& n = g_.nodes[id];
    std::vector<std::string> in(n.inputs.size());
    if (wq_of_[id] >= 0) {
      const WeightOut w = emit_weight(id, c_.weights[wq_of_[id]]);
      in[1] = w.dq;
      const int x = n.inputs[0];
      if (o_.int32_bias && n.has_input(2) && x >= 0 && act_of_[x] >= 0) {
        const Value& b = g_.values[n.inputs[2]];
        if (b.is_constant() && b.constant.dtype() == DType::kF32 && b.constant.rank() == 1 &&
            (w.scale.size() == 1 || b.constant.numel() == static_cast<int64_t>(w.scale.size())))
          in[2] = emit_int32_bias(id, w, int_params(act_grid(c_.acts[act_of_[x]])).scale);
      }
    }
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (in[k].empty()) in[k] = ref(n.inputs[k]);
    std::vector<std::string> out;
    for (int v : n.outputs) out.push_back(v < 0 ? "" : g_.values[v].name);
    const bool fused = n.activation.kind != FusedActivation::Kind::kNone;
    const std::string final_out = out.empty() ? "" : out[0];
    if (fused) out[0] = fresh(final_out + ":preact");
    auto* node = add_node(n.op, n.name, in, out);
    for (const auto& [k, v] : n.attrs.all())
      if (k.rfind("lapq.", 0) != 0) set_attr(node, k, v);
    if (fused) emit_activation(n.activation, out[0], final_out, n.name);
    for (int v : n.outputs) {
      if (v >= 0 && act_of_[v] >= 0) emit_qdq(v);
      if (v >= 0 && extra_.count(v)) emit_qdq(v, extra_.at(v));
    }
  }

  // quantize_layer_outputs: grids for the FP32 outputs of quantized layers.
  void plan_layer_outputs() {
    if (!o_.quantize_layer_outputs) return;
    const auto consumers = g_.consumers();
    std::vector<bool> is_output(g_.values.size(), false);
    for (int v : g_.outputs) is_output[v] = true;  // the logits stay FP32 (ORT fuses DQ -> Gemm with a float output)
    std::vector<int> fitted;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      if (wq_of_[i] < 0) continue;
      const int y = g_.nodes[i].outputs[0];
      if (act_of_[y] >= 0 || is_output[y] || g_.values[y].dtype != DType::kF32) continue;
      const auto& readers = consumers[y];
      if (std::any_of(readers.begin(), readers.end(),
                      [&](int r) { return g_.nodes[r].op == "BatchNormalization"; }))
        continue;  // unfolded BN: the executor absorbs it into the layer's epilogue
      if (readers.size() == 1 && g_.nodes[readers[0]].op == "MaxPool" && g_.nodes[readers[0]].outputs.size() == 1 &&
          act_of_[g_.nodes[readers[0]].outputs[0]] >= 0) {
        extra_[y] = act_grid(c_.acts[act_of_[g_.nodes[readers[0]].outputs[0]]]);
        continue;
      }
      fitted.push_back(y);
    }
    if (fitted.empty()) return;
    LAPQ_CHECK(!o_.calib.empty(), ErrorCode::kInvalidArgument,
               "QDQ export: quantize_layer_outputs needs calibration inputs for the ranges of ", fitted.size(),
               " layer outputs");
    std::vector<float> lo(fitted.size(), 0.f), hi(fitted.size(), 0.f);
    for (const Tensor& x : o_.calib) {
      PlanOptions po;
      po.reuse_memory = false;
      Plan plan(g_, {x.shape()}, po);
      plan.run({x});
      for (size_t k = 0; k < fitted.size(); ++k)
        for (float v : plan.value(fitted[k]).span<float>()) {
          lo[k] = std::min(lo[k], v);
          hi[k] = std::max(hi[k], v);
        }
    }
    for (size_t k = 0; k < fitted.size(); ++k)
      extra_[fitted[k]] = lo[k] >= 0.f ? make_unsigned_grid(hi[k], 8) : make_asymmetric_grid(lo[k], hi[k], 8);
  }

  void emit_activation(const FusedActivation& a, const std::string& x, const std::string& y, const std::string& base) {
    using K = FusedActivation::Kind;
    const std::string nm = base.empty() ? y : base;
    switch (a.kind) {
      case K::kRelu: add_node("Relu", nm + ":relu", {x}, {y}); break;
      case K::kClip:
        add_node("Clip", nm + ":clip", {x, add_init(y + ":min", Tensor::scalar_f32(a.alpha)),
                                          add_init(y + ":max", Tensor::scalar_f32(a.beta))},
                 {y});
        break;
      case K::kLeakyRelu: set_attr(add_node("LeakyRelu", nm + ":leakyrelu", {x}, {y}), "alpha", a.alpha); break;
      case K::kSigmoid: add_node("Sigmoid", nm + ":sigmoid", {x}, {y}); break;
      case K::kHardSigmoid: {
        auto* n = add_node("HardSigmoid", nm + ":hardsigmoid", {x}, {y});
        set_attr(n, "alpha", a.alpha);
        set_attr(n, "beta", a.beta);
        break;
      }
      case K::kHardSwish: {  // opset 14 op: x * HardSigmoid(x; 1/6, 1/2)
        const std::string hs = fresh(y + ":hardsigmoid");
        auto* n = add_node("HardSigmoid", hs, {x}, {hs});
        set_attr(n, "alpha", 1.0f / 6.0f);
        set_attr(n, "beta", 0.5f);
        add_node("Mul", nm + ":hardswish", {x, hs}, {y});
        break;
      }
      case K::kNone: break;
    }
  }

  const Graph& g_;
  const QuantConfig& c_;
  QdqExportOptions o_;
  onnx::ModelProto m_;
  onnx::GraphProto* gp_ = nullptr;
  std::vector<int> act_of_, wq_of_;
  std::map<int, Grid> extra_;  // value -> grid of an FP32 layer output quantized for ORT
  std::vector<std::string> read_name_;
  std::set<int> emitted_;
  std::set<std::string> used_;
};

}  // namespace

std::string export_qdq(const Graph& graph, const QuantConfig& config, const QdqExportOptions& options) {
  return Exporter(graph, config, options).run();
}

void save_qdq(const std::string& path, const Graph& graph, const QuantConfig& config,
              const QdqExportOptions& options) {
  const std::string bytes = export_qdq(graph, config, options);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  LAPQ_CHECK(out.good(), ErrorCode::kIo, "cannot write ", path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  LAPQ_CHECK(out.good(), ErrorCode::kIo, "failed writing ", path);
}

}  // namespace lapq::quant
