// Lowering an FP32 graph + QuantConfig onto the lapq.* integer ops, and the
// per-evaluation parameter updates (see quantized_network.h and
// docs/quantized-execution.md).
#include "quant/quantized_network.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "engine/ops/window.h"
#include "kernels/isa.h"
#include "quant/qops/qops.h"

namespace lapq::quant {
namespace {

bool is_weight_op(const std::string& op) { return op == "Conv" || op == "Gemm" || op == "MatMul"; }

const Tensor* constant_of(const Graph& g, int v) {
  return v >= 0 && g.values[v].is_constant() ? &g.values[v].constant : nullptr;
}

// Lower bound of a Relu / Clip node's output, or nullopt when `n` is neither
// (or a Clip with a non-constant bound). Sets *act to the equivalent fused form.
bool clamp_activation_of(const Graph& g, const Node& n, FusedActivation* act) {
  constexpr float kLow = std::numeric_limits<float>::lowest(), kHigh = std::numeric_limits<float>::max();
  if (n.op == "Relu") {
    act->kind = FusedActivation::Kind::kRelu;
    return true;
  }
  if (n.op != "Clip") return false;
  act->kind = FusedActivation::Kind::kClip;
  if (g.opset < 11) {
    act->alpha = n.attrs.get_float("min", kLow);
    act->beta = n.attrs.get_float("max", kHigh);
    return true;
  }
  float bounds[2] = {kLow, kHigh};
  for (size_t slot = 1; slot <= 2; ++slot) {
    if (!n.has_input(slot)) continue;
    const Tensor* t = constant_of(g, n.inputs[slot]);
    if (!t || t->numel() != 1 || t->dtype() != DType::kF32) return false;
    bounds[slot - 1] = t->data<float>()[0];
  }
  act->alpha = bounds[0];
  act->beta = bounds[1];
  return true;
}

bool is_clamp(const FusedActivation& a) {
  return a.kind == FusedActivation::Kind::kRelu || a.kind == FusedActivation::Kind::kClip;
}
float clamp_low(const FusedActivation& a) { return a.kind == FusedActivation::Kind::kRelu ? 0.f : a.alpha; }

// The weight of node `n` as [OC, K] (see weight_oc_first) plus how it is stored.
struct WeightLayout {
  int64_t OC = 0, K = 0;
  bool transposed = false;  // stored [K, OC] (Gemm transB=0, MatMul)
};

WeightLayout weight_layout(const Graph& g, const Node& n, const std::string& where) {
  const Tensor* w = n.inputs.size() > 1 ? constant_of(g, n.inputs[1]) : nullptr;
  LAPQ_CHECK(w, ErrorCode::kInvalidArgument, where, ": the weight (input 1) is not a constant; only constant weights "
             "can be quantized");
  LAPQ_CHECK(w->dtype() == DType::kF32, ErrorCode::kUnsupported, where, ": weight dtype ", dtype_name(w->dtype()));
  WeightLayout l;
  if (n.op == "Conv") {
    LAPQ_CHECK(w->rank() >= 3, ErrorCode::kInvalidArgument, where, ": weight shape ", shape_str(w->shape()));
    l.OC = w->dim(0);
    l.K = w->numel() / std::max<int64_t>(l.OC, 1);
  } else {
    LAPQ_CHECK(w->rank() == 2, ErrorCode::kUnsupported, where, ": a ", n.op, " weight of shape ",
               shape_str(w->shape()), " (only 2-D weights are quantized)");
    l.transposed = n.op == "MatMul" || n.attrs.get_int("transB", 0) == 0;
    l.OC = l.transposed ? w->dim(1) : w->dim(0);
    l.K = l.transposed ? w->dim(0) : w->dim(1);
  }
  return l;
}

std::vector<float> oc_first(const Tensor& w, const WeightLayout& l) {
  std::vector<float> out(static_cast<size_t>(l.OC * l.K));
  const float* src = w.data<float>();
  if (!l.transposed) return std::vector<float>(src, src + out.size());
  for (int64_t k = 0; k < l.K; ++k)
    for (int64_t oc = 0; oc < l.OC; ++oc) out[oc * l.K + k] = src[k * l.OC + oc];
  return out;
}

// The inputs after input 0 of a Slice / Pad of an NCHW activation, re-expressed
// for the same op on its u8 NHWC codes: axes and pads permuted (dim d of N,C,H,W
// is dim kNhwcPos[d] of N,H,W,C), always in the input form; Pad's constant is a
// u8 scalar for the zero-point code (written later: the code of 0.0). False when
// the node has another form (arguments not constant, a pad value other than +0.0,
// a non-constant pad mode), which then stays an FP32 op on the dequantized value.
template <class AddConstant>
bool code_view_inputs(const Graph& g, const Node& n, const std::string& base, AddConstant&& add_constant,
                      std::vector<int>* ins) {
  constexpr int64_t kNhwcPos[4] = {0, 3, 1, 2};
  if (n.inputs.empty() || n.inputs[0] < 0 || g.values[n.inputs[0]].shape.size() != 4) return false;
  auto const_input = [&](size_t k, const Tensor** t) {  // absent: *t = nullptr, true; non-constant: false
    *t = nullptr;
    if (!n.has_input(k)) return true;
    *t = constant_of(g, n.inputs[k]);
    return *t != nullptr;
  };
  auto axes_of = [&](std::vector<int64_t> axes, size_t count) -> std::optional<std::vector<int64_t>> {
    if (axes.empty())
      for (size_t k = 0; k < count; ++k) axes.push_back(static_cast<int64_t>(k));
    for (int64_t& a : axes) {
      if (a < 0) a += 4;
      if (a < 0 || a >= 4) return std::nullopt;
    }
    return axes;
  };
  auto i64 = [&](const std::string& name, const std::vector<int64_t>& v) {
    return add_constant(base + name, Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, std::span<const int64_t>(v)));
  };
  if (n.op == "Slice") {
    const Tensor *st = nullptr, *en = nullptr, *ax = nullptr, *sp = nullptr;
    if (!const_input(1, &st) || !const_input(2, &en) || !const_input(3, &ax) || !const_input(4, &sp)) return false;
    std::vector<int64_t> starts, ends, steps, axes;
    if (st) {
      if (!en) return false;
      starts = st->to_i64();
      ends = en->to_i64();
      if (ax) axes = ax->to_i64();
      if (sp) steps = sp->to_i64();
    } else {
      starts = n.attrs.get_ints("starts");
      ends = n.attrs.get_ints("ends");
      axes = n.attrs.get_ints("axes");
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    const auto a = axes_of(axes, starts.size());
    if (!a || ends.size() != starts.size() || steps.size() != starts.size() || a->size() != starts.size()) return false;
    std::vector<int64_t> nhwc_axes;
    for (int64_t d : *a) nhwc_axes.push_back(kNhwcPos[d]);
    *ins = {i64(":starts", starts), i64(":ends", ends), i64(":axes", nhwc_axes), i64(":steps", steps)};
    return true;
  }
  if (n.op != "Pad" || n.attrs.get_string("mode", "constant") != "constant") return false;
  const Tensor *pads_t = nullptr, *value_t = nullptr, *axes_t = nullptr;
  if (!const_input(1, &pads_t) || !const_input(2, &value_t) || !const_input(3, &axes_t)) return false;
  float value = n.attrs.get_float("value", 0.f);
  if (value_t) {
    if (value_t->dtype() != DType::kF32 || value_t->numel() != 1) return false;
    value = value_t->data<float>()[0];
  }
  if (value != 0.f || std::signbit(value)) return false;  // +0.0 is exactly the zero-point code
  const std::vector<int64_t> pads = pads_t ? pads_t->to_i64() : n.attrs.get_ints("pads");
  const auto a = axes_of(axes_t ? axes_t->to_i64() : std::vector<int64_t>{}, pads.size() / 2);
  if (!a || pads.size() != 2 * a->size()) return false;
  std::vector<int64_t> nhwc(8, 0);
  for (size_t k = 0; k < a->size(); ++k) {
    nhwc[kNhwcPos[(*a)[k]]] = pads[k];
    nhwc[kNhwcPos[(*a)[k]] + 4] = pads[k + a->size()];
  }
  *ins = {i64(":pads", nhwc), add_constant(base + ":zero_code", Tensor(DType::kU8, {}))};
  return true;
}

Attributes make_attrs(std::initializer_list<std::pair<const char*, AttrValue>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

}  // namespace

// ---- helpers ---------------------------------------------------------------------

std::vector<int> quantizable_weight_nodes(const Graph& graph) {
  std::vector<int> ids;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (is_weight_op(n.op) && n.has_input(1) && constant_of(graph, n.inputs[1])) ids.push_back(static_cast<int>(i));
  }
  return ids;
}

std::vector<int> relu_output_values(const Graph& graph) {
  std::vector<int> ids;
  for (const Node& n : graph.nodes) {
    if (n.outputs.empty() || n.outputs[0] < 0) continue;
    FusedActivation act;
    const bool relu_node = clamp_activation_of(graph, n, &act);
    if (!relu_node) act = n.activation;
    if (is_clamp(act) && clamp_low(act) >= 0.f) ids.push_back(n.outputs[0]);
  }
  return ids;
}

Tensor weight_oc_first(const Graph& graph, int node) {
  LAPQ_CHECK(node >= 0 && node < static_cast<int>(graph.nodes.size()), ErrorCode::kInvalidArgument,
             "weight_oc_first: node id ", node, " out of range");
  const Node& n = graph.nodes[node];
  const std::string where = n.op + " '" + graph.node_label(node) + "'";
  LAPQ_CHECK(is_weight_op(n.op), ErrorCode::kInvalidArgument, where, " has no quantizable weight");
  const WeightLayout l = weight_layout(graph, n, where);
  std::vector<float> w = oc_first(graph.values[n.inputs[1]].constant, l);
  return Tensor::from<float>({l.OC, l.K}, std::span<const float>(w));
}

// ---- the network -------------------------------------------------------------------

struct QuantizedNetwork::Impl {
  struct WeightSlot {
    int fp32_node = -1;
    std::string where;      // "Conv 'name'" for messages
    WeightLayout layout;
    std::vector<float> master;  // [OC, K] FP32 weights (weight_oc_first order)
    bool integer = false;
    int lnode = -1;          // lowered node
    // integer: conv geometry of the master's K = ICg*KH*KW (Conv) or K (Gemm)
    int ICg = 0, KH = 1, KW = 1;
    int in_act = -1, out_act = -1;  // config.acts indices (out_act: u8 output)
    FusedActivation out_clamp;      // absorbed Relu / Clip (u8 output)
    std::vector<double> post_mul, post_add;  // y = conv * mul + add (conv bias, BN); empty mul = 1
    int v_wei = -1, v_scale = -1, v_bias = -1, v_wzp = -1;  // lowered constant values
    std::vector<float> s_w;  // per-channel weight scales of the current codes
    std::vector<float> sim;  // (sim mode) scratch for fake-quantized weights
    int fused_qadd = -1;     // qadds index when the QConv and that QAdd run as one node
  };
  struct ActSlot {
    std::string name;        // the FP32 value's name
    Grid grid;
    int producer = -1;       // lowered node writing the u8 codes
    int producer_weight = -1;  // weight slot when the producer is a QConv
    std::vector<int> consumer_weights;  // QConv slots reading the codes
    std::vector<int> dequantize_nodes;
    int producer_qadd = -1;             // qadds index when a QAdd writes the codes
    std::vector<int> qadd_readers;      // qadds reading the codes
    int producer_pool = -1;             // pools index when a lapq.MaxPool writes the codes
    std::vector<int> pool_readers;      // pools reading the codes
    std::vector<int> zp_pads;           // Pad nodes on these codes (views): their pad code is the zero point
  };
  // A residual Add (+ Relu / Clip) whose output is quantized: one lapq.QAdd.
  struct QAdd {
    int node = -1;
    int out_act = -1;
    FusedActivation clamp;
    int in_act[2] = {-1, -1};  // inputs read as u8 codes (else f32 NCHW)
  };
  std::vector<QAdd> qadds;
  // A MaxPool from quantized codes to a quantized output: one lapq.MaxPool.
  struct QPool {
    int node = -1;
    int in_act = -1, out_act = -1;
  };
  std::vector<QPool> pools;

