// Image -> model input tensor, matching torchvision's eval transforms:
//
//   [Grayscale] -> Resize(S or (H,W), bilinear, antialias) -> CenterCrop(C)
//   -> ToTensor (x / scale) -> Normalize(mean, std) -> NCHW float32
//
// Resize has two bit-exact backends (docs/preprocessing.md):
//  - kPil:    PIL's Image.resize(BILINEAR) — what torchvision does to PIL
//             images (datasets.ImageFolder's default loader). Double weights,
//             22-bit fixed point, horizontal pass rounded to uint8, then vertical.
//  - kTensor: torchvision.transforms.functional.resize(uint8 tensor,
//             antialias=True) in torch 1.13 — float32 weights and sums,
//             horizontal then vertical, one round-half-even to uint8 at the end.
// Both use the triangle filter widened by the scale factor when downscaling
// (support = max(1, in/out)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "frontends/image/image.h"

namespace lapq {

enum class ColorMode { kRgb, kBgr, kGray };
enum class ResizeBackend { kPil, kTensor };

const char* color_mode_name(ColorMode c);
const char* resize_backend_name(ResizeBackend b);

// Preprocessing parameters of one model. Defaults: ImageNet eval
// (Resize 256, CenterCrop 224, ImageNet mean/std, RGB, PIL resize).
struct PreprocessConfig {
  // Model input [C,H,W]; C is 1 for kGray, 3 otherwise.
  int channels = 3;
  int height = 224;
  int width = 224;
  // Resize: resize_short > 0 scales the shorter side to it (torchvision
  // Resize(int)); resize_h/resize_w > 0 resize to exactly that size
  // (Resize((h, w))); all 0 = no resize.
  int resize_short = 256;
  int resize_h = 0;
  int resize_w = 0;
  // CenterCrop size; 0 = no crop (the image must then already have the
  // model's size, e.g. 32x32 CIFAR images).
  int crop_h = 224;
  int crop_w = 224;
  // Per output channel (in output order: B,G,R for kBgr).
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  std::vector<float> stddev{0.229f, 0.224f, 0.225f};
  ColorMode color = ColorMode::kRgb;
  float scale = 255.0f;  // ToTensor's divisor: x / scale
  ResizeBackend backend = ResizeBackend::kPil;
  std::string labels_path;  // class names file (resolved path), empty = none
  std::string source = "defaults";  // where this config came from, for messages

  bool has_resize() const { return resize_short > 0 || (resize_h > 0 && resize_w > 0); }
  bool has_crop() const { return crop_h > 0 && crop_w > 0; }
};

// Throws kInvalidArgument (naming cfg.source) when the config is inconsistent:
// channel count vs color, mean/std lengths, std <= 0, sizes out of range.
void validate_preprocess_config(const PreprocessConfig& cfg);
// One line describing the pipeline ("resize 256 (pil) -> crop 224x224 -> ...").
std::string describe_preprocess_config(const PreprocessConfig& cfg);
// Shape of a batch of n preprocessed images: [n, C, H, W].
Shape preprocess_shape(const PreprocessConfig& cfg, int64_t n);

// ---- Steps (exposed for tests and for callers that build their own pipeline)

struct Size2 {
  int h = 0;
  int w = 0;
  bool operator==(const Size2&) const = default;
};

// torchvision's Resize(size) output size: the shorter side becomes `size`,
// the longer int(size * long / short) (truncation).
Size2 shorter_side_resize_size(int h, int w, int size);

// Bilinear antialiased resize of every channel (see the backends above).
Image resize_bilinear_antialias(const Image& src, int out_h, int out_w, ResizeBackend backend);

// torchvision's CenterCrop window: top = int(round((H - crop_h) / 2.0)) with
// Python's round-half-to-even; when the crop is larger than the image the
// image is first zero-padded by (crop - size) // 2 before / the rest after, so
// top/left are negative.
struct CropWindow {
  int top = 0;
  int left = 0;
};
CropWindow center_crop_window(int h, int w, int crop_h, int crop_w);
Image center_crop(const Image& src, int crop_h, int crop_w);

// Color conversion + resize + crop: the uint8 image the model sees, before
// ToTensor/Normalize. Throws kShapeMismatch (naming `name`) when the result
// does not have the model's height and width.
Image prepare_image(const Image& src, const PreprocessConfig& cfg, const std::string& name = "<image>");

// Writes C*H*W floats (CHW, (x / scale - mean[c]) / std[c] in float32, as
// torchvision's ToTensor + Normalize compute them) for an image that already
// has the model's size and channel count.
void normalize_image_into(const Image& img, const PreprocessConfig& cfg, float* dst);

// Full pipeline for one image: returns [1, C, H, W] float32.
Tensor preprocess_image(const Image& src, const PreprocessConfig& cfg, const std::string& name = "<image>");
// Same into a caller's buffer of C*H*W floats (used by the batch loader).
void preprocess_image_into(const Image& src, const PreprocessConfig& cfg, float* dst,
                           const std::string& name = "<image>");
// Decode + full pipeline.
Tensor preprocess_file(const std::string& path, const PreprocessConfig& cfg);
void preprocess_file_into(const std::string& path, const PreprocessConfig& cfg, float* dst);

}  // namespace lapq
