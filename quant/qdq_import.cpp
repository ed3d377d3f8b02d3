// ONNX QDQ model -> FP32 ONNX + QuantConfig (see qdq_import.h, docs/qdq.md).
// Works on the ModelProto: weight DequantizeLinear nodes are folded into FP32
// initializers (their codes and scales remembered), activation
// QuantizeLinear -> DequantizeLinear pairs are cut out (their grids
// remembered), the FP32 model is loaded and optimized as usual, and the
// remembered grids become the QuantConfig of the optimized graph.
#include "quant/qdq_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "engine/error.h"
#include "engine/passes/passes.h"
#include "frontends/dataset/labels.h"
#include "frontends/image/preprocess_config.h"
#include "frontends/onnx/onnx_loader.h"
#include "frontends/onnx/onnx_tensor.h"
#include "quant/grid.h"
#include "quant/qdq_export.h"
#include "quant/quantized_network.h"

namespace lapq::quant {
namespace {

using TP = onnx::TensorProto;
using onnx_frontend::tensor_from_proto;

std::string label(const onnx::NodeProto& n) {
  const std::string nm = n.name().empty() ? (n.output_size() ? n.output(0) : std::string("?")) : n.name();
  return n.op_type() + " '" + nm + "'";
}

int64_t int_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kI8: return t.data<int8_t>()[i];
    case DType::kU8: return t.data<uint8_t>()[i];
    case DType::kI32: return t.data<int32_t>()[i];
    default: throw Error(ErrorCode::kInternal, "int_at: not an integer tensor");
  }
}

// Scale, zero point and axis of one QuantizeLinear / DequantizeLinear.
struct QParams {
  std::vector<float> scale;
  std::vector<int32_t> zp;   // same size as scale
  DType zp_type = DType::kU8;
  int axis = -1;             // -1: per tensor
};

// Where a value's grid came from.
struct WeightInfo {
  Tensor codes;              // as stored (int8 / uint8 / int32)
  QParams q;
  std::string codes_name;    // initializer name (for the grid hint)
  std::string where;
};
struct ActInfo {
  float scale = 1.f;
  int32_t zp = 0;            // uint8 zero point (int8 files: + 128)
  int bits = 8;
  int order = 0;             // position in the file, for a stable config order
  std::string where;
};

