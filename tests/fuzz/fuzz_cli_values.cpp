// libFuzzer target: the parsers of user-typed values: preprocessing overrides
// ("crop=32", "mean=0.5,0.5,0.5") and sidecar JSON (tests/fuzz/fuzz_entries.h).
#include "tests/fuzz/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lapq::fuzz::cli_value(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  return 0;
}
