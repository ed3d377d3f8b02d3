// Ops that move or relabel data without arithmetic: Identity, Dropout
// (inference), Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Concat,
// Split, Expand, Tile, Shape, Size. All dtypes.
#include <algorithm>
#include <climits>
#include <cstring>

#include "engine/ops/op_util.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

// Output 0 gets input 0's bytes (its shape was set by inference).
void copy_ref(const Node&, In in, Out out) {
  if (in[0]->nbytes()) std::memcpy(out[0]->raw(), in[0]->raw(), in[0]->nbytes());
}

// ---- Identity / Dropout ------------------------------------------------------------

void identity_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  set_out(ctx, 0, x.dtype, x.shape);
}

void dropout_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  if (const Tensor* t = const_in(ctx, 2)) {
    auto v = t->to_i64();
    LAPQ_CHECK(v.size() == 1 && v[0] == 0, ErrorCode::kUnsupported, ctx.where(),
               ": training_mode=true is not supported (inference only)");
  } else {
    LAPQ_CHECK(!has_in(ctx, 2), ErrorCode::kUnsupported, ctx.where(),
               ": training_mode must be a constant (inference only)");
  }
  max_outputs(ctx, 2, "Dropout has two outputs");
  set_out(ctx, 0, x.dtype, x.shape);
  // The mask is bool from opset 10, the input's type before.
  set_out(ctx, 1, ctx.opset() >= 10 ? DType::kBool : x.dtype, x.shape);
}

void dropout_ref(const Node& node, In in, Out out) {
  copy_ref(node, in, out);
  if (out.size() > 1 && out[1]) {
    Tensor& mask = *out[1];
    dispatch_all(mask.dtype(), node_where(node), [&]<class T>() { std::fill_n(mask.data<T>(), mask.numel(), T(1)); });
  }
}

// ---- Flatten / Reshape ---------------------------------------------------------------

// Product of dims [first, last), -1 if any is unknown; kLimit on overflow.
int64_t known_prod(const Shape& s, size_t first, size_t last, const std::string& where) {
  int64_t p = 1;
  for (size_t i = first; i < last; ++i) {
    if (s[i] < 0) return -1;
    p = checked_mul(p, s[i], where);
  }
  return p;
}

void flatten_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  const int64_t axis = normalize_axis(ctx.node.attrs.get_int("axis", 1), r, ctx.where(), true);
  set_out(ctx, 0, x.dtype, {known_prod(x.shape, 0, axis, ctx.where()), known_prod(x.shape, axis, r, ctx.where())});
}

void reshape_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  std::vector<int64_t> spec;
  if (has_in(ctx, 1)) {
    const Value& sv = req_in(ctx, 1);
    LAPQ_CHECK(sv.dtype == DType::kI64, ErrorCode::kInvalidModel, ctx.where(), ": shape must be int64, got ",
               dtype_name(sv.dtype));
    const Tensor* t = const_in(ctx, 1);
    if (!t) {
      // Data unknown: only the rank is known (when the shape input's length is).
      LAPQ_CHECK(sv.shape.size() == 1, ErrorCode::kInvalidModel, ctx.where(), ": shape input must be 1-D");
      LAPQ_CHECK(sv.shape[0] >= 0, ErrorCode::kUnsupported, ctx.where(), ": shape input of unknown length");
      set_out(ctx, 0, x.dtype, Shape(sv.shape[0], -1));
      return;
    }
    spec = t->to_i64();
  } else {
    LAPQ_CHECK(ctx.node.attrs.has("shape"), ErrorCode::kInvalidModel, ctx.where(), ": no shape input or attribute");
    spec = ctx.node.attrs.get_ints("shape");
  }
  const bool allowzero = ctx.node.attrs.get_int("allowzero", 0) != 0;
  Shape out(spec.size());
  int infer_at = -1;
  bool unknown = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    const int64_t v = spec[i];
    if (v == 0 && !allowzero) {
      LAPQ_CHECK(i < x.shape.size(), ErrorCode::kShapeMismatch, ctx.where(), ": shape ", shape_str(spec),
                 " copies dim ", i, " (0) from input ", shape_str(x.shape), ", which has no such dim");
      out[i] = x.shape[i];
      if (out[i] < 0) unknown = true;
    } else if (v == -1) {
      LAPQ_CHECK(infer_at < 0, ErrorCode::kInvalidModel, ctx.where(), ": shape ", shape_str(spec),
                 " has more than one -1");
      infer_at = static_cast<int>(i);
    } else {
      LAPQ_CHECK(v >= 0, ErrorCode::kInvalidModel, ctx.where(), ": shape has invalid dim ", v);
      out[i] = v;
    }
  }
  LAPQ_CHECK(!(allowzero && infer_at >= 0 && std::count(spec.begin(), spec.end(), 0) > 0), ErrorCode::kInvalidModel,
             ctx.where(), ": with allowzero=1 the shape cannot hold both 0 and -1");
  if (shape_known(x.shape) && !unknown) {
    const int64_t total = shape_numel(x.shape);
    int64_t known = 1;
    for (size_t i = 0; i < out.size(); ++i)
      if (static_cast<int>(i) != infer_at) known = checked_mul(known, out[i], ctx.where());
    if (infer_at >= 0) {
      LAPQ_CHECK(known != 0 && total % known == 0, ErrorCode::kShapeMismatch, ctx.where(), ": cannot reshape ",
                 shape_str(x.shape), " to ", shape_str(spec));
      out[infer_at] = total / known;
    } else {
      LAPQ_CHECK(known == total, ErrorCode::kShapeMismatch, ctx.where(), ": cannot reshape ", shape_str(x.shape),
                 " (", total, " elements) to ", shape_str(out), " (", known, " elements)");
    }
  } else if (infer_at >= 0) {
    out[infer_at] = -1;
  }
  set_out(ctx, 0, x.dtype, out);
}

