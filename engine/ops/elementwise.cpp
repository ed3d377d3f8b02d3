// Elementwise operators: activations, unary math, numpy-broadcasting binary
// arithmetic and comparisons, variadic Min/Max/Sum/Mean, Where.
#include <climits>
#include <cmath>
#include <limits>
#include <type_traits>

#include "engine/ops/op_util.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

constexpr std::initializer_list<DType> kFloat = {DType::kF32, DType::kF64};
constexpr std::initializer_list<DType> kNumeric = {DType::kF32, DType::kF64, DType::kI64, DType::kI32,
                                                   DType::kI16, DType::kI8,  DType::kU8};
constexpr std::initializer_list<DType> kSigned = {DType::kF32, DType::kF64, DType::kI64, DType::kI32,
                                                  DType::kI16, DType::kI8};

// ---- unary -------------------------------------------------------------------

// Each unary op: constructed from the node (reads attributes once), then
// applied per element. Activations that can also be fused use
// FusedActivation::apply for float32 so fused and unfused results agree.
struct ReluOp {
  explicit ReluOp(const Node&) {}
  template <class T> T operator()(T x) const { return x > T(0) ? x : T(0); }
};
struct LeakyReluOp {
  FusedActivation act;
  explicit LeakyReluOp(const Node& n) { act.kind = FusedActivation::Kind::kLeakyRelu; act.alpha = n.attrs.get_float("alpha", 0.01f); }
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>) return act.apply(x);
    else return x >= T(0) ? x : static_cast<T>(act.alpha) * x;
  }
};
struct SigmoidOp {
  explicit SigmoidOp(const Node&) {}
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>) return FusedActivation{FusedActivation::Kind::kSigmoid}.apply(x);
    else return T(1) / (T(1) + std::exp(-x));
  }
};
struct HardSigmoidOp {
  FusedActivation act;
  explicit HardSigmoidOp(const Node& n) {
    act.kind = FusedActivation::Kind::kHardSigmoid;
    act.alpha = n.attrs.get_float("alpha", 0.2f);
    act.beta = n.attrs.get_float("beta", 0.5f);
  }
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>) return act.apply(x);
    else return std::max(T(0), std::min(T(1), T(act.alpha) * x + T(act.beta)));
  }
};
struct HardSwishOp {
  explicit HardSwishOp(const Node&) {}
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same_v<T, float>) return FusedActivation{FusedActivation::Kind::kHardSwish}.apply(x);
    else return x * std::max(T(0), std::min(T(1), x / T(6) + T(0.5)));
  }
};
#define LAPQ_UNARY_MATH(NAME, EXPR)                       \
  struct NAME {                                           \
    explicit NAME(const Node&) {}                         \
    template <class T> T operator()(T x) const { return EXPR; } \
  };
LAPQ_UNARY_MATH(SqrtOp, std::sqrt(x))
LAPQ_UNARY_MATH(ExpOp, std::exp(x))
LAPQ_UNARY_MATH(LogOp, std::log(x))
LAPQ_UNARY_MATH(TanhOp, std::tanh(x))
LAPQ_UNARY_MATH(ErfOp, std::erf(x))
LAPQ_UNARY_MATH(FloorOp, std::floor(x))
LAPQ_UNARY_MATH(CeilOp, std::ceil(x))
LAPQ_UNARY_MATH(NegOp, static_cast<T>(-x))
LAPQ_UNARY_MATH(ReciprocalOp, T(1) / x)
LAPQ_UNARY_MATH(RoundOp, std::nearbyint(x))  // default rounding mode: half to even, as the spec says
LAPQ_UNARY_MATH(SinOp, std::sin(x))
LAPQ_UNARY_MATH(CosOp, std::cos(x))
LAPQ_UNARY_MATH(TanOp, std::tan(x))
LAPQ_UNARY_MATH(SoftplusOp, std::log1p(std::exp(x)))
LAPQ_UNARY_MATH(SoftsignOp, x / (T(1) + std::fabs(x)))
LAPQ_UNARY_MATH(SignOp, static_cast<T>(x > T(0) ? 1 : (x < T(0) ? -1 : 0)))
#undef LAPQ_UNARY_MATH
struct EluOp {
  double alpha;
  explicit EluOp(const Node& n) : alpha(n.attrs.get_float("alpha", 1.f)) {}
  template <class T> T operator()(T x) const { return x < T(0) ? static_cast<T>(alpha * std::expm1(x)) : x; }
};
struct SeluOp {
  double alpha, gamma;
  explicit SeluOp(const Node& n)
      : alpha(n.attrs.get_float("alpha", 1.67326319217681884765625f)),
        gamma(n.attrs.get_float("gamma", 1.05070102214813232421875f)) {}
  template <class T> T operator()(T x) const {
    return static_cast<T>(x <= T(0) ? gamma * alpha * std::expm1(static_cast<double>(x)) : gamma * x);
  }
};
struct ThresholdedReluOp {
  double alpha;
  explicit ThresholdedReluOp(const Node& n) : alpha(n.attrs.get_float("alpha", 1.f)) {}
  template <class T> T operator()(T x) const { return x > alpha ? x : T(0); }
};
struct AbsOp {
  explicit AbsOp(const Node&) {}
  template <class T> T operator()(T x) const {
    if constexpr (std::is_unsigned_v<T>) return x;
    else return x < T(0) ? static_cast<T>(-x) : x;
  }
};

