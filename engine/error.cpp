#include "engine/error.h"

namespace lapq {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kIo: return "I/O error";
    case ErrorCode::kInvalidModel: return "invalid model";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kShapeMismatch: return "shape mismatch";
    case ErrorCode::kBadImage: return "bad image";
    case ErrorCode::kBadDataset: return "bad dataset";
    case ErrorCode::kLimit: return "limit exceeded";
    case ErrorCode::kInternal: return "internal error";
  }
  return "error";
}

}  // namespace lapq
