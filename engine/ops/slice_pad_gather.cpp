// Slice (attribute form before opset 10, input form after; negative steps,
// clamping), Pad (constant / reflect / edge; pads as attribute or input,
// negative pads crop), Gather (any axis, negative indices).
#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/ops/op_util.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

// ---- Slice ------------------------------------------------------------------------------

struct SliceArgs {
  std::vector<int64_t> starts, ends, axes, steps;
};

// Per dimension of the input: first index, step, output length.
struct SlicePlan {
  std::vector<int64_t> start, step;
  Shape out;
};

SlicePlan plan_slice(const Shape& in, SliceArgs a, const std::string& where) {
  const int64_t r = static_cast<int64_t>(in.size());
  LAPQ_CHECK(a.starts.size() == a.ends.size(), ErrorCode::kInvalidModel, where, ": starts has ", a.starts.size(),
             " values but ends has ", a.ends.size());
  if (a.axes.empty())
    for (size_t i = 0; i < a.starts.size(); ++i) a.axes.push_back(static_cast<int64_t>(i));
  if (a.steps.empty()) a.steps.assign(a.starts.size(), 1);
  LAPQ_CHECK(a.axes.size() == a.starts.size() && a.steps.size() == a.starts.size(), ErrorCode::kInvalidModel, where,
             ": starts, ends, axes and steps must have the same length");
  SlicePlan p{std::vector<int64_t>(r, 0), std::vector<int64_t>(r, 1), in};
  std::vector<bool> seen(r, false);
  for (size_t i = 0; i < a.axes.size(); ++i) {
    const int64_t ax = normalize_axis(a.axes[i], r, where);
    LAPQ_CHECK(!seen[ax], ErrorCode::kInvalidModel, where, ": axis ", a.axes[i], " is sliced twice");
    seen[ax] = true;
    const int64_t step = a.steps[i], dim = in[ax];
    LAPQ_CHECK(step != 0, ErrorCode::kInvalidModel, where, ": step 0 on axis ", a.axes[i]);
    p.step[ax] = step;
    if (dim < 0) { p.out[ax] = -1; continue; }
    if (dim == 0) { p.out[ax] = 0; p.step[ax] = 1; continue; }  // nothing to take (the clamps below need dim >= 1)
    int64_t start = a.starts[i], end = a.ends[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    // Starts, ends and steps may be anything from INT64_MIN to INT64_MAX
    // (exporters write INT64_MAX for "to the end"): after clamping, the
    // distance fits, and the length is ceil(distance / |step|) computed
    // without forming distance + |step| - 1 or -INT64_MIN.
    const uint64_t magnitude = step > 0 ? static_cast<uint64_t>(step) : 0 - static_cast<uint64_t>(step);
    int64_t distance;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      distance = end - start;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      distance = start - end;
    }
    p.out[ax] = distance > 0 ? static_cast<int64_t>(1 + (static_cast<uint64_t>(distance) - 1) / magnitude) : 0;
    p.start[ax] = start;
    // A step only matters when it is taken: with at most one element it is
    // 1, so step * stride (formed by the implementations) cannot overflow.
    if (p.out[ax] <= 1) p.step[ax] = 1;
  }
  return p;
}

// Reads starts / ends / axes / steps from inputs (opset >= 10) or attributes.
template <class GetInput>
SliceArgs slice_args(const Node& node, GetInput get) {
  SliceArgs a;
  if (const Tensor* t = get(1)) {
    a.starts = t->to_i64();
    if (const Tensor* e = get(2)) a.ends = e->to_i64();
    if (const Tensor* ax = get(3)) a.axes = ax->to_i64();
    if (const Tensor* st = get(4)) a.steps = st->to_i64();
  } else {
    a.starts = node.attrs.get_ints("starts");
    a.ends = node.attrs.get_ints("ends");
    a.axes = node.attrs.get_ints("axes");
  }
  return a;
}

void slice_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  static const char* names[] = {"", "starts", "ends", "axes", "steps"};
  for (size_t i = 1; i <= 4; ++i)
    if (has_in(ctx, i)) req_const_in(ctx, i, names[i]);
  LAPQ_CHECK(has_in(ctx, 1) == has_in(ctx, 2), ErrorCode::kInvalidModel, ctx.where(), ": starts and ends must both be given");
  SliceArgs a = slice_args(ctx.node, [&](size_t i) { return const_in(ctx, i); });
  set_out(ctx, 0, x.dtype, plan_slice(x.shape, a, ctx.where()).out);
}