template <class Op>
void unary_ref(const Node& node, In in, Out out) {
  const Op op(node);
  dispatch_numeric(in[0]->dtype(), node_where(node), [&]<class T>() {
    const T* x = in[0]->data<T>();
    T* y = out[0]->data<T>();
    const int64_t n = in[0]->numel();
    if constexpr (std::is_floating_point_v<T> || std::is_same_v<Op, NegOp> || std::is_same_v<Op, AbsOp> ||
                  std::is_same_v<Op, ReluOp> || std::is_same_v<Op, SignOp>) {
      for (int64_t i = 0; i < n; ++i) y[i] = op(x[i]);
    } else {
      throw Error(ErrorCode::kUnsupported, node_where(node) + ": integer input is not supported");
    }
  });
}

template <const std::initializer_list<DType>* Allowed>
void unary_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, *Allowed);
  set_out(ctx, 0, x.dtype, x.shape);
}

// Clip: bounds from attributes (opset < 11) or optional scalar inputs 1, 2.
void clip_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, kNumeric);
  for (size_t i = 1; i <= 2; ++i) {
    if (!has_in(ctx, i)) continue;
    const Value& b = req_in(ctx, i);
    LAPQ_CHECK(b.dtype == x.dtype, ErrorCode::kInvalidModel, ctx.where(), ": ", (i == 1 ? "min" : "max"),
               " has dtype ", dtype_name(b.dtype), " but the input is ", dtype_name(x.dtype));
    LAPQ_CHECK(shape_known(b.shape) && shape_numel(b.shape) == 1, ErrorCode::kInvalidModel, ctx.where(), ": ",
               (i == 1 ? "min" : "max"), " must be a scalar, got shape ", shape_str(b.shape));
  }
  set_out(ctx, 0, x.dtype, x.shape);
}

void clip_ref(const Node& node, In in, Out out) {
  dispatch_numeric(in[0]->dtype(), node_where(node), [&]<class T>() {
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if (node.attrs.has("min")) lo = static_cast<T>(node.attrs.get_float("min", 0.f));
    if (node.attrs.has("max")) hi = static_cast<T>(node.attrs.get_float("max", 0.f));
    if (in.size() > 1 && in[1]) lo = in[1]->data<T>()[0];
    if (in.size() > 2 && in[2]) hi = in[2]->data<T>()[0];
    const T* x = in[0]->data<T>();
    T* y = out[0]->data<T>();
    // min > max gives max everywhere, as the spec says.
    for (int64_t i = 0; i < in[0]->numel(); ++i) y[i] = std::min(std::max(x[i], lo), hi);
  });
}

// ---- binary (numpy broadcasting) ----------------------------------------------