  std::unique_ptr<Plan> plan;
  Graph staging;            // the lowered graph while it is built
  std::vector<WeightSlot> w;
  std::vector<ActSlot> a;

  Graph& g() { return plan ? plan->mutable_graph() : staging; }
  void rebuild(int node) {
    if (plan) plan->rebuild_kernel(node);
  }

  void write_weight(const QuantConfig& cfg, size_t i);
  void write_epilogue(size_t i);
  void write_quant_attrs(int node, const Grid& grid);
  void write_qadd(size_t k);
  void write_pool(size_t k);
  void write_pad_code(int node, const Grid& grid);
  void fuse_residual_adds(Graph& lg);
};

// Codes [qmin, qmax] of grid g after a clamping activation (none, Relu, Clip):
// quantize(clamp(y, lo, hi)) == clamp(quantize(y), code(lo), code(hi)) since
// quantization is monotone.
static void clamp_codes(const Grid& g, const FusedActivation& act, int32_t* qmin, int32_t* qmax) {
  const IntParams p = int_params(g);
  *qmin = p.code_min;
  *qmax = p.code_max;
  if (act.kind == FusedActivation::Kind::kNone) return;
  *qmin = std::max(*qmin, quantize_code(g, clamp_low(act)));
  if (act.kind == FusedActivation::Kind::kClip) *qmax = std::min(*qmax, quantize_code(g, act.beta));
  *qmax = std::max(*qmax, *qmin);
}

// LAPQ_FUSE_QADD=0 keeps every lapq.QAdd a node of its own (measuring, tests).
static bool qadd_fusion_allowed() {
  const char* v = std::getenv("LAPQ_FUSE_QADD");
  return !(v && std::strcmp(v, "0") == 0);
}

// A QAdd reading a QConv's f32 NHWC output (out_nhwc: the QAdd is its only
// reader) becomes one lapq.QConv with the residual as input 5 and the QAdd's
// attributes (quant/qops/qops.h): at the QAdd's position, so the residual and
// the conv's source are ready; the QConv node is removed. When both inputs are
// such outputs the later conv is fused and the other's f32 NHWC value is the
// residual. A residual in f32 NCHW (an FP32 node's output) keeps the pair.
// Node ids in the slots are renumbered. Runs before validate_and_sort.
void QuantizedNetwork::Impl::fuse_residual_adds(Graph& lg) {
  const int nn = static_cast<int>(lg.nodes.size());
  std::vector<int> slot_of_node(nn, -1);
  for (size_t i = 0; i < w.size(); ++i)
    if (w[i].integer) slot_of_node[w[i].lnode] = static_cast<int>(i);
  std::vector<bool> dead(nn, false);
  for (size_t k = 0; k < qadds.size(); ++k) {
    Node& add = lg.nodes[qadds[k].node];
    int conv = -1, conv_in = -1;
    for (int i = 0; i < 2; ++i) {
      const int p = lg.values[add.inputs[i]].producer;
      if (add.attrs.get_int(i == 0 ? "layout_a" : "layout_b", 0) == 2 && p > conv && slot_of_node[p] >= 0)
        conv = p, conv_in = i;
    }
    const int r = 1 - conv_in;
    if (conv < 0 || add.attrs.get_int(r == 0 ? "layout_a" : "layout_b", 0) == 0) continue;
    Node fused = lg.nodes[conv];
    fused.name += "+" + add.name;
    fused.inputs.resize(5, -1);
    fused.inputs.push_back(add.inputs[r]);
    fused.outputs = add.outputs;
    fused.attrs.erase("out_nhwc");
    for (const auto& [key, value] : add.attrs.all()) fused.attrs.set(key, value);
    fused.attrs.set("residual_input", int64_t{r});
    add = std::move(fused);
    dead[conv] = true;
    w[slot_of_node[conv]].lnode = qadds[k].node;
    w[slot_of_node[conv]].fused_qadd = static_cast<int>(k);
  }
  // Drop the fused QConv nodes and renumber.
  if (std::find(dead.begin(), dead.end(), true) == dead.end()) return;
  std::vector<int> id(nn, -1);
  std::vector<Node> kept;
  for (int i = 0; i < nn; ++i)
    if (!dead[i]) id[i] = static_cast<int>(kept.size()), kept.push_back(std::move(lg.nodes[i]));
  lg.nodes = std::move(kept);
  const auto renumber = [&](int& node) {
    if (node >= 0) node = id[node];
  };
  for (WeightSlot& s : w) renumber(s.lnode);
  for (ActSlot& s : a) {
    renumber(s.producer);
    for (int& n : s.dequantize_nodes) renumber(n);
    for (int& n : s.zp_pads) renumber(n);
  }
  for (QAdd& q : qadds) renumber(q.node);
  for (QPool& q : pools) renumber(q.node);
  for (Value& v : lg.values) v.producer = -1;  // (validate_and_sort sets them again)
  for (size_t i = 0; i < lg.nodes.size(); ++i)
    for (int o : lg.nodes[i].outputs) lg.values[o].producer = static_cast<int>(i);
}

void QuantizedNetwork::Impl::write_qadd(size_t k) {
  const QAdd& q = qadds[k];
  Attributes& at = g().nodes[q.node].attrs;
  const Grid& og = a[q.out_act].grid;
  const IntParams p = int_params(og);
  int32_t qmin, qmax;
  clamp_codes(og, q.clamp, &qmin, &qmax);
  at.set("scale", p.scale);
  at.set("zero_point", int64_t{p.zero_point});
  at.set("qmin", int64_t{qmin});
  at.set("qmax", int64_t{qmax});
  for (int i = 0; i < 2; ++i) {
    if (q.in_act[i] < 0) continue;
    const IntParams ip = int_params(a[q.in_act[i]].grid);
    at.set(i == 0 ? "scale_a" : "scale_b", ip.scale);
    at.set(i == 0 ? "zero_point_a" : "zero_point_b", int64_t{ip.zero_point});
  }
}

void QuantizedNetwork::Impl::write_pool(size_t k) {
  const QPool& q = pools[k];
  Attributes& at = g().nodes[q.node].attrs;
  const IntParams in = int_params(a[q.in_act].grid), out = int_params(a[q.out_act].grid);
  at.set("scale_in", in.scale);
  at.set("zero_point_in", int64_t{in.zero_point});
  at.set("scale", out.scale);
  at.set("zero_point", int64_t{out.zero_point});
  at.set("qmin", int64_t{out.code_min});
  at.set("qmax", int64_t{out.code_max});
}

// A Pad on codes pads with the code of 0.0, the zero point (input 2, a u8 scalar).
void QuantizedNetwork::Impl::write_pad_code(int node, const Grid& grid) {
  Graph& G = g();
  G.values[G.nodes[node].inputs[2]].constant.data<uint8_t>()[0] = static_cast<uint8_t>(int_params(grid).zero_point);
}

// Quantizes slot i's master weights with its current alphas into the lowered
// node's constants (codes + zero points, or fake-quantized FP32 weights).
void QuantizedNetwork::Impl::write_weight(const QuantConfig& cfg, size_t i) {
  WeightSlot& s = w[i];
  const WeightQuant& q = cfg.weights[i];
  const int64_t OC = s.layout.OC, K = s.layout.K;
  std::vector<Grid> grids(static_cast<size_t>(OC));
  for (int64_t c = 0; c < OC; ++c) grids[c] = make_grid(q.grid, q.alpha[q.per_channel ? c : 0], q.bits);
  std::vector<float> shift;
  if (!s.integer || q.bias_correction) {
    s.sim.resize(s.master.size());
    quantize_dequantize_per_channel(grids, s.master, s.sim);
    if (q.bias_correction) shift = bias_correct_weights(s.master, s.sim, OC);
  }
  Graph& G = g();
  if (!s.integer) {
    float* dst = G.values[s.v_wei].constant.data<float>();
    if (!s.layout.transposed) {
      std::copy(s.sim.begin(), s.sim.end(), dst);
    } else {
      for (int64_t k = 0; k < K; ++k)
        for (int64_t oc = 0; oc < OC; ++oc) dst[k * OC + oc] = s.sim[oc * K + k];
    }
    return;
  }
  // Integer codes, permuted from [OC, ICg, KH, KW] to [OC, KH, KW, ICg].
  int8_t* codes = G.values[s.v_wei].constant.data<int8_t>();
  s.s_w.resize(static_cast<size_t>(OC));
  const bool midrise = q.grid == GridKind::kLapqMidRise;
  const int32_t half = 1 << (q.bits - 1);
  const int64_t taps = int64_t{s.KH} * s.KW;
  for (int64_t oc = 0; oc < OC; ++oc) {
    const detail::Affine af = detail::affine_of(grids[oc]);
    s.s_w[oc] = midrise ? 2.0f * af.scale : af.scale;  // mid-rise: step (exactly 2 * step/2)
    const float* src = s.master.data() + oc * K;
    int8_t* dst = codes + oc * K;
    for (int64_t ic = 0; ic < s.ICg; ++ic) {
      for (int64_t t = 0; t < taps; ++t) {
        float v = (src[ic * taps + t] + af.offset) / af.step;  // the grid's formula (quant/grid.h)
        v = v < af.rmin ? af.rmin : v;
        v = v > af.rmax ? af.rmax : v;
        const int32_t r = static_cast<int32_t>(detail::rne_small(v));
        dst[t * s.ICg + ic] = static_cast<int8_t>(midrise ? r - half : r);
      }
    }
  }
  if (s.v_wzp >= 0) {
    float* zp = G.values[s.v_wzp].constant.data<float>();
    for (int64_t oc = 0; oc < OC; ++oc) {
      double z = midrise ? -0.5 : 0.0;
      if (!shift.empty()) z -= static_cast<double>(shift[oc]) / s.s_w[oc];
      zp[oc] = static_cast<float>(z);
    }
  }
  write_epilogue(i);
}

// Scale / bias / zero points of an integer slot from its weight scales and
// the grids of its input and output activations.
void QuantizedNetwork::Impl::write_epilogue(size_t i) {
  WeightSlot& s = w[i];
  Graph& G = g();
  const IntParams in = int_params(a[s.in_act].grid);
  Node& node = G.nodes[s.lnode];
  node.attrs.set("src_zero_point", int64_t{in.zero_point});
  double out_scale = 1.0;
  if (s.out_act >= 0) {
    const Grid& og = a[s.out_act].grid;
    const IntParams out = int_params(og);
    out_scale = out.scale;
    int32_t qmin, qmax;
    clamp_codes(og, s.out_clamp, &qmin, &qmax);
    node.attrs.set("zero_point", int64_t{out.zero_point});
    node.attrs.set("qmin", int64_t{qmin});
    node.attrs.set("qmax", int64_t{qmax});
  }
  float* scale = G.values[s.v_scale].constant.data<float>();
  float* bias = G.values[s.v_bias].constant.data<float>();
  for (int64_t oc = 0; oc < s.layout.OC; ++oc) {
    const double mul = s.post_mul.empty() ? 1.0 : s.post_mul[oc];
    const double add = s.post_add.empty() ? 0.0 : s.post_add[oc];
    scale[oc] = static_cast<float>(static_cast<double>(in.scale) * s.s_w[oc] * mul / out_scale);
    bias[oc] = static_cast<float>(add / out_scale);
  }
}

void QuantizedNetwork::Impl::write_quant_attrs(int node, const Grid& grid) {
  const IntParams p = int_params(grid);
  Attributes& at = g().nodes[node].attrs;
  at.set("scale", p.scale);
  at.set("zero_point", int64_t{p.zero_point});
  at.set("qmin", int64_t{p.code_min});
  at.set("qmax", int64_t{p.code_max});
}

namespace {

Grid act_grid(const ActQuant& q) {
  return q.grid == GridKind::kUnsigned ? make_unsigned_grid(q.alpha, q.bits) : make_asymmetric_grid(q.lo, q.alpha, q.bits);
}

void check_weight_alpha(const WeightQuant& q, int64_t OC, const std::string& where) {
  const size_t want = q.per_channel ? static_cast<size_t>(OC) : 1;
  LAPQ_CHECK(q.alpha.size() == want, ErrorCode::kInvalidArgument, where, ": ", q.alpha.size(),
             " clipping value(s) given, expected ", want, q.per_channel ? " (one per output channel)" : " (per tensor)");
  for (float x : q.alpha)
    LAPQ_CHECK(std::isfinite(x), ErrorCode::kInvalidArgument, where, ": clipping value ", x, " is not finite");
}

}  // namespace

QuantizedNetwork::QuantizedNetwork(const Graph& fp32, QuantConfig config, const Shape& input_shape, int num_threads)
    : QuantizedNetwork(fp32, std::move(config), input_shape, PlanOptions{.num_threads = num_threads}) {}

QuantizedNetwork::QuantizedNetwork(const Graph& fp32, QuantConfig config, const Shape& input_shape,
                                   const PlanOptions& options)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  register_quant_ops();
  Impl& im = *impl_;
  LAPQ_CHECK(fp32.inputs.size() == 1, ErrorCode::kUnsupported, "quantized network: the model has ",
             fp32.inputs.size(), " inputs; exactly one is supported");
  LAPQ_CHECK(input_shape.size() == 4, ErrorCode::kShapeMismatch, "quantized network: input shape ",
             shape_str(input_shape), " is not [N, C, H, W]");
  Graph fg = fp32;
  infer_shapes(fg, {input_shape});
  const int nv = static_cast<int>(fg.values.size()), nn = static_cast<int>(fg.nodes.size());
  auto value_where = [&](int v) { return "value '" + fg.values[v].name + "'"; };

