// BatchNormalization (inference), Softmax / LogSoftmax (both opset forms),
// ReduceMean.
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

// ---- ReduceMean ---------------------------------------------------------------

// Reduced axes (sorted, unique, in [0, rank)); empty = none reduced.
std::vector<bool> reduce_mask(const Node& node, const Tensor* axes_input, int64_t rank, const std::string& where) {
  std::vector<int64_t> axes = axes_input ? axes_input->to_i64() : node.attrs.get_ints("axes");
  std::vector<bool> mask(rank, false);
  if (axes.empty()) {
    if (node.attrs.get_int("noop_with_empty_axes", 0) == 0) mask.assign(rank, true);
    return mask;
  }
  for (int64_t a : axes) {
    int64_t ax = normalize_axis(a, rank, where);
    LAPQ_CHECK(!mask[ax], ErrorCode::kInvalidModel, where, ": axis ", a, " is listed twice");
    mask[ax] = true;
  }
  return mask;
}

Shape reduce_shape(const Shape& s, const std::vector<bool>& mask, bool keepdims) {
  Shape out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!mask[i]) out.push_back(s[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

void reduce_mean_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, {DType::kF32, DType::kF64});
  const Tensor* axes = has_in(ctx, 1) ? &req_const_in(ctx, 1, "axes") : nullptr;
  auto mask = reduce_mask(ctx.node, axes, static_cast<int64_t>(x.shape.size()), ctx.where());
  set_out(ctx, 0, x.dtype, reduce_shape(x.shape, mask, ctx.node.attrs.get_int("keepdims", 1) != 0));
}

void reduce_mean_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const Tensor* axes = in.size() > 1 ? in[1] : nullptr;
  auto mask = reduce_mask(node, axes, x.rank(), node_where(node));
  // Walk the input; each element adds into the output cell it reduces to
  // (output strides with 0 on reduced axes).
  Shape kept = reduce_shape(x.shape(), mask, true);
  auto ost = strides_of(kept);
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) ost[i] = 0;
  std::vector<int64_t> ist = strides_of(x.shape());
  const int64_t count = x.numel() / std::max<int64_t>(1, shape_numel(kept));
  dispatch_numeric(x.dtype(), node_where(node), [&]<class T>() {
    const T* src = x.data<T>();
    T* dst = out[0]->data<T>();
    std::vector<double> acc(static_cast<size_t>(out[0]->numel()), 0.0);
    std::array<std::vector<int64_t>, 2> st{ist, ost};
    for_each_broadcast<2>(x.shape(), st, [&](int64_t, const std::array<int64_t, 2>& off) {
      acc[off[1]] += static_cast<double>(src[off[0]]);
    });
    for (size_t i = 0; i < acc.size(); ++i) dst[i] = static_cast<T>(acc[i] / static_cast<double>(count));
  });
}

}  // namespace

void register_normalization_ops(OpRegistry& r) {
  r.add(make_schema("BatchNormalization", 5, 5, 7, batchnorm_infer, batchnorm_ref));
  r.add(make_schema("Softmax", 1, 1, 1, softmax_infer, softmax_ref<false>));
  r.add(make_schema("LogSoftmax", 1, 1, 1, softmax_infer, softmax_ref<true>));
  r.add(make_schema("ReduceMean", 1, 2, 1, reduce_mean_infer, reduce_mean_ref));
}

}  // namespace lapq::ops
