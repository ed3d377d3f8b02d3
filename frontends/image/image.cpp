#include "frontends/image/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "engine/error.h"

namespace lapq {
namespace {

const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

// Recognises the three accepted formats by their magic bytes.
bool sniff_format(std::span<const uint8_t> b, ImageFormat* out) {
  static constexpr uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) { *out = ImageFormat::kJpeg; return true; }
  if (b.size() >= 8 && std::memcmp(b.data(), kPng, 8) == 0) { *out = ImageFormat::kPng; return true; }
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') { *out = ImageFormat::kBmp; return true; }
  return false;
}

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

// PIL's ImagingConvert RGB -> L (libImaging/Convert.c, L24 macro): 16-bit
// fixed-point ITU-R 601-2 luma with rounding.
inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

uint32_t le32(std::span<const uint8_t> b, size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}

// stb reads past the end of a BMP as zeros; refuse a truncated uncompressed
// BMP instead of returning a partly black image.
void check_bmp_size(std::span<const uint8_t> b, const std::string& name) {
  LAPQ_CHECK(b.size() >= 54, ErrorCode::kBadImage, "BMP image '", name, "' is truncated (", b.size(),
             " bytes, header needs 54)");
  const uint32_t offset = le32(b, 10), header = le32(b, 14), compression = le32(b, 30);
  const int64_t width = static_cast<int32_t>(le32(b, 18)), height = static_cast<int32_t>(le32(b, 22));
  const int bits = b[28] | (b[29] << 8);
  if (header < 40 || (compression != 0 && compression != 3)) return;  // old or RLE BMPs: leave them to stb
  const int64_t row = (width * bits + 31) / 32 * 4;
  const int64_t need = static_cast<int64_t>(offset) + row * (height < 0 ? -height : height);
  LAPQ_CHECK(static_cast<int64_t>(b.size()) >= need, ErrorCode::kBadImage, "BMP image '", name, "' is truncated (",
             b.size(), " bytes, its header needs ", need, ")");
}

// A JPEG's frame component count and Adobe APP14 color transform (-1: no
// marker), read from the markers before the first scan. Malformed marker
// structure is left to stb (which names it).
struct JpegColor {
  int components = 0;
  int adobe_transform = -1;
};
JpegColor jpeg_color(std::span<const uint8_t> b) {
  JpegColor c;
  size_t at = 2;  // after SOI
  while (at + 4 <= b.size() && b[at] == 0xFF) {
    const uint8_t m = b[at + 1];
    if (m == 0xFF) { ++at; continue; }  // fill byte
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { at += 2; continue; }  // markers without a length
    const size_t len = static_cast<size_t>(b[at + 2]) << 8 | b[at + 3];
    if (len < 2 || at + 2 + len > b.size()) break;
    const uint8_t* d = b.data() + at + 4;  // segment data, len - 2 bytes
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof && len >= 8) c.components = d[5];
    if (m == 0xEE && len >= 14 && std::memcmp(d, "Adobe", 5) == 0) c.adobe_transform = d[11];
    if (m == 0xDA) break;  // start of scan: no more frame markers before the data
    at += 2 + len;
  }
  return c;
}

// stb decodes 4-component JPEGs as Adobe writes them (APP14 transform 0:
// inverted CMYK, 2: YCCK) to RGB, as PIL's convert("RGB") does; without that
// marker it would read the first three components as YCbCr and return wrong
// colours silently, so such files are refused.
void check_jpeg_color(std::span<const uint8_t> b, const std::string& name) {
  const JpegColor c = jpeg_color(b);
  LAPQ_CHECK(c.components != 4 || c.adobe_transform == 0 || c.adobe_transform == 2, ErrorCode::kBadImage,
             "JPEG image '", name, "' has 4 color components (CMYK) without an Adobe CMYK / YCCK marker",
             (c.adobe_transform < 0 ? "" : detail::cat(" (transform ", c.adobe_transform, ")")),
             "; its colors cannot be decoded reliably: convert it to RGB");
}

}  // namespace

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kBmp: return "BMP";
  }
  return "?";
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  LAPQ_CHECK(std::filesystem::exists(status), ErrorCode::kIo, "file '", path, "' does not exist");
  LAPQ_CHECK(!std::filesystem::is_directory(status), ErrorCode::kIo, "'", path, "' is a directory, not a file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  LAPQ_CHECK(in.good(), ErrorCode::kIo, "cannot open '", path, "': ", std::strerror(errno));
  const std::streamoff size = in.tellg();
  LAPQ_CHECK(size >= 0, ErrorCode::kIo, "cannot read '", path, "' (not a regular file?)");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
  LAPQ_CHECK(in.good() || size == 0, ErrorCode::kIo, "error reading '", path, "'");
  return bytes;
}

Image decode_image_file(const std::string& path, DecodeChannels want) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image_memory(bytes, want, path);
}

