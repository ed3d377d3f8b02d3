// Reductions: ReduceMean / Sum / Max / Min / Prod / L1 / L2 / SumSquare /
// LogSum / LogSumExp (axes as attribute or input, keepdims,
// noop_with_empty_axes) and ArgMax / ArgMin.
#include <cmath>
#include <limits>
#include <type_traits>

#include "engine/ops/op_util.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

enum class Reduce { kMean, kSum, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

// Which axes are reduced: the axes input (ReduceSum from opset 13, all from
// 18) or attribute; none given = all, unless noop_with_empty_axes.
std::vector<bool> reduce_mask(const Node& node, const Tensor* axes_input, int64_t rank, const std::string& where) {
  std::vector<int64_t> axes = axes_input ? axes_input->to_i64() : node.attrs.get_ints("axes");
  std::vector<bool> mask(rank, false);
  if (axes.empty()) {
    if (node.attrs.get_int("noop_with_empty_axes", 0) == 0) mask.assign(rank, true);
    return mask;
  }
  for (int64_t a : axes) {
    const int64_t ax = normalize_axis(a, rank, where);
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

template <Reduce kKind>
void reduce_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  constexpr bool float_only = kKind == Reduce::kMean || kKind == Reduce::kL2 || kKind == Reduce::kLogSum ||
                              kKind == Reduce::kLogSumExp;
  if (float_only) require_dtype(ctx, 0, {DType::kF32, DType::kF64});
  else require_dtype(ctx, 0, {DType::kF32, DType::kF64, DType::kI64, DType::kI32, DType::kI16, DType::kI8, DType::kU8});
  const Tensor* axes = has_in(ctx, 1) ? &req_const_in(ctx, 1, "axes") : nullptr;
  auto mask = reduce_mask(ctx.node, axes, static_cast<int64_t>(x.shape.size()), ctx.where());
  set_out(ctx, 0, x.dtype, reduce_shape(x.shape, mask, ctx.node.attrs.get_int("keepdims", 1) != 0));
}

// Walks the input once; each element is folded into the output cell it
// reduces to (output strides with 0 on reduced axes). Floats accumulate in
// double, integers in int64 (max / min in the input type).
template <Reduce kKind>
void reduce_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const Tensor* axes = in.size() > 1 ? in[1] : nullptr;
  auto mask = reduce_mask(node, axes, x.rank(), node_where(node));
  Shape kept = reduce_shape(x.shape(), mask, true);
  auto ost = strides_of(kept);
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) ost[i] = 0;
  const int64_t n_out = shape_numel(kept);
  const int64_t count = n_out ? x.numel() / n_out : 0;
  dispatch_numeric(x.dtype(), node_where(node), [&]<class T>() {
    using Acc = std::conditional_t<kKind == Reduce::kMax || kKind == Reduce::kMin, T,
                                   std::conditional_t<std::is_floating_point_v<T>, double, int64_t>>;
    Acc init = Acc(0);
    if constexpr (kKind == Reduce::kMax) init = std::numeric_limits<T>::lowest();
    if constexpr (kKind == Reduce::kMin) init = std::numeric_limits<T>::max();
    if constexpr (kKind == Reduce::kProd) init = Acc(1);
    std::vector<Acc> acc(static_cast<size_t>(n_out), init);
    const T* src = x.data<T>();
    std::array<std::vector<int64_t>, 2> st{strides_of(x.shape()), ost};
    for_each_broadcast<2>(x.shape(), st, [&](int64_t, const std::array<int64_t, 2>& off) {
      const Acc v = static_cast<Acc>(src[off[0]]);
      Acc& a = acc[off[1]];
      if constexpr (kKind == Reduce::kMax) a = std::max(a, v);
      else if constexpr (kKind == Reduce::kMin) a = std::min(a, v);
      else if constexpr (kKind == Reduce::kProd) a *= v;
      else if constexpr (kKind == Reduce::kL1) a += v < Acc(0) ? -v : v;
      else if constexpr (kKind == Reduce::kL2 || kKind == Reduce::kSumSquare) a += v * v;
      else if constexpr (kKind == Reduce::kLogSumExp) a += std::exp(v);
      else a += v;
    });
    T* dst = out[0]->data<T>();
    for (int64_t i = 0; i < n_out; ++i) {
      if constexpr (kKind == Reduce::kMean) dst[i] = static_cast<T>(acc[i] / static_cast<double>(count));
      else if constexpr (kKind == Reduce::kL2) dst[i] = static_cast<T>(std::sqrt(acc[i]));
      else if constexpr (kKind == Reduce::kLogSum || kKind == Reduce::kLogSumExp) dst[i] = static_cast<T>(std::log(acc[i]));
      else dst[i] = static_cast<T>(acc[i]);
    }
  });
}

