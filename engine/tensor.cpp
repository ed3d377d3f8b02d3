#include "engine/tensor.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>
#include <type_traits>

#include "kernels/memory.h"

namespace lapq {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF64: case DType::kI64: return 8;
    case DType::kF32: case DType::kI32: return 4;
    case DType::kF16: case DType::kI16: return 2;
    case DType::kI8: case DType::kU8: case DType::kBool: return 1;
  }
  return 1;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kF64: return "float64";
    case DType::kF16: return "float16";
    case DType::kI64: return "int64";
    case DType::kI32: return "int32";
    case DType::kI16: return "int16";
    case DType::kI8: return "int8";
    case DType::kU8: return "uint8";
    case DType::kBool: return "bool";
  }
  return "?";
}

namespace {

std::atomic<size_t> g_max_tensor_bytes{kDefaultMaxTensorBytes};

// Product of the non-zero known dims; kLimit (naming `where`) above
// kMaxTensorElements or kMaxTensorRank dims.
int64_t nonzero_product(const Shape& s, const std::string& where) {
  LAPQ_CHECK(s.size() <= kMaxTensorRank, ErrorCode::kLimit, where, "shape of rank ", s.size(),
             " exceeds lapq's limit of ", kMaxTensorRank, " dimensions");
  int64_t n = 1;
  for (int64_t d : s) {
    if (d <= 0) continue;
    int64_t next;
    LAPQ_CHECK(!__builtin_mul_overflow(n, d, &next) && next <= kMaxTensorElements, ErrorCode::kLimit, where,
               "tensor of shape ", shape_str(s), " exceeds lapq's limit of ", kMaxTensorElements, " elements");
    n = next;
  }
  return n;
}

}  // namespace

int64_t shape_numel(const Shape& s) {
  for (int64_t d : s)
    LAPQ_CHECK(d >= 0, ErrorCode::kInvalidModel, "shape ", shape_str(s), " has an unknown or negative dimension");
  const int64_t n = nonzero_product(s, "");
  for (int64_t d : s)
    if (d == 0) return 0;
  return n;
}

void check_shape_limits(const Shape& s, const std::string& where) { nonzero_product(s, where + ": "); }

size_t max_tensor_bytes() { return g_max_tensor_bytes.load(std::memory_order_relaxed); }
void set_max_tensor_bytes(size_t bytes) { g_max_tensor_bytes.store(bytes, std::memory_order_relaxed); }

int64_t checked_add(int64_t a, int64_t b, const std::string& where) {
  int64_t r;
  LAPQ_CHECK(!__builtin_add_overflow(a, b, &r), ErrorCode::kLimit, where, ": dimension arithmetic overflows (", a,
             " + ", b, ")");
  return r;
}

int64_t checked_mul(int64_t a, int64_t b, const std::string& where) {
  int64_t r;
  LAPQ_CHECK(!__builtin_mul_overflow(a, b, &r), ErrorCode::kLimit, where, ": dimension arithmetic overflows (", a,
             " * ", b, ")");
  return r;
}

bool shape_known(const Shape& s) {
  for (int64_t d : s) if (d < 0) return false;
  return true;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) os << ',';
    if (s[i] < 0) os << '?'; else os << s[i];
  }
  os << ']';
  return os.str();
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  size_t bytes = static_cast<size_t>(numel_) * dtype_size(dtype_);
  LAPQ_CHECK(bytes <= max_tensor_bytes(), ErrorCode::kLimit, "tensor of shape ", shape_str(shape_), " (",
             dtype_name(dtype_), ") needs ", bytes, " bytes, above lapq's limit of ", max_tensor_bytes(),
             " bytes per tensor");
  try {
    storage_ = allocate_buffer(bytes + 64);  // room for vector over-reads
  } catch (const Error&) {
    throw Error(ErrorCode::kLimit, "out of memory allocating tensor " + shape_str(shape_));
  }
}

Tensor Tensor::view(DType dtype, Shape shape, std::shared_ptr<std::byte[]> base) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.storage_ = std::move(base);
  return t;
}

void Tensor::check_type(DType want) const {
  LAPQ_CHECK(dtype_ == want, ErrorCode::kInternal, "tensor of dtype ", dtype_name(dtype_),
             " accessed as ", dtype_name(want));
}

Tensor Tensor::clone() const {
  if (empty()) return {};
  Tensor t(dtype_, shape_);
  std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  LAPQ_CHECK(shape_numel(shape) == numel_, ErrorCode::kShapeMismatch, "cannot reshape ", shape_str(shape_),
             " to ", shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

// One element to Out. Float -> integer saturates and maps NaN to 0: the
// plain cast is undefined for NaN and out-of-range values, which model files
// can hold in any tensor used as shape data (found by fuzz_onnx_loader).
template <class Out, class In>
static Out convert_one(In x) {
  if constexpr (std::is_floating_point_v<In> && std::is_integral_v<Out>) {
    if (std::isnan(x)) return Out(0);
    if (x <= static_cast<In>(std::numeric_limits<Out>::lowest())) return std::numeric_limits<Out>::lowest();
    if (x >= static_cast<In>(std::numeric_limits<Out>::max())) return std::numeric_limits<Out>::max();
  }
  return static_cast<Out>(x);
}

template <class Out>
static std::vector<Out> convert(const Tensor& t) {
  std::vector<Out> v(static_cast<size_t>(t.numel()));
  auto fill = [&](auto* p) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = convert_one<Out>(p[i]);
  };
  switch (t.dtype()) {
    case DType::kF32: fill(t.data<float>()); break;
    case DType::kF64: fill(t.data<double>()); break;
    case DType::kI64: fill(t.data<int64_t>()); break;
    case DType::kI32: fill(t.data<int32_t>()); break;
    case DType::kI16: fill(t.data<int16_t>()); break;
    case DType::kI8: fill(t.data<int8_t>()); break;
    case DType::kU8: fill(t.data<uint8_t>()); break;
    case DType::kBool: fill(t.data<bool>()); break;
    case DType::kF16:
      throw Error(ErrorCode::kUnsupported, "float16 tensors are not supported");
  }
  return v;
}

std::vector<int64_t> Tensor::to_i64() const { return convert<int64_t>(*this); }
std::vector<float> Tensor::to_f32() const { return convert<float>(*this); }

bool Tensor::equals(const Tensor& o) const {
  if (dtype_ != o.dtype_ || shape_ != o.shape_) return false;
  if (empty() || o.empty()) return empty() == o.empty();
  return std::memcmp(raw(), o.raw(), nbytes()) == 0;
}

}  // namespace lapq