  // ---- validate the config ----
  std::vector<int> act_of(nv, -1), slot_of(nn, -1);
  im.a.resize(config_.acts.size());
  for (size_t j = 0; j < config_.acts.size(); ++j) {
    const ActQuant& q = config_.acts[j];
    LAPQ_CHECK(q.value >= 0 && q.value < nv, ErrorCode::kInvalidArgument, "activation ", j, " ('", q.value_name,
               "'): value id ", q.value, " is not in the graph");
    const Value& v = fg.values[q.value];
    const std::string where = value_where(q.value);
    LAPQ_CHECK(q.value_name.empty() || q.value_name == v.name, ErrorCode::kInvalidArgument, "activation ", j,
               ": the config names '", q.value_name, "' but value ", q.value, " is '", v.name, "'");
    LAPQ_CHECK(!v.is_constant(), ErrorCode::kInvalidArgument, where, " is a constant, not an activation");
    LAPQ_CHECK(act_of[q.value] < 0, ErrorCode::kInvalidArgument, where, " is quantized twice in the config");
    LAPQ_CHECK(q.bits >= kMinBits && q.bits <= kMaxBits, ErrorCode::kInvalidArgument, where, ": ", q.bits,
               "-bit activations are not supported (", kMinBits, "..", kMaxBits, ")");
    LAPQ_CHECK(q.grid == GridKind::kUnsigned || q.grid == GridKind::kAsymmetric, ErrorCode::kInvalidArgument, where,
               ": activation grid ", grid_kind_name(q.grid), " (use unsigned or asymmetric)");
    LAPQ_CHECK(std::isfinite(q.alpha) && std::isfinite(q.lo), ErrorCode::kInvalidArgument, where,
               ": clipping range is not finite");
    LAPQ_CHECK(v.dtype == DType::kF32 && (v.shape.size() == 4 || v.shape.size() == 2), ErrorCode::kUnsupported, where,
               ": only f32 [N,C,H,W] or [N,K] activations are quantized, got ", dtype_name(v.dtype), " ",
               shape_str(v.shape));
    act_of[q.value] = static_cast<int>(j);
    im.a[j].name = v.name;
    im.a[j].grid = act_grid(q);
  }
  im.w.resize(config_.weights.size());
  for (size_t i = 0; i < config_.weights.size(); ++i) {
    const WeightQuant& q = config_.weights[i];
    LAPQ_CHECK(q.node >= 0 && q.node < nn, ErrorCode::kInvalidArgument, "weight ", i, " ('", q.node_name,
               "'): node id ", q.node, " is not in the graph");
    const Node& n = fg.nodes[q.node];
    const std::string where = n.op + " '" + fg.node_label(q.node) + "'";
    LAPQ_CHECK(q.node_name.empty() || q.node_name == fg.node_label(q.node), ErrorCode::kInvalidArgument, "weight ", i,
               ": the config names '", q.node_name, "' but node ", q.node, " is ", where);
    LAPQ_CHECK(is_weight_op(n.op), ErrorCode::kInvalidArgument, where, " has no quantizable weight");
    LAPQ_CHECK(slot_of[q.node] < 0, ErrorCode::kInvalidArgument, where, " is quantized twice in the config");
    LAPQ_CHECK(q.bits >= kMinBits && q.bits <= kMaxBits, ErrorCode::kInvalidArgument, where, ": ", q.bits,
               "-bit weights are not supported (", kMinBits, "..", kMaxBits, ")");
    LAPQ_CHECK(is_weight_grid(q.grid), ErrorCode::kInvalidArgument, where, ": weight grid ", grid_kind_name(q.grid),
               " (use lapq-midrise, symmetric or symmetric-full)");
    Impl::WeightSlot& s = im.w[i];
    s.fp32_node = q.node;
    s.where = where;
    s.layout = weight_layout(fg, n, where);
    check_weight_alpha(q, s.layout.OC, where);
    s.master = oc_first(fg.values[n.inputs[1]].constant, s.layout);
    slot_of[q.node] = static_cast<int>(i);
  }