void slice_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  Tensor& y = *out[0];
  SliceArgs a = slice_args(node, [&](size_t i) { return i < in.size() ? in[i] : nullptr; });
  SlicePlan p = plan_slice(x.shape(), a, node_where(node));
  auto xs = strides_of(x.shape());
  int64_t base = 0;
  std::array<std::vector<int64_t>, 1> st{std::vector<int64_t>(xs.size())};
  for (size_t d = 0; d < xs.size(); ++d) {
    base += p.start[d] * xs[d];
    st[0][d] = p.step[d] * xs[d];
  }
  dispatch_bytes(x.dtype(), [&]<class U>() {
    const U* src = bytes_as<U>(x) + base;
    U* dst = bytes_as<U>(y);
    for_each_broadcast<1>(y.shape(), st, [&](int64_t o, const std::array<int64_t, 1>& off) { dst[o] = src[off[0]]; });
  });
}

// ---- Pad --------------------------------------------------------------------------------

enum class PadMode { kConstant, kReflect, kEdge };

PadMode pad_mode(const Node& node, const std::string& where) {
  const std::string m = node.attrs.get_string("mode", "constant");
  if (m == "constant") return PadMode::kConstant;
  if (m == "reflect") return PadMode::kReflect;
  if (m == "edge") return PadMode::kEdge;
  throw Error(ErrorCode::kUnsupported, where + ": pad mode '" + m + "' is not supported");
}

// Pads as [begin_0..begin_{r-1}, end_0..end_{r-1}] for all r dims, from the
// attribute (opset < 11) or input 1, with the opset-18 axes input 3.
template <class GetInput>
std::vector<int64_t> pad_amounts(const Node& node, int64_t r, GetInput get, const std::string& where) {
  std::vector<int64_t> pads;
  if (const Tensor* t = get(1)) pads = t->to_i64();
  else pads = node.attrs.get_ints("pads");
  std::vector<int64_t> axes;
  if (const Tensor* t = get(3)) {
    for (int64_t a : t->to_i64()) axes.push_back(normalize_axis(a, r, where));
  } else {
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  }
  LAPQ_CHECK(pads.size() == 2 * axes.size(), ErrorCode::kInvalidModel, where, ": pads has ", pads.size(),
             " values, expected ", 2 * axes.size());
  std::vector<int64_t> full(2 * r, 0);
  const size_t na = axes.size();
  for (size_t i = 0; i < na; ++i) {
    full[axes[i]] = pads[i];
    full[axes[i] + r] = pads[i + na];
  }
  return full;
}

void pad_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  if (has_in(ctx, 1)) req_const_in(ctx, 1, "pads");
  if (has_in(ctx, 3)) req_const_in(ctx, 3, "axes");
  if (has_in(ctx, 2)) {
    const Value& v = req_in(ctx, 2);
    LAPQ_CHECK(v.dtype == x.dtype && shape_known(v.shape) && shape_numel(v.shape) == 1, ErrorCode::kInvalidModel,
               ctx.where(), ": constant_value must be a scalar of the input's dtype");
  }
  const PadMode mode = pad_mode(ctx.node, ctx.where());
  auto pads = pad_amounts(ctx.node, r, [&](size_t i) { return const_in(ctx, i); }, ctx.where());
  Shape out(r);
  for (int64_t d = 0; d < r; ++d) {
    if (x.shape[d] < 0) { out[d] = -1; continue; }
    // A negative pad crops; cropping more than the dim holds is an error (and
    // keeps output index - begin pad from overflowing in the implementations).
    LAPQ_CHECK(pads[d] >= -x.shape[d] && pads[d + r] >= -x.shape[d], ErrorCode::kShapeMismatch, ctx.where(),
               ": pads ", pads[d], ", ", pads[d + r], " crop dim ", d, " of ", shape_str(x.shape), " below zero");
    out[d] = checked_add(checked_add(x.shape[d], pads[d], ctx.where()), pads[d + r], ctx.where());
    LAPQ_CHECK(out[d] >= 0, ErrorCode::kShapeMismatch, ctx.where(), ": pads crop dim ", d, " of ",
               shape_str(x.shape), " below zero");
    const bool grows = pads[d] > 0 || pads[d + r] > 0;
    LAPQ_CHECK(mode == PadMode::kConstant || !grows || x.shape[d] > 0, ErrorCode::kShapeMismatch, ctx.where(),
               ": cannot ", (mode == PadMode::kEdge ? "edge" : "reflect"), "-pad an empty dim");
  }
  set_out(ctx, 0, x.dtype, out);
}

