// lapq's one error type. Every failure a user can cause (a bad model, an
// unsupported op, a corrupt image, a wrong shape, an empty folder) is thrown
// as lapq::Error with a code and a message that names the problem and where
// it is. The CLI maps codes to exit statuses (docs/cli.md).
#pragma once

#include <stdexcept>
#include <string>

namespace lapq {

enum class ErrorCode : int {
  kInvalidArgument = 2,   // bad CLI option / API argument
  kIo = 3,                // file missing, unreadable
  kInvalidModel = 4,      // malformed / truncated / inconsistent model file
  kUnsupported = 5,       // op, attribute or dtype lapq does not implement
  kShapeMismatch = 6,     // input shape does not fit the model
  kBadImage = 7,          // corrupt / unsupported image
  kBadDataset = 8,        // empty folder, missing labels
  kLimit = 9,             // a resource limit (tensor size, graph size) exceeded
  kInternal = 10,         // a bug in lapq
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  int exit_status() const { return static_cast<int>(code_); }

 private:
  ErrorCode code_;
};

// LAPQ_CHECK(cond, code, msg...) throws Error(code, msg) when cond is false.
// The message is built only on failure.
#define LAPQ_CHECK(cond, code, ...)                                         \
  do {                                                                     \
    if (!(cond)) throw ::lapq::Error((code), ::lapq::detail::cat(__VA_ARGS__)); \
  } while (0)

namespace detail {
template <class... Args>
std::string cat(const Args&... args);
}  // namespace detail

}  // namespace lapq

#include <sstream>
namespace lapq::detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace lapq::detail
