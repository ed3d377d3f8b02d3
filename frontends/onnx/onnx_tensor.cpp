#include "frontends/onnx/onnx_tensor.h"

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace lapq::onnx_frontend {

static_assert(std::endian::native == std::endian::little,
              "raw_data is little-endian; a big-endian host would need byte swapping");

namespace fs = std::filesystem;
using TP = onnx::TensorProto;

DType dtype_from_onnx(int32_t elem_type, const std::string& what) {
  switch (elem_type) {
    case TP::FLOAT: return DType::kF32;
    case TP::DOUBLE: return DType::kF64;
    case TP::INT64: return DType::kI64;
    case TP::INT32: return DType::kI32;
    case TP::INT16: return DType::kI16;
    case TP::INT8: return DType::kI8;
    case TP::UINT8: return DType::kU8;
    case TP::BOOL: return DType::kBool;
    case TP::FLOAT16:
    case TP::BFLOAT16:
      throw Error(ErrorCode::kUnsupported, what + " is " + (elem_type == TP::FLOAT16 ? "float16" : "bfloat16") +
                                               ", which lapq does not support (export the model in float32)");
    case TP::UNDEFINED:
      throw Error(ErrorCode::kInvalidModel, what + " has no data type");
    default:
      if (!TP::DataType_IsValid(elem_type))
        throw Error(ErrorCode::kInvalidModel, what + " has an invalid data type " + std::to_string(elem_type));
      throw Error(ErrorCode::kUnsupported,
                  what + " has data type " + TP::DataType_Name(elem_type) + ", which lapq does not support");
  }
}

std::string read_whole_file(const std::string& path, const char* kind) {
  std::error_code ec;
  LAPQ_CHECK(fs::is_regular_file(path, ec), ErrorCode::kIo, "cannot open ", kind, " '", path,
             "': no such file");
  uintmax_t size = fs::file_size(path, ec);
  LAPQ_CHECK(!ec, ErrorCode::kIo, "cannot read the size of ", kind, " '", path, "': ", ec.message());
  LAPQ_CHECK(size <= static_cast<uintmax_t>(std::numeric_limits<int>::max()), ErrorCode::kLimit, kind, " '", path,
             "' is ", size, " bytes; lapq reads files up to 2 GiB (store large weights as external data)");
  std::ifstream f(path, std::ios::binary);
  LAPQ_CHECK(f.good(), ErrorCode::kIo, "cannot open ", kind, " '", path, "'");
  std::string bytes(static_cast<size_t>(size), '\0');
  f.read(bytes.data(), static_cast<std::streamsize>(size));
  LAPQ_CHECK(f.gcount() == static_cast<std::streamsize>(size), ErrorCode::kIo, "cannot read ", kind, " '", path, "'");
  return bytes;
}

namespace {

// Resolves an external-data location below base_dir, refusing anything that
// could name a file outside the model's folder.
fs::path resolve_external_path(const std::string& location, const std::string& base_dir, const std::string& what) {
  LAPQ_CHECK(!base_dir.empty(), ErrorCode::kInvalidModel, what,
             " is stored in an external file, but the model was loaded from memory without a base folder");
  LAPQ_CHECK(!location.empty(), ErrorCode::kInvalidModel, what, " has external data without a location");
  fs::path rel(location);
  LAPQ_CHECK(!rel.is_absolute() && !rel.has_root_name() && !rel.has_root_directory(), ErrorCode::kInvalidModel, what,
             " has external data at the absolute path '", location, "'; only paths inside the model's folder are allowed");
  for (const auto& part : rel)
    LAPQ_CHECK(part != "..", ErrorCode::kInvalidModel, what, " has external data at '", location,
               "', which leaves the model's folder");
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
  LAPQ_CHECK(!ec, ErrorCode::kIo, "cannot resolve the model folder '", base_dir, "': ", ec.message());
  fs::path full = fs::weakly_canonical(base / rel, ec);
  LAPQ_CHECK(!ec, ErrorCode::kIo, "cannot resolve external data '", location, "' of ", what, ": ", ec.message());
  // A symlink inside the folder may still point outside it.
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  LAPQ_CHECK(b == base.end(), ErrorCode::kInvalidModel, what, " has external data at '", location,
             "', which resolves outside the model's folder");
  return full;
}

int64_t parse_external_int(const std::string& key, const std::string& text, const std::string& what) {
  size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  LAPQ_CHECK(used == text.size() && v >= 0, ErrorCode::kInvalidModel, what, " has an invalid external data ", key,
             " '", text, "'");
  return v;
}

// Checks the location and the sizes, then allocates and reads.
Tensor read_external(const TP& proto, const std::string& base_dir, const std::string& what, DType dtype,
                     const Shape& shape, size_t nbytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : proto.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") offset = parse_external_int("offset", kv.value(), what);
    else if (kv.key() == "length") length = parse_external_int("length", kv.value(), what);
  }
  fs::path path = resolve_external_path(location, base_dir, what);
  std::error_code ec;
  LAPQ_CHECK(fs::is_regular_file(path, ec), ErrorCode::kIo, "external data file '", path.string(), "' of ", what,
             " does not exist");
  uintmax_t file_size = fs::file_size(path, ec);
  LAPQ_CHECK(!ec, ErrorCode::kIo, "cannot read the size of '", path.string(), "': ", ec.message());
  const uintmax_t want = nbytes;
  if (length < 0) length = static_cast<int64_t>(want);
  LAPQ_CHECK(static_cast<uintmax_t>(length) == want, ErrorCode::kInvalidModel, what, " declares ", length,
             " bytes of external data but its shape ", shape_str(shape), " needs ", want);
  LAPQ_CHECK(static_cast<uintmax_t>(offset) <= file_size && want <= file_size - static_cast<uintmax_t>(offset),
             ErrorCode::kInvalidModel, what, " reads ", length, " bytes at offset ", offset, " of '", path.string(),
             "', which has only ", file_size, " bytes");
  std::ifstream f(path, std::ios::binary);
  LAPQ_CHECK(f.good(), ErrorCode::kIo, "cannot open external data file '", path.string(), "'");
  Tensor dst(dtype, shape);
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(static_cast<char*>(dst.raw()), static_cast<std::streamsize>(want));
  LAPQ_CHECK(f.gcount() == static_cast<std::streamsize>(want), ErrorCode::kIo, "cannot read external data of ", what,
             " from '", path.string(), "'");
  return dst;
}

template <class Dst, class Field>
void copy_field(const Field& field, Tensor& dst) {
  Dst* out = static_cast<Dst*>(dst.raw());
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<Dst>(field.Get(i));
}

// Bytes are 0/1 in a well-formed file; normalize anything else so a bool
// tensor never holds a value other than 0 or 1.
void normalize_bools(Tensor& t) {
  auto* p = static_cast<uint8_t*>(t.raw());
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
}

}  // namespace

