// libFuzzer target: the parsers of user-typed values: preprocessing overrides
// ("crop=32", "mean=0.5,0.5,0.5", "input_size=1,28,28") and sidecar JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "frontends/image/preprocess_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    lapq::PreprocessConfig cfg;
    lapq::apply_preprocess_overrides(cfg, {text});
  } catch (const lapq::Error&) {
  }
  try {
    lapq::PreprocessConfig cfg = lapq::parse_preprocess_sidecar(text, "fuzz.json");
    (void)cfg;
  } catch (const lapq::Error&) {
  }
  return 0;
}
