// Internal to the ONNX frontend: onnx::TensorProto -> lapq::Tensor, with every
// size checked against the declared shape before anything is allocated.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "engine/tensor.h"

namespace lapq::onnx_frontend {

// ONNX TensorProto::DataType -> DType; kUnsupported (naming `what`) for
// float16, bfloat16, strings, unsigned > 8 bit and complex types.
DType dtype_from_onnx(int32_t elem_type, const std::string& what);

// Converts a tensor held in raw_data, in a typed field (float_data,
// int32_data, int64_data, double_data) or in an external file below
// `base_dir` (empty base_dir: external data is refused). `what` names the
// tensor in messages ("initializer 'conv1.weight'").
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& base_dir, const std::string& what);

// Whole file contents; kIo when it cannot be opened, kLimit above 2 GiB (the
// protobuf parser's limit).
std::string read_whole_file(const std::string& path, const char* kind);

}  // namespace lapq::onnx_frontend
