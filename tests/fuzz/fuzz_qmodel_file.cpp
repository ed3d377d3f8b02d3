// libFuzzer target: the quantized model file reader (tests/fuzz/fuzz_entries.h
// explains how the input becomes a file).
#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/lapq-fuzz-qmodel-" + std::to_string(getpid()) + ".lapq";
  lapq::fuzz::quantized_model_file(data, size, path);
  return 0;
}
