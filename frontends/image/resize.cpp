// Separable bilinear resize with antialiasing, reproducing two references bit
// for bit (learned from their sources, reimplemented here):
//
// PIL (libImaging/Resample.c, ImagingResample with BILINEAR):
//   scale = in / out; filterscale = max(scale, 1); support = 1 * filterscale
//   for output i: center = (i + 0.5) * scale
//                 xmin = max(int(center - support + 0.5), 0)
//                 xmax = min(int(center + support + 0.5), in)
//                 w[j] = tri((xmin + j - center + 0.5) / filterscale), normalised to sum 1
//   all in double; weights become int32 with 22 fractional bits (rounded half
//   away from zero); each pass sums pixel * w from 2^21 and keeps >> 22
//   clamped to [0, 255]. Horizontal pass first (to uint8), then vertical; a
//   pass whose size does not change is skipped.
//
// torch 1.13 (ATen upsample_bilinear2d with antialias=True on float32, which
// torchvision's resize uses after casting uint8 to float):
//   the same formulas evaluated with float32 variables (the expressions mix
//   float and double exactly as below, so the weights are bit-identical to
//   torch's); sums in float32 in order j = 0..n-1; width pass then height
//   pass, no rounding between them; finally torch.round (half to even) to
//   uint8. torch's compiled kernel contracts some of its multiply-adds into
//   FMAs (build-dependent: measured on Debian's torch 1.13, filters of <= 4
//   taps use FMA, longer ones mostly not), so its float sums can differ from
//   these by an ulp; the uint8 results then differ by 1 only where the sum
//   sits on a .5 tie (upscaling by simple ratios makes exact ties common).
//   We keep the plain source semantics rather than imitate one build.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "frontends/image/preprocess.h"