struct AddOp { template <class T> T operator()(T a, T b) const { return static_cast<T>(a + b); } };
struct SubOp { template <class T> T operator()(T a, T b) const { return static_cast<T>(a - b); } };
struct MulOp { template <class T> T operator()(T a, T b) const { return static_cast<T>(a * b); } };
struct DivOp {
  const Node* node = nullptr;
  void init(const Node& n) { node = &n; }
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      LAPQ_CHECK(b != 0, ErrorCode::kInvalidArgument, node_where(*node), ": integer division by zero");
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return static_cast<T>(-a);  // avoids the INT_MIN / -1 trap
    }
    return static_cast<T>(a / b);
  }
};
struct EqualOp { template <class T> bool operator()(T a, T b) const { return a == b; } };
struct PReluOp { template <class T> T operator()(T x, T slope) const { return x < T(0) ? static_cast<T>(slope * x) : x; } };
struct MinOp { template <class T> T operator()(T a, T b) const { return std::min(a, b); } };
struct MaxOp { template <class T> T operator()(T a, T b) const { return std::max(a, b); } };
struct GreaterOp { template <class T> bool operator()(T a, T b) const { return a > b; } };
struct LessOp { template <class T> bool operator()(T a, T b) const { return a < b; } };
struct GreaterOrEqualOp { template <class T> bool operator()(T a, T b) const { return a >= b; } };
struct LessOrEqualOp { template <class T> bool operator()(T a, T b) const { return a <= b; } };
struct AndOp { template <class T> bool operator()(T a, T b) const { return a && b; } };
struct OrOp { template <class T> bool operator()(T a, T b) const { return a || b; } };
struct XorOp { template <class T> bool operator()(T a, T b) const { return static_cast<bool>(a) != static_cast<bool>(b); } };
// Mod: fmod=1 is C's fmod (sign of the dividend, required for floats);
// fmod=0 is the integer modulo with the sign of the divisor (Python's %).
struct ModOp {
  const Node* node = nullptr;
  bool fmod = false;
  void init(const Node& n) { node = &n; fmod = n.attrs.get_int("fmod", 0) != 0; }
  template <class T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else {
      LAPQ_CHECK(b != 0, ErrorCode::kInvalidArgument, node_where(*node), ": integer modulo by zero");
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return T(0);
        T r = static_cast<T>(a % b);
        if (!fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
        return r;
      } else {
        return static_cast<T>(a % b);
      }
    }
  }
};

// y = op(a, b) with numpy broadcasting; y has the broadcast shape.
template <class T, class R, class Op>
void broadcast_binary(const Tensor& a, const Tensor& b, Tensor& y, const Op& op) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* py = y.data<R>();
  const int64_t n = y.numel();
  if (a.shape() == y.shape() && b.shape() == y.shape()) {
    for (int64_t i = 0; i < n; ++i) py[i] = op(pa[i], pb[i]);
  } else if (a.shape() == y.shape() && b.numel() == 1) {
    const T s = pb[0];
    for (int64_t i = 0; i < n; ++i) py[i] = op(pa[i], s);
  } else {
    std::array<std::vector<int64_t>, 2> st{broadcast_strides(a.shape(), y.shape()),
                                           broadcast_strides(b.shape(), y.shape())};
    for_each_broadcast<2>(y.shape(), st,
                          [&](int64_t o, const std::array<int64_t, 2>& off) { py[o] = op(pa[off[0]], pb[off[1]]); });
  }
}

template <class Op>
void binary_ref(const Node& node, In in, Out out) {
  Op op{};
  if constexpr (requires { op.init(node); }) op.init(node);
  auto run = [&]<class T>() {
    using R = decltype(op(T{}, T{}));
    broadcast_binary<T, R>(*in[0], *in[1], *out[0], op);
  };
  if constexpr (std::is_same_v<Op, EqualOp> || std::is_same_v<Op, AndOp> || std::is_same_v<Op, OrOp> ||
                std::is_same_v<Op, XorOp>)
    dispatch_all(in[0]->dtype(), node_where(node), run);
  else dispatch_numeric(in[0]->dtype(), node_where(node), run);
}

