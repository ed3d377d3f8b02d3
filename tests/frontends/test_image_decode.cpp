// Decoding: PNG/BMP exact, JPEG approximate, channel handling, and every bad
// input -> lapq::Error with the right code and the file name in the message.
#include <gtest/gtest.h>

#include <stb/stb_image_write.h>

#include <array>
#include <cstdlib>
#include <cstring>

#include "engine/error.h"
#include "frontends/image/image.h"
#include "test_image_util.h"

namespace lapq {
namespace {

const std::string kDataDir = std::string(LAPQ_SOURCE_DIR) + "/tests/frontends/data/preprocess/";

// Runs f, expects lapq::Error with `code` whose message contains `needle`.
template <class F>
void expect_error(F&& f, ErrorCode code, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error thrown (expected " << error_code_name(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

TEST(ImageDecode, PngAndBmpRoundTripExactly) {
  test::TempDir dir;
  for (int c : {1, 3}) {
    const Image src = test::pattern_image(17, 11, c, c);
    for (ImageFormat f : {ImageFormat::kPng, ImageFormat::kBmp}) {
      SCOPED_TRACE(std::string(image_format_name(f)) + " c=" + std::to_string(c));
      const std::string path = dir.file(std::string("a.") + image_format_name(f));
      write_image_file(path, src, f);
      const Image got = decode_image_file(path, DecodeChannels::kNative);
      // stb writes gray BMPs as 24-bit: native decodes them as RGB.
      EXPECT_EQ(got, (f == ImageFormat::kBmp ? to_rgb(src) : src));
      EXPECT_EQ(decode_image_file(path, DecodeChannels::kRgb), to_rgb(src));
      EXPECT_EQ(decode_image_memory(encode_image(src, f), DecodeChannels::kGray), to_gray(src));
    }
  }
}

TEST(ImageDecode, JpegIsClose) {
  // Smooth content so that a quality-95 JPEG stays within a few levels.
  Image src{32, 24, 3, std::vector<uint8_t>(32 * 24 * 3)};
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x) {
      src.at(y, x, 0) = static_cast<uint8_t>(x * 7);
      src.at(y, x, 1) = static_cast<uint8_t>(y * 9);
      src.at(y, x, 2) = static_cast<uint8_t>(128 + (x - y));
    }
  test::TempDir dir;
  const std::string path = dir.file("a.jpg");
  write_image_file(path, src, ImageFormat::kJpeg, 95);
  const Image got = decode_image_file(path);
  ASSERT_EQ(got.width, 32);
  ASSERT_EQ(got.height, 24);
  ASSERT_EQ(got.channels, 3);
  double sum = 0;
  int max_diff = 0;
  for (size_t i = 0; i < src.pixels.size(); ++i) {
    const int d = std::abs(int(got.pixels[i]) - int(src.pixels[i]));
    sum += d;
    max_diff = std::max(max_diff, d);
  }
  EXPECT_LT(sum / src.pixels.size(), 3.0);
  EXPECT_LT(max_diff, 24);
}

TEST(ImageDecode, GrayscaleExpandsAndRgbReducesWithPilLuma) {
  const Image gray = test::pattern_image(6, 5, 1);
  const Image rgb = to_rgb(gray);
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    EXPECT_EQ(rgb.pixels[3 * i], gray.pixels[i]);
    EXPECT_EQ(rgb.pixels[3 * i + 2], gray.pixels[i]);
  }
  EXPECT_EQ(to_gray(rgb), gray);  // 19595 + 38470 + 7471 = 65536: gray survives
  Image px{1, 1, 3, {255, 0, 0}};
  EXPECT_EQ(to_gray(px).pixels[0], 76);  // PIL: Image.new("RGB",(1,1),(255,0,0)).convert("L") -> 76
  px.pixels = {0, 255, 0};
  EXPECT_EQ(to_gray(px).pixels[0], 150);
  px.pixels = {0, 0, 255};
  EXPECT_EQ(to_gray(px).pixels[0], 29);
}

TEST(ImageDecode, AlphaIsDropped) {
  // RGBA and gray+alpha PNGs written directly with stb (lapq's encoder only
  // writes 1 or 3 channels).
  test::TempDir dir;
  const int w = 3, h = 2;
  std::vector<uint8_t> rgba(w * h * 4), ga(w * h * 2);
  for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = static_cast<uint8_t>(i * 11 + 3);
  for (size_t i = 0; i < ga.size(); ++i) ga[i] = static_cast<uint8_t>(i * 23 + 1);
  ASSERT_TRUE(stbi_write_png(dir.file("rgba.png").c_str(), w, h, 4, rgba.data(), w * 4));
  ASSERT_TRUE(stbi_write_png(dir.file("ga.png").c_str(), w, h, 2, ga.data(), w * 2));
  const Image a = decode_image_file(dir.file("rgba.png"), DecodeChannels::kNative);
  ASSERT_EQ(a.channels, 3);
  for (int p = 0; p < w * h; ++p)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(a.pixels[p * 3 + c], rgba[p * 4 + c]);
  const Image g = decode_image_file(dir.file("ga.png"), DecodeChannels::kNative);
  ASSERT_EQ(g.channels, 1);
  for (int p = 0; p < w * h; ++p) EXPECT_EQ(g.pixels[p], ga[p * 2]);
  const Image g3 = decode_image_file(dir.file("ga.png"));  // expanded to RGB
  ASSERT_EQ(g3.channels, 3);
  for (int p = 0; p < w * h; ++p) EXPECT_EQ(g3.pixels[p * 3 + 1], ga[p * 2]);
  // PIL-written gray+alpha fixture.
  const Image la = decode_image_file(kDataDir + "gray_alpha_5x6.png", DecodeChannels::kNative);
  const Image gray_src = decode_image_file(kDataDir + "gray_40x90.png", DecodeChannels::kNative);
  ASSERT_EQ(la.channels, 1);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(la.at(y, x, 0), gray_src.at(y, x, 0));
}

TEST(ImageDecode, SixteenBitPngKeepsHighByte) {
  const Image img = decode_image_file(kDataDir + "rgb16_2x2.png");
  ASSERT_EQ(img.channels, 3);
  // Written by tools/make_preprocess_golden.py.
  const std::vector<uint8_t> want = {0x00, 0x00, 0x01, 0x12, 0x80, 0xFF, 0xAB, 0x7F, 0x00, 0xFF, 0x00, 0x42};
  EXPECT_EQ(img.pixels, want);
}

TEST(ImageDecode, PalettePngDecodesToRgb) {
  const Image img = decode_image_file(kDataDir + "palette_8x8.png", DecodeChannels::kNative);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, test::read_bytes(kDataDir + "palette_8x8.rgb"));  // PIL's convert("RGB")
}

TEST(ImageDecode, MissingFileIsIoError) {
  expect_error([] { decode_image_file("/nonexistent/dir/cat.png"); }, ErrorCode::kIo, "/nonexistent/dir/cat.png");
  test::TempDir dir;
  expect_error([&] { decode_image_file(dir.path().string()); }, ErrorCode::kIo, dir.path().string());
}

TEST(ImageDecode, EmptyFile) {
  test::TempDir dir;
  const std::string path = dir.file("empty.png");
  test::write_bytes(path, {});
  expect_error([&] { decode_image_file(path); }, ErrorCode::kBadImage, path);
}

TEST(ImageDecode, UnsupportedFormat) {
  test::TempDir dir;
  const std::string path = dir.file("notes.txt");
  const std::string text = "hello, this is not an image";
  test::write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
  expect_error([&] { decode_image_file(path); }, ErrorCode::kBadImage, path);
  // GIF: stb could decode it, but lapq accepts JPEG/PNG/BMP only.
  const std::string gif = dir.file("a.gif");
  test::write_bytes(gif, {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0});
  expect_error([&] { decode_image_file(gif); }, ErrorCode::kBadImage, "not a JPEG, PNG or BMP");
}

TEST(ImageDecode, CorruptAndTruncated) {
  test::TempDir dir;
  const Image src = test::pattern_image(40, 30, 3);
  for (ImageFormat f : {ImageFormat::kPng, ImageFormat::kJpeg, ImageFormat::kBmp}) {
    SCOPED_TRACE(image_format_name(f));
    const std::vector<uint8_t> good = encode_image(src, f);
    // Truncated to a header only.
    const std::string trunc = dir.file(std::string("trunc.") + image_format_name(f));
    test::write_bytes(trunc, std::vector<uint8_t>(good.begin(), good.begin() + 40));
    expect_error([&] { decode_image_file(trunc); }, ErrorCode::kBadImage, trunc);
    // Cut at 90%: the pixel data ends early.
    const std::string cut = dir.file(std::string("cut.") + image_format_name(f));
    test::write_bytes(cut, std::vector<uint8_t>(good.begin(), good.begin() + good.size() * 9 / 10));
    expect_error([&] { decode_image_file(cut); }, ErrorCode::kBadImage, cut);
    // Header intact, payload overwritten.
    std::vector<uint8_t> bad = good;
    for (size_t i = 64; i < bad.size(); ++i) bad[i] = 0xFF;
    if (f == ImageFormat::kBmp) bad.resize(bad.size() / 2);  // BMP has no checksums: cut it instead
    const std::string corrupt = dir.file(std::string("corrupt.") + image_format_name(f));
    test::write_bytes(corrupt, bad);
    expect_error([&] { decode_image_file(corrupt); }, ErrorCode::kBadImage, corrupt);
  }
  // In-memory errors name the given source.
  const std::vector<uint8_t> junk = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0};
  expect_error([&] { decode_image_memory(junk, DecodeChannels::kRgb, "upload#3"); }, ErrorCode::kBadImage,
               "upload#3");
}