// ---- Squeeze / Unsqueeze ---------------------------------------------------------------

// Axes from input 1 (opset >= 13) or the attribute.
std::vector<int64_t> axes_of(const InferContext& ctx, size_t input) {
  if (has_in(ctx, input)) return req_const_in(ctx, input, "axes").to_i64();
  return ctx.node.attrs.get_ints("axes");
}

void squeeze_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  const bool given = has_in(ctx, 1) || ctx.node.attrs.has("axes");
  std::vector<bool> drop(r, false);
  if (given) {
    for (int64_t a : axes_of(ctx, 1)) {
      const int64_t ax = normalize_axis(a, r, ctx.where());
      LAPQ_CHECK(x.shape[ax] == 1 || x.shape[ax] < 0, ErrorCode::kShapeMismatch, ctx.where(), ": cannot squeeze axis ",
                 a, " of size ", x.shape[ax], " in ", shape_str(x.shape));
      drop[ax] = true;
    }
  } else {
    for (int64_t i = 0; i < r; ++i) drop[i] = x.shape[i] == 1;
  }
  Shape out;
  for (int64_t i = 0; i < r; ++i)
    if (!drop[i]) out.push_back(x.shape[i]);
  set_out(ctx, 0, x.dtype, out);
}

void unsqueeze_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  std::vector<int64_t> axes = axes_of(ctx, 1);
  LAPQ_CHECK(!axes.empty(), ErrorCode::kInvalidModel, ctx.where(), ": no axes given");
  const int64_t r = static_cast<int64_t>(x.shape.size() + axes.size());
  std::vector<bool> inserted(r, false);
  for (int64_t a : axes) {
    const int64_t ax = normalize_axis(a, r, ctx.where());
    LAPQ_CHECK(!inserted[ax], ErrorCode::kInvalidModel, ctx.where(), ": axis ", a, " is listed twice");
    inserted[ax] = true;
  }
  Shape out;
  size_t src = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(inserted[i] ? 1 : x.shape[src++]);
  set_out(ctx, 0, x.dtype, out);
}

// ---- Transpose ------------------------------------------------------------------------

std::vector<int64_t> transpose_perm(const Node& node, int64_t rank, const std::string& where) {
  std::vector<int64_t> perm = node.attrs.get_ints("perm");
  if (perm.empty() && !node.attrs.has("perm")) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  LAPQ_CHECK(static_cast<int64_t>(perm.size()) == rank, ErrorCode::kInvalidModel, where, ": perm has ",
             perm.size(), " entries for rank ", rank);
  std::vector<bool> seen(rank, false);
  for (int64_t& p : perm) {
    p = normalize_axis(p, rank, where);
    LAPQ_CHECK(!seen[p], ErrorCode::kInvalidModel, where, ": perm is not a permutation");
    seen[p] = true;
  }
  return perm;
}