// Both inputs of one dtype (from `allowed`); output dtype `out_dtype` (or the
// input dtype when kKeep) with the broadcast shape.
void binary_infer_impl(InferContext& ctx, std::initializer_list<DType> allowed, bool bool_out) {
  check_arity(ctx);
  const Value& a = req_in(ctx, 0);
  const Value& b = req_in(ctx, 1);
  require_dtype(ctx, 0, allowed);
  LAPQ_CHECK(a.dtype == b.dtype, ErrorCode::kInvalidModel, ctx.where(), ": inputs have different dtypes (",
             dtype_name(a.dtype), ", ", dtype_name(b.dtype), ")");
  set_out(ctx, 0, bool_out ? DType::kBool : a.dtype, broadcast_shapes(a.shape, b.shape, ctx.where()));
}
void arith_infer(InferContext& ctx) { binary_infer_impl(ctx, kNumeric, false); }
void compare_infer(InferContext& ctx) { binary_infer_impl(ctx, kNumeric, true); }
void logical_infer(InferContext& ctx) { binary_infer_impl(ctx, {DType::kBool}, true); }
void mod_infer(InferContext& ctx) {
  binary_infer_impl(ctx, kNumeric, false);
  const DType t = ctx.in[0]->dtype;
  LAPQ_CHECK(!(t == DType::kF32 || t == DType::kF64) || ctx.node.attrs.get_int("fmod", 0) == 1,
             ErrorCode::kInvalidModel, ctx.where(), ": floating-point Mod needs fmod=1");
}
void not_ref(const Node&, In in, Out out) {
  const bool* x = in[0]->data<bool>();
  bool* y = out[0]->data<bool>();
  for (int64_t i = 0; i < in[0]->numel(); ++i) y[i] = !x[i];
}
constexpr std::initializer_list<DType> kBoolOnly = {DType::kBool};
void equal_infer(InferContext& ctx) {
  binary_infer_impl(ctx, {DType::kF32, DType::kF64, DType::kI64, DType::kI32, DType::kI16, DType::kI8, DType::kU8,
                          DType::kBool}, true);
}

// PRelu: slope broadcasts to X (unidirectionally); the output has X's shape.
void prelu_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  const Value& slope = req_in(ctx, 1);
  require_dtype(ctx, 0, kSigned);
  LAPQ_CHECK(slope.dtype == x.dtype, ErrorCode::kInvalidModel, ctx.where(), ": slope dtype ",
             dtype_name(slope.dtype), " differs from input dtype ", dtype_name(x.dtype));
  LAPQ_CHECK(broadcasts_to(slope.shape, x.shape), ErrorCode::kShapeMismatch, ctx.where(), ": slope shape ", shape_str(slope.shape),
             " does not broadcast to input shape ", shape_str(x.shape));
  set_out(ctx, 0, x.dtype, x.shape);
}

// ---- Pow ----------------------------------------------------------------------

// Pow: base and exponent may have different dtypes (opset 12+); the output
// has the base's dtype. Computed in double, then converted.
void pow_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  const Value& y = req_in(ctx, 1);
  require_dtype(ctx, 0, {DType::kF32, DType::kF64, DType::kI64, DType::kI32});
  require_dtype(ctx, 1, kNumeric);
  set_out(ctx, 0, x.dtype, broadcast_shapes(x.shape, y.shape, ctx.where()));
}

void pow_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const Tensor& e = *in[1];
  Tensor& y = *out[0];
  std::array<std::vector<int64_t>, 2> st{broadcast_strides(x.shape(), y.shape()),
                                         broadcast_strides(e.shape(), y.shape())};
  dispatch_numeric(x.dtype(), node_where(node), [&]<class T>() {
    dispatch_numeric(e.dtype(), node_where(node), [&]<class U>() {
      const T* px = x.data<T>();
      const U* pe = e.data<U>();
      T* py = y.data<T>();
      for_each_broadcast<2>(y.shape(), st, [&](int64_t o, const std::array<int64_t, 2>& off) {
        const double v = std::pow(static_cast<double>(px[off[0]]), static_cast<double>(pe[off[1]]));
        if constexpr (std::is_integral_v<T>) py[o] = static_cast<T>(std::trunc(v));
        else py[o] = static_cast<T>(v);
      });
    });
  });
}

// ---- variadic -----------------------------------------------------------------

void variadic_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& first = req_in(ctx, 0);
  if (ctx.node.op == "Mean") require_dtype(ctx, 0, kFloat);
  else require_dtype(ctx, 0, kNumeric);
  Shape shape = first.shape;
  for (size_t i = 1; i < ctx.in.size(); ++i) {
    const Value& v = req_in(ctx, i);
    LAPQ_CHECK(v.dtype == first.dtype, ErrorCode::kInvalidModel, ctx.where(), ": input ", i, " has dtype ",
               dtype_name(v.dtype), ", input 0 has ", dtype_name(first.dtype));
    shape = broadcast_shapes(shape, v.shape, ctx.where());
  }
  set_out(ctx, 0, first.dtype, shape);
}