Tensor tensor_from_proto(const TP& proto, const std::string& base_dir, const std::string& what) {
  const DType dtype = dtype_from_onnx(proto.data_type(), what);
  LAPQ_CHECK(!proto.has_segment(), ErrorCode::kUnsupported, what, " is a segmented tensor, which lapq does not support");
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (int64_t d : shape)
    LAPQ_CHECK(d >= 0, ErrorCode::kInvalidModel, what, " has a negative dimension in shape ", shape_str(shape));
  check_shape_limits(shape, what);           // kLimit naming the tensor, before anything is allocated
  const int64_t numel = shape_numel(shape);
  const size_t nbytes = static_cast<size_t>(numel) * dtype_size(dtype);

  if (proto.data_location() == TP::EXTERNAL) {
    Tensor t = read_external(proto, base_dir, what, dtype, shape, nbytes);
    if (dtype == DType::kBool) normalize_bools(t);
    return t;
  }
  if (proto.has_raw_data()) {
    LAPQ_CHECK(proto.raw_data().size() == nbytes, ErrorCode::kInvalidModel, what, " holds ", proto.raw_data().size(),
               " bytes of data but its shape ", shape_str(shape), " of ", dtype_name(dtype), " needs ", nbytes);
    Tensor t(dtype, shape);
    if (nbytes) std::memcpy(t.raw(), proto.raw_data().data(), nbytes);
    if (dtype == DType::kBool) normalize_bools(t);
    return t;
  }
  // Typed fields: which one holds the data depends on the dtype.
  int count = 0;
  const char* field = "";
  switch (dtype) {
    case DType::kF32: count = proto.float_data_size(); field = "float_data"; break;
    case DType::kF64: count = proto.double_data_size(); field = "double_data"; break;
    case DType::kI64: count = proto.int64_data_size(); field = "int64_data"; break;
    default: count = proto.int32_data_size(); field = "int32_data"; break;
  }
  LAPQ_CHECK(count == numel, ErrorCode::kInvalidModel, what, " holds ", count, " values in ", field,
             " but its shape ", shape_str(shape), " needs ", numel);
  Tensor t(dtype, shape);
  switch (dtype) {
    case DType::kF32: copy_field<float>(proto.float_data(), t); break;
    case DType::kF64: copy_field<double>(proto.double_data(), t); break;
    case DType::kI64: copy_field<int64_t>(proto.int64_data(), t); break;
    case DType::kI32: copy_field<int32_t>(proto.int32_data(), t); break;
    case DType::kI16: copy_field<int16_t>(proto.int32_data(), t); break;
    case DType::kI8: copy_field<int8_t>(proto.int32_data(), t); break;
    case DType::kU8: copy_field<uint8_t>(proto.int32_data(), t); break;
    case DType::kBool: {
      auto* out = static_cast<uint8_t*>(t.raw());
      for (int i = 0; i < count; ++i) out[i] = proto.int32_data(i) != 0;
      break;
    }
    case DType::kF16: break;  // refused by dtype_from_onnx
  }
  return t;
}

}  // namespace lapq::onnx_frontend
