#include "engine/ops/op_util.h"

namespace lapq::ops {

std::string node_where(const Node& node) {
  return node.op + " '" + (node.name.empty() ? std::string("?") : node.name) + "'";
}

void check_arity(const InferContext& ctx) {
  const OpSchema* s = OpRegistry::get().find(ctx.node.op);
  if (!s) return;
  int n = static_cast<int>(ctx.in.size());
  while (n > 0 && ctx.in[n - 1] == nullptr) --n;  // trailing omitted optionals do not count
  LAPQ_CHECK(n >= s->min_inputs && n <= s->max_inputs, ErrorCode::kInvalidModel, ctx.where(), ": has ", n,
             " inputs, expected ", s->min_inputs, (s->max_inputs != s->min_inputs ? " to " : ""),
             (s->max_inputs != s->min_inputs ? std::to_string(s->max_inputs) : std::string()));
  for (int i = 0; i < s->min_inputs; ++i)
    LAPQ_CHECK(ctx.in[i] != nullptr, ErrorCode::kInvalidModel, ctx.where(), ": required input ", i, " is missing");
}

const Value& req_in(const InferContext& ctx, size_t i) {
  LAPQ_CHECK(has_in(ctx, i), ErrorCode::kInvalidModel, ctx.where(), ": required input ", i, " is missing");
  const Value& v = *ctx.in[i];
  LAPQ_CHECK(v.has_shape, ErrorCode::kInvalidModel, ctx.where(), ": input ", i, " ('", v.name,
             "') has an unknown shape");
  return v;
}

const Tensor* const_in(const InferContext& ctx, size_t i) {
  if (!has_in(ctx, i) || !ctx.in[i]->is_constant()) return nullptr;
  return &ctx.in[i]->constant;
}

const Tensor& req_const_in(const InferContext& ctx, size_t i, const char* what) {
  const Tensor* t = const_in(ctx, i);
  LAPQ_CHECK(t, ErrorCode::kUnsupported, ctx.where(), ": input ", i, " (", what,
             ") must be a constant or computable from shapes (fold the shape subgraph first)");
  return *t;
}

void set_out(InferContext& ctx, size_t i, DType dtype, Shape shape) {
  if (i >= ctx.out.size() || ctx.out[i] == nullptr) return;
  check_shape_limits(shape, ctx.where());  // kLimit at load time, not an allocation failure later
  ctx.out[i]->dtype = dtype;
  ctx.out[i]->shape = std::move(shape);
  ctx.out[i]->has_shape = true;
}

void require_dtype(const InferContext& ctx, size_t i, std::initializer_list<DType> allowed) {
  DType t = req_in(ctx, i).dtype;
  for (DType a : allowed)
    if (a == t) return;
  std::string list;
  for (DType a : allowed) list += std::string(list.empty() ? "" : ", ") + dtype_name(a);
  throw Error(ErrorCode::kUnsupported, ctx.where() + ": input " + std::to_string(i) + " has dtype " +
                                           dtype_name(t) + ", supported: " + list);
}

void max_outputs(const InferContext& ctx, size_t n, const char* why) {
  for (size_t i = n; i < ctx.out.size(); ++i)
    LAPQ_CHECK(ctx.out[i] == nullptr, ErrorCode::kUnsupported, ctx.where(), ": output ", i, " is not supported (",
               why, ")");
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& where) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db) out[i] = da;
    else if (da == 1) out[i] = db;
    else if (db == 1) out[i] = da;
    else if (da < 0) out[i] = db;  // unknown vs n>1: must be n (or 1) at run time
    else if (db < 0) out[i] = da;
    else
      throw Error(ErrorCode::kShapeMismatch,
                  where + ": shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
  }
  return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) {
    const int64_t f = from[i], t = to[off + i];
    if (!(f == 1 || f == t || f < 0 || t < 0)) return false;
  }
  return true;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& where, bool inclusive) {
  const int64_t hi = inclusive ? rank : rank - 1;
  LAPQ_CHECK(axis >= -rank && axis <= hi, ErrorCode::kInvalidModel, where, ": axis ", axis,
             " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = static_cast<int>(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * s[i + 1];
  return st;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> own = strides_of(in);
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[off + i] = in[i] == 1 ? 0 : own[i];
  return st;
}

int64_t prod(const Shape& s, size_t first, size_t last) {
  int64_t p = 1;
  for (size_t i = first; i < last && i < s.size(); ++i) p *= s[i];
  return p;
}

DType dtype_from_onnx(int64_t code, const std::string& where) {
  switch (code) {
    case 1: return DType::kF32;
    case 2: return DType::kU8;
    case 3: return DType::kI8;
    case 5: return DType::kI16;
    case 6: return DType::kI32;
    case 7: return DType::kI64;
    case 9: return DType::kBool;
    case 11: return DType::kF64;
    default: break;
  }
  throw Error(ErrorCode::kUnsupported, where + ": ONNX data type " + std::to_string(code) + " is not supported");
}

}  // namespace lapq::ops
