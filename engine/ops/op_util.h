// Helpers shared by the operator definitions in engine/ops/: input checks for
// shape inference, numpy broadcasting, axis normalization, dtype dispatch and
// the registration entry points of each operator family.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/op_registry.h"

namespace lapq::ops {

// One function per operator family; OpRegistry::get() calls them all.
void register_elementwise_ops(OpRegistry& r);
void register_conv_ops(OpRegistry& r);
void register_matmul_ops(OpRegistry& r);
void register_pool_ops(OpRegistry& r);
void register_normalization_ops(OpRegistry& r);
void register_reduce_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_slice_pad_gather_ops(OpRegistry& r);
void register_constant_ops(OpRegistry& r);

inline OpSchema make_schema(const char* type, int min_inputs, int max_inputs, int since_opset, InferFn infer,
                            ReferenceFn reference) {
  OpSchema s;
  s.type = type;
  s.min_inputs = min_inputs;
  s.max_inputs = max_inputs;
  s.since_opset = since_opset;
  s.infer = infer;
  s.reference = reference;
  return s;
}

// "Conv 'conv1'" for messages raised inside reference implementations (which
// see the node but not the graph).
std::string node_where(const Node& node);

// ---- shape inference helpers -------------------------------------------------

// Checks the input count against the schema (min/max inputs).
void check_arity(const InferContext& ctx);
// True when input i is given (not an omitted optional input).
inline bool has_in(const InferContext& ctx, size_t i) { return i < ctx.in.size() && ctx.in[i] != nullptr; }
// Input i, which must be present and have a known rank.
const Value& req_in(const InferContext& ctx, size_t i);
// Constant data of input i, or nullptr when absent / not constant.
const Tensor* const_in(const InferContext& ctx, size_t i);
// Like const_in but the data is required (e.g. Reshape's shape): throws
// kUnsupported naming the node and input when it is not constant.
const Tensor& req_const_in(const InferContext& ctx, size_t i, const char* what);
// Sets dtype and shape of output i (ignored when that output is omitted).
// Throws kLimit naming the node when the shape exceeds the tensor limits
// (check_shape_limits in engine/tensor.h).
void set_out(InferContext& ctx, size_t i, DType dtype, Shape shape);
// Throws kUnsupported unless input i's dtype is one of `allowed`.
void require_dtype(const InferContext& ctx, size_t i, std::initializer_list<DType> allowed);
// Throws kUnsupported when the node has more than `n` outputs in use.
void max_outputs(const InferContext& ctx, size_t n, const char* why);

// numpy multidirectional broadcasting; -1 (unknown) dims are tolerated.
// Throws kShapeMismatch naming `where`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& where);
// True when `from` broadcasts unidirectionally to `to` (right-aligned, each
// dim 1 or equal; unknown dims are assumed to fit).
bool broadcasts_to(const Shape& from, const Shape& to);
// Axis in [-rank, rank) (or [-rank, rank] with `inclusive`) to [0, rank) (or [0, rank]).
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& where, bool inclusive = false);

// ---- reference helpers -------------------------------------------------------

// Row-major element strides of `s`.
std::vector<int64_t> strides_of(const Shape& s);
// Strides of `in` broadcast to `out` (0 along broadcast dims); `in` is
// right-aligned against `out`.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
int64_t prod(const Shape& s, size_t first, size_t last);

// Calls f.template operator()<T>() with T the C++ type of `t`. Numeric types
// only (float16 and bool are rejected with kUnsupported naming `where`).
template <class F>
void dispatch_numeric(DType t, const std::string& where, F&& f) {
  switch (t) {
    case DType::kF32: f.template operator()<float>(); return;
    case DType::kF64: f.template operator()<double>(); return;
    case DType::kI64: f.template operator()<int64_t>(); return;
    case DType::kI32: f.template operator()<int32_t>(); return;
    case DType::kI16: f.template operator()<int16_t>(); return;
    case DType::kI8: f.template operator()<int8_t>(); return;
    case DType::kU8: f.template operator()<uint8_t>(); return;
    default: break;
  }
  throw Error(ErrorCode::kUnsupported, where + ": dtype " + dtype_name(t) + " is not supported");
}
// Same with bool included.
template <class F>
void dispatch_all(DType t, const std::string& where, F&& f) {
  if (t == DType::kBool) { f.template operator()<bool>(); return; }
  dispatch_numeric(t, where, std::forward<F>(f));
}
// Calls f.template operator()<U>() with U an unsigned integer type of the
// element size of `t`: for ops that only move elements.
template <class F>
void dispatch_bytes(DType t, F&& f) {
  switch (dtype_size(t)) {
    case 1: f.template operator()<uint8_t>(); return;
    case 2: f.template operator()<uint16_t>(); return;
    case 4: f.template operator()<uint32_t>(); return;
    default: f.template operator()<uint64_t>(); return;
  }
}

// Element pointer of a tensor as an unsigned type of the same size (for
// dtype-agnostic data movement).
template <class U> const U* bytes_as(const Tensor& t) { return static_cast<const U*>(t.raw()); }
template <class U> U* bytes_as(Tensor& t) { return static_cast<U*>(t.raw()); }

// Visits every element of `out_shape` in row-major order; for each calls
// fn(out_index, offset_0, offset_1, ...) with the offsets of each input given
// by its (broadcast) strides. Inner loop over the last dimension.
template <size_t K, class Fn>
void for_each_broadcast(const Shape& out_shape, const std::array<std::vector<int64_t>, K>& strides, Fn&& fn) {
  const size_t rank = out_shape.size();
  const int64_t total = shape_numel(out_shape);
  if (total == 0) return;
  if (rank == 0) {
    std::array<int64_t, K> off{};
    fn(int64_t{0}, off);
    return;
  }
  const int64_t inner = out_shape[rank - 1];
  std::array<int64_t, K> inner_stride;
  for (size_t k = 0; k < K; ++k) inner_stride[k] = strides[k][rank - 1];
  std::vector<int64_t> idx(rank, 0);
  std::array<int64_t, K> base{};
  for (int64_t o = 0; o < total; o += inner) {
    std::array<int64_t, K> off = base;
    for (int64_t j = 0; j < inner; ++j) {
      fn(o + j, off);
      for (size_t k = 0; k < K; ++k) off[k] += inner_stride[k];
    }
    // Advance the outer multi-index (dims 0..rank-2) and the base offsets.
    for (int d = static_cast<int>(rank) - 2; d >= 0; --d) {
      if (++idx[d] < out_shape[d]) {
        for (size_t k = 0; k < K; ++k) base[k] += strides[k][d];
        break;
      }
      idx[d] = 0;
      for (size_t k = 0; k < K; ++k) base[k] -= strides[k][d] * (out_shape[d] - 1);
    }
  }
}

// ONNX TensorProto.DataType code <-> DType (Cast 'to', Constant tensors).
DType dtype_from_onnx(int64_t code, const std::string& where);

}  // namespace lapq::ops