class Importer {
 public:
  Importer(const std::string& bytes, std::string name) : file_(std::move(name)) {
    const bool ok = !bytes.empty() && bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()) &&
                    m_.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) && m_.has_graph();
    LAPQ_CHECK(ok, ErrorCode::kInvalidModel, "not a valid ONNX model: ", file_);
  }

  QdqImport run() {
    onnx::GraphProto& g = *m_.mutable_graph();
    for (int i = 0; i < g.initializer_size(); ++i) init_[g.initializer(i).name()] = i;
    for (int i = 0; i < g.node_size(); ++i) {
      const auto& n = g.node(i);
      for (const auto& o : n.output()) producer_[o] = i;
      for (const auto& in : n.input()) consumers_[in].push_back(i);
    }
    for (const auto& p : m_.metadata_props())
      if (p.key().rfind(kQdqWeightGridKey, 0) == 0) hints_[p.key().substr(std::string(kQdqWeightGridKey).size())] = p.value();
    dead_.assign(g.node_size(), false);
    for (int i = 0; i < g.node_size(); ++i)
      if (g.node(i).op_type() == "DequantizeLinear") handle_dq(i);
    for (int i = 0; i < g.node_size(); ++i)
      if (!dead_[i] && g.node(i).op_type() == "QuantizeLinear") {
        LAPQ_CHECK(g.node(i).output_size() == 1, ErrorCode::kInvalidModel, file_, ": ", label(g.node(i)),
                   " must have one output");
        bool all_dead = true;
        for (int c : consumers_[g.node(i).output(0)]) all_dead = all_dead && dead_[c];
        LAPQ_CHECK(all_dead && !consumers_[g.node(i).output(0)].empty(), ErrorCode::kUnsupported, file_, ": ",
                   label(g.node(i)), " is not followed by a DequantizeLinear with the same grid (lapq runs "
                   "QuantizeLinear -> DequantizeLinear pairs only)");
        dead_[i] = true;
      }
    std::string fp32 = rewrite();
    QdqImport r;
    r.file.onnx = fp32;
    r.file.source_name = std::filesystem::path(file_).filename().string();
    r.file.passes.fold_batchnorm = false;  // weights are quantized before any BN: the executor absorbs BN
    r.graph = load_onnx_from_memory(fp32.data(), fp32.size(), file_, "");
    optimize(r.graph, r.file.passes);
    r.file.config = build_config(r.graph);
    r.summary = summary_.str();
    return r;
  }

 private:
  // The TensorProto behind `name`: an initializer or a Constant node's value (nullptr otherwise).
  const TP* const_proto(const std::string& name, int depth = 0) const {
    if (name.empty() || depth > 64) return nullptr;  // depth: a cycle of Identity nodes is not a constant
    auto it = init_.find(name);
    if (it != init_.end()) return &m_.graph().initializer(it->second);
    auto p = producer_.find(name);
    if (p != producer_.end()) {
      const auto& n = m_.graph().node(p->second);
      if (n.op_type() == "Constant" && n.attribute_size() == 1 && n.attribute(0).name() == "value") return &n.attribute(0).t();
      if (n.op_type() == "Identity" && n.input_size() == 1) return const_proto(n.input(0), depth + 1);  // PyTorch shares constants so
    }
    return nullptr;
  }
  std::optional<Tensor> constant(const std::string& name, const std::string& what) const {
    const TP* p = const_proto(name);
    if (!p) return std::nullopt;
    LAPQ_CHECK(p->data_type() != TP::UNDEFINED, ErrorCode::kInvalidModel, file_, ": ", what, " '", name,
               "' has no data type");
    return tensor_from_proto(*p, "", what + " '" + name + "'");
  }

  int opset() const {
    for (const auto& imp : m_.opset_import())
      if (imp.domain().empty() || imp.domain() == "ai.onnx") return static_cast<int>(imp.version());
    return 13;
  }

  // x_rank < 0: unknown (an activation).
  QParams read_qparams(const onnx::NodeProto& n, int x_rank, const Shape& x_shape, DType default_zp) const {
    const std::string where = file_ + ": " + label(n);
    LAPQ_CHECK(n.input_size() >= 2 && !n.input(1).empty(), ErrorCode::kInvalidModel, where, " has no scale input");
    const std::optional<Tensor> s = constant(n.input(1), "scale");
    LAPQ_CHECK(s.has_value(), ErrorCode::kUnsupported, where, ": scale '", n.input(1), "' is not a constant");
    LAPQ_CHECK(s->dtype() == DType::kF32, ErrorCode::kInvalidModel, where, ": scale '", n.input(1), "' is ",
               dtype_name(s->dtype()), ", not float32");
    LAPQ_CHECK(s->rank() <= 1 && s->numel() >= 1, ErrorCode::kInvalidModel, where, ": scale of shape ",
               shape_str(s->shape()), " (a scalar or a 1-D per-axis tensor)");
    QParams q;
    q.scale.assign(s->data<float>(), s->data<float>() + s->numel());
    for (size_t i = 0; i < q.scale.size(); ++i)
      LAPQ_CHECK(std::isfinite(q.scale[i]) && q.scale[i] > 0.f, ErrorCode::kInvalidModel, where, ": scale[", i,
                 "] = ", q.scale[i], " (scales must be finite and > 0)");
    q.zp.assign(q.scale.size(), 0);
    q.zp_type = default_zp;
    if (n.input_size() >= 3 && !n.input(2).empty()) {
      const std::optional<Tensor> z = constant(n.input(2), "zero point");
      LAPQ_CHECK(z.has_value(), ErrorCode::kUnsupported, where, ": zero point '", n.input(2), "' is not a constant");
      LAPQ_CHECK(z->dtype() == DType::kU8 || z->dtype() == DType::kI8 || z->dtype() == DType::kI32,
                 ErrorCode::kInvalidModel, where, ": zero point '", n.input(2), "' is ", dtype_name(z->dtype()),
                 " (uint8, int8 or int32)");
      LAPQ_CHECK(z->numel() == s->numel(), ErrorCode::kInvalidModel, where, ": zero point has ", z->numel(),
                 " values, scale ", s->numel());
      for (int64_t i = 0; i < z->numel(); ++i) q.zp[i] = static_cast<int32_t>(int_at(*z, i));
      q.zp_type = z->dtype();
    }
    if (s->rank() == 0 || s->numel() == 1) return q;  // per tensor
    int64_t axis = 1;  // the default of both ops
    for (const auto& a : n.attribute())
      if (a.name() == "axis") axis = a.i();
    LAPQ_CHECK(opset() >= 13, ErrorCode::kInvalidModel, where, ": a per-axis scale needs opset >= 13");
    if (x_rank < 0) {  // an activation: the rank is not known here (and lapq refuses per-axis activations)
      q.axis = static_cast<int>(axis);
      return q;
    }
    if (axis < 0) axis += x_rank;
    LAPQ_CHECK(axis >= 0 && axis < x_rank, ErrorCode::kInvalidModel, where, ": axis ", axis, " out of range for rank ",
               x_rank);
    LAPQ_CHECK(x_shape[axis] == s->numel(), ErrorCode::kInvalidModel, where, ": per-axis scale has ", s->numel(),
               " values but axis ", axis, " of the input has ", x_shape[axis]);
    q.axis = static_cast<int>(axis);
    return q;
  }

  // y = (x - zp) * scale, with the channel of each element along q.axis.
  static Tensor dequantize(const Tensor& x, const QParams& q) {
    Tensor y(DType::kF32, x.shape());
    int64_t inner = 1, dim = 1;
    if (q.axis >= 0) {
      dim = x.dim(q.axis);
      for (int d = q.axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    }
    float* dst = y.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t c = q.axis >= 0 ? (i / inner) % dim : 0;
      dst[i] = static_cast<float>(int_at(x, i) - q.zp[c]) * q.scale[c];
    }
    return y;
  }

  // ONNX QuantizeLinear of a constant: saturate(rne(x / scale) + zp). Infinities
  // saturate; a NaN has no code (and would reach an undefined float -> int cast).
  static Tensor quantize(const Tensor& x, const QParams& q, const std::string& where) {
    Tensor y(q.zp_type, x.shape());
    int64_t inner = 1, dim = 1;
    if (q.axis >= 0) {
      dim = x.dim(q.axis);
      for (int d = q.axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    }
    const float lo = q.zp_type == DType::kI8 ? -128.f : 0.f, hi = q.zp_type == DType::kI8 ? 127.f : 255.f;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t c = q.axis >= 0 ? (i / inner) % dim : 0;
      LAPQ_CHECK(!std::isnan(x.data<float>()[i]), ErrorCode::kInvalidModel, where, ": element ", i,
                 " of the weight is NaN (it has no quantized code)");
      const float v = std::clamp(std::nearbyint(x.data<float>()[i] / q.scale[c]) + static_cast<float>(q.zp[c]), lo, hi);
      if (q.zp_type == DType::kI8)
        y.data<int8_t>()[i] = static_cast<int8_t>(v);
      else
        y.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    }
    return y;
  }

  void fold_weight(int dq_index, const Tensor& codes, const std::string& codes_name) {
    const auto& n = m_.graph().node(dq_index);
    LAPQ_CHECK(codes.dtype() == DType::kI8 || codes.dtype() == DType::kU8 || codes.dtype() == DType::kI32,
               ErrorCode::kInvalidModel, file_, ": ", label(n), " dequantizes '", codes_name, "' of type ",
               dtype_name(codes.dtype()), " (int8, uint8 or int32)");
    QParams q = read_qparams(n, codes.rank(), codes.shape(), codes.dtype());
    LAPQ_CHECK(q.zp_type == codes.dtype(), ErrorCode::kInvalidModel, file_, ": ", label(n), ": zero point type ",
               dtype_name(q.zp_type), " differs from the input's ", dtype_name(codes.dtype()));
    WeightInfo w{codes, q, codes_name, label(n)};
    folded_[n.output(0)] = dequantize(codes, q);
    weights_[n.output(0)] = std::move(w);
    dead_[dq_index] = true;
  }

  void handle_dq(int i) {
    const auto& n = m_.graph().node(i);
    LAPQ_CHECK(n.input_size() >= 2 && n.output_size() == 1, ErrorCode::kInvalidModel, file_, ": ", label(n),
               " needs inputs x, scale[, zero point] and one output");
    const std::string& x = n.input(0);
    if (std::optional<Tensor> c = constant(x, "initializer")) return fold_weight(i, *c, x);
    auto p = producer_.find(x);
    // PyTorch restricts the code range with a Clip on the codes: Q -> Clip(lo, hi) -> DQ.
    int code_clip_node = -1;
    int64_t code_lo = std::numeric_limits<int64_t>::min(), code_hi = std::numeric_limits<int64_t>::max();
    if (p != producer_.end() && m_.graph().node(p->second).op_type() == "Clip") {
      const auto& clip = m_.graph().node(p->second);
      auto q = clip.input_size() >= 1 ? producer_.find(clip.input(0)) : producer_.end();
      if (q != producer_.end() && m_.graph().node(q->second).op_type() == "QuantizeLinear" &&
          consumers_[clip.input(0)].size() == 1) {
        for (int k = 1; k <= 2 && k < clip.input_size(); ++k) {
          if (clip.input(k).empty()) continue;
          const std::optional<Tensor> b = constant(clip.input(k), "Clip bound");
          LAPQ_CHECK(b && b->numel() == 1 && (b->dtype() == DType::kU8 || b->dtype() == DType::kI8),
                     ErrorCode::kUnsupported, file_, ": ", label(clip), " clips quantized codes with a bound that is "
                     "not a constant uint8 / int8 scalar");
          (k == 1 ? code_lo : code_hi) = int_at(*b, 0);
        }
        code_clip_node = p->second;
        p = q;
      }
    }
    LAPQ_CHECK(p != producer_.end() && m_.graph().node(p->second).op_type() == "QuantizeLinear",
               ErrorCode::kUnsupported, file_, ": ", label(n), " reads '", x,
               "', which is neither an initializer nor the output of a QuantizeLinear");
    const auto& qn = m_.graph().node(p->second);
    LAPQ_CHECK(qn.input_size() >= 2, ErrorCode::kInvalidModel, file_, ": ", label(qn), " has no scale input");
    if (std::optional<Tensor> w = constant(qn.input(0), "initializer")) {  // fake-quantized weight (PyTorch style)
      LAPQ_CHECK(w->dtype() == DType::kF32, ErrorCode::kInvalidModel, file_, ": ", label(qn), " quantizes a ",
                 dtype_name(w->dtype()), " constant");
      const QParams q = read_qparams(qn, w->rank(), w->shape(), DType::kU8);
      LAPQ_CHECK(q.zp_type == DType::kU8 || q.zp_type == DType::kI8, ErrorCode::kInvalidModel, file_, ": ",
                 label(qn), ": zero point of type ", dtype_name(q.zp_type), " (QuantizeLinear takes uint8 or int8)");
      const std::string where = file_ + ": " + label(qn) + " quantizing '" + qn.input(0) + "'";
      Tensor codes = quantize(*w, q, where);
      if (code_clip_node >= 0) {  // Q -> Clip(codes) -> DQ of a weight: the clipped codes
        for (int64_t k = 0; k < codes.numel(); ++k) {
          const int64_t v = std::min(std::max(int_at(codes, k), code_lo), code_hi);  // ONNX Clip: min(max(x, lo), hi)
          if (codes.dtype() == DType::kI8)
            codes.data<int8_t>()[k] = static_cast<int8_t>(std::clamp<int64_t>(v, -128, 127));
          else
            codes.data<uint8_t>()[k] = static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
        }
        dead_[code_clip_node] = true;
      }
      return fold_weight(i, codes, qn.input(0));
    }
    // An activation pair: the same per-tensor grid on both sides.
    const QParams qq = read_qparams(qn, -1, {}, DType::kU8);
    const QParams dq = read_qparams(n, -1, {}, qq.zp_type);
    LAPQ_CHECK(qq.scale.size() == 1 && dq.scale.size() == 1, ErrorCode::kUnsupported, file_, ": ", label(qn),
               ": per-channel activation quantization (lapq quantizes activations per tensor)");
    LAPQ_CHECK(qq.zp_type == DType::kU8 || qq.zp_type == DType::kI8, ErrorCode::kUnsupported, file_, ": ", label(qn),
               ": activations quantized to ", dtype_name(qq.zp_type), " (uint8 or int8)");
    LAPQ_CHECK(qq.scale[0] == dq.scale[0] && qq.zp[0] == dq.zp[0] && qq.zp_type == dq.zp_type,
               ErrorCode::kUnsupported, file_, ": ", label(qn), " -> ", label(n),
               ": different grids on the two sides (requantization is not supported)");
    ActInfo a;
    a.scale = qq.scale[0];
    a.zp = qq.zp[0] + (qq.zp_type == DType::kI8 ? 128 : 0);
    a.order = p->second;
    a.where = label(qn);
    std::string src = qn.input(0);
    if (code_clip_node >= 0) {  // codes [lo, hi] (uint8 scale): must be [0, 2^b - 1]
      const int64_t shift = qq.zp_type == DType::kI8 ? 128 : 0;
      const int64_t lo = std::max<int64_t>(code_lo, qq.zp_type == DType::kI8 ? -128 : 0) + shift;
      const int64_t hi = std::min<int64_t>(code_hi, qq.zp_type == DType::kI8 ? 127 : 255) + shift;
      a.bits = 0;
      for (int b = kMinBits; b <= 8; ++b)
        if (lo == 0 && hi == (1 << b) - 1 && a.zp <= hi) a.bits = b;
      LAPQ_CHECK(a.bits > 0, ErrorCode::kUnsupported, file_, ": ", label(m_.graph().node(code_clip_node)),
                 " keeps codes ", lo - shift, "..", hi - shift, " (zero point ", a.zp - shift,
                 "); lapq grids use the codes 0..2^b-1 of uint8 with the zero point inside");
      dead_[code_clip_node] = true;
    }
    // A Clip right before the QuantizeLinear that keeps exactly 2^b codes: a b-bit grid.
    auto cp = producer_.find(src);
    if (code_clip_node < 0 && cp != producer_.end() && qq.zp_type == DType::kU8 && consumers_[src].size() == 1) {
      const auto& clip = m_.graph().node(cp->second);
      if (clip.op_type() == "Clip" && clip.input_size() >= 3) {
        const std::optional<Tensor> lo = constant(clip.input(1), "Clip bound"), hi = constant(clip.input(2), "Clip bound");
        if (lo && hi && lo->dtype() == DType::kF32 && hi->dtype() == DType::kF32 && lo->numel() == 1 && hi->numel() == 1)
          for (int b = kMinBits; b < 8; ++b) {
            const int32_t qmax = (1 << b) - 1;
            if (a.zp <= qmax && lo->data<float>()[0] == static_cast<float>(0 - a.zp) * a.scale &&
                hi->data<float>()[0] == static_cast<float>(qmax - a.zp) * a.scale) {
              a.bits = b;
              dead_[cp->second] = true;
              src = clip.input(0);
              break;
            }
          }
      }
    }
    auto prev = acts_.find(src);
    LAPQ_CHECK(prev == acts_.end() || (prev->second.scale == a.scale && prev->second.zp == a.zp &&
                                       prev->second.bits == a.bits),
               ErrorCode::kUnsupported, file_, ": '", src, "' is quantized with two different grids");
    acts_[src] = a;
    rename_[n.output(0)] = src;
    dead_[i] = true;
  }

  // The value a removed DequantizeLinear output stands for (renames chain when pairs follow each other).
  std::string resolve(const std::string& name) const {
    std::string cur = name;
    for (size_t steps = 0; steps <= rename_.size(); ++steps) {
      auto it = rename_.find(cur);
      if (it == rename_.end()) return cur;
      cur = it->second;
    }
    throw Error(ErrorCode::kInvalidModel, file_ + ": QuantizeLinear / DequantizeLinear pairs around '" + name +
                                              "' form a cycle");
  }

  // The FP32 model: live nodes with renamed inputs, folded weights as initializers,
  // unreferenced initializers dropped.
  std::string rewrite() {
    onnx::ModelProto out = m_;
    onnx::GraphProto& g = *out.mutable_graph();
    g.clear_node();
    std::set<std::string> used;
    for (int i = 0; i < m_.graph().node_size(); ++i) {
      if (dead_[i]) continue;
      onnx::NodeProto n = m_.graph().node(i);
      for (auto& in : *n.mutable_input()) in = resolve(in);
      for (const auto& in : n.input()) used.insert(in);
      *g.add_node() = std::move(n);
    }
    for (auto& o : *g.mutable_output()) {
      const std::string src = resolve(o.name());
      if (src != o.name()) {  // a dequantized graph output: keep its name
        auto* id = g.add_node();
        id->set_op_type("Identity");
        id->add_input(src);
        id->add_output(o.name());
        used.insert(src);
        output_alias_[src] = o.name();  // the loader drops the Identity: src is then called o.name()
      }
      used.insert(o.name());
    }
    g.clear_initializer();
    for (const auto& init : m_.graph().initializer())
      if (used.count(init.name())) *g.add_initializer() = init;
    for (const auto& [name, t] : folded_) {
      if (!used.count(name)) continue;
      TP* p = g.add_initializer();
      p->set_name(name);
      p->set_data_type(TP::FLOAT);
      for (int64_t d : t.shape()) p->add_dims(d);
      p->set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
    }
    // Inputs that were only initializers of dropped tensors (old IR) go too.
    auto* inputs = g.mutable_input();
    for (int i = inputs->size() - 1; i >= 0; --i)
      if (init_.count(inputs->Get(i).name()) && !used.count(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
    out.clear_metadata_props();
    std::string bytes;
    LAPQ_CHECK(out.SerializeToString(&bytes), ErrorCode::kInternal, "QDQ import: serializing the FP32 model failed");
    return bytes;
  }

  // The clipping value whose grid has exactly `scale` (int_params(make_grid(...)).scale);
  // the closest one when no float alpha gives it (possible for foreign scales).
  static float find_alpha(GridKind kind, int bits, float scale, bool* exact) {
    const int n = 1 << bits;
    // alpha / scale per kind (grid.h); kSymmetricFull's 2^(b-1) makes a0 exact.
    const float mult = kind == GridKind::kSymmetric       ? static_cast<float>((n >> 1) - 1)
                       : kind == GridKind::kSymmetricFull ? static_cast<float>(n >> 1)
                                                          : static_cast<float>(n - 1);
    const float a0 = scale * mult;
    float best = a0, best_err = std::numeric_limits<float>::infinity();
    float up = a0, down = a0;
    for (int k = 0; k < 64; ++k) {
      for (float a : {up, down}) {
        const float s = int_params(make_grid(kind, a, bits)).scale;
        if (s == scale) {
          *exact = true;
          return a;
        }
        if (std::fabs(s - scale) < best_err) {
          best_err = std::fabs(s - scale);
          best = a;
        }
      }
      up = std::nextafter(up, std::numeric_limits<float>::infinity());
      down = std::nextafter(down, 0.f);
    }
    *exact = false;
    return best;
  }

  static void find_range(int bits, float scale, int32_t zp, float* lo_out, float* hi_out, bool* exact) {
    const int qmax = (1 << bits) - 1;
    const float lo0 = -static_cast<float>(zp) * scale, hi0 = static_cast<float>(qmax - zp) * scale;
    float best_err = std::numeric_limits<float>::infinity();
    *lo_out = lo0;
    *hi_out = hi0;
    float lo = lo0;
    for (int i = 0; i < 8; ++i, lo = std::nextafter(lo, -std::numeric_limits<float>::infinity())) {
      float up = hi0, down = hi0;
      for (int k = 0; k < 64; ++k) {
        for (float hi : {up, down}) {
          const Grid g = make_asymmetric_grid(lo, hi, bits);
          if (g.step == scale && g.zero_point == zp) {
            *lo_out = lo;
            *hi_out = hi;
            *exact = true;
            return;
          }
          if (g.zero_point == zp && std::fabs(g.step - scale) < best_err) {
            best_err = std::fabs(g.step - scale);
            *lo_out = lo;
            *hi_out = hi;
          }
        }
        up = std::nextafter(up, std::numeric_limits<float>::infinity());
        down = std::nextafter(down, 0.f);
      }
    }
    *exact = false;
  }

  QuantConfig build_config(const Graph& g) {
    QuantConfig c;
    c.preset = "qdq-import";
    c.batchnorm_folded = std::none_of(g.nodes.begin(), g.nodes.end(),
                                      [](const Node& n) { return n.op == "BatchNormalization"; });
    for (int id : quantizable_weight_nodes(g)) {
      const Node& n = g.nodes[id];
      const std::string& wname = g.values[n.inputs[1]].name;
      auto it = weights_.find(wname);
      if (it == weights_.end()) continue;
      const WeightInfo& w = it->second;
      const std::string where = n.op + " '" + g.node_label(id) + "'";
      const int expect_axis = n.op == "Conv" ? 0 : (n.op == "Gemm" && n.attrs.get_int("transB", 0) != 0) ? 0 : 1;
      LAPQ_CHECK(w.q.axis < 0 || w.q.axis == expect_axis, ErrorCode::kUnsupported, file_, ": ", w.where,
                 ": per-axis weight scale on axis ", w.q.axis, ", but the output channels of ", where, " are axis ",
                 expect_axis);
      // uint8 weights with zero point 128 everywhere are int8 codes shifted by 128: the same levels.
      const bool u8_centered = w.codes.dtype() == DType::kU8 && !w.q.zp.empty() &&
                               std::all_of(w.q.zp.begin(), w.q.zp.end(), [](int32_t z) { return z == 128; });
      const int64_t code_shift = u8_centered ? 128 : 0;
      if (!u8_centered && std::any_of(w.q.zp.begin(), w.q.zp.end(), [](int32_t z) { return z != 0; })) {
        summary_ << where << ": FP32 (weight zero point != 0: not a lapq weight grid)\n";
        continue;
      }
      const bool s8_codes = w.codes.dtype() == DType::kI8 || u8_centered;
      int64_t cmin = 0, cmax = 0;
      bool all_odd = true;
      for (int64_t i = 0; i < w.codes.numel(); ++i) {
        const int64_t v = int_at(w.codes, i) - code_shift;
        cmin = std::min(cmin, v);
        cmax = std::max(cmax, v);
        all_odd = all_odd && (v & 1);
      }
      WeightQuant wq;
      wq.node = id;
      wq.node_name = g.node_label(id);
      wq.per_channel = w.q.axis >= 0;
      auto hint = hints_.find(w.codes_name);
      if (hint != hints_.end()) {
        const std::string& h = hint->second;
        const size_t colon = h.find(':');
        const bool known = colon != std::string::npos &&
                           grid_kind_from_name(std::string_view(h).substr(0, colon), &wq.grid) &&
                           is_weight_grid(wq.grid);
        LAPQ_CHECK(known, ErrorCode::kInvalidModel, file_, ": weight grid hint '", h, "' for '", w.codes_name, "'");
        wq.bits = std::atoi(h.c_str() + colon + 1);
        LAPQ_CHECK(wq.bits >= kMinBits && wq.bits <= kMaxBits, ErrorCode::kInvalidModel, file_, ": weight grid hint '",
                   h, "' for '", w.codes_name, "'");
        const IntParams ip = int_params(make_grid(wq.grid, 1.0f, wq.bits));
        LAPQ_CHECK(cmin >= ip.code_min && cmax <= ip.code_max && (wq.grid != GridKind::kLapqMidRise || all_odd),
                   ErrorCode::kInvalidModel, file_, ": the codes of '", w.codes_name, "' (", cmin, "..", cmax,
                   all_odd ? "" : ", not all odd", ") are not on the ", h, " grid the file names");
      } else if (s8_codes) {
        // [-127, 127]: the restricted symmetric grid (lapq's default), unless a scale has no
        // exact restricted-grid alpha; code -128 (PyTorch's qint8 range): the full-range grid.
        wq.grid = cmin >= -127 ? GridKind::kSymmetric : GridKind::kSymmetricFull;
        wq.bits = 8;
      } else {
        summary_ << where << ": FP32 (" << dtype_name(w.codes.dtype()) << " codes " << cmin << ".." << cmax
                 << " without a lapq grid hint are not on a lapq int8 weight grid)\n";
        continue;
      }
      auto fit_alphas = [&](GridKind kind) {
        wq.alpha.clear();
        int inexact = 0;
        for (float s : w.q.scale) {
          bool exact = false;
          wq.alpha.push_back(find_alpha(kind, wq.bits, s, &exact));
          inexact += !exact;
        }
        return inexact;
      };
      int inexact = fit_alphas(wq.grid);
      if (inexact && hint == hints_.end() && wq.grid == GridKind::kSymmetric) {
        // The same codes on the full-range grid, whose alpha = 128 * scale is exact.
        const int full_inexact = fit_alphas(GridKind::kSymmetricFull);
        if (full_inexact < inexact) {
          wq.grid = GridKind::kSymmetricFull;
          inexact = full_inexact;
        } else {
          fit_alphas(wq.grid);
        }
      }
      summary_ << where << ": W" << wq.bits << " " << grid_kind_name(wq.grid) << (wq.per_channel ? " per-channel" : "")
               << (inexact ? " (" + std::to_string(inexact) + " scale(s) rounded to the nearest lapq grid)" : "")
               << "\n";
      c.weights.push_back(std::move(wq));
    }
    std::vector<std::pair<int, std::string>> order;
    for (const auto& [name, a] : acts_) order.push_back({a.order, name});
    std::sort(order.begin(), order.end());
    const std::vector<std::vector<int>> readers = g.consumers();
    std::vector<bool> is_output(g.values.size(), false);
    for (int o : g.outputs) is_output[o] = true;
    std::set<int> quantized_values;  // value ids of the file's activation grids
    for (const auto& [pos, name] : order) {
      int v = g.find_value(name);
      if (v < 0 && output_alias_.count(name)) v = g.find_value(output_alias_[name]);
      if (v >= 0) quantized_values.insert(v);
    }
    for (const auto& [pos, name] : order) {
      const ActInfo& a = acts_[name];
      int v = g.find_value(name);
      if (v < 0 && output_alias_.count(name)) v = g.find_value(output_alias_[name]);
      LAPQ_CHECK(v >= 0, ErrorCode::kUnsupported, file_, ": ", a.where, " quantizes '", name,
                 "', which the optimized graph no longer has");
      // PyTorch quantizes a pooled [N, C, 1, 1] before its Flatten; lapq lowers a Gemm on
      // integers only when its own input is quantized. Flatten moves no value, so
      // Q(Flatten(x)) == Flatten(Q(x)): the grid moves to the Flatten output (exact).
      const std::string moved_from = g.values[v].name;
      for (int hops = 0; hops < 4; ++hops) {
        const std::vector<int>& rd = readers[v];
        if (rd.size() != 1 || is_output[v] || g.nodes[rd[0]].op != "Flatten" ||
            g.nodes[rd[0]].activation.kind != FusedActivation::Kind::kNone || g.nodes[rd[0]].outputs.size() != 1)
          break;
        const int f = g.nodes[rd[0]].outputs[0];
        if (quantized_values.count(f)) break;
        v = f;
      }
      quantized_values.insert(v);
      ActQuant q;
      q.value = v;
      q.value_name = g.values[v].name;
      q.bits = a.bits;
      bool exact = false;
      if (a.zp == 0) {
        q.grid = GridKind::kUnsigned;
        q.alpha = find_alpha(GridKind::kUnsigned, a.bits, a.scale, &exact);
      } else {
        q.grid = GridKind::kAsymmetric;
        find_range(a.bits, a.scale, a.zp, &q.lo, &q.alpha, &exact);
      }
      summary_ << "value '" << name << "': A" << a.bits << " " << grid_kind_name(q.grid)
               << (exact ? "" : " (scale rounded to the nearest lapq grid)")
               << (q.value_name != moved_from ? " (on the Flatten output '" + q.value_name + "': the same codes)" : "")
               << "\n";
      c.acts.push_back(q);
    }
    // Config order: weights by node, activations by producer.
    std::sort(c.acts.begin(), c.acts.end(), [&](const ActQuant& x, const ActQuant& y) {
      return g.values[x.value].producer < g.values[y.value].producer;
    });
    return c;
  }

  onnx::ModelProto m_;
  std::string file_;
  std::map<std::string, int> init_, producer_;
  std::map<std::string, std::vector<int>> consumers_;
  std::map<std::string, std::string> hints_, rename_, output_alias_;
  std::map<std::string, Tensor> folded_;
  std::map<std::string, WeightInfo> weights_;
  std::map<std::string, ActInfo> acts_;
  std::vector<bool> dead_;
  std::ostringstream summary_;
};


}  // namespace