void pad_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  Tensor& y = *out[0];
  const int64_t r = x.rank();
  const std::string where = node_where(node);
  const PadMode mode = pad_mode(node, where);
  auto pads = pad_amounts(node, r, [&](size_t i) { return i < in.size() ? in[i] : nullptr; }, where);
  // For each dim, output index -> input index (-1: the constant value).
  std::vector<std::vector<int64_t>> map(r);
  for (int64_t d = 0; d < r; ++d) {
    const int64_t n = x.dim(d);
    map[d].resize(y.dim(d));
    for (int64_t o = 0; o < y.dim(d); ++o) {
      int64_t i = o - pads[d];
      if (i < 0 || i >= n) {
        if (mode == PadMode::kConstant) i = -1;
        else if (mode == PadMode::kEdge) i = std::clamp<int64_t>(i, 0, n - 1);
        else if (n == 1) i = 0;
        else {  // reflect without repeating the edge: period 2(n-1)
          const int64_t period = 2 * (n - 1);
          i = ((i % period) + period) % period;
          if (i >= n) i = period - i;
        }
      }
      map[d][o] = i;
    }
  }
  const auto xs = strides_of(x.shape());
  dispatch_all(x.dtype(), where, [&]<class T>() {
    T value = T(0);
    if (in.size() > 2 && in[2]) value = in[2]->data<T>()[0];
    else if (node.attrs.has("value")) value = static_cast<T>(node.attrs.get_float("value", 0.f));
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    const int64_t total = y.numel();
    std::vector<int64_t> idx(r, 0);
    for (int64_t o = 0; o < total; ++o) {
      int64_t off = 0;
      bool inside = true;
      for (int64_t d = 0; d < r; ++d) {
        const int64_t i = map[d][idx[d]];
        if (i < 0) { inside = false; break; }
        off += i * xs[d];
      }
      dst[o] = inside ? src[off] : value;
      for (int64_t d = r - 1; d >= 0; --d) {
        if (++idx[d] < y.dim(d)) break;
        idx[d] = 0;
      }
    }
  });
}

// ---- Gather -----------------------------------------------------------------------------

void gather_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& data = req_in(ctx, 0);
  const Value& idx = req_in(ctx, 1);
  require_dtype(ctx, 1, {DType::kI64, DType::kI32});
  const int64_t r = static_cast<int64_t>(data.shape.size());
  LAPQ_CHECK(r >= 1, ErrorCode::kShapeMismatch, ctx.where(), ": data must have rank >= 1");
  const int64_t axis = normalize_axis(ctx.node.attrs.get_int("axis", 0), r, ctx.where());
  if (const Tensor* t = const_in(ctx, 1); t && data.shape[axis] >= 0) {
    for (int64_t i : t->to_i64())
      LAPQ_CHECK(i >= -data.shape[axis] && i < data.shape[axis], ErrorCode::kInvalidModel, ctx.where(), ": index ",
                 i, " is out of range for axis ", axis, " of size ", data.shape[axis]);
  }
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  set_out(ctx, 0, data.dtype, out);
}

void gather_ref(const Node& node, In in, Out out) {
  const Tensor& data = *in[0];
  const std::vector<int64_t> idx = in[1]->to_i64();
  const int64_t axis = normalize_axis(node.attrs.get_int("axis", 0), data.rank(), node_where(node));
  const int64_t outer = prod(data.shape(), 0, axis), n = data.dim(axis);
  const size_t inner = static_cast<size_t>(prod(data.shape(), axis + 1, data.shape().size())) * dtype_size(data.dtype());
  const auto* src = static_cast<const std::byte*>(data.raw());
  auto* dst = static_cast<std::byte*>(out[0]->raw());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < idx.size(); ++j) {
      int64_t i = idx[j];
      LAPQ_CHECK(i >= -n && i < n, ErrorCode::kInvalidArgument, node_where(node), ": index ", i,
                 " is out of range for axis ", axis, " of size ", n);
      if (i < 0) i += n;
      if (inner) std::memcpy(dst + (o * idx.size() + j) * inner, src + (o * n + i) * inner, inner);
    }
}


