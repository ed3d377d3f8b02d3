// Depthwise 3x3 (MobileNetV2's layers) against conv_reference, bit for bit, over
// the sizes where the depthwise row kernels change code path: channel counts
// around the 64-channel blocks and the <= 32-channel two-outputs-per-zmm blocks
// (8 .. 144), stride 1 and 2, output widths 1 .. 17 (odd / even: the stride-2
// kernels pair outputs and split a row into two halves), heights 1 .. 6 (row
// pairs and a single last row), pad 0 / 1 (taps in the padding read za), za and the
// output zero point / clamp at their ends, f32 output with weight zero points.
// Run under every LAPQ_MAX_ISA cap like the other kernel tests.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/conv.h"
#include "kernels/reference.h"

using namespace lapq;

namespace {

struct DwCase {
  int C, stride, pad, H, W;
  int32_t za, zp, qmin, qmax;
  bool f32, wzp;
  int KH = 3, KW = 3, dil_w = 1;
};

void check(const DwCase& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "C=" << c.C << " K=" << c.KH << "x" << c.KW << " dil_w=" << c.dil_w << " stride=" << c.stride << " pad=" << c.pad << " H=" << c.H
                                    << " W=" << c.W << " za=" << c.za << " zp=" << c.zp << " q=[" << c.qmin << ","
                                    << c.qmax << "] f32=" << c.f32 << " wzp=" << c.wzp);
  ConvParams p;
  p.IC = p.OC = p.groups = c.C;
  p.KH = c.KH, p.KW = c.KW, p.dilation_w = c.dil_w;
  p.stride_h = p.stride_w = c.stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = c.pad;
  const int OH = p.out_h(c.H), OW = p.out_w(c.W);
  if (OH < 1 || OW < 1) return;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> wd(-128, 127), ad(0, 255), bd(-20000, 20000);
  std::uniform_real_distribution<float> sd(0.0005f, 0.004f), zd(-1.5f, 1.5f), fb(-30.f, 30.f);
  std::vector<int8_t> wei(size_t(c.C) * c.KH * c.KW);
  for (auto& v : wei) v = static_cast<int8_t>(wd(rng));
  std::vector<int32_t> bias(c.C);
  for (auto& v : bias) v = bd(rng);
  std::vector<float> scale(c.C), wzp(c.C), fbias(c.C);
  for (int i = 0; i < c.C; ++i) scale[i] = sd(rng), wzp[i] = zd(rng), fbias[i] = fb(rng);
  std::vector<uint8_t> src(size_t(c.H) * c.W * c.C);
  for (auto& v : src) v = static_cast<uint8_t>(ad(rng));
  ConvWeights w;
  w.wei = wei.data(), w.bits = 8, w.bias = bias.data(), w.src_zero_point = c.za;
  w.wei_zero_point = c.wzp ? wzp.data() : nullptr;
  PackedConv conv(p, w);
  const size_t out = size_t(OH) * OW * c.C;
  if (c.f32) {
    const DequantF32 q{scale.data(), fbias.data()};
    std::vector<float> got(out, -7.f), want(out);
    conv.run(src.data(), 1, c.H, c.W, got.data(), q);
    conv_reference(p, w, src.data(), 1, c.H, c.W, want.data(), q);
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), out * sizeof(float))) << conv.kernel_name();
  } else {
    const RequantU8 q{scale.data(), nullptr, c.zp, c.qmin, c.qmax};
    std::vector<uint8_t> got(out, 0xA5), want(out);
    conv.run(src.data(), 1, c.H, c.W, got.data(), q);
    conv_reference(p, w, src.data(), 1, c.H, c.W, want.data(), q);
    ASSERT_EQ(got, want) << conv.kernel_name();
  }
}

TEST(Depthwise3x3, EveryBlockShapeWidthAndHeightMatchesTheReference) {
  // One thread: ~3000 tiny convolutions, where a parallel region per run would
  // cost more than the test (thread counts: MobileNetV2ShapesMatchTheReference).
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  uint32_t seed = 1;
  for (int C : {8, 16, 24, 32, 40, 64, 72, 96, 144})
    for (int stride : {1, 2})
      for (int W : {1, 2, 3, 4, 5, 6, 7, 9, 14, 17})
        for (int H : {1, 2, 3, 6}) {
          const int pad = (W + H + C) % 5 == 0 ? 0 : 1;
          const int v = seed % 3;
          // u8: za 0 / 128 / 255 with zp 0 .. 255 and a clamp on one side or both;
          // f32 with weight zero points.
          check({C, stride, pad, H, W, v == 0 ? 0 : v == 1 ? 128 : 255, v == 2 ? 255 : 100, v == 0 ? 0 : 90,
                 v == 1 ? 255 : 180, false, false},
                seed);
          check({C, stride, pad, H, W, 37, 0, 0, 255, true, true}, seed + 100000);
          ++seed;
        }
  omp_set_num_threads(threads);
}

// Kernel heights 1, 2, 4 with KW = 3 take the 3x3 kernels' paths (rows past KH read
// za with weight 0); 5x3 and dilation_w = 2 take the general row kernel.
TEST(Depthwise3x3, OtherKernelHeightsAndDilationMatchTheReference) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  uint32_t seed = 9000;
  for (int KH : {1, 2, 4, 5})
    for (int C : {24, 64, 96})
      for (int stride : {1, 2})
        for (int W : {3, 8, 13}) {
          DwCase c{C, stride, 1, 6, W, 128, 5, 0, 255, false, false};
          c.KH = KH;
          check(c, seed++);
          c.f32 = c.wzp = true, c.za = 255;
          check(c, seed++);
        }
  for (int C : {32, 64}) {
    DwCase c{C, 1, 2, 5, 11, 17, 0, 0, 255, false, false};
    c.dil_w = 2;
    check(c, seed++);
  }
  omp_set_num_threads(threads);
}

// MobileNetV2's own widths and channel counts on a few rows (the 112-wide rows run
// in several chunks per row), with 1 and the default number of threads.
TEST(Depthwise3x3, MobileNetV2ShapesMatchTheReference) {
  const struct { int C, stride, HW; } shapes[] = {{32, 1, 112}, {96, 2, 112}, {144, 1, 56}, {144, 2, 56},
                                                   {192, 1, 28}, {192, 2, 28}, {576, 2, 14}, {960, 1, 7}};
  const int threads = omp_get_max_threads();
  for (int t : {1, threads}) {
    omp_set_num_threads(t);
    uint32_t seed = 500;
    for (const auto& s : shapes) {
      check({s.C, s.stride, 1, 5, s.HW, 128, 3, 3, 250, false, false}, seed++);
      check({s.C, s.stride, 1, 4, s.HW, 0, 0, 0, 255, true, true}, seed++);
    }
  }
  omp_set_num_threads(threads);
}

}  // namespace
