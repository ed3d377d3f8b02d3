#include "frontends/image/preprocess.h"

#include <cmath>
#include <sstream>

#include "engine/error.h"

namespace lapq {

const char* color_mode_name(ColorMode c) {
  switch (c) {
    case ColorMode::kRgb: return "rgb";
    case ColorMode::kBgr: return "bgr";
    case ColorMode::kGray: return "gray";
  }
  return "?";
}

const char* resize_backend_name(ResizeBackend b) {
  return b == ResizeBackend::kPil ? "pil" : "tensor";
}

void validate_preprocess_config(const PreprocessConfig& cfg) {
  const std::string& src = cfg.source;
  const int want_c = cfg.color == ColorMode::kGray ? 1 : 3;
  LAPQ_CHECK(cfg.channels == want_c, ErrorCode::kInvalidArgument, src, ": input_size has ", cfg.channels,
             " channels but color '", color_mode_name(cfg.color), "' gives ", want_c);
  LAPQ_CHECK(cfg.height > 0 && cfg.width > 0 && cfg.height <= kMaxImageSide && cfg.width <= kMaxImageSide,
             ErrorCode::kInvalidArgument, src, ": input_size ", cfg.height, "x", cfg.width, " outside [1, ",
             kMaxImageSide, "]");
  LAPQ_CHECK(cfg.resize_short >= 0 && cfg.resize_short <= kMaxImageSide && cfg.resize_h >= 0 &&
                 cfg.resize_w >= 0 && cfg.resize_h <= kMaxImageSide && cfg.resize_w <= kMaxImageSide,
             ErrorCode::kInvalidArgument, src, ": resize outside [1, ", kMaxImageSide, "]");
  LAPQ_CHECK(!(cfg.resize_short > 0 && (cfg.resize_h > 0 || cfg.resize_w > 0)), ErrorCode::kInvalidArgument, src,
             ": resize is both a shorter-side size and an exact [H,W]");
  LAPQ_CHECK((cfg.resize_h > 0) == (cfg.resize_w > 0), ErrorCode::kInvalidArgument, src,
             ": exact resize needs both H and W");
  LAPQ_CHECK(cfg.crop_h >= 0 && cfg.crop_w >= 0 && (cfg.crop_h > 0) == (cfg.crop_w > 0) &&
                 cfg.crop_h <= kMaxImageSide && cfg.crop_w <= kMaxImageSide,
             ErrorCode::kInvalidArgument, src, ": crop ", cfg.crop_h, "x", cfg.crop_w, " is invalid");
  LAPQ_CHECK(!cfg.has_crop() || (cfg.crop_h == cfg.height && cfg.crop_w == cfg.width), ErrorCode::kInvalidArgument,
             src, ": crop ", cfg.crop_h, "x", cfg.crop_w, " differs from the input size ", cfg.height, "x",
             cfg.width);
  LAPQ_CHECK(cfg.mean.size() == static_cast<size_t>(cfg.channels), ErrorCode::kInvalidArgument, src, ": mean has ",
             cfg.mean.size(), " values for ", cfg.channels, " channels");
  LAPQ_CHECK(cfg.stddev.size() == static_cast<size_t>(cfg.channels), ErrorCode::kInvalidArgument, src, ": std has ",
             cfg.stddev.size(), " values for ", cfg.channels, " channels");
  for (float m : cfg.mean)
    LAPQ_CHECK(std::isfinite(m), ErrorCode::kInvalidArgument, src, ": mean value ", m, " is not finite");
  for (float s : cfg.stddev)
    LAPQ_CHECK(std::isfinite(s) && s > 0, ErrorCode::kInvalidArgument, src, ": std value ", s, " must be > 0");
  LAPQ_CHECK(std::isfinite(cfg.scale) && cfg.scale > 0, ErrorCode::kInvalidArgument, src, ": scale ", cfg.scale,
             " must be > 0");
}

std::string describe_preprocess_config(const PreprocessConfig& cfg) {
  std::ostringstream os;
  os << color_mode_name(cfg.color);
  if (cfg.resize_short > 0) os << " -> resize shorter side " << cfg.resize_short << " (" << resize_backend_name(cfg.backend) << ")";
  else if (cfg.resize_h > 0) os << " -> resize " << cfg.resize_h << "x" << cfg.resize_w << " (" << resize_backend_name(cfg.backend) << ")";
  if (cfg.has_crop()) os << " -> center crop " << cfg.crop_h << "x" << cfg.crop_w;
  os << " -> x/" << cfg.scale << " -> (x - [";
  for (size_t i = 0; i < cfg.mean.size(); ++i) os << (i ? "," : "") << cfg.mean[i];
  os << "]) / [";
  for (size_t i = 0; i < cfg.stddev.size(); ++i) os << (i ? "," : "") << cfg.stddev[i];
  os << "] -> [N," << cfg.channels << "," << cfg.height << "," << cfg.width << "] (" << cfg.source << ")";
  return os.str();
}

Shape preprocess_shape(const PreprocessConfig& cfg, int64_t n) { return {n, cfg.channels, cfg.height, cfg.width}; }

Size2 shorter_side_resize_size(int h, int w, int size) {
  LAPQ_CHECK(h > 0 && w > 0 && size > 0, ErrorCode::kInvalidArgument, "resize: bad sizes ", h, "x", w, " -> ", size);
  const int shorter = std::min(h, w), longer = std::max(h, w);
  // Python: int(size * long / short); the product is exact, the division is
  // one correctly rounded double division, int() truncates.
  const double l = static_cast<double>(static_cast<int64_t>(size) * longer) / shorter;
  LAPQ_CHECK(l <= kMaxImageSide, ErrorCode::kBadImage, "resizing a ", h, "x", w, " image to shorter side ", size,
             " gives a longer side of ", l, ", above lapq's limit of ", kMaxImageSide);
  const int new_long = static_cast<int>(l);
  return w <= h ? Size2{new_long, size} : Size2{size, new_long};
}

CropWindow center_crop_window(int h, int w, int crop_h, int crop_w) {
  CropWindow win;
  // Python's round() rounds halves to even; (H - C) / 2.0 is an integer or a
  // half, so nearbyint in the default rounding mode gives the same result.
  win.top = crop_h > h ? -((crop_h - h) / 2) : static_cast<int>(std::nearbyint((h - crop_h) / 2.0));
  win.left = crop_w > w ? -((crop_w - w) / 2) : static_cast<int>(std::nearbyint((w - crop_w) / 2.0));
  return win;
}

Image center_crop(const Image& src, int crop_h, int crop_w) {
  LAPQ_CHECK(crop_h > 0 && crop_w > 0, ErrorCode::kInvalidArgument, "center_crop: bad size ", crop_h, "x", crop_w);
  const CropWindow win = center_crop_window(src.height, src.width, crop_h, crop_w);
  const int C = src.channels;
  Image dst{crop_w, crop_h, C, std::vector<uint8_t>(static_cast<size_t>(crop_w) * crop_h * C, 0)};
  for (int y = 0; y < crop_h; ++y) {
    const int sy = y + win.top;
    if (sy < 0 || sy >= src.height) continue;  // zero padding
    for (int x = 0; x < crop_w; ++x) {
      const int sx = x + win.left;
      if (sx < 0 || sx >= src.width) continue;
      for (int c = 0; c < C; ++c) dst.at(y, x, c) = src.at(sy, sx, c);
    }
  }
  return dst;
}

Image prepare_image(const Image& src, const PreprocessConfig& cfg, const std::string& name) {
  Image img = cfg.color == ColorMode::kGray ? to_gray(src) : to_rgb(src);
  if (cfg.resize_short > 0) {
    const Size2 s = shorter_side_resize_size(img.height, img.width, cfg.resize_short);
    img = resize_bilinear_antialias(img, s.h, s.w, cfg.backend);
  } else if (cfg.resize_h > 0 && cfg.resize_w > 0) {
    img = resize_bilinear_antialias(img, cfg.resize_h, cfg.resize_w, cfg.backend);
  }
  if (cfg.has_crop()) img = center_crop(img, cfg.crop_h, cfg.crop_w);
  LAPQ_CHECK(img.height == cfg.height && img.width == cfg.width, ErrorCode::kShapeMismatch, "image '", name, "' is ",
             src.width, "x", src.height, " (WxH) and becomes ", img.width, "x", img.height, " after preprocessing, but the model wants ",
             cfg.width, "x", cfg.height, " (set resize/crop in the model's sidecar or on the command line)");
  return img;
}

void normalize_image_into(const Image& img, const PreprocessConfig& cfg, float* dst) {
  LAPQ_CHECK(img.height == cfg.height && img.width == cfg.width && img.channels == cfg.channels,
             ErrorCode::kShapeMismatch, "normalize: image ", img.height, "x", img.width, "x", img.channels,
             " does not match the model input ", cfg.channels, "x", cfg.height, "x", cfg.width);
  const int C = cfg.channels;
  const size_t plane = static_cast<size_t>(img.height) * img.width;
  for (int oc = 0; oc < C; ++oc) {
    // BGR: output channel 0 reads the image's channel 2.
    const int ic = cfg.color == ColorMode::kBgr ? C - 1 - oc : oc;
    const float mean = cfg.mean[oc], sd = cfg.stddev[oc], scale = cfg.scale;
    float* d = dst + oc * plane;
    for (size_t p = 0; p < plane; ++p) {
      // ToTensor: float(x) / 255; Normalize: (x - mean) / std, each one float32 op.
      const float x = static_cast<float>(img.pixels[p * C + ic]) / scale;
      d[p] = (x - mean) / sd;
    }
  }
}

void preprocess_image_into(const Image& src, const PreprocessConfig& cfg, float* dst, const std::string& name) {
  validate_preprocess_config(cfg);
  normalize_image_into(prepare_image(src, cfg, name), cfg, dst);
}

Tensor preprocess_image(const Image& src, const PreprocessConfig& cfg, const std::string& name) {
  validate_preprocess_config(cfg);
  Tensor t(DType::kF32, preprocess_shape(cfg, 1));
  normalize_image_into(prepare_image(src, cfg, name), cfg, t.data<float>());
  return t;
}

void preprocess_file_into(const std::string& path, const PreprocessConfig& cfg, float* dst) {
  validate_preprocess_config(cfg);
  const Image img = decode_image_file(path, cfg.color == ColorMode::kGray ? DecodeChannels::kGray : DecodeChannels::kRgb);
  normalize_image_into(prepare_image(img, cfg, path), cfg, dst);
}

Tensor preprocess_file(const std::string& path, const PreprocessConfig& cfg) {
  validate_preprocess_config(cfg);
  Tensor t(DType::kF32, preprocess_shape(cfg, 1));
  preprocess_file_into(path, cfg, t.data<float>());
  return t;
}

}  // namespace lapq