namespace lapq {
namespace {

// Weights of one axis: output i reads in[start[i] .. start[i] + count[i]).
template <class W>
struct AxisWeights {
  int ksize = 0;
  std::vector<int> start;
  std::vector<int> count;
  std::vector<W> w;  // (out, ksize)
};

// ---- PIL ----

inline double pil_triangle(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

constexpr int kPilPrecisionBits = 32 - 8 - 2;

AxisWeights<int32_t> pil_axis_weights(int in_size, int out_size) {
  AxisWeights<int32_t> a;
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  a.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  a.start.resize(out_size);
  a.count.resize(out_size);
  a.w.assign(static_cast<size_t>(out_size) * a.ksize, 0);
  std::vector<double> k(a.ksize);
  for (int i = 0; i < out_size; ++i) {
    const double center = 0.0 + (i + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = pil_triangle((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
      // Fixed point, rounded half away from zero (weights are >= 0 here).
      const double f = k[x] * (1 << kPilPrecisionBits);
      a.w[static_cast<size_t>(i) * a.ksize + x] = static_cast<int32_t>(f < 0 ? -0.5 + f : 0.5 + f);
    }
    a.start[i] = xmin;
    a.count[i] = xmax;
  }
  return a;
}

inline uint8_t pil_clip8(int32_t acc) {
  const int32_t v = acc >> kPilPrecisionBits;  // arithmetic shift, as in PIL
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// PIL horizontal pass: each output pixel sums its taps along the row, all
// channels at once. Integer sums, so the order of the terms is free.
Image pil_horizontal(const Image& src, int out_w) {
  const int C = src.channels, H = src.height, W = src.width;
  const AxisWeights<int32_t> a = pil_axis_weights(W, out_w);
  Image dst{out_w, H, C, std::vector<uint8_t>(static_cast<size_t>(out_w) * H * C)};
  for (int y = 0; y < H; ++y) {
    const uint8_t* row = &src.pixels[static_cast<size_t>(y) * W * C];
    uint8_t* out = &dst.pixels[static_cast<size_t>(y) * out_w * C];
    for (int x = 0; x < out_w; ++x) {
      const int32_t* k = &a.w[static_cast<size_t>(x) * a.ksize];
      const uint8_t* p = row + static_cast<size_t>(a.start[x]) * C;
      int32_t acc[3] = {1 << (kPilPrecisionBits - 1), 1 << (kPilPrecisionBits - 1), 1 << (kPilPrecisionBits - 1)};
      for (int j = 0; j < a.count[x]; ++j)
        for (int c = 0; c < C; ++c) acc[c] += static_cast<int32_t>(p[j * C + c]) * k[j];
      for (int c = 0; c < C; ++c) out[x * C + c] = pil_clip8(acc[c]);
    }
  }
  return dst;
}

// PIL vertical pass: each output row is a weighted sum of input rows, done a
// whole row at a time (contiguous, vectorizable).
Image pil_vertical(const Image& src, int out_h) {
  const int C = src.channels, W = src.width;
  const size_t row_len = static_cast<size_t>(W) * C;
  const AxisWeights<int32_t> a = pil_axis_weights(src.height, out_h);
  Image dst{W, out_h, C, std::vector<uint8_t>(row_len * out_h)};
  std::vector<int32_t> acc(row_len);
  for (int y = 0; y < out_h; ++y) {
    const int32_t* k = &a.w[static_cast<size_t>(y) * a.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPilPrecisionBits - 1));
    for (int j = 0; j < a.count[y]; ++j) {
      const uint8_t* in = &src.pixels[(a.start[y] + j) * row_len];
      const int32_t kj = k[j];
      for (size_t i = 0; i < row_len; ++i) acc[i] += static_cast<int32_t>(in[i]) * kj;
    }
    uint8_t* out = &dst.pixels[y * row_len];
    for (size_t i = 0; i < row_len; ++i) out[i] = pil_clip8(acc[i]);
  }
  return dst;
}

Image resize_pil(const Image& src, int out_h, int out_w) {
  if (out_w == src.width) return pil_vertical(src, out_h);
  if (out_h == src.height) return pil_horizontal(src, out_w);
  return pil_vertical(pil_horizontal(src, out_w), out_h);
}

// ---- torch ----

inline float torch_triangle(float x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;  // computed in double, rounded to float on return
  return 0.0;
}

// Variable types (float) and the double literals below mirror ATen's
// _compute_indices_weights_aa / _compute_weights_aa with scalar_t = float, so
// every intermediate rounds exactly where torch's does.
AxisWeights<float> torch_axis_weights(int64_t in_size, int64_t out_size) {
  AxisWeights<float> a;
  const float scale = static_cast<float>(in_size) / out_size;
  const int interp_size = 2;  // bilinear
  const float support = (scale >= 1.0) ? (interp_size * 0.5) * scale : interp_size * 0.5;
  a.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  a.start.resize(out_size);
  a.count.resize(out_size);
  a.w.assign(static_cast<size_t>(out_size) * a.ksize, 0.0f);
  for (int64_t i = 0; i < out_size; ++i) {
    const float center = scale * (i + 0.5);
    const float invscale = (scale >= 1.0) ? 1.0 / scale : 1.0;
    const int64_t xmin = std::max(static_cast<int64_t>(center - support + 0.5), int64_t{0});
    const int64_t xsize = std::min(static_cast<int64_t>(center + support + 0.5), in_size) - xmin;
    float* w = &a.w[static_cast<size_t>(i) * a.ksize];
    float total = 0.0;
    for (int64_t j = 0; j < xsize; ++j) {
      w[j] = torch_triangle((j + xmin - center + 0.5) * invscale);
      total += w[j];
    }
    for (int64_t j = 0; j < xsize; ++j)
      if (total != 0.0) w[j] /= total;
    a.start[i] = static_cast<int>(xmin);
    a.count[i] = static_cast<int>(xsize);
  }
  return a;
}

// Horizontal pass on (C, H, W) float planes. Each output value is summed
// tap by tap in order j = 0..n-1 (float sums: the order is part of the result).
void torch_horizontal(const std::vector<float>& src, int C, int H, int in_w, std::vector<float>& dst, int out_w) {
  const AxisWeights<float> a = torch_axis_weights(in_w, out_w);
  dst.assign(static_cast<size_t>(C) * H * out_w, 0.0f);
  for (size_t r = 0; r < static_cast<size_t>(C) * H; ++r) {
    const float* row = &src[r * in_w];
    float* out = &dst[r * out_w];
    for (int x = 0; x < out_w; ++x) {
      const float* k = &a.w[static_cast<size_t>(x) * a.ksize];
      const float* p = row + a.start[x];
      float acc = p[0] * k[0];
      for (int j = 1; j < a.count[x]; ++j) acc += p[j] * k[j];
      out[x] = acc;
    }
  }
}

// Vertical pass, a whole row at a time; per element the same ordered sum.
void torch_vertical(const std::vector<float>& src, int C, int in_h, int W, std::vector<float>& dst, int out_h) {
  const AxisWeights<float> a = torch_axis_weights(in_h, out_h);
  dst.assign(static_cast<size_t>(C) * out_h * W, 0.0f);
  for (int c = 0; c < C; ++c) {
    const float* plane = &src[static_cast<size_t>(c) * in_h * W];
    for (int y = 0; y < out_h; ++y) {
      const float* k = &a.w[static_cast<size_t>(y) * a.ksize];
      float* out = &dst[(static_cast<size_t>(c) * out_h + y) * W];
      const float* r0 = plane + static_cast<size_t>(a.start[y]) * W;
      for (int x = 0; x < W; ++x) out[x] = r0[x] * k[0];
      for (int j = 1; j < a.count[y]; ++j) {
        const float* rj = r0 + static_cast<size_t>(j) * W;
        const float kj = k[j];
        for (int x = 0; x < W; ++x) out[x] += rj[x] * kj;
      }
    }
  }
}

Image resize_torch(const Image& src, int out_h, int out_w) {
  const int C = src.channels;
  const size_t in_plane = static_cast<size_t>(src.height) * src.width;
  std::vector<float> planes(in_plane * C);
  for (size_t p = 0; p < in_plane; ++p)
    for (int c = 0; c < C; ++c) planes[c * in_plane + p] = src.pixels[p * C + c];
  std::vector<float> tmp, out;
  torch_horizontal(planes, C, src.height, src.width, tmp, out_w);
  torch_vertical(tmp, C, src.height, out_w, out, out_h);
  Image dst{out_w, out_h, C, std::vector<uint8_t>(static_cast<size_t>(out_w) * out_h * C)};
  const size_t out_plane = static_cast<size_t>(out_h) * out_w;
  for (size_t p = 0; p < out_plane; ++p) {
    for (int c = 0; c < C; ++c) {
      // torch.round: half to even (the default rounding mode), then uint8.
      const float r = std::nearbyint(out[c * out_plane + p]);
      dst.pixels[p * C + c] = static_cast<uint8_t>(std::clamp(r, 0.0f, 255.0f));
    }
  }
  return dst;
}

}  // namespace

Image resize_bilinear_antialias(const Image& src, int out_h, int out_w, ResizeBackend backend) {
  LAPQ_CHECK(src.width > 0 && src.height > 0 && (src.channels == 1 || src.channels == 3), ErrorCode::kInvalidArgument,
             "resize: invalid source image ", src.width, "x", src.height, "x", src.channels);
  LAPQ_CHECK(out_h > 0 && out_w > 0 && out_h <= kMaxImageSide && out_w <= kMaxImageSide,
             ErrorCode::kInvalidArgument, "resize: output size ", out_h, "x", out_w, " outside [1, ", kMaxImageSide,
             "]");
  if (out_h == src.height && out_w == src.width) return src;  // torchvision returns the image unchanged
  return backend == ResizeBackend::kPil ? resize_pil(src, out_h, out_w) : resize_torch(src, out_h, out_w);
}

}  // namespace lapq
