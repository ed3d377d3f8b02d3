// libFuzzer target: arbitrary bytes through the ONNX loader, the graph passes
// and shape inference (tests/fuzz/fuzz_entries.h).
#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lapq::fuzz::onnx_model(data, size, "fuzz.onnx");
  return 0;
}