// A PNG header (signature + IHDR) claiming w x h, with a valid CRC.
std::vector<uint8_t> png_header(uint32_t w, uint32_t h) {
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  auto be32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
  };
  be32(w);
  be32(h);
  b.insert(b.end(), {8, 2, 0, 0, 0});  // 8-bit RGB
  uint32_t crc = 0xFFFFFFFFu;  // CRC-32 over "IHDR" + data
  for (size_t i = 12; i < b.size(); ++i) {
    crc ^= b[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  be32(~crc);
  return b;
}

TEST(ImageDecode, ZeroSizedAndHugeImages) {
  test::TempDir dir;
  const std::string zero = dir.file("zero.png");
  test::write_bytes(zero, png_header(0, 0));
  expect_error([&] { decode_image_file(zero); }, ErrorCode::kBadImage, zero);
  // 20000 x 1 claimed in a 33-byte file: refused by lapq's per-side limit
  // from the header, before any decoding.
  const std::string wide = dir.file("wide.png");
  test::write_bytes(wide, png_header(20000, 1));
  expect_error([&] { decode_image_file(wide); }, ErrorCode::kBadImage, "limit of 16384");
  // 20000 x 20000: stb's own header check already refuses it; the error must
  // still name the file.
  const std::string huge = dir.file("huge.png");
  test::write_bytes(huge, png_header(20000, 20000));
  expect_error([&] { decode_image_file(huge); }, ErrorCode::kBadImage, huge);
  // BMP with a 0 width.
  std::vector<uint8_t> bmp = encode_image(test::pattern_image(4, 4, 3), ImageFormat::kBmp);
  std::memset(&bmp[18], 0, 4);  // biWidth
  expect_error([&] { decode_image_memory(bmp, DecodeChannels::kRgb, "zero.bmp"); }, ErrorCode::kBadImage,
               "zero.bmp");
}

// A baseline 8x8 JPEG with 4 components of constant values `v` (one DC-only
// block each), written byte by byte: stb_image_write cannot write CMYK.
// adobe_transform < 0: no APP14 marker.
std::vector<uint8_t> four_component_jpeg(const std::array<int, 4>& v, int adobe_transform) {
  std::vector<uint8_t> b = {0xFF, 0xD8};
  auto seg = [&](uint8_t marker, std::vector<uint8_t> data) {
    b.insert(b.end(), {0xFF, marker, static_cast<uint8_t>((data.size() + 2) >> 8),
                       static_cast<uint8_t>(data.size() + 2)});
    b.insert(b.end(), data.begin(), data.end());
  };
  if (adobe_transform >= 0)
    seg(0xEE, {'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, static_cast<uint8_t>(adobe_transform)});
  std::vector<uint8_t> dqt(65, 1);
  dqt[0] = 0;  // 8-bit table 0
  dqt[1] = 8;  // DC step 8: a DC coefficient d decodes to 128 + d in every pixel
  seg(0xDB, dqt);
  seg(0xC0, {8, 0, 8, 0, 8, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0});
  // DC table: categories 0..8, all with 4-bit codes 0000..1000. AC table: EOB only, code "0".
  std::vector<uint8_t> dc = {0x00, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  seg(0xC4, dc);
  std::vector<uint8_t> ac(17, 0);
  ac[0] = 0x10;
  ac[1] = 1;
  ac.push_back(0x00);
  seg(0xC4, ac);
  seg(0xDA, {4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0});
  std::vector<int> bits;
  auto put = [&](uint32_t value, int n) {
    for (int i = n - 1; i >= 0; --i) bits.push_back((value >> i) & 1);
  };
  for (int c = 0; c < 4; ++c) {
    const int d = v[c] - 128;
    int cat = 0;
    while ((std::abs(d) >> cat) != 0) ++cat;
    put(static_cast<uint32_t>(cat), 4);
    if (cat) put(static_cast<uint32_t>(d > 0 ? d : d + (1 << cat) - 1), cat);
    put(0, 1);  // EOB
  }
  while (bits.size() % 8) bits.push_back(1);
  for (size_t i = 0; i < bits.size(); i += 8) {
    uint8_t byte = 0;
    for (int k = 0; k < 8; ++k) byte = static_cast<uint8_t>(byte << 1 | bits[i + k]);
    b.push_back(byte);
    if (byte == 0xFF) b.push_back(0x00);  // byte stuffing
  }
  b.insert(b.end(), {0xFF, 0xD9});
  return b;
}

TEST(ImageDecode, CmykJpegs) {
  // Adobe CMYK stores inverted ink: R = stored C * stored K / 255 (PIL's
  // convert("RGB") gives the same, +-1).
  const std::array<int, 4> v = {200, 100, 50, 255};
  const Image img = decode_image_memory(four_component_jpeg(v, 0), DecodeChannels::kRgb, "cmyk.jpg");
  ASSERT_EQ(img.width, 8);
  ASSERT_EQ(img.channels, 3);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(img.at(3, 5, c), v[c] * v[3] / 255.0, 1.0) << c;
  const Image dark = decode_image_memory(four_component_jpeg({200, 100, 50, 128}, 0), DecodeChannels::kRgb, "k.jpg");
  EXPECT_NEAR(dark.at(0, 0, 0), 200 * 128 / 255.0, 1.0);
  // YCCK (transform 2) decodes too.
  EXPECT_NO_THROW(decode_image_memory(four_component_jpeg(v, 2), DecodeChannels::kRgb, "ycck.jpg"));
  // Without the marker the color meaning is unknown: refused, not guessed.
  expect_error([&] { decode_image_memory(four_component_jpeg(v, -1), DecodeChannels::kRgb, "plain.jpg"); },
               ErrorCode::kBadImage, "JPEG image 'plain.jpg' has 4 color components (CMYK) without an Adobe");
  expect_error([&] { decode_image_memory(four_component_jpeg(v, 1), DecodeChannels::kRgb, "t1.jpg"); },
               ErrorCode::kBadImage, "(transform 1)");
}

TEST(ImageDecode, MutatedFilesNeverCrash) {
  // Deterministic byte mutations of valid files: each must decode or throw
  // lapq::Error(kBadImage); run under LAPQ_SANITIZE to catch memory errors.
  const Image src = test::pattern_image(23, 17, 3, 11);
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  int decoded = 0, rejected = 0;
  for (ImageFormat f : {ImageFormat::kPng, ImageFormat::kJpeg, ImageFormat::kBmp}) {
    const std::vector<uint8_t> good = encode_image(src, f, 80);
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> bad = good;
      const int edits = 1 + next() % 4;
      for (int e = 0; e < edits; ++e) bad[next() % bad.size()] = static_cast<uint8_t>(next() >> 24);
      if (next() % 4 == 0) bad.resize(next() % bad.size() + 1);
      try {
        const Image img = decode_image_memory(bad, DecodeChannels::kRgb, "mutant");
        ASSERT_EQ(img.pixels.size(), static_cast<size_t>(img.width) * img.height * 3);
        ++decoded;
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), ErrorCode::kBadImage) << e.what();
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(decoded, 0);  // many mutations only touch pixel data
}

}  // namespace
}  // namespace lapq