bool is_qdq_model_file(const std::string& path) {
  onnx::ModelProto m;
  std::string bytes;
  try {
    bytes = onnx_frontend::read_whole_file(path, "model file");
  } catch (const Error&) {
    return false;
  }
  if (!m.ParseFromString(bytes)) return false;
  for (const auto& n : m.graph().node())
    if (n.op_type() == "QuantizeLinear" || n.op_type() == "DequantizeLinear") return true;
  return false;
}

QdqImport import_qdq_from_memory(const std::string& bytes, const std::string& name_for_errors) {
  return Importer(bytes, name_for_errors).run();
}

QdqImport import_qdq(const std::string& path) {
  QdqImport r = import_qdq_from_memory(onnx_frontend::read_whole_file(path, "model file"), path);
  LAPQ_CHECK(r.graph.inputs.size() == 1, ErrorCode::kUnsupported, path, ": ", r.graph.inputs.size(),
             " graph inputs; a quantized model has exactly one");
  r.file.preprocess = preprocess_for_model_input(r.graph.values[r.graph.inputs[0]].shape,
                                                     r.graph.values[r.graph.inputs[0]].has_shape, path);
  if (!r.file.preprocess.labels_path.empty()) r.file.labels = read_labels_file(r.file.preprocess.labels_path);
  return r;
}

}  // namespace lapq::quant
