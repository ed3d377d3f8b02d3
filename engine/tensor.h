// Tensor: a dtype, a shape and a 64-byte aligned buffer shared between copies
// (copying a Tensor is cheap; clone() copies the data). Shapes use int64_t
// dimensions; -1 marks a dimension unknown until run time (symbolic batch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/error.h"

namespace lapq {

enum class DType : uint8_t { kF32, kF64, kF16, kI64, kI32, kI16, kI8, kU8, kBool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kF32; }
template <> constexpr DType dtype_of<double>() { return DType::kF64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kI64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kI32; }
template <> constexpr DType dtype_of<int16_t>() { return DType::kI16; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kI8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kU8; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }

using Shape = std::vector<int64_t>;

// Largest tensor lapq will allocate (elements); guards against model files
// that claim absurd sizes (a 20-byte file asking for 10^12 floats).
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 31;

// Largest rank lapq accepts (numpy's limit); deeper shapes come only from
// broken or hostile files.
inline constexpr size_t kMaxTensorRank = 32;
// Default of max_tensor_bytes(): no single tensor above 4 GiB.
inline constexpr size_t kDefaultMaxTensorBytes = size_t{1} << 32;

// Number of elements; throws kLimit above kMaxTensorRank dims or when the
// product of the non-zero dims exceeds kMaxTensorElements (so every partial
// product of the dims fits in int64, even for an empty tensor), and
// kInvalidModel on a negative (unknown) dimension.
int64_t shape_numel(const Shape& s);
// The same limits for a shape whose dims may be unknown (-1 dims are
// skipped); `where` names the node or tensor in the kLimit message. Shape
// inference calls it on every output, so a model asking for an absurd tensor
// fails at load time, before anything is allocated.
void check_shape_limits(const Shape& s, const std::string& where);
// Bytes a single tensor may take (Tensor's constructor throws kLimit above
// it, before allocating). Process-wide; a fuzz harness lowers it below its
// malloc limit, a server may lower it to bound memory per request.
size_t max_tensor_bytes();
void set_max_tensor_bytes(size_t bytes);
bool shape_known(const Shape& s);  // no -1 dimensions
std::string shape_str(const Shape& s);  // "[1,3,224,224]", "?" for -1
// Dimension arithmetic from model data (pads, strides, sizes) that cannot
// overflow: throws kLimit naming `where` instead.
int64_t checked_add(int64_t a, int64_t b, const std::string& where);
int64_t checked_mul(int64_t a, int64_t b, const std::string& where);

class Tensor {
 public:
  Tensor() = default;
  // Zero-initialized tensor.
  Tensor(DType dtype, Shape shape);

  template <class T>
  static Tensor from(Shape shape, std::span<const T> values) {
    Tensor t(dtype_of<T>(), std::move(shape));
    LAPQ_CHECK(static_cast<int64_t>(values.size()) == t.numel(), ErrorCode::kInternal,
               "Tensor::from: ", values.size(), " values for shape ", shape_str(t.shape()));
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }
  template <class T>
  static Tensor from(Shape shape, std::initializer_list<T> values) {
    return from<T>(std::move(shape), std::span<const T>(values.begin(), values.size()));
  }
  static Tensor scalar_f32(float v) { return from<float>({}, {v}); }
  // A tensor over memory owned by `base` (e.g. a slot of the plan's arena);
  // the caller guarantees base holds at least nbytes() + 64 bytes.
  static Tensor view(DType dtype, Shape shape, std::shared_ptr<std::byte[]> base);

  bool empty() const { return !storage_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + rank() : i); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <class T> T* data() { check_type(dtype_of<T>()); return static_cast<T*>(raw()); }
  template <class T> const T* data() const { check_type(dtype_of<T>()); return static_cast<const T*>(raw()); }
  template <class T> std::span<T> span() { return {data<T>(), static_cast<size_t>(numel_)}; }
  template <class T> std::span<const T> span() const { return {data<T>(), static_cast<size_t>(numel_)}; }

  Tensor clone() const;
  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Converts integer/float tensors to a vector of int64 / float (for shape
  // inputs and attributes given as tensors). Float -> int64 saturates at the
  // int64 range and maps NaN to 0.
  std::vector<int64_t> to_i64() const;
  std::vector<float> to_f32() const;
  // Same dtype, shape and bytes.
  bool equals(const Tensor& other) const;

 private:
  void check_type(DType want) const;
  DType dtype_ = DType::kF32;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<std::byte[]> storage_;
};

}  // namespace lapq