// ---- fast Slice / Pad (constant mode): whole rows per copy ------------------------
//
// Both ops are pure data movement, so any order of copies equals the reference
// byte for byte. Dims are collapsed where the index maps stay linear, then every
// innermost row is one memcpy (or one strided loop, or fills and one memcpy for
// Pad); OpenMP over rows for large outputs.

constexpr int64_t kCopyParallelMin = 1 << 16;  // elements below which one thread copies

// Typed strided copy / fill on elements of U (an unsigned type of the element size).
template <class U>
void copy_strided(const U* src, int64_t step, U* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i * step];
}

class FastSliceKernel final : public OpKernel {
 public:
  FastSliceKernel(DType dtype, const Shape& in, const SlicePlan& p) : dtype_(dtype) {
    const auto xs = strides_of(in);
    for (size_t d = 0; d < in.size(); ++d) {
      base_ += p.start[d] * xs[d];
      if (p.out[d] == 1) continue;  // a single index: only its offset matters
      if (!count_.empty() && step_.back() == p.out[d] * p.step[d] * xs[d]) {  // linear with the dim above: merge
        count_.back() *= p.out[d];
        step_.back() = p.step[d] * xs[d];
        continue;
      }
      count_.push_back(p.out[d]);
      step_.push_back(p.step[d] * xs[d]);
    }
    if (count_.empty()) {
      count_.push_back(1);
      step_.push_back(1);
    }
  }
  void run(In in, Out out) override {
    const int64_t r = static_cast<int64_t>(count_.size()), row = count_.back(), row_step = step_.back();
    int64_t rows = 1;
    for (int64_t d = 0; d + 1 < r; ++d) rows *= count_[d];
    if (rows * row == 0) return;
    dispatch_bytes(dtype_, [&]<class U>() {
      const U* src = bytes_as<U>(*in[0]) + base_;
      U* dst = bytes_as<U>(*out[0]);
#pragma omp parallel for schedule(static) if (rows * row > kCopyParallelMin)
      for (int64_t i = 0; i < rows; ++i) {
        int64_t off = 0, rest = i;
        for (int64_t d = r - 2; d >= 0; --d) {
          off += (rest % count_[d]) * step_[d];
          rest /= count_[d];
        }
        if (row_step == 1) std::memcpy(dst + i * row, src + off, static_cast<size_t>(row) * sizeof(U));
        else copy_strided(src + off, row_step, dst + i * row, row);
      }
    });
  }
  std::string impl_name() const override { return "copy"; }

 private:
  DType dtype_;
  int64_t base_ = 0;
  std::vector<int64_t> count_, step_;  // collapsed dims, outer -> inner: output count, input step (elements)
};

std::unique_ptr<OpKernel> slice_fast(const KernelRequest& r, std::string*) {
  auto get = [&](size_t i) -> const Tensor* {
    return i < r.in.size() && r.in[i] && r.in[i]->is_constant() ? &r.in[i]->constant : nullptr;
  };
  const Shape& x = r.in.at(0)->shape;
  SlicePlan p = plan_slice(x, slice_args(r.node, get), node_where(r.node));
  return std::make_unique<FastSliceKernel>(r.in[0]->dtype, x, p);
}