// Folds the inputs left to right into the output: y = x0; y = op(y, xi).
template <class Op, bool kMean = false>
void variadic_ref(const Node& node, In in, Out out) {
  Tensor& y = *out[0];
  dispatch_numeric(y.dtype(), node_where(node), [&]<class T>() {
    T* py = y.data<T>();
    const auto ys = strides_of(y.shape());
    {
      const T* p0 = in[0]->data<T>();
      std::array<std::vector<int64_t>, 1> st{broadcast_strides(in[0]->shape(), y.shape())};
      for_each_broadcast<1>(y.shape(), st, [&](int64_t o, const std::array<int64_t, 1>& off) { py[o] = p0[off[0]]; });
    }
    const Op op{};
    for (size_t i = 1; i < in.size(); ++i) {
      const T* pi = in[i]->data<T>();
      std::array<std::vector<int64_t>, 1> st{broadcast_strides(in[i]->shape(), y.shape())};
      for_each_broadcast<1>(y.shape(), st,
                            [&](int64_t o, const std::array<int64_t, 1>& off) { py[o] = op(py[o], pi[off[0]]); });
    }
    if constexpr (kMean) {
      const T count = static_cast<T>(in.size());
      for (int64_t o = 0; o < y.numel(); ++o) py[o] = py[o] / count;
    }
  });
}

// ---- Where --------------------------------------------------------------------

void where_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& c = req_in(ctx, 0);
  const Value& x = req_in(ctx, 1);
  const Value& y = req_in(ctx, 2);
  LAPQ_CHECK(c.dtype == DType::kBool, ErrorCode::kInvalidModel, ctx.where(), ": condition must be bool, got ",
             dtype_name(c.dtype));
  LAPQ_CHECK(x.dtype == y.dtype, ErrorCode::kInvalidModel, ctx.where(), ": X and Y have different dtypes (",
             dtype_name(x.dtype), ", ", dtype_name(y.dtype), ")");
  Shape s = broadcast_shapes(broadcast_shapes(c.shape, x.shape, ctx.where()), y.shape, ctx.where());
  set_out(ctx, 0, x.dtype, s);
}