  // ---- lower ----
  Graph& lg = im.staging;
  lg.opset = fg.opset;
  lg.name = fg.name;
  std::vector<int> f32v(nv, -1), u8v(nv, -1), rawv(nv, -1), constv(nv, -1);
  // Codes of a value that is not a quantized activation itself but a Slice / Pad
  // of one (a "view"): on that activation's grid.
  std::vector<int> view_act(nv, -1);
  auto grid_act = [&](int v) { return act_of[v] >= 0 ? act_of[v] : view_act[v]; };
  const auto consumers = fg.consumers();
  std::vector<bool> is_output(nv, false);
  for (int v : fg.outputs) is_output[v] = true;

  auto add_value = [&](const std::string& name) {
    Value v;
    v.name = name;
    return lg.add_value(std::move(v));
  };
  auto add_constant = [&](const std::string& name, Tensor t) {
    Value v;
    v.name = name;
    v.constant = std::move(t);  // add_value takes dtype and shape from it
    return lg.add_value(std::move(v));
  };
  auto add_node = [&](const std::string& op, const std::string& name, std::vector<int> in, std::vector<int> out,
                      Attributes attrs) {
    Node n;
    n.op = op;
    n.name = name;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = std::move(attrs);
    return lg.add_node(std::move(n));
  };
  auto emit_quantize = [&](int v) {
    const int j = act_of[v];
    u8v[v] = add_value(fg.values[v].name + ":u8");
    const int id = add_node(kQuantizeOp, "quantize:" + fg.values[v].name, {rawv[v]}, {u8v[v]}, {});
    im.a[j].producer = id;
    im.write_quant_attrs(id, im.a[j].grid);
  };
  auto need_f32 = [&](int v) -> int {
    if (v < 0) return -1;
    if (fg.values[v].is_constant()) {
      if (constv[v] < 0) constv[v] = add_constant(fg.values[v].name, fg.values[v].constant);
      return constv[v];
    }
    if (f32v[v] >= 0) return f32v[v];
    LAPQ_CHECK(u8v[v] >= 0, ErrorCode::kInternal, "quantized network: ", value_where(v), " read before it is produced");
    const int j = grid_act(v);
    f32v[v] = add_value(fg.values[v].name + ":dq");
    const int id = add_node(kDequantizeOp, "dequantize:" + fg.values[v].name, {u8v[v]}, {f32v[v]},
                            make_attrs({{"rank", int64_t(fg.values[v].shape.size())}}));
    im.a[j].dequantize_nodes.push_back(id);
    im.write_quant_attrs(id, im.a[j].grid);
    return f32v[v];
  };
  // Output value `v` of an FP32 node was written to lowered value `id`.
  auto produced_f32 = [&](int v, int id) {
    if (act_of[v] >= 0) {
      rawv[v] = id;
      emit_quantize(v);
    } else {
      f32v[v] = id;
    }
  };

