// PackedConv (active ISA) against the naive conv_reference, bit for bit, over
// awkward shapes: C = 1, 3, 17; H = W = 1; odd sizes with stride 2; groups;
// depthwise; dilation; asymmetric pads; int4; weight zero points; f32 output.
// Also: thread-count determinism, weight round trip, clear errors.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <vector>

#include "engine/error.h"
#include "kernels/conv.h"
#include "kernels/reference.h"
#include "tests/kernels/exact_compare.h"

using namespace lapq;

namespace {

struct ConvCase {
  int N = 1, H = 5, W = 5;
  ConvParams p;
  int bits = 8;
  int32_t za = 0, zp = 0, qmin = 0, qmax = 255;
  bool wzp = false, f32 = false, bias_f = false;
  uint32_t seed = 1;
  std::string str() const {
    std::ostringstream os;
    os << "N=" << N << " H=" << H << " W=" << W << " " << p.str() << " bits=" << bits << " za=" << za << " zp=" << zp
       << " q=[" << qmin << "," << qmax << "] wzp=" << wzp << " f32=" << f32 << " bias_f=" << bias_f << " seed=" << seed;
    return os.str();
  }
};

ConvParams make(int IC, int OC, int K, int stride = 1, int pad = 0, int groups = 1, int dil = 1) {
  ConvParams p;
  p.IC = IC, p.OC = OC, p.KH = p.KW = K, p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.groups = groups, p.dilation_h = p.dilation_w = dil;
  return p;
}

struct Layer {
  std::vector<int8_t> wei;
  std::vector<int32_t> bias;
  std::vector<float> wzp, scale, fbias;
  std::vector<uint8_t> src;
  ConvWeights weights(const ConvCase& c) const {
    ConvWeights w;
    w.wei = wei.data(), w.bits = c.bits, w.bias = bias.data();
    w.wei_zero_point = c.wzp ? wzp.data() : nullptr;
    w.src_zero_point = c.za;
    return w;
  }
};

Layer make_layer(const ConvCase& c) {
  std::mt19937 rng(c.seed);
  const int lo = -(1 << (c.bits - 1)), hi = (1 << (c.bits - 1)) - 1;
  std::uniform_int_distribution<int> wd(lo, hi), ad(0, 255), bd(-3000, 3000);
  std::uniform_real_distribution<float> zw(-1.5f, 1.5f), fb(-20.f, 20.f);
  Layer l;
  const int K = c.p.KH * c.p.KW * (c.p.IC / c.p.groups);
  l.wei.resize(size_t(c.p.OC) * K);
  for (auto& v : l.wei) v = static_cast<int8_t>(wd(rng));
  l.bias.resize(c.p.OC);
  for (auto& v : l.bias) v = bd(rng);
  l.src.resize(size_t(c.N) * c.H * c.W * c.p.IC);
  for (auto& v : l.src) v = static_cast<uint8_t>(ad(rng));
  l.wzp.resize(c.p.OC);
  l.fbias.resize(c.p.OC);
  for (int oc = 0; oc < c.p.OC; ++oc) l.wzp[oc] = zw(rng), l.fbias[oc] = fb(rng);
  // Pilot run (scale 1, no bias): centre each channel with the int32 bias and pick
  // the scale from its range, so u8 outputs spread instead of all saturating.
  const int OH = c.p.out_h(c.H), OW = c.p.out_w(c.W), P = c.N * OH * OW;
  std::vector<float> ones(c.p.OC, 1.f), pilot(size_t(P) * c.p.OC);
  ConvWeights pw;
  pw.wei = l.wei.data(), pw.bits = c.bits, pw.src_zero_point = c.za;
  pw.wei_zero_point = c.wzp ? l.wzp.data() : nullptr;
  conv_reference(c.p, pw, l.src.data(), c.N, c.H, c.W, pilot.data(), DequantF32{ones.data(), nullptr});
  l.scale.resize(c.p.OC);
  std::uniform_real_distribution<float> jit(0.7f, 1.4f);
  for (int oc = 0; oc < c.p.OC; ++oc) {
    float lo = pilot[oc], hi = pilot[oc];
    double sum = 0;
    for (int i = 0; i < P; ++i) {
      const float v = pilot[size_t(i) * c.p.OC + oc];
      lo = std::min(lo, v), hi = std::max(hi, v), sum += v;
    }
    l.bias[oc] = static_cast<int32_t>(std::lround(-sum / P)) + bd(rng) % 8;
    l.scale[oc] = 160.f / (hi - lo + 1.f) * jit(rng);
  }
  return l;
}

void check_case(const ConvCase& c, int threads = 0) {
  SCOPED_TRACE(c.str());
  const Layer l = make_layer(c);
  const ConvWeights w = l.weights(c);
  PackedConv conv(c.p, w);
  const size_t out = size_t(c.N) * c.p.out_h(c.H) * c.p.out_w(c.W) * c.p.OC;
  if (threads > 0) omp_set_num_threads(threads);
  if (c.f32) {
    DequantF32 q{l.scale.data(), c.bias_f ? l.fbias.data() : nullptr};
    std::vector<float> got(out, -7.f), want(out);
    conv.run(l.src.data(), c.N, c.H, c.W, got.data(), q);
    conv_reference(c.p, w, l.src.data(), c.N, c.H, c.W, want.data(), q);
    EXPECT_EQ(test::count_mismatches(got, want, conv.kernel_name()), 0u) << conv.kernel_name();
  } else {
    RequantU8 q{l.scale.data(), c.bias_f ? l.fbias.data() : nullptr, c.zp, c.qmin, c.qmax};
    std::vector<uint8_t> got(out, 0xA5), want(out);
    conv.run(l.src.data(), c.N, c.H, c.W, got.data(), q);
    conv_reference(c.p, w, l.src.data(), c.N, c.H, c.W, want.data(), q);
    size_t distinct = 0;
    EXPECT_EQ(test::count_mismatches(got, want, conv.kernel_name()), 0u) << conv.kernel_name();
    std::sort(want.begin(), want.end());
    distinct = std::unique(want.begin(), want.end()) - want.begin();
    if (out >= 64) {
      EXPECT_GT(distinct, std::min<size_t>(4, (c.qmax - c.qmin) / 4)) << "outputs barely vary: the test would be weak";
    }
  }
  if (threads > 0) omp_set_num_threads(omp_get_num_procs());
}

std::vector<ConvCase> awkward_cases() {
  std::vector<ConvCase> cs;
  auto add = [&](int N, int H, int W, ConvParams p) {
    ConvCase c;
    c.N = N, c.H = H, c.W = W, c.p = p;
    cs.push_back(c);
  };
  add(1, 1, 1, make(1, 1, 1));          // smallest
  add(2, 1, 1, make(3, 5, 1));          // H = W = 1
  add(1, 4, 4, make(17, 17, 1));        // C = 17, 1x1 direct or tiled
  add(3, 1, 1, make(64, 40, 1));        // FC, K multiple of 4
  add(5, 1, 1, make(300, 33, 1));       // FC, K % 4 != 0
  add(1, 7, 7, make(3, 16, 3, 1, 1));   // C = 3, padded 3x3
  add(1, 9, 7, make(17, 20, 3, 2, 1));  // odd sizes, stride 2
  add(2, 7, 9, make(8, 35, 3, 2, 0));   // stride 2, no pad, batch 2
  add(1, 5, 6, make(16, 33, 5, 1, 2));  // 5x5
  add(1, 8, 8, make(4, 8, 3, 1, 2, 1, 2));   // dilation 2
  add(1, 6, 6, make(6, 4, 3, 1, 1, 2));      // groups 2
  add(1, 6, 5, make(12, 9, 1, 2, 0, 3));     // grouped 1x1 stride 2
  add(1, 7, 7, make(17, 17, 3, 1, 1, 17));   // depthwise C = 17
  add(2, 9, 9, make(70, 70, 3, 2, 1, 70));   // depthwise stride 2, C > 64
  add(1, 6, 7, make(130, 130, 5, 1, 2, 130));// depthwise 5x5, C > 128
  add(1, 6, 9, make(32, 32, 3, 1, 1, 32));   // depthwise C = 32 (one ymm block)
  add(1, 9, 8, make(96, 96, 3, 2, 1, 96));   // depthwise 64 + 32, stride 2
  add(2, 12, 11, make(3, 8, 7, 2, 3));       // 7x7 stem, batch 2 (segments near the buffer end)
  add(1, 12, 12, make(16, 20, 3, 1, 1));     // >= 96 rows per tile: int4 panel path (indirect)
  add(1, 12, 12, make(32, 24, 1));           // ... (direct 1x1)
  add(1, 24, 24, make(3, 8, 7, 2, 3));       // ... (row segments)
  add(1, 5, 5, make(1, 1, 3, 1, 1, 1));      // C = 1 (plain conv)
  add(1, 5, 5, make(3, 6, 3, 1, 1, 3));      // depthwise multiplier 2 (grouped GEMM)
  add(1, 8, 8, make(16, 16, 3, 1, 2, 16, 2));// depthwise dilation 2
  add(1, 13, 11, make(7, 64, 7, 2, 3));      // stem-like 7x7 stride 2
  add(1, 4, 4, make(512, 24, 3, 1, 1));      // large K = 4608
  add(1, 3, 203, make(40, 40, 3, 1, 1, 40));      // depthwise wide rows: several L1 chunks per row
  add(1, 4, 251, make(96, 96, 3, 2, 1, 96));      // ... stride 2, 64 + 32 channels, odd output count
  add(1, 3, 130, make(20, 20, 5, 1, 2, 20));      // ... 5x5
  add(1, 5, 141, make(24, 24, 3, 1, 2, 24, 2));   // ... dilation 2
  add(1, 5, 9, make(32, 32, 3, 2, 1, 32));        // depthwise <= 32 channels: two outputs per zmm, stride 2
  add(1, 4, 10, make(8, 8, 3, 1, 1, 8));          // ... 8 channels (masked), even output count
  add(1, 6, 11, make(32, 32, 5, 2, 2, 32));       // ... 5x5 stride 2 (two kernel-row groups)
  add(1, 2, 150, make(24, 24, 3, 2, 1, 24));      // ... wide rows, stride 2, odd chunks
  add(1, 2, 131, make(32, 32, 3, 1, 1, 32));      // ... wide rows, stride 1, 32 channels
  add(1, 5, 13, make(96, 96, 3, 3, 1, 96, 2));    // depthwise stride 3, dilation 2, 64 + 32 channels
  add(1, 7, 12, make(40, 40, 3, 2, 1, 40));       // depthwise 3x3 stride 2, one masked 64-channel block
  add(1, 3, 140, make(64, 64, 3, 2, 0, 64));      // ... 64 channels, no padding, wide rows (chunks)
  {
    ConvParams p = make(5, 7, 3, 1, 0);
    p.pad_top = 0, p.pad_left = 1, p.pad_bottom = 2, p.pad_right = 0;  // asymmetric
    add(1, 6, 5, p);
    ConvParams d = make(24, 24, 3, 2, 0, 24);
    d.pad_top = 1, d.pad_left = 0, d.pad_bottom = 0, d.pad_right = 2;
    add(1, 9, 8, d);
    ConvParams r = make(8, 12, 3, 1, 0);
    r.KH = 1, r.KW = 3, r.stride_h = 2, r.dilation_w = 2, r.pad_right = 1;  // rectangular
    add(1, 5, 9, r);
    // Column-window path (IC not a multiple of the K block): right image columns no
    // window reads, dilation_h, stride > KW, one image column, padding wider than the kernel.
    add(1, 8, 12, make(3, 16, 3, 2, 0));
    ConvParams dh = make(3, 20, 3, 1, 1);
    dh.dilation_h = 2;
    add(1, 9, 10, dh);
    add(1, 10, 11, make(2, 17, 2, 3, 0));
    add(2, 9, 1, make(3, 80, 3, 1, 1));
    add(1, 5, 4, make(3, 8, 3, 1, 4));
  }
  return cs;
}

class ConvVsReference : public ::testing::TestWithParam<int> {};  // param: bits

TEST_P(ConvVsReference, AwkwardShapesU8) {
  uint32_t seed = 1;
  for (ConvCase c : awkward_cases()) {
    c.bits = GetParam(), c.seed = seed++;
    c.za = seed % 3 == 0 ? 0 : seed % 3 == 1 ? 128 : 255;
    c.zp = seed % 2 ? 0 : 100;
    check_case(c);
  }
}

TEST_P(ConvVsReference, AwkwardShapesF32WithWeightZeroPoints) {
  uint32_t seed = 1000;
  for (ConvCase c : awkward_cases()) {
    c.bits = GetParam(), c.seed = seed++, c.za = 37, c.wzp = true, c.f32 = true, c.bias_f = seed % 2;
    check_case(c);
  }
}

TEST_P(ConvVsReference, FusedClampAndWeightZeroPointsU8) {
  uint32_t seed = 2000;
  for (ConvCase c : awkward_cases()) {
    c.bits = GetParam(), c.seed = seed++, c.za = 255, c.wzp = true, c.bias_f = true, c.zp = 3, c.qmin = 3, c.qmax = 9;
    check_case(c);
  }
}

INSTANTIATE_TEST_SUITE_P(Bits, ConvVsReference, ::testing::Values(8, 7, 4, 2),
                         [](const auto& info) { return "bits" + std::to_string(info.param); });

// Channels whose y lies far beyond INT32 range (|scale| ~ 1e9) next to ordinary
// ones: the depthwise kernels may leave the clamp to the saturating narrowing only
// when no y of a block can overflow the float -> int32 conversion.
TEST(Conv, DepthwiseHugeScalesClampExactly) {
  for (int C : {24, 40, 96})
    for (int stride : {1, 2}) {
      ConvCase c;
      c.H = 6, c.W = 9, c.p = make(C, C, 3, stride, 1, C), c.zp = 7, c.qmin = 5, c.qmax = 250, c.za = 128;
      c.seed = 77 + C + stride;
      SCOPED_TRACE(c.str());
      Layer l = make_layer(c);
      l.scale[1] = 3e9f, l.scale[C - 1] = -2e9f;
      const ConvWeights w = l.weights(c);
      PackedConv conv(c.p, w);
      const RequantU8 q{l.scale.data(), nullptr, c.zp, c.qmin, c.qmax};
      const size_t out = size_t(c.p.out_h(c.H)) * c.p.out_w(c.W) * C;
      std::vector<uint8_t> got(out, 0xA5), want(out);
      conv.run(l.src.data(), 1, c.H, c.W, got.data(), q);
      conv_reference(c.p, w, l.src.data(), 1, c.H, c.W, want.data(), q);
      EXPECT_EQ(got, want) << conv.kernel_name();
      size_t at_max = 0;
      for (size_t i = C - 1; i < out; i += C) at_max += want[i] == c.qmax || want[i] == c.qmin;
      EXPECT_GT(at_max, 0u) << "the huge-scale channel should saturate";
    }
}

TEST(Conv, IdenticalForAnyThreadCount) {
  for (ConvParams p : {make(32, 48, 3, 1, 1), make(48, 48, 3, 2, 1, 48), make(40, 70, 1)}) {
    ConvCase c;
    c.N = 2, c.H = 11, c.W = 13, c.p = p, c.za = 9, c.wzp = true, c.bias_f = true;
    const Layer l = make_layer(c);
    PackedConv conv(c.p, l.weights(c));
    const size_t out = size_t(c.N) * p.out_h(c.H) * p.out_w(c.W) * p.OC;
    RequantU8 q{l.scale.data(), l.fbias.data(), 5, 0, 255};
    std::vector<uint8_t> first;
    for (int t : {1, 2, 3, 4}) {
      omp_set_num_threads(t);
      std::vector<uint8_t> got(out);
      conv.run(l.src.data(), c.N, c.H, c.W, got.data(), q);
      if (first.empty()) first = got;
      EXPECT_EQ(got, first) << "threads=" << t << " " << c.str();
    }
    omp_set_num_threads(omp_get_num_procs());
  }
}

TEST(Conv, UnpackRecoversWeightsAndBias) {
  for (int bits : {8, 4})
    for (ConvParams p : {make(17, 20, 3, 1, 1), make(6, 4, 3, 1, 1, 2), make(70, 70, 3, 1, 1, 70)}) {
      ConvCase c;
      c.p = p, c.bits = bits, c.za = 200;
      const Layer l = make_layer(c);
      PackedConv conv(p, l.weights(c));
      std::vector<int32_t> bias;
      EXPECT_EQ(conv.unpack(&bias), l.wei) << p.str();
      EXPECT_EQ(bias, l.bias) << p.str();
      EXPECT_EQ(conv.int4(), bits <= 4);
    }
}

// A 4-bit layer told it runs tall tiles is packed in the int8 container on ISAs
// whose int4 path would unpack to an int8 panel every run; its outputs are the
// same bytes as the nibble-packed layer's (and the reference's); short layers keep nibbles.
TEST(Conv, Int4LayerWithTallTilesUsesTheInt8ContainerWithTheSameResults) {
  ConvCase c;
  c.N = 1, c.H = 12, c.W = 12, c.p = make(64, 80, 3, 1, 1), c.bits = 4, c.za = 3, c.bias_f = true;
  const Layer l = make_layer(c);
  ConvWeights nibbles = l.weights(c), tall = l.weights(c), few = l.weights(c);
  tall.rows_hint = int64_t{c.N} * c.H * c.W;  // 144 rows
  few.rows_hint = 49;
  const PackedConv a(c.p, nibbles), b(c.p, tall), d(c.p, few);
  EXPECT_TRUE(a.int4());
  EXPECT_TRUE(d.int4());
  const bool panel_isa = gemm_config(active_isa(), true).panel_unpack != nullptr;
  EXPECT_EQ(b.int4(), !panel_isa) << b.kernel_name();
  if (panel_isa) {
    EXPECT_GT(b.packed_bytes(), a.packed_bytes());
  }
  std::vector<int32_t> bias;
  EXPECT_EQ(b.unpack(&bias), l.wei);
  const size_t out = size_t(144) * c.p.OC;
  RequantU8 q{l.scale.data(), l.fbias.data(), 7, 0, 255};
  std::vector<uint8_t> ya(out), yb(out), want(out);
  a.run(l.src.data(), c.N, c.H, c.W, ya.data(), q);
  b.run(l.src.data(), c.N, c.H, c.W, yb.data(), q);
  conv_reference(c.p, nibbles, l.src.data(), c.N, c.H, c.W, want.data(), q);
  EXPECT_EQ(ya, want);
  EXPECT_EQ(yb, want);
}

TEST(Conv, BadInputsThrowClearErrors) {
  ConvCase c;
  c.p = make(8, 8, 3);
  Layer l = make_layer(c);
  auto code_of = [&](ConvParams p, ConvWeights w) {
    try {
      PackedConv conv(p, w);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  };
  ConvWeights w = l.weights(c);
  EXPECT_EQ(code_of(make(8, 8, 3, 1, 0, 3), w), ErrorCode::kInvalidArgument);  // IC % groups
  EXPECT_EQ(code_of(make(8, 8, 3, 0), w), ErrorCode::kInvalidArgument);        // stride 0
  ConvWeights w4 = w;
  w4.bits = 4;  // the int8 weights do not fit 4 bits
  EXPECT_EQ(code_of(c.p, w4), ErrorCode::kInvalidArgument);
  ConvWeights w1 = w;
  w1.bits = 1;
  EXPECT_EQ(code_of(c.p, w1), ErrorCode::kInvalidArgument);
  ConvWeights wz = w;
  wz.src_zero_point = 256;
  EXPECT_EQ(code_of(c.p, wz), ErrorCode::kInvalidArgument);
  // K = 3*3*8000 = 72000: 72000*255*128 > 2^31 -> the accumulators could overflow.
  ConvParams big = make(8000, 1, 3);
  std::vector<int8_t> bw(72000, 1);
  ConvWeights wb;
  wb.wei = bw.data();
  EXPECT_EQ(code_of(big, wb), ErrorCode::kLimit);

  PackedConv conv(c.p, w);
  std::vector<uint8_t> dst(1000);
  EXPECT_THROW(conv.run(l.src.data(), 1, 2, 2, dst.data(), RequantU8{l.scale.data()}), Error);  // empty output
  EXPECT_THROW(conv.run(l.src.data(), 1, 5, 5, dst.data(), RequantU8{nullptr}), Error);
  EXPECT_THROW(conv.run(l.src.data(), 1, 5, 5, dst.data(), RequantU8{l.scale.data(), nullptr, 0, 10, 5}), Error);
}

}  // namespace