class FastPadKernel final : public OpKernel {
 public:
  // One collapsed dim: output size, begin pad (negative: crop), input size, input stride.
  struct Dim {
    int64_t out, begin, n, stride;
  };
  FastPadKernel(const Node& node, DType dtype, const Shape& in, const std::vector<int64_t>& pads) : dtype_(dtype) {
    const int64_t r = static_cast<int64_t>(in.size());
    const auto xs = strides_of(in);
    has_value_attr_ = node.attrs.has("value");
    value_attr_ = node.attrs.get_float("value", 0.f);
    for (int64_t d = 0; d < r; ++d) {
      const Dim dim{in[d] + pads[d] + pads[d + r], pads[d], in[d], xs[d]};
      // An unpadded dim is linear with the dim above it: o = i * n + j maps to input (o - begin * n).
      if (!dims_.empty() && dim.begin == 0 && dim.out == dim.n) {
        Dim& up = dims_.back();
        up.out *= dim.n;
        up.begin *= dim.n;
        up.n *= dim.n;
        up.stride = dim.stride;
        continue;
      }
      dims_.push_back(dim);
    }
    if (dims_.empty()) dims_.push_back({1, 0, 1, 1});
  }
  void run(In in, Out out) override {
    dispatch_all(dtype_, "Pad", [&]<class T>() {
      T value = T(0);  // as pad_ref
      if (in.size() > 2 && in[2]) value = in[2]->data<T>()[0];
      else if (has_value_attr_) value = static_cast<T>(value_attr_);
      dispatch_bytes(dtype_, [&]<class U>() {
        if constexpr (sizeof(U) == sizeof(T)) {  // always: U is chosen by T's size
          U fill;
          std::memcpy(&fill, &value, sizeof(U));
          run_typed<U>(static_cast<const U*>(in[0]->raw()), static_cast<U*>(out[0]->raw()), fill);
        }
      });
    });
  }
  std::string impl_name() const override { return "copy"; }

 private:
  template <class U>
  void run_typed(const U* src, U* dst, U fill) const {
    const int64_t r = static_cast<int64_t>(dims_.size());
    const Dim& last = dims_.back();
    int64_t rows = 1;
    for (int64_t d = 0; d + 1 < r; ++d) rows *= dims_[d].out;
    const int64_t lo = std::clamp<int64_t>(last.begin, 0, last.out);
    const int64_t hi = std::clamp<int64_t>(last.begin + last.n, lo, last.out);
#pragma omp parallel for schedule(static) if (rows * last.out > kCopyParallelMin)
    for (int64_t i = 0; i < rows; ++i) {
      U* d = dst + i * last.out;
      int64_t off = 0, rest = i;
      bool inside = true;
      for (int64_t k = r - 2; k >= 0; --k) {
        const int64_t o = rest % dims_[k].out - dims_[k].begin;
        rest /= dims_[k].out;
        inside = inside && o >= 0 && o < dims_[k].n;
        off += o * dims_[k].stride;
      }
      if (!inside || hi == lo) {
        std::fill_n(d, last.out, fill);
        continue;
      }
      std::fill_n(d, lo, fill);
      const U* s = src + off + (lo - last.begin) * last.stride;
      if (last.stride == 1) std::memcpy(d + lo, s, static_cast<size_t>(hi - lo) * sizeof(U));
      else copy_strided(s, last.stride, d + lo, hi - lo);
      std::fill_n(d + hi, last.out - hi, fill);
    }
  }

  DType dtype_;
  bool has_value_attr_ = false;
  float value_attr_ = 0.f;
  std::vector<Dim> dims_;  // collapsed, outer -> inner
};

std::unique_ptr<OpKernel> pad_fast(const KernelRequest& r, std::string* why_not) {
  if (pad_mode(r.node, node_where(r.node)) != PadMode::kConstant) {
    *why_not = "only constant mode is copied by rows";
    return nullptr;
  }
  auto get = [&](size_t i) -> const Tensor* {
    return i < r.in.size() && r.in[i] && r.in[i]->is_constant() ? &r.in[i]->constant : nullptr;
  };
  const Shape& x = r.in.at(0)->shape;
  const auto pads = pad_amounts(r.node, static_cast<int64_t>(x.size()), get, node_where(r.node));
  return std::make_unique<FastPadKernel>(r.node, r.in[0]->dtype, x, pads);
}
}  // namespace

void register_slice_pad_gather_ops(OpRegistry& r) {
  r.add(make_schema("Slice", 1, 5, 1, slice_infer, slice_ref)).fast.push_back({"copy", slice_fast});
  r.add(make_schema("Pad", 1, 4, 2, pad_infer, pad_ref)).fast.push_back({"copy", pad_fast});
  r.add(make_schema("Gather", 2, 2, 1, gather_infer, gather_ref));
}

}  // namespace lapq::ops
