// libFuzzer target: arbitrary bytes through image decoding and the
// torchvision preprocessing pipeline (tests/fuzz/fuzz_entries.h).
#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lapq::fuzz::image(data, size, "fuzz");
  return 0;
}
