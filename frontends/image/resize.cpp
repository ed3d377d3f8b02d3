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

// One PIL pass along x (horizontal = true) or y, all channels.
Image pil_pass(const Image& src, int out_h, int out_w, bool horizontal) {
  const int C = src.channels;
  const AxisWeights<int32_t> a =
      horizontal ? pil_axis_weights(src.width, out_w) : pil_axis_weights(src.height, out_h);
  Image dst{out_w, out_h, C, std::vector<uint8_t>(static_cast<size_t>(out_w) * out_h * C)};
  for (int y = 0; y < out_h; ++y) {
    for (int x = 0; x < out_w; ++x) {
      const int i = horizontal ? x : y;
      const int32_t* k = &a.w[static_cast<size_t>(i) * a.ksize];
      for (int c = 0; c < C; ++c) {
        int32_t acc = 1 << (kPilPrecisionBits - 1);
        for (int j = 0; j < a.count[i]; ++j) {
          const uint8_t v = horizontal ? src.at(y, a.start[i] + j, c) : src.at(a.start[i] + j, x, c);
          acc += static_cast<int32_t>(v) * k[j];
        }
        dst.at(y, x, c) = pil_clip8(acc);
      }
    }
  }
  return dst;
}

Image resize_pil(const Image& src, int out_h, int out_w) {
  Image cur = src;
  if (out_w != src.width) cur = pil_pass(cur, cur.height, out_w, /*horizontal=*/true);
  if (out_h != src.height) cur = pil_pass(cur, out_h, cur.width, /*horizontal=*/false);
  return cur;
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

// src/dst planes: (C, H, W) float.
void torch_pass(const std::vector<float>& src, int C, int in_h, int in_w, std::vector<float>& dst, int out_h,
                int out_w, bool horizontal) {
  const AxisWeights<float> a = horizontal ? torch_axis_weights(in_w, out_w) : torch_axis_weights(in_h, out_h);
  dst.assign(static_cast<size_t>(C) * out_h * out_w, 0.0f);
  for (int c = 0; c < C; ++c) {
    const float* s = &src[static_cast<size_t>(c) * in_h * in_w];
    float* d = &dst[static_cast<size_t>(c) * out_h * out_w];
    for (int y = 0; y < out_h; ++y) {
      for (int x = 0; x < out_w; ++x) {
        const int i = horizontal ? x : y;
        const float* k = &a.w[static_cast<size_t>(i) * a.ksize];
        const int stride = horizontal ? 1 : in_w;
        const float* p = horizontal ? s + static_cast<size_t>(y) * in_w + a.start[i]
                                    : s + static_cast<size_t>(a.start[i]) * in_w + x;
        float acc = p[0] * k[0];
        for (int j = 1; j < a.count[i]; ++j) acc += p[static_cast<size_t>(j) * stride] * k[j];
        d[static_cast<size_t>(y) * out_w + x] = acc;
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
  torch_pass(planes, C, src.height, src.width, tmp, src.height, out_w, /*horizontal=*/true);
  torch_pass(tmp, C, src.height, out_w, out, out_h, out_w, /*horizontal=*/false);
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
