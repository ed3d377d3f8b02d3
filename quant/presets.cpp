#include "quant/presets.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "engine/error.h"
#include "quant/quantized_network.h"

namespace lapq::quant {

namespace {
int parse_int_bits(const std::string& s, const std::string& text) {
  LAPQ_CHECK(!s.empty() && s.size() <= 2 && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c); }),
             ErrorCode::kInvalidArgument, "bits '", text, "': expected e.g. w4a4");
  const int b = std::stoi(s);
  LAPQ_CHECK(b >= kMinBits && b <= kMaxBits, ErrorCode::kInvalidArgument, "bits '", text, "': each width must be in [",
             kMinBits, ", ", kMaxBits, "]");
  return b;
}

bool is_4d_or_2d_f32(const Value& v) {
  return v.dtype == DType::kF32 && v.has_shape && (v.shape.size() == 4 || v.shape.size() == 2);
}
}  // namespace

Bits parse_bits(const std::string& text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Bits b;
  const size_t wp = t.find('w'), ap = t.find('a');
  LAPQ_CHECK(!t.empty() && (wp == 0 || ap == 0) && (wp == std::string::npos || ap == std::string::npos || wp < ap),
             ErrorCode::kInvalidArgument, "bits '", text, "': expected e.g. w4a4, w8, a4");
  if (wp != std::string::npos) b.w = parse_int_bits(t.substr(wp + 1, (ap == std::string::npos ? t.size() : ap) - wp - 1), text);
  if (ap != std::string::npos) b.a = parse_int_bits(t.substr(ap + 1), text);
  return b;
}

std::string bits_name(Bits b) {
  std::string s(1, 'w');
  s += std::to_string(b.w);
  s += 'a';
  s += std::to_string(b.a);
  return s;
}

Preset parse_preset(const std::string& name) {
  if (name == "deploy") return Preset::kDeploy;
  if (name == "paper") return Preset::kPaper;
  throw Error(ErrorCode::kInvalidArgument, "unknown preset '" + name + "' (use deploy or paper)");
}

const char* preset_name(Preset p) { return p == Preset::kPaper ? "paper" : "deploy"; }

PassOptions preset_pass_options(Preset p) {
  PassOptions o;
  o.fold_batchnorm = p != Preset::kPaper;
  return o;
}

void add_layer_bits(PresetOptions& opts, const std::string& spec) {
  const size_t eq = spec.rfind('=');
  LAPQ_CHECK(eq != std::string::npos && eq > 0, ErrorCode::kInvalidArgument, "--layer-bits '", spec,
             "': expected NAME=w8a8");
  opts.layer_bits[spec.substr(0, eq)] = parse_bits(spec.substr(eq + 1));
}

QuantConfig make_preset_config(const Graph& graph, const PresetOptions& opts) {
  check_bits(opts.bits.w, "weight bits");
  check_bits(opts.bits.a, "activation bits");
  QuantConfig cfg;
  cfg.preset = preset_name(opts.preset);
  cfg.batchnorm_folded = opts.preset != Preset::kPaper;
  const bool paper = opts.preset == Preset::kPaper;
  const bool bias_correction = opts.bias_correction.value_or(paper);

  // Weights.
  std::vector<int> wnodes = quantizable_weight_nodes(graph);
  if (paper) {
    std::vector<int> convs;
    for (int n : wnodes)
      if (graph.nodes[n].op == "Conv") convs.push_back(n);
    wnodes.clear();
    for (size_t i = 1; i + 1 < convs.size(); ++i) wnodes.push_back(convs[i]);  // first and last conv stay FP32
  }
  // Activations (value ids in producer order; graph inputs first).
  const std::vector<int> relus = relu_output_values(graph);
  const std::set<int> relu_set(relus.begin(), relus.end());
  std::vector<int> acts;
  if (paper) {
    for (size_t i = 1; i + 1 < relus.size(); ++i) acts.push_back(relus[i]);  // first and last ReLU stay FP32
  } else {
    std::set<int> want(relus.begin(), relus.end());
    for (int v : graph.inputs) want.insert(v);
    for (int n : wnodes)
      if (!graph.values[graph.nodes[n].inputs[0]].is_constant()) want.insert(graph.nodes[n].inputs[0]);
    for (const Node& n : graph.nodes)
      if (n.op == "Add" && !n.outputs.empty()) want.insert(n.outputs[0]);
    for (int v : graph.inputs)
      if (want.count(v) && is_4d_or_2d_f32(graph.values[v])) acts.push_back(v);
    for (const Node& n : graph.nodes)
      for (int v : n.outputs)
        if (v >= 0 && want.count(v) && is_4d_or_2d_f32(graph.values[v])) acts.push_back(v);
  }
  LAPQ_CHECK(!wnodes.empty() || !acts.empty(), ErrorCode::kInvalidArgument, "preset ", cfg.preset,
             ": the model has nothing to quantize");

  for (int n : wnodes) {
    WeightQuant w;
    w.node = n;
    w.node_name = graph.node_label(n);
    w.bits = opts.bits.w;
    w.grid = paper ? GridKind::kLapqMidRise : GridKind::kSymmetric;
    w.per_channel = !paper && opts.per_channel;
    const int64_t oc = weight_oc_first(graph, n).shape()[0];
    w.alpha.assign(w.per_channel ? static_cast<size_t>(oc) : 1, 1.0f);
    w.bias_correction = bias_correction;
    cfg.weights.push_back(std::move(w));
  }
  for (int v : acts) {
    ActQuant a;
    a.value = v;
    a.value_name = graph.values[v].name;
    a.bits = opts.bits.a;
    a.grid = relu_set.count(v) ? GridKind::kUnsigned : GridKind::kAsymmetric;
    a.alpha = 1.0f;
    a.lo = a.grid == GridKind::kAsymmetric ? -1.0f : 0.0f;
    cfg.acts.push_back(std::move(a));
  }
  auto act_index_of_value = [&](int v) -> int {
    for (size_t j = 0; j < cfg.acts.size(); ++j)
      if (cfg.acts[j].value == v) return static_cast<int>(j);
    return -1;
  };
  auto apply = [&](size_t wi, Bits b) {
    cfg.weights[wi].bits = b.w;
    const int j = act_index_of_value(graph.nodes[cfg.weights[wi].node].inputs[0]);
    if (j >= 0) cfg.acts[j].bits = b.a;
  };
  if (!paper && opts.first_last_bits > 0 && !cfg.weights.empty()) {
    check_bits(opts.first_last_bits, "first/last layer bits");
    const Bits fl{opts.first_last_bits, opts.first_last_bits};
    apply(0, fl);
    apply(cfg.weights.size() - 1, fl);
  }
  for (const auto& [name, b] : opts.layer_bits) {
    bool found = false;
    for (size_t i = 0; i < cfg.weights.size(); ++i)
      if (cfg.weights[i].node_name == name) apply(i, b), found = true;
    for (ActQuant& a : cfg.acts)
      if (a.value_name == name) a.bits = b.a, found = true;
    LAPQ_CHECK(found, ErrorCode::kInvalidArgument, "--layer-bits: '", name,
               "' is neither a quantized layer nor a quantized activation of this model (preset ", cfg.preset, ")");
  }
  // Mid-rise weights are LAPQ's grid; 8-bit mid-rise codes still fit the executor (stored as q - 2^(b-1)).
  return cfg;
}

}  // namespace lapq::quant