void transpose_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  auto perm = transpose_perm(ctx.node, static_cast<int64_t>(x.shape.size()), ctx.where());
  Shape out;
  for (int64_t p : perm) out.push_back(x.shape[p]);
  set_out(ctx, 0, x.dtype, out);
}

void transpose_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  Tensor& y = *out[0];
  auto perm = transpose_perm(node, x.rank(), node_where(node));
  auto xs = strides_of(x.shape());
  std::array<std::vector<int64_t>, 1> st{std::vector<int64_t>(perm.size())};
  for (size_t i = 0; i < perm.size(); ++i) st[0][i] = xs[perm[i]];
  dispatch_bytes(x.dtype(), [&]<class U>() {
    const U* src = bytes_as<U>(x);
    U* dst = bytes_as<U>(y);
    for_each_broadcast<1>(y.shape(), st, [&](int64_t o, const std::array<int64_t, 1>& off) { dst[o] = src[off[0]]; });
  });
}

// ---- Concat -----------------------------------------------------------------------------

void concat_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& first = req_in(ctx, 0);
  const int64_t r = static_cast<int64_t>(first.shape.size());
  LAPQ_CHECK(r >= 1, ErrorCode::kShapeMismatch, ctx.where(), ": cannot concatenate scalars");
  LAPQ_CHECK(ctx.node.attrs.has("axis"), ErrorCode::kInvalidModel, ctx.where(), ": missing axis");
  const int64_t axis = normalize_axis(ctx.node.attrs.get_int("axis", 0), r, ctx.where());
  Shape out = first.shape;
  for (size_t i = 1; i < ctx.in.size(); ++i) {
    const Value& v = req_in(ctx, i);
    LAPQ_CHECK(v.dtype == first.dtype, ErrorCode::kInvalidModel, ctx.where(), ": input ", i, " has dtype ",
               dtype_name(v.dtype), ", input 0 has ", dtype_name(first.dtype));
    LAPQ_CHECK(static_cast<int64_t>(v.shape.size()) == r, ErrorCode::kShapeMismatch, ctx.where(), ": input ", i,
               " has shape ", shape_str(v.shape), ", input 0 has ", shape_str(first.shape));
    for (int64_t d = 0; d < r; ++d) {
      if (d == axis) {
        out[d] = (out[d] < 0 || v.shape[d] < 0) ? -1 : checked_add(out[d], v.shape[d], ctx.where());
      } else if (out[d] < 0) {
        out[d] = v.shape[d];
      } else {
        LAPQ_CHECK(v.shape[d] < 0 || v.shape[d] == out[d], ErrorCode::kShapeMismatch, ctx.where(), ": input ", i,
                   " has shape ", shape_str(v.shape), ", input 0 has ", shape_str(first.shape),
                   " (only axis ", axis, " may differ)");
      }
    }
  }
  set_out(ctx, 0, first.dtype, out);
}

void concat_ref(const Node& node, In in, Out out) {
  Tensor& y = *out[0];
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", 0), y.rank(), node_where(node));
  const int64_t outer = prod(y.shape(), 0, axis);
  const size_t esize = dtype_size(y.dtype());
  const size_t row = static_cast<size_t>(prod(y.shape(), axis, y.shape().size())) * esize;  // bytes per outer index
  auto* dst = static_cast<std::byte*>(y.raw());
  size_t at = 0;
  for (const Tensor* t : in) {
    const size_t chunk = static_cast<size_t>(prod(t->shape(), axis, t->shape().size())) * esize;
    const auto* src = static_cast<const std::byte*>(t->raw());
    for (int64_t o = 0; o < outer; ++o)
      if (chunk) std::memcpy(dst + o * row + at, src + o * chunk, chunk);
    at += chunk;
  }
}

// ---- Expand -----------------------------------------------------------------------------