  {
    Value in = fg.values[fg.inputs[0]];
    in.constant = Tensor();
    in.producer = -1;
    in.shape = fp32.values[fp32.inputs[0]].shape;  // the declared (possibly symbolic) shape
    const int id = lg.add_value(std::move(in));
    lg.inputs.push_back(id);
    produced_f32(fg.inputs[0], id);
  }

  std::vector<bool> absorbed(nn, false);
  // The single consumer of `v` when it is only read by one node and is neither
  // a graph output nor quantized itself (so it can live inside a fused node).
  auto sole_consumer = [&](int v) -> int {
    if (is_output[v] || act_of[v] >= 0 || consumers[v].size() != 1) return -1;
    return consumers[v][0];
  };

  for (int i = 0; i < nn; ++i) {
    if (absorbed[i]) continue;
    const Node& n = fg.nodes[i];
    const int si = slot_of[i];
    // Integer lowering: a quantized weight node reading a quantized activation, in a form PackedConv runs.
    bool integer = false;
    ops::Window win;
    if (si >= 0 && act_of[n.inputs[0]] >= 0) {
      const Shape& xs = fg.values[n.inputs[0]].shape;
      const Shape& ws = fg.values[n.inputs[1]].shape;
      if (n.op == "Conv") {
        integer = xs.size() == 4 && ws.size() == 4;
        if (integer)
          win = ops::compute_window(n, {xs[2], xs[3]}, {ws[2], ws[3]}, false, true, im.w[si].where);
      } else if (n.op == "Gemm") {
        const Tensor* c = n.has_input(2) ? constant_of(fg, n.inputs[2]) : nullptr;
        integer = xs.size() == 2 && n.attrs.get_int("transA", 0) == 0 && n.attrs.get_float("alpha", 1.f) == 1.f &&
                  (!n.has_input(2) || (c && n.attrs.get_float("beta", 1.f) == 1.f && c->numel() == im.w[si].layout.OC &&
                                       (c->rank() == 1 || (c->rank() == 2 && c->dim(0) == 1))));
      } else {  // MatMul
        integer = xs.size() == 2;
      }
    }
    if (!integer && si < 0 && n.op == "Add" && n.inputs.size() == 2 && n.outputs.size() == 1) {
      // Residual Add (+ Relu / Clip) with a quantized output -> lapq.QAdd.
      const int x0 = n.inputs[0], x1 = n.inputs[1];
      const bool same = x0 >= 0 && x1 >= 0 && !fg.values[x0].is_constant() && !fg.values[x1].is_constant() &&
                        fg.values[x0].shape.size() == 4 && fg.values[x0].shape == fg.values[x1].shape &&
                        fg.values[x0].dtype == DType::kF32 && fg.values[x1].dtype == DType::kF32;
      int out = n.outputs[0], relu_node = -1;
      FusedActivation act = n.activation;
      if (same && act.kind == FusedActivation::Kind::kNone) {
        const int c = sole_consumer(out);
        FusedActivation a2;
        if (c >= 0 && fg.nodes[c].inputs[0] == out && fg.nodes[c].outputs.size() == 1 &&
            clamp_activation_of(fg, fg.nodes[c], &a2)) {
          relu_node = c;
          out = fg.nodes[c].outputs[0];
          act = a2;
        }
      }
      if (same && act_of[out] >= 0 && (act.kind == FusedActivation::Kind::kNone || is_clamp(act))) {
        if (relu_node >= 0) absorbed[relu_node] = true;
        Impl::QAdd qa;
        qa.out_act = act_of[out];
        qa.clamp = act;
        Attributes at;
        std::vector<int> ins;
        for (int k = 0; k < 2; ++k) {
          const int xv = n.inputs[k];
          const bool codes = u8v[xv] >= 0;
          at.set(k == 0 ? "layout_a" : "layout_b", int64_t{codes});
          ins.push_back(codes ? u8v[xv] : need_f32(xv));
          if (codes) qa.in_act[k] = grid_act(xv);
        }
        u8v[out] = add_value(fg.values[out].name + ":u8");
        qa.node = add_node(kQAddOp, fg.node_label(i), ins, {u8v[out]}, std::move(at));
        const int k = static_cast<int>(im.qadds.size());
        im.qadds.push_back(qa);
        im.a[qa.out_act].producer = qa.node;
        im.a[qa.out_act].producer_qadd = k;
        for (int in_act : qa.in_act)
          if (in_act >= 0) im.a[in_act].qadd_readers.push_back(k);
        im.write_qadd(static_cast<size_t>(k));
        continue;
      }
    }
    if (!integer && si < 0 && (n.op == "Slice" || n.op == "Pad") && u8v[n.inputs[0]] >= 0) {
      // Slice / Pad of codes (ResNet option-A shortcuts): the same op on the u8 NHWC codes.
      std::vector<int> ins;
      if (n.outputs.size() == 1 && act_of[n.outputs[0]] < 0 && n.activation.kind == FusedActivation::Kind::kNone &&
          code_view_inputs(fg, n, fg.node_label(i), add_constant, &ins)) {
        const int out = n.outputs[0];
        const int j = grid_act(n.inputs[0]);
        ins.insert(ins.begin(), u8v[n.inputs[0]]);
        u8v[out] = add_value(fg.values[out].name + ":u8");
        view_act[out] = j;
        const int id = add_node(n.op, fg.node_label(i), ins, {u8v[out]}, {});
        if (n.op == "Pad") {
          im.a[j].zp_pads.push_back(id);
          im.write_pad_code(id, im.a[j].grid);
        }
        continue;
      }
    }
    if (!integer && si < 0 && n.op == "MaxPool" && n.inputs.size() == 1 && n.outputs.size() == 1 &&
        n.activation.kind == FusedActivation::Kind::kNone && u8v[n.inputs[0]] >= 0 && act_of[n.outputs[0]] >= 0 &&
        fg.values[n.inputs[0]].shape.size() == 4 && n.attrs.get_ints("kernel_shape").size() == 2) {
      // MaxPool from codes to a quantized output -> lapq.MaxPool (integer max + code map).
      Impl::QPool qp;
      qp.in_act = grid_act(n.inputs[0]);
      qp.out_act = act_of[n.outputs[0]];
      Attributes at;
      for (const char* k : {"kernel_shape", "strides", "pads", "dilations", "auto_pad", "ceil_mode"})
        if (n.attrs.has(k)) at.set(k, n.attrs.all().at(k));
      const int out = n.outputs[0];
      u8v[out] = add_value(fg.values[out].name + ":u8");
      qp.node = add_node(kQMaxPoolOp, fg.node_label(i), {u8v[n.inputs[0]]}, {u8v[out]}, std::move(at));
      const int k = static_cast<int>(im.pools.size());
      im.pools.push_back(qp);
      im.a[qp.out_act].producer = qp.node;
      im.a[qp.out_act].producer_pool = k;
      im.a[qp.in_act].pool_readers.push_back(k);
      im.write_pool(static_cast<size_t>(k));
      continue;
    }
    if (!integer) {
      Node copy = n;
      for (size_t k = 0; k < copy.inputs.size(); ++k)
        if (si < 0 || k != 1) copy.inputs[k] = need_f32(copy.inputs[k]);
      if (si >= 0) {  // fake-quantized FP32 weights (simulation: the input is not quantized)
        Impl::WeightSlot& s = im.w[si];
        copy.inputs[1] = add_constant(fg.values[n.inputs[1]].name + ":fq", fg.values[n.inputs[1]].constant.clone());
        s.v_wei = copy.inputs[1];
      }
      for (int& v : copy.outputs) {
        Value val;
        val.name = fg.values[v].name;
        v = lg.add_value(std::move(val));
      }
      const int id = lg.add_node(std::move(copy));
      if (si >= 0) im.w[si].lnode = id;
      for (size_t k = 0; k < n.outputs.size(); ++k) produced_f32(n.outputs[k], lg.nodes[id].outputs[k]);
      continue;
    }

    // ---- lapq.QConv ----
    Impl::WeightSlot& s = im.w[si];
    const WeightQuant& q = config_.weights[si];
    s.integer = true;
    s.in_act = act_of[n.inputs[0]];
    const int64_t OC = s.layout.OC;
    // Conv / Gemm bias.
    const Tensor* bias = n.has_input(2) ? constant_of(fg, n.inputs[2]) : nullptr;
    LAPQ_CHECK(!n.has_input(2) || bias, ErrorCode::kUnsupported, s.where, ": a non-constant bias is not supported");
    s.post_add.assign(static_cast<size_t>(OC), 0.0);
    if (bias) {
      LAPQ_CHECK(bias->numel() == OC, ErrorCode::kUnsupported, s.where, ": bias of shape ", shape_str(bias->shape()));
      for (int64_t oc = 0; oc < OC; ++oc) s.post_add[oc] = bias->data<float>()[oc];
    }
    // Absorb a BatchNormalization (unfolded graphs) and a Relu / Clip.
    int out = n.outputs[0];
    FusedActivation act = n.activation;
    if (act.kind == FusedActivation::Kind::kNone && n.op == "Conv") {
      const int c = sole_consumer(out);
      if (c >= 0 && fg.nodes[c].op == "BatchNormalization" && fg.nodes[c].inputs[0] == out) {
        const Node& bn = fg.nodes[c];
        const Tensor* p[4];
        bool ok = fg.nodes[c].outputs.size() == 1;
        for (int k = 0; k < 4; ++k) ok = ok && (p[k] = constant_of(fg, bn.inputs[k + 1])) && p[k]->numel() == OC;
        if (ok) {
          const double eps = bn.attrs.get_float("epsilon", 1e-5f);
          s.post_mul.resize(static_cast<size_t>(OC));
          for (int64_t oc = 0; oc < OC; ++oc) {
            const double gamma = p[0]->data<float>()[oc], beta = p[1]->data<float>()[oc];
            const double mean = p[2]->data<float>()[oc], var = p[3]->data<float>()[oc];
            const double m = gamma / std::sqrt(var + eps);
            s.post_mul[oc] = m;
            s.post_add[oc] = (s.post_add[oc] - mean) * m + beta;
          }
          absorbed[c] = true;
          out = bn.outputs[0];
          act = bn.activation;
        }
      }
    }
    if (act.kind == FusedActivation::Kind::kNone) {
      const int c = sole_consumer(out);
      FusedActivation a2;
      if (c >= 0 && fg.nodes[c].inputs[0] == out && fg.nodes[c].outputs.size() == 1 &&
          clamp_activation_of(fg, fg.nodes[c], &a2)) {
        absorbed[c] = true;
        out = fg.nodes[c].outputs[0];
        act = a2;
      }
    }
    const bool out_u8 = act_of[out] >= 0 && (act.kind == FusedActivation::Kind::kNone || is_clamp(act));
    // Geometry.
    Attributes at;
    if (n.op == "Conv") {
      const Shape& ws = fg.values[n.inputs[1]].shape;
      s.ICg = static_cast<int>(ws[1]);
      s.KH = static_cast<int>(ws[2]);
      s.KW = static_cast<int>(ws[3]);
      at.set("strides", win.strides);
      at.set("pads", std::vector<int64_t>{win.pads_begin[0], win.pads_begin[1], win.pads_end[0], win.pads_end[1]});
      at.set("dilations", win.dilations);
      at.set("group", n.attrs.get_int("group", 1));
    } else {
      s.ICg = static_cast<int>(s.layout.K);
    }
    at.set("bits", int64_t{q.bits});
    at.set("out_u8", int64_t{out_u8});
    at.set("out_rank", int64_t(fg.values[out].shape.size()));
    const std::string base = fg.node_label(i);
    s.v_wei = add_constant(base + ":wq", Tensor(DType::kI8, {OC, s.KH, s.KW, s.ICg}));
    s.v_scale = add_constant(base + ":scale", Tensor(DType::kF32, {OC}));
    s.v_bias = add_constant(base + ":bias", Tensor(DType::kF32, {OC}));
    if (q.grid == GridKind::kLapqMidRise || q.bias_correction)
      s.v_wzp = add_constant(base + ":wzp", Tensor(DType::kF32, {OC}));
    std::vector<int> outs;
    if (out_u8) {
      u8v[out] = add_value(fg.values[out].name + ":u8");
      outs.push_back(u8v[out]);
      s.out_act = act_of[out];
      s.out_clamp = act;
      im.a[s.out_act].producer_weight = si;
    } else {
      outs.push_back(add_value(fg.values[out].name));
      const Shape& os = fg.values[out].shape;
      if (os.size() == 4 && os[2] * os[3] > 1) outs.push_back(add_value(fg.values[out].name + ":nhwc"));
    }
    Node qn;
    qn.op = kQConvOp;
    qn.name = base;
    qn.inputs = {u8v[n.inputs[0]], s.v_wei, s.v_scale, s.v_bias, s.v_wzp};
    qn.outputs = outs;
    qn.attrs = std::move(at);
    if (!out_u8) qn.activation = act;  // applied to the f32 output by the executor
    s.lnode = lg.add_node(std::move(qn));
    im.a[s.in_act].consumer_weights.push_back(si);
    if (out_u8)
      im.a[s.out_act].producer = s.lnode;
    else
      produced_f32(out, outs[0]);
  }
  for (int v : fg.outputs) lg.outputs.push_back(need_f32(v));
  // A QConv f32 output read only by a QAdd stays NHWC (no transpose, no scratch).
  {
    std::vector<int> readers(lg.values.size(), 0);
    for (const Node& n : lg.nodes)
      for (int v : n.inputs)
        if (v >= 0) ++readers[v];
    for (int v : lg.outputs) readers[v] += 2;
    for (const Impl::QAdd& qa : im.qadds) {
      Node& add = lg.nodes[qa.node];
      for (int k = 0; k < 2; ++k) {
        const int v = add.inputs[k];
        const int prod = lg.values[v].producer;
        if (qa.in_act[k] >= 0 || readers[v] != 1 || prod < 0 || lg.nodes[prod].op != kQConvOp ||
            lg.nodes[prod].activation.kind != FusedActivation::Kind::kNone)
          continue;
        Node& conv = lg.nodes[prod];
        conv.attrs.set("out_nhwc", int64_t{1});
        conv.outputs.resize(1);  // the scratch value is left unused
        lg.values[v].name += ":nhwc_f32";
        add.attrs.set(k == 0 ? "layout_a" : "layout_b", int64_t{2});
      }
    }
  }
  // ... and computes its f32 tiles into the QAdd's codes in cache, as one node
  // (not when every value must stay observable: the conv's f32 value disappears).
  if (options.reuse_memory && qadd_fusion_allowed()) im.fuse_residual_adds(lg);
  for (size_t j = 0; j < im.a.size(); ++j)
    LAPQ_CHECK(im.a[j].producer >= 0, ErrorCode::kInvalidArgument, value_where(config_.acts[j].value),
               " is quantized in the config but is not computed by the network");

