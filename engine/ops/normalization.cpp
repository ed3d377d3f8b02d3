// BatchNormalization (inference), Softmax / LogSoftmax (both opset forms),
// LayerNormalization, InstanceNormalization.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/op_util.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

// ---- BatchNormalization --------------------------------------------------------

void batchnorm_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, {DType::kF32});
  LAPQ_CHECK(ctx.node.attrs.get_int("training_mode", 0) == 0, ErrorCode::kUnsupported, ctx.where(),
             ": training_mode=1 is not supported (inference only)");
  LAPQ_CHECK(ctx.node.attrs.get_int("spatial", 1) == 1, ErrorCode::kUnsupported, ctx.where(),
             ": spatial=0 is not supported");
  max_outputs(ctx, 1, "running mean / variance outputs exist only in training mode");
  LAPQ_CHECK(x.shape.size() >= 2, ErrorCode::kShapeMismatch, ctx.where(), ": input must be [N,C,...], got ",
             shape_str(x.shape));
  const int64_t C = x.shape[1];
  static const char* names[] = {"", "scale", "B", "mean", "var"};
  for (size_t i = 1; i <= 4; ++i) {
    const Value& p = req_in(ctx, i);
    require_dtype(ctx, i, {DType::kF32});
    LAPQ_CHECK(p.shape.size() == 1 && (C < 0 || p.shape[0] < 0 || p.shape[0] == C), ErrorCode::kShapeMismatch,
               ctx.where(), ": ", names[i], " has shape ", shape_str(p.shape), " but the input has ", C, " channels");
  }
  set_out(ctx, 0, DType::kF32, x.shape);
}

void batchnorm_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const int64_t N = x.dim(0), C = x.dim(1), inner = prod(x.shape(), 2, x.shape().size());
  const float eps = node.attrs.get_float("epsilon", 1e-5f);
  const float* scale = in[1]->data<float>();
  const float* bias = in[2]->data<float>();
  const float* mean = in[3]->data<float>();
  const float* var = in[4]->data<float>();
  const float* src = x.data<float>();
  float* dst = out[0]->data<float>();
  for (int64_t c = 0; c < C; ++c) {
    const float inv_std = 1.f / std::sqrt(var[c] + eps);
    for (int64_t n = 0; n < N; ++n) {
      const float* xp = src + (n * C + c) * inner;
      float* yp = dst + (n * C + c) * inner;
      for (int64_t i = 0; i < inner; ++i) yp[i] = (xp[i] - mean[c]) * inv_std * scale[c] + bias[c];
    }
  }
}

// ---- Softmax / LogSoftmax ----------------------------------------------------------

// The reduction as [outer, len, inner]: softmax over `len` for each
// (outer, inner). Opset >= 13: len = shape[axis]. Before 13 (marked by
// normalize_opset_forms): the input is coerced to 2-D at axis, len =
// prod(shape[axis:]), inner = 1.
struct SoftmaxSplit {
  int64_t outer, len, inner;
};
SoftmaxSplit softmax_split(const Node& node, const Shape& s, const std::string& where) {
  const bool legacy = node.attrs.get_int(kLegacyCoerce2dAttr, 0) != 0;
  const int64_t r = static_cast<int64_t>(s.size());
  if (legacy) {
    const int64_t axis = normalize_axis(node.attrs.get_int("axis", 1), r, where, r == 0);
    return {prod(s, 0, axis), prod(s, axis, s.size()), 1};
  }
  LAPQ_CHECK(r >= 1, ErrorCode::kShapeMismatch, where, ": input must have rank >= 1");
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", -1), r, where);
  return {prod(s, 0, axis), s[axis], prod(s, axis + 1, s.size())};
}