void expand_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  const Tensor& s = req_const_in(ctx, 1, "shape");
  LAPQ_CHECK(s.dtype() == DType::kI64 && s.rank() == 1, ErrorCode::kInvalidModel, ctx.where(),
             ": shape must be a 1-D int64 tensor");
  const std::vector<int64_t> dims = s.to_i64();
  for (int64_t d : dims)
    LAPQ_CHECK(d >= 0, ErrorCode::kInvalidModel, ctx.where(), ": shape ", shape_str(dims), " has a negative dim");
  set_out(ctx, 0, x.dtype, broadcast_shapes(x.shape, dims, ctx.where()));
}

void expand_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  Tensor& y = *out[0];
  std::array<std::vector<int64_t>, 1> st{broadcast_strides(x.shape(), y.shape())};
  dispatch_bytes(x.dtype(), [&]<class U>() {
    const U* src = bytes_as<U>(x);
    U* dst = bytes_as<U>(y);
    for_each_broadcast<1>(y.shape(), st, [&](int64_t o, const std::array<int64_t, 1>& off) { dst[o] = src[off[0]]; });
  });
}

// ---- Shape ------------------------------------------------------------------------------

// [start, end) of the dims Shape returns (opset 15 start / end, clamped).
std::pair<int64_t, int64_t> shape_range(const Node& node, int64_t r) {
  auto clamp = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  const int64_t start = clamp(node.attrs.get_int("start", 0));
  const int64_t end = clamp(node.attrs.get_int("end", r));
  return {start, std::max(start, end)};
}

void shape_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  auto [start, end] = shape_range(ctx.node, static_cast<int64_t>(x.shape.size()));
  set_out(ctx, 0, DType::kI64, {end - start});
}

void shape_ref(const Node& node, In in, Out out) {
  const Shape& s = in[0]->shape();
  auto [start, end] = shape_range(node, static_cast<int64_t>(s.size()));
  int64_t* dst = out[0]->data<int64_t>();
  for (int64_t i = start; i < end; ++i) dst[i - start] = s[i];
}

// ---- Split ------------------------------------------------------------------------------

// Split: lengths from the split input (opset >= 13) or attribute; otherwise
// equal parts, one per output (opset 18 num_outputs: the last part may be
// smaller).
void split_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  LAPQ_CHECK(r >= 1, ErrorCode::kShapeMismatch, ctx.where(), ": cannot split a scalar");
  const int64_t axis = normalize_axis(ctx.node.attrs.get_int("axis", 0), r, ctx.where());
  const int64_t n = static_cast<int64_t>(ctx.out.size());
  const int64_t dim = x.shape[axis];
  std::vector<int64_t> lengths;
  if (has_in(ctx, 1)) lengths = req_const_in(ctx, 1, "split").to_i64();
  else lengths = ctx.node.attrs.get_ints("split");
  if (lengths.empty()) {
    const bool by_count = ctx.node.attrs.has("num_outputs");
    if (by_count)
      LAPQ_CHECK(ctx.node.attrs.get_int("num_outputs", 0) == n, ErrorCode::kInvalidModel, ctx.where(),
                 ": num_outputs ", ctx.node.attrs.get_int("num_outputs", 0), " but the node has ", n, " outputs");
    if (dim < 0) {
      lengths.assign(n, -1);
    } else if (by_count) {
      const int64_t chunk = dim / n + (dim % n != 0);
      for (int64_t i = 0; i < n; ++i) lengths.push_back(std::max<int64_t>(0, std::min(chunk, dim - chunk * i)));
    } else {
      LAPQ_CHECK(dim % n == 0, ErrorCode::kShapeMismatch, ctx.where(), ": axis ", axis, " of size ", dim,
                 " does not split into ", n, " equal parts");
      lengths.assign(n, dim / n);
    }
  }
  LAPQ_CHECK(static_cast<int64_t>(lengths.size()) == n, ErrorCode::kInvalidModel, ctx.where(), ": split has ",
             lengths.size(), " lengths but the node has ", n, " outputs");
  int64_t total = 0;
  for (int64_t l : lengths) {
    LAPQ_CHECK(l >= 0 || dim < 0, ErrorCode::kInvalidModel, ctx.where(), ": negative split length ", l);
    if (l > 0) total = checked_add(total, l, ctx.where());
  }
  LAPQ_CHECK(dim < 0 || total == dim, ErrorCode::kShapeMismatch, ctx.where(), ": split lengths sum to ", total,
             " but axis ", axis, " has size ", dim);
  for (int64_t i = 0; i < n; ++i) {
    Shape s = x.shape;
    s[axis] = lengths[i];
    set_out(ctx, i, x.dtype, s);
  }
}

