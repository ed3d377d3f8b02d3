// Ops that create or convert data: Constant, ConstantOfShape, Cast, Range.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "engine/ops/op_util.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

// ---- Constant ---------------------------------------------------------------------------

// The node's value as a tensor (exactly one of value, value_float,
// value_floats, value_int, value_ints).
Tensor constant_value(const Node& node, const std::string& where) {
  const Attributes& a = node.attrs;
  int given = 0;
  for (const char* k : {"value", "value_float", "value_floats", "value_int", "value_ints"}) given += a.has(k);
  for (const char* k : {"sparse_value", "value_string", "value_strings"})
    LAPQ_CHECK(!a.has(k), ErrorCode::kUnsupported, where, ": attribute ", k, " is not supported");
  LAPQ_CHECK(given == 1, ErrorCode::kInvalidModel, where, ": needs exactly one value attribute, has ", given);
  if (const Tensor* t = a.get_tensor("value")) return *t;
  if (a.has("value_float")) return Tensor::from<float>({}, {a.get_float("value_float", 0.f)});
  if (a.has("value_int")) return Tensor::from<int64_t>({}, {a.get_int("value_int", 0)});
  if (a.has("value_floats")) {
    auto v = a.get_floats("value_floats");
    return Tensor::from<float>({static_cast<int64_t>(v.size())}, std::span<const float>(v));
  }
  auto v = a.get_ints("value_ints");
  return Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, std::span<const int64_t>(v));
}

void constant_infer(InferContext& ctx) {
  check_arity(ctx);
  Tensor t = constant_value(ctx.node, ctx.where());
  set_out(ctx, 0, t.dtype(), t.shape());
}

void constant_ref(const Node& node, In, Out out) {
  Tensor t = constant_value(node, node_where(node));
  if (t.nbytes()) std::memcpy(out[0]->raw(), t.raw(), t.nbytes());
}

// ---- ConstantOfShape --------------------------------------------------------------------

void constant_of_shape_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& sv = req_in(ctx, 0);
  LAPQ_CHECK(sv.dtype == DType::kI64 && sv.shape.size() == 1, ErrorCode::kInvalidModel, ctx.where(),
             ": input must be a 1-D int64 shape");
  const Tensor* value = ctx.node.attrs.get_tensor("value");
  LAPQ_CHECK(!value || value->numel() == 1, ErrorCode::kInvalidModel, ctx.where(), ": value must have one element");
  const DType dt = value ? value->dtype() : DType::kF32;
  const Tensor* s = const_in(ctx, 0);
  if (!s) {
    LAPQ_CHECK(sv.shape[0] >= 0, ErrorCode::kUnsupported, ctx.where(), ": shape input of unknown length");
    set_out(ctx, 0, dt, Shape(sv.shape[0], -1));
    return;
  }
  Shape out = s->to_i64();
  for (int64_t d : out)
    LAPQ_CHECK(d >= 0, ErrorCode::kInvalidModel, ctx.where(), ": negative dim in shape ", shape_str(out));
  set_out(ctx, 0, dt, out);
}

void constant_of_shape_ref(const Node& node, In, Out out) {
  Tensor& y = *out[0];
  const Tensor* value = node.attrs.get_tensor("value");
  if (!value) return;  // float zeros: outputs are zero-initialized
  const size_t es = dtype_size(y.dtype());
  auto* dst = static_cast<std::byte*>(y.raw());
  for (int64_t i = 0; i < y.numel(); ++i) std::memcpy(dst + i * es, value->raw(), es);
}

// ---- Cast -------------------------------------------------------------------------------

void cast_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  LAPQ_CHECK(x.dtype != DType::kF16, ErrorCode::kUnsupported, ctx.where(), ": float16 input is not supported");
  LAPQ_CHECK(ctx.node.attrs.has("to"), ErrorCode::kInvalidModel, ctx.where(), ": missing attribute 'to'");
  set_out(ctx, 0, dtype_from_onnx(ctx.node.attrs.get_int("to", 0), ctx.where()), x.shape);
}