  for (size_t i = 0; i < im.w.size(); ++i) im.write_weight(config_, i);
  const int nodes_before = static_cast<int>(lg.nodes.size());
  std::vector<std::string> names;
  for (const Node& n : lg.nodes) names.push_back(n.name);
  lg.validate_and_sort();
  LAPQ_CHECK(static_cast<int>(lg.nodes.size()) == nodes_before, ErrorCode::kInternal, "lowering changed node count");
  for (int k = 0; k < nodes_before; ++k)
    LAPQ_CHECK(lg.nodes[k].name == names[k], ErrorCode::kInternal, "lowering emitted nodes out of order");

  im.plan = std::make_unique<Plan>(std::move(lg), std::vector<Shape>{input_shape}, options);
  im.staging = Graph();
}

QuantizedNetwork::~QuantizedNetwork() = default;

const Graph& QuantizedNetwork::lowered_graph() const { return impl_->plan->graph(); }
Plan& QuantizedNetwork::plan() { return *impl_->plan; }

void QuantizedNetwork::set_weight_alpha(size_t index, const std::vector<float>& alpha) {
  LAPQ_CHECK(index < config_.weights.size(), ErrorCode::kInvalidArgument, "set_weight_alpha: weight index ", index,
             " out of range (", config_.weights.size(), " quantized weights)");
  Impl::WeightSlot& s = impl_->w[index];
  WeightQuant q = config_.weights[index];
  q.alpha = alpha;
  check_weight_alpha(q, s.layout.OC, s.where);
  config_.weights[index].alpha = alpha;
  impl_->write_weight(config_, index);
  impl_->rebuild(s.lnode);
}

