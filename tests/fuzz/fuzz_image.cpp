// libFuzzer target: arbitrary bytes through image decoding and the
// torchvision preprocessing pipeline (resize 36 -> crop 32, so every decoded
// size exercises the resampler).
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "frontends/image/image.h"
#include "frontends/image/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    lapq::Image img = lapq::decode_image_memory({data, size}, lapq::DecodeChannels::kRgb, "fuzz");
    if (static_cast<int64_t>(img.width) * img.height > 4096 * 4096) return 0;  // keep runs fast
    lapq::PreprocessConfig cfg;
    cfg.height = cfg.width = cfg.crop_h = cfg.crop_w = 32;
    cfg.resize_short = 36;
    lapq::Tensor t = lapq::preprocess_image(img, cfg, "fuzz");
    (void)t;
  } catch (const lapq::Error&) {
  }
  return 0;
}