void softmax_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, {DType::kF32, DType::kF64});
  const Shape& s = x.shape;
  const int64_t r = static_cast<int64_t>(s.size());
  if (ctx.opset() < 13 && ctx.node.attrs.get_int(kLegacyCoerce2dAttr, 0) == 0) {
    // An unmarked pre-13 node is computed with the opset-13 meaning; refuse
    // unless both meanings agree on this shape.
    const int64_t legacy_axis = normalize_axis(ctx.node.attrs.get_int("axis", 1), r, ctx.where(), r == 0);
    const int64_t new_axis = normalize_axis(ctx.node.attrs.get_int("axis", -1), r, ctx.where());
    bool same = shape_known(s) && new_axis >= legacy_axis;
    for (int64_t d = legacy_axis; same && d < r; ++d)
      if (d != new_axis && s[d] != 1) same = false;
    LAPQ_CHECK(same, ErrorCode::kInternal, ctx.where(), ": opset ", ctx.opset(),
               " softmax semantics need normalize_opset_forms() to run on the graph first");
  } else {
    softmax_split(ctx.node, s, ctx.where());  // validates the axis
  }
  set_out(ctx, 0, x.dtype, s);
}

template <bool kLog>
void softmax_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const SoftmaxSplit sp = softmax_split(node, x.shape(), node_where(node));
  dispatch_numeric(x.dtype(), node_where(node), [&]<class T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T* src = x.data<T>();
      T* dst = out[0]->data<T>();
      for (int64_t o = 0; o < sp.outer; ++o)
        for (int64_t i = 0; i < sp.inner; ++i) {
          const T* xp = src + o * sp.len * sp.inner + i;
          T* yp = dst + o * sp.len * sp.inner + i;
          T mx = -std::numeric_limits<T>::infinity();
          for (int64_t k = 0; k < sp.len; ++k) mx = std::max(mx, xp[k * sp.inner]);
          T sum = 0;
          for (int64_t k = 0; k < sp.len; ++k) sum += std::exp(xp[k * sp.inner] - mx);
          if constexpr (kLog) {
            const T lse = std::log(sum);
            for (int64_t k = 0; k < sp.len; ++k) yp[k * sp.inner] = xp[k * sp.inner] - mx - lse;
          } else {
            for (int64_t k = 0; k < sp.len; ++k) yp[k * sp.inner] = std::exp(xp[k * sp.inner] - mx) / sum;
          }
        }
    }
  });
}

// ---- LayerNormalization / InstanceNormalization ----------------------------------------

void layernorm_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, {DType::kF32});
  const int64_t r = static_cast<int64_t>(x.shape.size());
  const int64_t axis = normalize_axis(ctx.node.attrs.get_int("axis", -1), r, ctx.where());
  const Shape norm(x.shape.begin() + axis, x.shape.end());
  for (size_t i = 1; i <= 2; ++i) {
    if (!has_in(ctx, i)) continue;
    const Value& p = req_in(ctx, i);
    require_dtype(ctx, i, {DType::kF32});
    LAPQ_CHECK(broadcasts_to(p.shape, norm),
               ErrorCode::kShapeMismatch, ctx.where(), ": ", (i == 1 ? "Scale" : "B"), " shape ", shape_str(p.shape),
               " does not broadcast to the normalized shape ", shape_str(norm));
  }
  set_out(ctx, 0, DType::kF32, x.shape);
  // Optional Mean and InvStdDev: one value per normalized row, kept dims.
  Shape stats(x.shape.begin(), x.shape.begin() + axis);
  stats.resize(x.shape.size(), 1);
  set_out(ctx, 1, DType::kF32, stats);
  set_out(ctx, 2, DType::kF32, stats);
}

