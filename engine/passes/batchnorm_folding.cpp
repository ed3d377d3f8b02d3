// BatchNormalization folded into the Conv / Gemm before it:
//   y = (conv(x) - mean) * s + B,  s = scale / sqrt(var + eps)
//     = conv'(x) with W'[oc] = W[oc] * s[oc], b'[oc] = (b[oc] - mean[oc]) * s[oc] + B[oc].
// For Gemm (Y = alpha A B' + beta C, channels along N):
//   B'[., n] = alpha * B[., n] * s[n], C'[n] = (beta * C[n] - mean[n]) * s[n] + B_bn[n], alpha = beta = 1.
// Computed in double, stored as float32. New weight constants are created (an
// initializer may be shared by several nodes).
#include <cmath>
#include <optional>

#include "engine/passes/graph_edit.h"
#include "engine/passes/passes.h"

namespace lapq {

namespace {

using passes::add_constant;
using passes::constant_input;

struct BnParams {
  std::vector<double> s;      // scale / sqrt(var + eps)
  std::vector<double> shift;  // B - mean * s
  std::vector<double> mean;
};

bool is_f32_constant(const Tensor* t) { return t && t->dtype() == DType::kF32; }

// The BN's per-channel affine, or nullopt when it cannot be folded.
std::optional<BnParams> bn_params(const Graph& g, const Node& bn, int64_t channels) {
  if (bn.inputs.size() != 5) return std::nullopt;
  if (bn.attrs.get_int("training_mode", 0) != 0 || bn.attrs.get_int("spatial", 1) != 1) return std::nullopt;
  const Tensor* p[4];
  for (int k = 0; k < 4; ++k) {
    p[k] = constant_input(g, bn, k + 1);
    if (!is_f32_constant(p[k]) || p[k]->numel() != channels) return std::nullopt;
  }
  const double eps = bn.attrs.get_float("epsilon", 1e-5f);
  const float* scale = p[0]->data<float>();
  const float* bias = p[1]->data<float>();
  const float* mean = p[2]->data<float>();
  const float* var = p[3]->data<float>();
  BnParams r;
  for (int64_t c = 0; c < channels; ++c) {
    double s = scale[c] / std::sqrt(static_cast<double>(var[c]) + eps);
    r.s.push_back(s);
    r.mean.push_back(mean[c]);
    r.shift.push_back(bias[c]);
  }
  return r;
}

// Conv: W [OC, IC/group, k...], optional bias [OC].
bool fold_into_conv(Graph& g, int conv_id, const Node& bn) {
  const Node& conv = g.nodes[conv_id];
  const Tensor* w = constant_input(g, conv, 1);
  if (!is_f32_constant(w) || w->rank() < 3) return false;
  const Tensor* b = constant_input(g, conv, 2);
  if (conv.has_input(2) && (!is_f32_constant(b) || b->numel() != w->dim(0))) return false;
  const int64_t oc = w->dim(0);
  auto bnp = bn_params(g, bn, oc);
  if (!bnp) return false;
  Tensor w2(DType::kF32, w->shape());
  Tensor b2(DType::kF32, {oc});
  const int64_t per_oc = w->numel() / oc;
  for (int64_t o = 0; o < oc; ++o) {
    for (int64_t k = 0; k < per_oc; ++k)
      w2.data<float>()[o * per_oc + k] = static_cast<float>(w->data<float>()[o * per_oc + k] * bnp->s[o]);
    double bias = b ? b->data<float>()[o] : 0.0;
    b2.data<float>()[o] = static_cast<float>((bias - bnp->mean[o]) * bnp->s[o] + bnp->shift[o]);
  }
  const std::string base = g.values[conv.inputs[1]].name;
  int w_id = add_constant(g, base + "_bn", std::move(w2));
  int b_id = add_constant(g, base + "_bn_bias", std::move(b2));
  Node& c = g.nodes[conv_id];
  c.inputs.resize(3, -1);
  c.inputs[1] = w_id;
  c.inputs[2] = b_id;
  return true;
}

// Gemm: B [K, N] (transB = 0) or [N, K] (transB = 1), optional C of N values.
bool fold_into_gemm(Graph& g, int gemm_id, const Node& bn) {
  const Node& gemm = g.nodes[gemm_id];
  const Tensor* wb = constant_input(g, gemm, 1);
  if (!is_f32_constant(wb) || wb->rank() != 2) return false;
  const bool trans_b = gemm.attrs.get_int("transB", 0) != 0;
  const int64_t n_out = trans_b ? wb->dim(0) : wb->dim(1);
  const int64_t k_dim = trans_b ? wb->dim(1) : wb->dim(0);
  const Tensor* c = constant_input(g, gemm, 2);
  if (gemm.has_input(2)) {
    if (!is_f32_constant(c)) return false;
    // Per-column bias [N] / [1, N], or a scalar; a per-row C cannot be folded.
    bool per_col = c->numel() == n_out && (c->rank() == 1 || (c->rank() == 2 && c->dim(0) == 1));
    if (!per_col && c->numel() != 1) return false;
  }
  auto bnp = bn_params(g, bn, n_out);
  if (!bnp) return false;
  const double alpha = gemm.attrs.get_float("alpha", 1.f);
  const double beta = gemm.attrs.get_float("beta", 1.f);
  Tensor w2(DType::kF32, wb->shape());
  const float* src = wb->data<float>();
  float* dst = w2.data<float>();
  for (int64_t k = 0; k < k_dim; ++k)
    for (int64_t n = 0; n < n_out; ++n) {
      int64_t at = trans_b ? n * k_dim + k : k * n_out + n;
      dst[at] = static_cast<float>(alpha * src[at] * bnp->s[n]);
    }
  Tensor c2(DType::kF32, {n_out});
  for (int64_t n = 0; n < n_out; ++n) {
    double bias = c ? beta * c->data<float>()[c->numel() == 1 ? 0 : n] : 0.0;
    c2.data<float>()[n] = static_cast<float>((bias - bnp->mean[n]) * bnp->s[n] + bnp->shift[n]);
  }
  const std::string base = g.values[gemm.inputs[1]].name;
  int w_id = add_constant(g, base + "_bn", std::move(w2));
  int c_id = add_constant(g, base + "_bn_bias", std::move(c2));
  Node& m = g.nodes[gemm_id];
  m.inputs.resize(3, -1);
  m.inputs[1] = w_id;
  m.inputs[2] = c_id;
  m.attrs.set("alpha", 1.f);
  m.attrs.set("beta", 1.f);
  return true;
}

}  // namespace

int fold_batchnorm(Graph& g) {
  std::vector<bool> dead(g.nodes.size(), false);
  const auto consumers = g.consumers();
  int folded = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& bn = g.nodes[i];
    if (bn.op != "BatchNormalization" || !bn.has_input(0) || bn.outputs.size() != 1) continue;
    const int x = bn.inputs[0];
    const int p = g.values[x].producer;
    if (p < 0 || dead[p] || consumers[x].size() != 1 || passes::is_graph_output(g, x)) continue;
    const Node& prod = g.nodes[p];
    if (prod.activation.kind != FusedActivation::Kind::kNone || prod.outputs.size() != 1) continue;
    bool ok = false;
    if (prod.op == "Conv") ok = fold_into_conv(g, p, bn);
    else if (prod.op == "Gemm") ok = fold_into_gemm(g, p, bn);
    if (!ok) continue;
    passes::redirect_output(g, p, 0, g.nodes[i].outputs[0]);
    dead[i] = true;
    ++folded;
  }
  g.compact(dead);
  return folded;
}

}  // namespace lapq