void QuantizedNetwork::set_act_range(size_t index, float alpha, float lo) {
  LAPQ_CHECK(index < config_.acts.size(), ErrorCode::kInvalidArgument, "set_act_range: activation index ", index,
             " out of range (", config_.acts.size(), " quantized activations)");
  LAPQ_CHECK(std::isfinite(alpha) && std::isfinite(lo), ErrorCode::kInvalidArgument, "set_act_range: value '",
             impl_->a[index].name, "': clipping range is not finite");
  Impl& im = *impl_;
  ActQuant& q = config_.acts[index];
  q.alpha = alpha;
  q.lo = lo;
  Impl::ActSlot& a = im.a[index];
  a.grid = act_grid(q);
  if (a.producer_weight >= 0)
    im.write_epilogue(a.producer_weight);
  else if (a.producer_qadd >= 0)
    im.write_qadd(a.producer_qadd);
  else if (a.producer_pool >= 0)
    im.write_pool(a.producer_pool);
  else
    im.write_quant_attrs(a.producer, a.grid);
  im.rebuild(a.producer);
  for (int k : a.qadd_readers) {
    im.write_qadd(k);
    im.rebuild(im.qadds[k].node);
  }
  for (int k : a.pool_readers) {
    im.write_pool(k);
    im.rebuild(im.pools[k].node);
  }
  for (int node : a.zp_pads) {
    im.write_pad_code(node, a.grid);
    im.rebuild(node);
  }
  for (int si : a.consumer_weights) {
    im.write_epilogue(si);
    im.rebuild(im.w[si].lnode);
  }
  for (int node : a.dequantize_nodes) {
    im.write_quant_attrs(node, a.grid);
    im.rebuild(node);
  }
}