// y = (x - mean) / sqrt(var + eps) * scale + B over the trailing dims from
// `axis` (population variance, computed in double).
void layernorm_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", -1), x.rank(), node_where(node));
  const double eps = node.attrs.get_float("epsilon", 1e-5f);
  const Shape norm(x.shape().begin() + axis, x.shape().end());
  const int64_t rows = prod(x.shape(), 0, axis), len = shape_numel(norm);
  auto expand = [&](const Tensor* t, float fill) {  // scale / bias broadcast to `norm`
    std::vector<float> v(static_cast<size_t>(len), fill);
    if (!t) return v;
    std::array<std::vector<int64_t>, 1> st{broadcast_strides(t->shape(), norm)};
    const float* p = t->data<float>();
    for_each_broadcast<1>(norm, st, [&](int64_t o, const std::array<int64_t, 1>& off) { v[o] = p[off[0]]; });
    return v;
  };
  const std::vector<float> scale = expand(in[1], 1.f);
  const std::vector<float> bias = expand(in.size() > 2 ? in[2] : nullptr, 0.f);
  const float* src = x.data<float>();
  float* dst = out[0]->data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xp = src + r * len;
    float* yp = dst + r * len;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < len; ++i) mean += xp[i];
    mean /= static_cast<double>(len);
    for (int64_t i = 0; i < len; ++i) var += (xp[i] - mean) * (xp[i] - mean);
    var /= static_cast<double>(len);
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < len; ++i) yp[i] = static_cast<float>((xp[i] - mean) * inv_std * scale[i] + bias[i]);
    if (out.size() > 1 && out[1]) out[1]->data<float>()[r] = static_cast<float>(mean);
    if (out.size() > 2 && out[2]) out[2]->data<float>()[r] = static_cast<float>(inv_std);
  }
}

void instancenorm_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, {DType::kF32});
  LAPQ_CHECK(x.shape.size() >= 3, ErrorCode::kShapeMismatch, ctx.where(), ": input must be [N,C,spatial...], got ",
             shape_str(x.shape));
  for (size_t i = 1; i <= 2; ++i) {
    const Value& p = req_in(ctx, i);
    require_dtype(ctx, i, {DType::kF32});
    LAPQ_CHECK(p.shape.size() == 1 && (p.shape[0] == x.shape[1] || p.shape[0] < 0 || x.shape[1] < 0),
               ErrorCode::kShapeMismatch, ctx.where(), ": ", (i == 1 ? "scale" : "B"), " has shape ",
               shape_str(p.shape), " but the input has ", x.shape[1], " channels");
  }
  set_out(ctx, 0, DType::kF32, x.shape);
}

void instancenorm_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const int64_t N = x.dim(0), C = x.dim(1), len = prod(x.shape(), 2, x.shape().size());
  const double eps = node.attrs.get_float("epsilon", 1e-5f);
  const float* scale = in[1]->data<float>();
  const float* bias = in[2]->data<float>();
  const float* src = x.data<float>();
  float* dst = out[0]->data<float>();
  for (int64_t p = 0; p < N * C; ++p) {
    const int64_t c = p % C;
    const float* xp = src + p * len;
    float* yp = dst + p * len;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < len; ++i) mean += xp[i];
    mean /= static_cast<double>(len);
    for (int64_t i = 0; i < len; ++i) var += (xp[i] - mean) * (xp[i] - mean);
    var /= static_cast<double>(len);
    const double k = scale[c] / std::sqrt(var + eps);
    for (int64_t i = 0; i < len; ++i) yp[i] = static_cast<float>((xp[i] - mean) * k + bias[c]);
  }
}

}  // namespace

void register_normalization_ops(OpRegistry& r) {
  r.add(make_schema("BatchNormalization", 5, 5, 7, batchnorm_infer, batchnorm_ref));
  r.add(make_schema("Softmax", 1, 1, 1, softmax_infer, softmax_ref<false>));
  r.add(make_schema("LogSoftmax", 1, 1, 1, softmax_infer, softmax_ref<true>));
  r.add(make_schema("LayerNormalization", 2, 3, 17, layernorm_infer, layernorm_ref));
  r.add(make_schema("InstanceNormalization", 3, 3, 6, instancenorm_infer, instancenorm_ref));
}

}  // namespace lapq::ops