void where_ref(const Node& node, In in, Out out) {
  Tensor& dst = *out[0];
  const bool* pc = in[0]->data<bool>();
  dispatch_bytes(dst.dtype(), [&]<class U>() {
    const U* px = bytes_as<U>(*in[1]);
    const U* py = bytes_as<U>(*in[2]);
    U* pd = bytes_as<U>(dst);
    std::array<std::vector<int64_t>, 3> st{broadcast_strides(in[0]->shape(), dst.shape()),
                                           broadcast_strides(in[1]->shape(), dst.shape()),
                                           broadcast_strides(in[2]->shape(), dst.shape())};
    for_each_broadcast<3>(dst.shape(), st, [&](int64_t o, const std::array<int64_t, 3>& off) {
      pd[o] = pc[off[0]] ? px[off[1]] : py[off[2]];
    });
  });
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  r.add(make_schema("Relu", 1, 1, 6, unary_infer<&kSigned>, unary_ref<ReluOp>));
  r.add(make_schema("LeakyRelu", 1, 1, 6, unary_infer<&kFloat>, unary_ref<LeakyReluOp>));
  r.add(make_schema("Sigmoid", 1, 1, 6, unary_infer<&kFloat>, unary_ref<SigmoidOp>));
  r.add(make_schema("HardSigmoid", 1, 1, 6, unary_infer<&kFloat>, unary_ref<HardSigmoidOp>));
  r.add(make_schema("HardSwish", 1, 1, 14, unary_infer<&kFloat>, unary_ref<HardSwishOp>));
  r.add(make_schema("Sqrt", 1, 1, 6, unary_infer<&kFloat>, unary_ref<SqrtOp>));
  r.add(make_schema("Exp", 1, 1, 6, unary_infer<&kFloat>, unary_ref<ExpOp>));
  r.add(make_schema("Log", 1, 1, 6, unary_infer<&kFloat>, unary_ref<LogOp>));
  r.add(make_schema("Tanh", 1, 1, 6, unary_infer<&kFloat>, unary_ref<TanhOp>));
  r.add(make_schema("Erf", 1, 1, 9, unary_infer<&kFloat>, unary_ref<ErfOp>));
  r.add(make_schema("Pow", 2, 2, 7, pow_infer, pow_ref));
  r.add(make_schema("Reciprocal", 1, 1, 6, unary_infer<&kFloat>, unary_ref<ReciprocalOp>));
  r.add(make_schema("Round", 1, 1, 11, unary_infer<&kFloat>, unary_ref<RoundOp>));
  r.add(make_schema("Sin", 1, 1, 7, unary_infer<&kFloat>, unary_ref<SinOp>));
  r.add(make_schema("Cos", 1, 1, 7, unary_infer<&kFloat>, unary_ref<CosOp>));
  r.add(make_schema("Tan", 1, 1, 7, unary_infer<&kFloat>, unary_ref<TanOp>));
  r.add(make_schema("Softplus", 1, 1, 1, unary_infer<&kFloat>, unary_ref<SoftplusOp>));
  r.add(make_schema("Softsign", 1, 1, 1, unary_infer<&kFloat>, unary_ref<SoftsignOp>));
  r.add(make_schema("Sign", 1, 1, 9, unary_infer<&kSigned>, unary_ref<SignOp>));
  r.add(make_schema("Elu", 1, 1, 6, unary_infer<&kFloat>, unary_ref<EluOp>));
  r.add(make_schema("Selu", 1, 1, 6, unary_infer<&kFloat>, unary_ref<SeluOp>));
  r.add(make_schema("ThresholdedRelu", 1, 1, 10, unary_infer<&kFloat>, unary_ref<ThresholdedReluOp>));
  r.add(make_schema("Not", 1, 1, 1, unary_infer<&kBoolOnly>, not_ref));
  r.add(make_schema("Floor", 1, 1, 6, unary_infer<&kFloat>, unary_ref<FloorOp>));
  r.add(make_schema("Ceil", 1, 1, 6, unary_infer<&kFloat>, unary_ref<CeilOp>));
  r.add(make_schema("Neg", 1, 1, 6, unary_infer<&kSigned>, unary_ref<NegOp>));
  r.add(make_schema("Abs", 1, 1, 6, unary_infer<&kNumeric>, unary_ref<AbsOp>));
  r.add(make_schema("Clip", 1, 3, 6, clip_infer, clip_ref));
  r.add(make_schema("Add", 2, 2, 7, arith_infer, binary_ref<AddOp>));
  r.add(make_schema("Sub", 2, 2, 7, arith_infer, binary_ref<SubOp>));
  r.add(make_schema("Mul", 2, 2, 7, arith_infer, binary_ref<MulOp>));
  r.add(make_schema("Div", 2, 2, 7, arith_infer, binary_ref<DivOp>));
  r.add(make_schema("Equal", 2, 2, 7, equal_infer, binary_ref<EqualOp>));
  r.add(make_schema("Greater", 2, 2, 7, compare_infer, binary_ref<GreaterOp>));
  r.add(make_schema("Less", 2, 2, 7, compare_infer, binary_ref<LessOp>));
  r.add(make_schema("GreaterOrEqual", 2, 2, 12, compare_infer, binary_ref<GreaterOrEqualOp>));
  r.add(make_schema("LessOrEqual", 2, 2, 12, compare_infer, binary_ref<LessOrEqualOp>));
  r.add(make_schema("And", 2, 2, 7, logical_infer, binary_ref<AndOp>));
  r.add(make_schema("Or", 2, 2, 7, logical_infer, binary_ref<OrOp>));
  r.add(make_schema("Xor", 2, 2, 7, logical_infer, binary_ref<XorOp>));
  r.add(make_schema("Mod", 2, 2, 10, mod_infer, binary_ref<ModOp>));
  r.add(make_schema("PRelu", 2, 2, 7, prelu_infer, binary_ref<PReluOp>));
  r.add(make_schema("Min", 1, INT_MAX, 8, variadic_infer, variadic_ref<MinOp>));
  r.add(make_schema("Max", 1, INT_MAX, 8, variadic_infer, variadic_ref<MaxOp>));
  r.add(make_schema("Sum", 1, INT_MAX, 8, variadic_infer, variadic_ref<AddOp>));
  r.add(make_schema("Mean", 1, INT_MAX, 8, variadic_infer, variadic_ref<AddOp, true>));
  r.add(make_schema("Where", 3, 3, 9, where_infer, where_ref));
}

}  // namespace lapq::ops