// ---- ArgMax / ArgMin ------------------------------------------------------------

void arg_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, {DType::kF32, DType::kF64, DType::kI64, DType::kI32, DType::kI16, DType::kI8, DType::kU8});
  const int64_t r = static_cast<int64_t>(x.shape.size());
  LAPQ_CHECK(r >= 1, ErrorCode::kShapeMismatch, ctx.where(), ": input must have rank >= 1");
  const int64_t axis = normalize_axis(ctx.node.attrs.get_int("axis", 0), r, ctx.where());
  std::vector<bool> mask(r, false);
  mask[axis] = true;
  set_out(ctx, 0, DType::kI64, reduce_shape(x.shape, mask, ctx.node.attrs.get_int("keepdims", 1) != 0));
}

template <bool kMax>
void arg_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", 0), x.rank(), node_where(node));
  const bool last = node.attrs.get_int("select_last_index", 0) != 0;
  const int64_t outer = prod(x.shape(), 0, axis), len = x.dim(axis), inner = prod(x.shape(), axis + 1, x.rank());
  int64_t* dst = out[0]->data<int64_t>();
  dispatch_numeric(x.dtype(), node_where(node), [&]<class T>() {
    const T* src = x.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* p = src + o * len * inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < len; ++k) {
          const T v = p[k * inner], b = p[best * inner];
          const bool better = kMax ? (v > b || (last && v == b)) : (v < b || (last && v == b));
          if (better) best = k;
        }
        dst[o * inner + i] = best;
      }
  });
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  r.add(make_schema("ReduceMean", 1, 2, 1, reduce_infer<Reduce::kMean>, reduce_ref<Reduce::kMean>));
  r.add(make_schema("ReduceSum", 1, 2, 1, reduce_infer<Reduce::kSum>, reduce_ref<Reduce::kSum>));
  r.add(make_schema("ReduceMax", 1, 2, 1, reduce_infer<Reduce::kMax>, reduce_ref<Reduce::kMax>));
  r.add(make_schema("ReduceMin", 1, 2, 1, reduce_infer<Reduce::kMin>, reduce_ref<Reduce::kMin>));
  r.add(make_schema("ReduceProd", 1, 2, 1, reduce_infer<Reduce::kProd>, reduce_ref<Reduce::kProd>));
  r.add(make_schema("ReduceL1", 1, 2, 1, reduce_infer<Reduce::kL1>, reduce_ref<Reduce::kL1>));
  r.add(make_schema("ReduceL2", 1, 2, 1, reduce_infer<Reduce::kL2>, reduce_ref<Reduce::kL2>));
  r.add(make_schema("ReduceSumSquare", 1, 2, 1, reduce_infer<Reduce::kSumSquare>, reduce_ref<Reduce::kSumSquare>));
  r.add(make_schema("ReduceLogSum", 1, 2, 1, reduce_infer<Reduce::kLogSum>, reduce_ref<Reduce::kLogSum>));
  r.add(make_schema("ReduceLogSumExp", 1, 2, 1, reduce_infer<Reduce::kLogSumExp>, reduce_ref<Reduce::kLogSumExp>));
  r.add(make_schema("ArgMax", 1, 1, 1, arg_infer, arg_ref<true>));
  r.add(make_schema("ArgMin", 1, 1, 1, arg_infer, arg_ref<false>));
}

}  // namespace lapq::ops