// float -> integer truncates toward zero; NaN gives 0 and out-of-range values
// saturate (C++ leaves both undefined). Anything -> bool is "!= 0".
template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return To(0);
    if (v <= static_cast<From>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

void cast_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  Tensor& y = *out[0];
  const std::string where = node_where(node);
  dispatch_all(x.dtype(), where, [&]<class From>() {
    dispatch_all(y.dtype(), where, [&]<class To>() {
      const From* src = x.data<From>();
      To* dst = y.data<To>();
      for (int64_t i = 0; i < x.numel(); ++i) dst[i] = convert<To, From>(src[i]);
    });
  });
}

// ---- Range ------------------------------------------------------------------------------

template <class T>
int64_t range_count(T start, T limit, T delta, const std::string& where) {
  LAPQ_CHECK(delta != T(0), ErrorCode::kInvalidModel, where, ": delta is 0");
  double n;
  if constexpr (std::is_integral_v<T>) {
    // Exact for integers: ceil((limit - start) / delta), in 128 bits (the
    // difference of two int64 values, or INT64_MIN / -1, overflows int64).
    const __int128 diff = static_cast<__int128>(limit) - static_cast<__int128>(start);
    const __int128 d = static_cast<__int128>(delta);
    __int128 q = diff / d;
    if (diff % d != 0 && ((diff < 0) == (d < 0))) ++q;
    n = static_cast<double>(q);
  } else {
    n = std::ceil(static_cast<double>(limit - start) / static_cast<double>(delta));
  }
  LAPQ_CHECK(!std::isnan(n), ErrorCode::kInvalidModel, where, ": start, limit and delta give a NaN length");
  LAPQ_CHECK(n <= static_cast<double>(kMaxTensorElements), ErrorCode::kLimit, where, ": range of ", n,
             " elements is too large");
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

void range_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& s = req_in(ctx, 0);
  require_dtype(ctx, 0, {DType::kF32, DType::kF64, DType::kI64, DType::kI32, DType::kI16});
  for (size_t i = 0; i < 3; ++i) {
    const Value& v = req_in(ctx, i);
    LAPQ_CHECK(v.dtype == s.dtype && shape_known(v.shape) && shape_numel(v.shape) == 1, ErrorCode::kInvalidModel,
               ctx.where(), ": start, limit and delta must be scalars of one dtype");
  }
  const Tensor* t0 = const_in(ctx, 0);
  const Tensor* t1 = const_in(ctx, 1);
  const Tensor* t2 = const_in(ctx, 2);
  if (!t0 || !t1 || !t2) {
    set_out(ctx, 0, s.dtype, {-1});  // length known only from the data
    return;
  }
  int64_t n = 0;
  dispatch_numeric(s.dtype, ctx.where(), [&]<class T>() {
    n = range_count<T>(t0->data<T>()[0], t1->data<T>()[0], t2->data<T>()[0], ctx.where());
  });
  set_out(ctx, 0, s.dtype, {n});
}

void range_ref(const Node& node, In in, Out out) {
  dispatch_numeric(out[0]->dtype(), node_where(node), [&]<class T>() {
    const T start = in[0]->data<T>()[0];
    const T delta = in[2]->data<T>()[0];
    T* dst = out[0]->data<T>();
    for (int64_t i = 0; i < out[0]->numel(); ++i) {
      if constexpr (std::is_integral_v<T>)  // i * delta alone may pass INT64_MAX; the sum stays in range
        dst[i] = static_cast<T>(static_cast<__int128>(start) + static_cast<__int128>(i) * delta);
      else
        dst[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    }
  });
}

}  // namespace

void register_constant_ops(OpRegistry& r) {
  r.add(make_schema("Constant", 0, 0, 1, constant_infer, constant_ref));
  r.add(make_schema("ConstantOfShape", 1, 1, 9, constant_of_shape_infer, constant_of_shape_ref));
  r.add(make_schema("Cast", 1, 1, 6, cast_infer, cast_ref));
  r.add(make_schema("Range", 3, 3, 11, range_infer, range_ref));
}

}  // namespace lapq::ops
