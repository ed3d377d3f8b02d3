// libFuzzer target: arbitrary bytes through the ONNX QDQ importer, then the
// quantized network's lowering and one forward pass (tests/fuzz/fuzz_entries.h).
#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lapq::fuzz::qdq_model(data, size, "fuzz.qdq.onnx");
  return 0;
}