Image decode_image_memory(std::span<const uint8_t> bytes, DecodeChannels want, const std::string& name) {
  LAPQ_CHECK(!bytes.empty(), ErrorCode::kBadImage, "image '", name, "' is empty (0 bytes)");
  LAPQ_CHECK(bytes.size() <= static_cast<size_t>(INT32_MAX), ErrorCode::kBadImage, "image '", name,
             "' is larger than 2 GiB");
  ImageFormat fmt;
  LAPQ_CHECK(sniff_format(bytes, &fmt), ErrorCode::kBadImage, "image '", name,
             "' is not a JPEG, PNG or BMP file (unrecognised header)");
  const int len = static_cast<int>(bytes.size());

  // Dimensions from the header first: refuse absurd sizes before allocating.
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &comp)) {
    // stbi_info tries every format and leaves the last one's complaint
    // ("unknown image type"); the loader stops at the same header check with
    // the specific reason (e.g. "0-pixel image", "too large").
    stbi_image_free(stbi_load_from_memory(bytes.data(), len, &w, &h, &comp, 0));
    throw Error(ErrorCode::kBadImage, detail::cat("cannot read the ", image_format_name(fmt), " header of '", name,
                                                  "': ", stb_reason()));
  }
  LAPQ_CHECK(w > 0 && h > 0, ErrorCode::kBadImage, "image '", name, "' has no pixels (", w, "x", h, ")");
  LAPQ_CHECK(w <= kMaxImageSide && h <= kMaxImageSide, ErrorCode::kBadImage, "image '", name, "' is ", w, "x", h,
             ", above lapq's limit of ", kMaxImageSide, " pixels per side");

  if (fmt == ImageFormat::kBmp) check_bmp_size(bytes, name);
  if (fmt == ImageFormat::kJpeg) check_jpeg_color(bytes, name);

  // Native channel count: palette PNGs report 1 channel in the header but
  // decode to RGB(A), so the conversion is decided from the decoded result.
  int dw = 0, dh = 0, dc = 0;
  std::unique_ptr<stbi_uc, StbFree> data(stbi_load_from_memory(bytes.data(), len, &dw, &dh, &dc, 0));
  LAPQ_CHECK(data != nullptr, ErrorCode::kBadImage, "cannot decode ", image_format_name(fmt), " image '", name,
             "': ", stb_reason());
  LAPQ_CHECK(dw == w && dh == h && dc >= 1 && dc <= 4, ErrorCode::kBadImage, "image '", name,
             "' decoded to an inconsistent size ", dw, "x", dh, "x", dc);

  const bool src_gray = dc <= 2;  // 1 = gray, 2 = gray+alpha, 3 = RGB, 4 = RGBA
  int out_c = 3;
  if (want == DecodeChannels::kGray || (want == DecodeChannels::kNative && src_gray)) out_c = 1;

  Image img;
  img.width = w;
  img.height = h;
  img.channels = out_c;
  const size_t npix = static_cast<size_t>(w) * h;
  img.pixels.resize(npix * out_c);
  const stbi_uc* src = data.get();
  uint8_t* dst = img.pixels.data();
  for (size_t i = 0; i < npix; ++i, src += dc) {
    if (src_gray) {
      if (out_c == 1) dst[i] = src[0];
      else dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[0];
    } else if (out_c == 1) {
      dst[i] = luma(src[0], src[1], src[2]);
    } else {
      dst[3 * i] = src[0];
      dst[3 * i + 1] = src[1];
      dst[3 * i + 2] = src[2];
    }
  }
  return img;
}

Image to_gray(const Image& src) {
  LAPQ_CHECK(src.channels == 1 || src.channels == 3, ErrorCode::kInvalidArgument, "to_gray: image with ",
             src.channels, " channels");
  if (src.channels == 1) return src;
  Image out{src.width, src.height, 1, {}};
  const size_t npix = static_cast<size_t>(src.width) * src.height;
  out.pixels.resize(npix);
  for (size_t i = 0; i < npix; ++i)
    out.pixels[i] = luma(src.pixels[3 * i], src.pixels[3 * i + 1], src.pixels[3 * i + 2]);
  return out;
}

Image to_rgb(const Image& src) {
  LAPQ_CHECK(src.channels == 1 || src.channels == 3, ErrorCode::kInvalidArgument, "to_rgb: image with ",
             src.channels, " channels");
  if (src.channels == 3) return src;
  Image out{src.width, src.height, 3, {}};
  const size_t npix = static_cast<size_t>(src.width) * src.height;
  out.pixels.resize(npix * 3);
  for (size_t i = 0; i < npix; ++i) out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = src.pixels[i];
  return out;
}

std::vector<uint8_t> encode_image(const Image& img, ImageFormat format, int jpeg_quality) {
  LAPQ_CHECK(img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3) &&
                 img.pixels.size() == static_cast<size_t>(img.width) * img.height * img.channels,
             ErrorCode::kInvalidArgument, "encode_image: invalid image ", img.width, "x", img.height, "x",
             img.channels, " with ", img.pixels.size(), " bytes");
  LAPQ_CHECK(jpeg_quality >= 1 && jpeg_quality <= 100, ErrorCode::kInvalidArgument,
             "encode_image: JPEG quality ", jpeg_quality, " outside [1, 100]");
  std::vector<uint8_t> out;
  auto sink = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    const auto* p = static_cast<const uint8_t*>(data);
    v->insert(v->end(), p, p + size);
  };
  int ok = 0;
  switch (format) {
    case ImageFormat::kPng:
      ok = stbi_write_png_to_func(sink, &out, img.width, img.height, img.channels, img.pixels.data(),
                                  img.width * img.channels);
      break;
    case ImageFormat::kBmp:
      ok = stbi_write_bmp_to_func(sink, &out, img.width, img.height, img.channels, img.pixels.data());
      break;
    case ImageFormat::kJpeg:
      ok = stbi_write_jpg_to_func(sink, &out, img.width, img.height, img.channels, img.pixels.data(), jpeg_quality);
      break;
  }
  LAPQ_CHECK(ok && !out.empty(), ErrorCode::kInternal, "stb_image_write failed to encode a ", img.width, "x",
             img.height, " ", image_format_name(format));
  return out;
}

void write_image_file(const std::string& path, const Image& img, ImageFormat format, int jpeg_quality) {
  const std::vector<uint8_t> bytes = encode_image(img, format, jpeg_quality);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  LAPQ_CHECK(out.good(), ErrorCode::kIo, "cannot create '", path, "': ", std::strerror(errno));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  LAPQ_CHECK(out.good(), ErrorCode::kIo, "error writing '", path, "'");
}

}  // namespace lapq
