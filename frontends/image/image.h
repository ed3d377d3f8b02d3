// Image decoding and encoding (stb_image / stb_image_write underneath).
//
// An Image is 8-bit, interleaved (HWC), with 1 (gray) or 3 (RGB) channels.
// Decoding accepts JPEG, PNG and BMP only (recognised by their magic bytes,
// so a corrupt file is never mistaken for a TGA, which has none). Alpha is
// dropped (not composited, as PIL's convert("RGB") does), 16-bit PNG samples
// keep their high byte, grayscale is expanded to RGB unless 1 channel is asked
// for, and RGB is reduced to gray with PIL's convert("L") luma formula.
// CMYK / YCCK JPEGs with Adobe's marker (what Photoshop writes) decode to RGB
// as PIL's convert("RGB") does; 4-component JPEGs without it are refused.
// Every failure is a lapq::Error naming the file: kIo when the file cannot be
// read, kBadImage when its content is not a decodable image within the limits.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lapq {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;             // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;  // (height, width, channels) row-major

  uint8_t at(int y, int x, int c) const { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  uint8_t& at(int y, int x, int c) { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  bool operator==(const Image&) const = default;
};

// Largest width or height accepted; checked from the header before any pixel
// is decoded, so a 20-byte file claiming 100000x100000 costs nothing.
inline constexpr int kMaxImageSide = 16384;

// Channel request for decoding.
enum class DecodeChannels {
  kRgb,     // always 3 channels (gray expanded)
  kGray,    // always 1 channel (color reduced with PIL's luma)
  kNative,  // 1 for gray / gray+alpha files, 3 otherwise
};

enum class ImageFormat { kJpeg, kPng, kBmp };
const char* image_format_name(ImageFormat f);

// Decodes a JPEG/PNG/BMP file. `path` is named in every error.
Image decode_image_file(const std::string& path, DecodeChannels want = DecodeChannels::kRgb);
// Decodes encoded bytes; `name` stands for the source in error messages.
Image decode_image_memory(std::span<const uint8_t> bytes, DecodeChannels want = DecodeChannels::kRgb,
                          const std::string& name = "<memory>");

// Channel conversions. to_gray uses PIL's integer ITU-R 601-2 luma:
// L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
Image to_gray(const Image& src);
Image to_rgb(const Image& src);  // gray replicated to 3 channels; RGB copied

// Encoding (used by the Fashion-MNIST exporter and by tests that make
// fixtures). jpeg_quality in [1, 100]. Throws kIo / kInvalidArgument.
std::vector<uint8_t> encode_image(const Image& img, ImageFormat format, int jpeg_quality = 95);
void write_image_file(const std::string& path, const Image& img, ImageFormat format, int jpeg_quality = 95);

// Reads a whole file; kIo naming the file on failure.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace lapq
