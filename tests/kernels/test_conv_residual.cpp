// The fused residual add (PackedConv::run with ResidualAddU8, kernels/conv.h)
// against the unfused pair it replaces: the same PackedConv's f32 output
// (DequantF32) over the whole tensor, then the scalar qadd (the reference
// definition of kernels/elementwise.h), bit for bit (tolerance 0). Covers every
// driver path that can feed a residual add: 1x1 in place (short K and the
// long-K row igemm), K x K indirect (kernel-row runs), im2col (stride-2 1x1),
// the column-window stem path, int4 weights (nibble kernels and the unpacked
// panel of tall tiles), depthwise, channel tails; u8 residuals with zero points
// 0 / 128 / 255 and f32 residuals; both operand orders; ReLU / clip code ranges;
// weight zero points and f32 bias; 1, 2 and 3 threads. Run under every
// LAPQ_MAX_ISA cap (ISA_CAPS).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <vector>

#include "engine/error.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "tests/kernels/exact_compare.h"

using namespace lapq;

namespace {

struct Case {
  int N = 1, H = 8, W = 8;
  ConvParams p;
  int bits = 8;
  int32_t za = 0;
  bool wzp = false, bias_f = false;
  bool residual_u8 = true, conv_first = true;
  int32_t rzp = 128;                       // residual zero point (u8)
  int32_t zp = 128, qmin = 0, qmax = 255;  // output grid
  uint32_t seed = 1;
  std::string str() const {
    std::ostringstream os;
    os << "N=" << N << " H=" << H << " W=" << W << " " << p.str() << " bits=" << bits << " za=" << za
       << " wzp=" << wzp << " bias_f=" << bias_f << " residual=" << (residual_u8 ? "u8" : "f32") << " rzp=" << rzp
       << " conv_first=" << conv_first << " zp=" << zp << " q=[" << qmin << "," << qmax << "] seed=" << seed;
    return os.str();
  }
};

ConvParams make(int IC, int OC, int K, int stride = 1, int pad = 0, int groups = 1) {
  ConvParams p;
  p.IC = IC, p.OC = OC, p.KH = p.KW = K, p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.groups = groups;
  return p;
}

// Runs one case at `threads` threads and compares fused with unfused.
void check(const Case& c, int threads) {
  SCOPED_TRACE(c.str() + " threads=" + std::to_string(threads));
  std::mt19937 rng(c.seed);
  const int K = c.p.KH * c.p.KW * (c.p.IC / c.p.groups);
  const int lo = -(1 << (c.bits - 1)), hi = (1 << (c.bits - 1)) - 1;
  std::uniform_int_distribution<int> wd(lo, hi), ad(0, 255), bd(-2000, 2000);
  std::uniform_real_distribution<float> zw(-1.5f, 1.5f), fb(-0.5f, 0.5f);
  std::vector<int8_t> wei(size_t(c.p.OC) * K);
  for (auto& v : wei) v = static_cast<int8_t>(wd(rng));
  std::vector<int32_t> bias(c.p.OC);
  for (auto& v : bias) v = bd(rng);
  std::vector<float> wzp(c.p.OC), fbias(c.p.OC), scale(c.p.OC);
  for (auto& v : wzp) v = zw(rng);
  for (auto& v : fbias) v = fb(rng);
  // Accumulators reach about sqrt(K) * 128 * 74: scales that map them to O(1) real values.
  const float s0 = 1.f / (std::sqrt(float(K)) * 128.f * 74.f * (c.bits <= 4 ? 1.f / 16.f : 1.f));
  for (auto& v : scale) v = s0 * std::uniform_real_distribution<float>(0.5f, 2.f)(rng);
  std::vector<uint8_t> src(size_t(c.N) * c.H * c.W * c.p.IC);
  for (auto& v : src) v = static_cast<uint8_t>(ad(rng));

  ConvWeights w;
  w.wei = wei.data(), w.bits = c.bits, w.bias = bias.data(), w.src_zero_point = c.za;
  w.wei_zero_point = c.wzp ? wzp.data() : nullptr;
  const PackedConv conv(c.p, w);
  const int OH = c.p.out_h(c.H), OW = c.p.out_w(c.W);
  const size_t total = size_t(c.N) * OH * OW * c.p.OC;

  // Residual: u8 codes (scale 1/64: about [-2, 2] around the zero point) or f32 values.
  std::vector<uint8_t> res_u8(total);
  std::vector<float> res_f32(total);
  std::normal_distribution<float> nd(0.f, 0.8f);
  for (size_t i = 0; i < total; ++i) {
    res_u8[i] = static_cast<uint8_t>(std::clamp<int>(c.rzp + static_cast<int>(nd(rng) * 64.f), 0, 255));
    res_f32[i] = nd(rng);
  }
  ResidualAddU8 add;
  add.residual = c.residual_u8 ? static_cast<const void*>(res_u8.data()) : res_f32.data();
  add.residual_u8 = c.residual_u8;
  add.residual_scale = 1.f / 64.f;
  add.residual_zero_point = c.rzp;
  add.conv_first = c.conv_first;
  add.scale = 3.f / 64.f;  // the sum's range over about 150 codes
  add.zero_point = c.zp, add.qmin = c.qmin, add.qmax = c.qmax;
  const DequantF32 deq{scale.data(), c.bias_f ? fbias.data() : nullptr};

  omp_set_num_threads(threads);
  // Unfused: the conv's f32 output, then the reference qadd over the whole tensor.
  std::vector<float> y(total, -9.f);
  conv.run(src.data(), c.N, c.H, c.W, y.data(), deq);
  QAddOperand ya, ra;
  ya.data = y.data();
  ra.data = add.residual, ra.u8 = add.residual_u8, ra.scale = add.residual_scale, ra.zp = add.residual_zero_point;
  QuantizeOut o;
  o.scale = add.scale, o.zp = add.zero_point;
  o.lo = float(add.qmin - add.zero_point), o.hi = float(add.qmax - add.zero_point);
  std::vector<uint8_t> want(total);
  const ElementwiseKernels& ref = elementwise_kernels_scalar();
  if (c.conv_first)
    ref.qadd(ya, ra, want.data(), total, o);
  else
    ref.qadd(ra, ya, want.data(), total, o);
  // Fused.
  std::vector<uint8_t> got(total, 0xA5);
  conv.run(src.data(), c.N, c.H, c.W, got.data(), deq, add);
  omp_set_num_threads(omp_get_num_procs());
  EXPECT_EQ(test::count_mismatches(got, want, conv.kernel_name()), 0u) << conv.kernel_name();
  // The data exercises the rounding and the clamp: many distinct codes.
  std::sort(want.begin(), want.end());
  const size_t distinct = std::unique(want.begin(), want.end()) - want.begin();
  if (total >= 256) {
    EXPECT_GT(distinct, std::min<size_t>(20, size_t(c.qmax - c.qmin) / 2));
  }
}

std::vector<Case> shapes() {
  std::vector<Case> cs;
  auto add = [&](int N, int H, int W, ConvParams p) {
    Case c;
    c.N = N, c.H = H, c.W = W, c.p = p;
    cs.push_back(c);
  };
  add(1, 8, 8, make(32, 64, 1));             // 1x1 in place, one 64-channel chunk (whole pixels)
  add(1, 7, 7, make(64, 200, 1));            // 1x1, channel tail (200 = 3 x 64 + 8)
  add(1, 7, 7, make(520, 72, 1));            // 1x1, long K: row igemm; tail 8
  add(2, 5, 6, make(24, 17, 1));             // 1x1, OC = 17, batch 2
  add(1, 14, 14, make(64, 48, 1));           // 196 rows: int4 panel (tall tile)
  add(1, 9, 9, make(16, 40, 3, 1, 1));       // 3x3 indirect (kernel-row runs), edges
  add(1, 12, 12, make(32, 70, 3, 1, 1));     // 3x3, 144 rows, tail 6
  add(1, 9, 11, make(24, 33, 3, 2, 1));      // 3x3 stride 2, odd sizes
  add(1, 10, 10, make(32, 64, 1, 2, 0));     // 1x1 stride 2 (im2col tiles): a downsampling shortcut
  add(1, 11, 11, make(3, 16, 7, 2, 3));      // 7x7 stem on 3 channels (column-window path)
  add(1, 9, 9, make(20, 20, 3, 1, 1, 20));   // depthwise
  add(2, 6, 7, make(70, 70, 3, 2, 1, 70));   // depthwise stride 2, 64 + 6 channels
  add(1, 6, 6, make(8, 12, 3, 1, 1, 2));     // grouped
  add(3, 1, 1, make(40, 24, 1));             // FC rows (1x1 images)
  return cs;
}

TEST(ConvResidual, FusedEqualsConvThenQAdd) {
  uint32_t seed = 1;
  int n = 0;
  for (Case c : shapes()) {
    for (int bits : {8, 4}) {
      c.bits = bits;
      c.seed = seed++;
      // Alternate the epilogue and residual options over the shapes.
      c.za = (n % 3 == 0) ? 0 : (n % 3 == 1 ? 128 : 37);
      c.wzp = n % 4 == 1;
      c.bias_f = n % 2 == 0;
      c.residual_u8 = n % 5 != 4;
      c.conv_first = n % 3 != 2;
      c.rzp = n % 3 == 0 ? 0 : (n % 3 == 1 ? 128 : 255);
      ++n;
      for (int threads : {1, 2, 3}) check(c, threads);
    }
  }
}

// Output grids: zero points 0 / 128 / 255, ReLU (qmin = zp), ReLU6-like clip, a narrow
// clamp, both residual kinds and operand orders, on one 3x3 and one 1x1 int4 shape.
TEST(ConvResidual, OutputGridsAndClamps) {
  struct Grid {
    int32_t zp, qmin, qmax;
  };
  const Grid grids[] = {{0, 0, 255}, {128, 0, 255}, {255, 0, 255}, {128, 128, 255}, {100, 100, 200}, {60, 50, 70}};
  uint32_t seed = 100;
  for (const Grid& g : grids)
    for (bool u8 : {true, false})
      for (bool first : {true, false}) {
        Case c;
        c.H = c.W = 9;
        c.p = make(16, 40, 3, 1, 1);
        c.zp = g.zp, c.qmin = g.qmin, c.qmax = g.qmax;
        c.residual_u8 = u8, c.conv_first = first, c.seed = seed++;
        check(c, 2);
        Case d = c;
        d.p = make(48, 64, 1), d.bits = 4, d.H = d.W = 7, d.rzp = 255 - g.zp, d.seed = seed++;
        check(d, 3);
      }
}

TEST(ConvResidual, BadArgumentsAreErrors) {
  const std::vector<int8_t> wei(16 * 8, 1);
  ConvWeights w;
  w.wei = wei.data();
  const PackedConv conv(make(8, 16, 1), w);
  const std::vector<float> scale(16, 1.f);
  std::vector<uint8_t> src(8 * 4, 1), dst(16 * 4), res(16 * 4);
  ResidualAddU8 add;
  add.residual = res.data();
  add.qmin = 200, add.qmax = 100;
  EXPECT_THROW(conv.run(src.data(), 1, 2, 2, dst.data(), DequantF32{scale.data(), nullptr}, add), Error);
  add.qmin = 0, add.qmax = 255, add.residual = nullptr;
  EXPECT_THROW(conv.run(src.data(), 1, 2, 2, dst.data(), DequantF32{scale.data(), nullptr}, add), Error);
  add.residual = res.data(), add.scale = 0.f;
  EXPECT_THROW(conv.run(src.data(), 1, 2, 2, dst.data(), DequantF32{scale.data(), nullptr}, add), Error);
}

}  // namespace