// Copies consecutive chunks along the axis; each output's shape (set by
// inference) gives its chunk.
void split_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", 0), x.rank(), node_where(node));
  const int64_t outer = prod(x.shape(), 0, axis);
  const size_t esize = dtype_size(x.dtype());
  const size_t row = static_cast<size_t>(prod(x.shape(), axis, x.shape().size())) * esize;
  const auto* src = static_cast<const std::byte*>(x.raw());
  size_t at = 0;
  for (Tensor* t : out) {
    if (!t) continue;
    const size_t chunk = static_cast<size_t>(prod(t->shape(), axis, t->shape().size())) * esize;
    auto* dst = static_cast<std::byte*>(t->raw());
    for (int64_t o = 0; o < outer; ++o)
      if (chunk) std::memcpy(dst + o * chunk, src + o * row + at, chunk);
    at += chunk;
  }
}

// ---- Tile / Size ------------------------------------------------------------------------

void tile_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  std::vector<int64_t> reps = req_const_in(ctx, 1, "repeats").to_i64();
  LAPQ_CHECK(reps.size() == x.shape.size(), ErrorCode::kInvalidModel, ctx.where(), ": repeats has ", reps.size(),
             " values for rank ", x.shape.size());
  Shape out = x.shape;
  for (size_t d = 0; d < reps.size(); ++d) {
    LAPQ_CHECK(reps[d] >= 0, ErrorCode::kInvalidModel, ctx.where(), ": negative repeat ", reps[d]);
    if (out[d] >= 0) out[d] = checked_mul(out[d], reps[d], ctx.where());
  }
  set_out(ctx, 0, x.dtype, out);
}

void tile_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  Tensor& y = *out[0];
  const int r = x.rank();
  const auto xs = strides_of(x.shape());
  dispatch_bytes(x.dtype(), [&]<class U>() {
    const U* src = bytes_as<U>(x);
    U* dst = bytes_as<U>(y);
    std::vector<int64_t> idx(r, 0);
    for (int64_t o = 0; o < y.numel(); ++o) {
      int64_t off = 0;
      for (int d = 0; d < r; ++d) off += (idx[d] % x.dim(d)) * xs[d];
      dst[o] = src[off];
      for (int d = r - 1; d >= 0; --d) {
        if (++idx[d] < y.dim(d)) break;
        idx[d] = 0;
      }
    }
  });
}

void size_infer(InferContext& ctx) {
  check_arity(ctx);
  req_in(ctx, 0);
  set_out(ctx, 0, DType::kI64, {});
}

void size_ref(const Node&, In in, Out out) { out[0]->data<int64_t>()[0] = in[0]->numel(); }

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add(make_schema("Identity", 1, 1, 1, identity_infer, copy_ref));
  r.add(make_schema("Dropout", 1, 3, 7, dropout_infer, dropout_ref));
  r.add(make_schema("Flatten", 1, 1, 1, flatten_infer, copy_ref));
  r.add(make_schema("Reshape", 1, 2, 1, reshape_infer, copy_ref));
  r.add(make_schema("Squeeze", 1, 2, 1, squeeze_infer, copy_ref));
  r.add(make_schema("Unsqueeze", 1, 2, 1, unsqueeze_infer, copy_ref));
  r.add(make_schema("Transpose", 1, 1, 1, transpose_infer, transpose_ref));
  r.add(make_schema("Concat", 1, INT_MAX, 4, concat_infer, concat_ref));
  r.add(make_schema("Expand", 2, 2, 8, expand_infer, expand_ref));
  r.add(make_schema("Shape", 1, 1, 1, shape_infer, shape_ref));
  r.add(make_schema("Split", 1, 2, 2, split_infer, split_ref));
  r.add(make_schema("Tile", 2, 2, 6, tile_infer, tile_ref));
  r.add(make_schema("Size", 1, 1, 1, size_infer, size_ref));
}

}  // namespace lapq::ops