int QuantizedNetwork::first_node_of_weight(size_t index) const { return impl_->w.at(index).lnode; }
int QuantizedNetwork::first_node_of_act(size_t index) const { return impl_->a.at(index).producer; }
int QuantizedNetwork::node_of_weight(size_t index) const { return impl_->w.at(index).lnode; }
bool QuantizedNetwork::weight_is_integer(size_t index) const { return impl_->w.at(index).integer; }

Tensor QuantizedNetwork::forward(const Tensor& input) {
  impl_->plan->set_input(0, input);
  return forward_from(0);
}

Tensor QuantizedNetwork::forward_from(int first) {
  Plan& p = *impl_->plan;
  const int n = static_cast<int>(p.graph().nodes.size());
  LAPQ_CHECK(first >= 0 && first <= n, ErrorCode::kInvalidArgument, "forward_from: node ", first, " out of range");
  p.run_nodes(first, n);
  return p.value(p.graph().outputs[0]).clone();
}

std::vector<int> QuantizedNetwork::live_values_at(int node) const {
  const Graph& g = impl_->plan->graph();
  std::vector<int> live;
  std::vector<bool> read_later(g.values.size(), false);
  for (size_t i = std::max(node, 0); i < g.nodes.size(); ++i)
    for (int v : g.nodes[i].inputs)
      if (v >= 0) read_later[v] = true;
  for (int v : g.outputs) read_later[v] = true;
  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (val.is_constant() || !read_later[v]) continue;
    if (val.producer < node) live.push_back(static_cast<int>(v));  // graph inputs have producer -1
  }
  return live;
}

std::string QuantizedNetwork::summary() const {
  std::ostringstream os;
  const Plan& p = *impl_->plan;
  for (size_t i = 0; i < impl_->w.size(); ++i) {
    const Impl::WeightSlot& s = impl_->w[i];
    const WeightQuant& q = config_.weights[i];
    os << s.where << ": W" << q.bits << " " << grid_kind_name(q.grid) << (q.per_channel ? " per-channel" : "")
       << (q.bias_correction ? " +bias-correction" : "") << " -> ";
    if (s.integer)
      os << "lapq.QConv " << p.impl_name(s.lnode)
         << (s.out_act >= 0           ? ", u8 output"
             : s.fused_qadd >= 0 ? ", residual add fused (QConv+QAdd), u8 output"
                                 : ", f32 output")
         << (s.post_mul.empty() ? "" : ", BN absorbed");
    else
      os << "FP32 " << p.graph().nodes[s.lnode].op << " with fake-quantized weights (simulation: input not quantized "
         << "or form not lowered)";
    os << "\n";
  }
  for (size_t j = 0; j < config_.acts.size(); ++j) {
    const ActQuant& q = config_.acts[j];
    const Impl::ActSlot& a = impl_->a[j];
    os << "value '" << a.name << "': A" << q.bits << " " << grid_kind_name(q.grid) << ", codes written by "
       << p.graph().nodes[a.producer].op << " '" << p.graph().node_label(a.producer) << "', "
       << a.consumer_weights.size() + a.qadd_readers.size() + a.pool_readers.size() << " integer reader(s), " << a.dequantize_nodes.size()
       << " dequantize\n";
  }
  return os.str();
}

}  // namespace lapq::quant
