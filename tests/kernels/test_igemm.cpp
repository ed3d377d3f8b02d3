// Indirect GEMM (tap pointers) and the K x K convolution paths built on it, bit
// for bit against naive references (tolerance 0):
// - the active ISA's igemm kernel fed by its real packer: every row count 1..6
//   (the avx512vnni kernel is instantiated per row count), partial 16-channel
//   blocks, taps x kc with kc at and just above the K block, zero points
//   0/128/255, all epilogues (direct u8, clamped u8, f32, weight zero points),
//   the next-panel prefetch loop, rows whose taps share or alias memory;
// - PackedConv against conv_reference on shapes that exercise the kernel-row runs
//   of conv_gemm.cpp (windows crossing the left/right edge or the whole image,
//   W < KW, padding wider than the kernel, stride 2, dilation_h, batch boundaries
//   inside a tile) and the balanced row tiles (M = 1..13, 49), and long-K 1x1
//   layers run through the igemm, at 1, 2 and 3 threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

#include "kernels/conv.h"
#include "kernels/epilogue.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/reference.h"

using namespace lapq;

namespace {

struct IgemmCase {
  size_t mr = 6, nc = 64, taps = 9, kc = 8;
  int32_t za = 0, zp = 0, qmin = 0, qmax = 255;
  bool f32 = false, bias_f = false, wzp = false, prefetch = false;
  float scale = 0.f;  // 0: spread the outputs over the u8 range
  uint32_t seed = 1;
  std::string str() const {
    std::ostringstream os;
    os << "mr=" << mr << " nc=" << nc << " taps=" << taps << " kc=" << kc << " za=" << za << " zp=" << zp << " q=["
       << qmin << "," << qmax << "] f32=" << f32 << " bias_f=" << bias_f << " wzp=" << wzp << " prefetch=" << prefetch
       << " scale=" << scale << " seed=" << seed;
    return os.str();
  }
};

void check_igemm(const GemmConfig& cfg, const IgemmCase& c) {
  SCOPED_TRACE(c.str());
  std::mt19937 rng(c.seed);
  std::uniform_int_distribution<int> wd(-128, 127), ad(0, 255), bd(-5000, 5000);
  std::uniform_real_distribution<float> zw(-1.5f, 1.5f), fb(-30.f, 30.f);
  const size_t K = c.taps * c.kc;
  // A pool of activation segments; each (row, tap) points at one of them, some
  // shared between rows / taps (as padding and overlapping windows are).
  const size_t pool_n = c.mr * c.taps / 2 + 1;
  std::vector<uint8_t> pool(pool_n * c.kc + 3);
  for (auto& v : pool) v = static_cast<uint8_t>(ad(rng));
  std::vector<const uint8_t*> ptrs(c.mr * c.taps);
  for (auto& p : ptrs) p = pool.data() + 1 + (rng() % pool_n) * c.kc;  // odd addresses on purpose
  std::vector<int8_t> w(c.nc * K);
  for (auto& v : w) v = static_cast<int8_t>(wd(rng));
  std::vector<int32_t> bias(c.nc);
  for (auto& v : bias) v = bd(rng);
  const size_t bb = gemm_block_bytes(cfg.layout, K), nblocks = (c.nc + 15) / 16;
  std::vector<uint8_t> packed_buf(nblocks * bb + 64);
  uint8_t* packed = packed_buf.data() + (64 - reinterpret_cast<uintptr_t>(packed_buf.data()) % 64) % 64;
  pack_gemm_weights(cfg.layout, c.nc, K, w.data(), bias.data(), c.za, packed);

  // Reference accumulators and row sums.
  std::vector<int32_t> acc(c.mr * c.nc), rowsum(c.mr);
  for (size_t i = 0; i < c.mr; ++i) {
    int32_t rs = 0;
    for (size_t t = 0; t < c.taps; ++t)
      for (size_t j = 0; j < c.kc; ++j) rs += ptrs[i * c.taps + t][j] - c.za;
    rowsum[i] = rs;
    for (size_t n = 0; n < c.nc; ++n) {
      int64_t s = bias[n];
      for (size_t t = 0; t < c.taps; ++t)
        for (size_t j = 0; j < c.kc; ++j)
          s += int64_t(ptrs[i * c.taps + t][j] - c.za) * w[n * K + t * c.kc + j];
      acc[i * c.nc + n] = static_cast<int32_t>(s);
    }
  }
  std::vector<float> scale(c.nc), fbias(c.nc), wzp(c.nc);
  for (size_t n = 0; n < c.nc; ++n) {
    int32_t lo = acc[n], hi = acc[n];
    for (size_t i = 0; i < c.mr; ++i) lo = std::min(lo, acc[i * c.nc + n]), hi = std::max(hi, acc[i * c.nc + n]);
    scale[n] = c.scale != 0.f ? c.scale : 200.f / (float(hi) - float(lo) + 1.f);
    fbias[n] = fb(rng), wzp[n] = zw(rng);
  }
  GemmEpilogue ep;
  ep.scale = scale.data();
  ep.bias = c.bias_f ? fbias.data() : nullptr;
  ep.wei_zp = c.wzp ? wzp.data() : nullptr;
  ep.rowsum = c.wzp ? rowsum.data() : nullptr;
  ep.lo = float(c.qmin - c.zp), ep.hi = float(c.qmax - c.zp), ep.zp = c.zp;
  ep.f32_out = c.f32;
  std::vector<uint8_t> next_panel(4096, 1);
  if (c.prefetch) ep.prefetch = next_panel.data(), ep.prefetch_bytes = next_panel.size();

  const size_t dst_stride = c.nc + 5, esz = c.f32 ? 4 : 1;
  std::vector<uint8_t> got(c.mr * dst_stride * esz, 0xA5), want(got);
  cfg.igemm(c.mr, c.nc, c.taps, c.kc, ptrs.data(), packed, bb, got.data(), dst_stride, &ep);
  for (size_t i = 0; i < c.mr; ++i)
    for (size_t n = 0; n < c.nc; ++n)
      epilogue_store(acc[i * c.nc + n], rowsum[i], n, ep, want.data(), i * dst_stride + n);
  ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0) << cfg.name;  // also: nothing beyond nc written
}

const GemmConfig* active_int8_igemm() {
  const GemmConfig& cfg = gemm_config(active_isa(), false);
  return cfg.igemm ? &cfg : nullptr;
}

TEST(Igemm, EveryRowCountAndChannelTail) {
  const GemmConfig* cfg = active_int8_igemm();
  if (!cfg) {
    GTEST_SKIP() << "no int8 igemm on " << isa_name(active_isa());
  }
  uint32_t seed = 1;
  for (size_t mr = 1; mr <= 6; ++mr)
    for (size_t nc : {1, 15, 16, 17, 31, 33, 48, 49, 63, 64}) {
      if (nc > size_t(cfg->nr)) continue;  // nc <= the config's register tile
      for (size_t kc : {size_t(cfg->kr), size_t(cfg->kr) * 3, size_t(64)}) {
        IgemmCase c;
        c.mr = mr, c.nc = nc, c.kc = kc, c.taps = seed % 3 == 0 ? 1 : seed % 3 == 1 ? 3 : 9;
        c.za = seed % 3 == 0 ? 0 : seed % 3 == 1 ? 128 : 255, c.seed = seed++;
        check_igemm(*cfg, c);
      }
    }
}

TEST(Igemm, Epilogues) {
  const GemmConfig* cfg = active_int8_igemm();
  if (!cfg) {
    GTEST_SKIP() << "no int8 igemm on " << isa_name(active_isa());
  }
  uint32_t seed = 100;
  for (size_t mr : {1, 4, 5, 6})
    for (size_t nc : {7, 40, 64})
      for (int variant = 0; variant < 6; ++variant) {
        IgemmCase c;
        c.mr = mr, c.nc = std::min(nc, size_t(cfg->nr)), c.taps = 3, c.kc = 12, c.seed = seed++, c.za = 37;
        if (variant == 1) c.zp = 100, c.qmin = 100, c.qmax = 180, c.bias_f = true;  // fused clamp
        if (variant == 2) c.f32 = true, c.bias_f = true;
        if (variant == 3) c.wzp = true, c.f32 = true;
        if (variant == 4) c.wzp = true, c.zp = 3, c.qmin = 3, c.qmax = 9;
        if (variant == 5) c.scale = 0.75f, c.zp = 128;  // |scale| > 0.5: no direct u8 epilogue
        check_igemm(*cfg, c);
      }
}

TEST(Igemm, PrefetchLoopAndLongK) {
  const GemmConfig* cfg = active_int8_igemm();
  if (!cfg) {
    GTEST_SKIP() << "no int8 igemm on " << isa_name(active_isa());
  }
  uint32_t seed = 300;
  for (size_t mr : {2, 5, 6})
    for (size_t taps : {1, 3}) {
      IgemmCase c;
      c.mr = mr, c.nc = size_t(cfg->nr), c.taps = taps, c.kc = 4 * 99, c.prefetch = true, c.za = 255, c.seed = seed++;
      check_igemm(*cfg, c);
      c.kc = 3 * 512, c.prefetch = seed % 2, c.seed = seed++;  // K = 4608 (a 3x3 layer with IC = 512)
      check_igemm(*cfg, c);
    }
}

// ---- PackedConv on the K x K paths ----

ConvParams conv3(int IC, int OC, int K, int stride, int pad) {
  ConvParams p;
  p.IC = IC, p.OC = OC, p.KH = p.KW = K, p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  return p;
}

struct ConvCase {
  int N = 1, H = 5, W = 5;
  ConvParams p;
  int32_t za = 0, zp = 0, qmin = 0, qmax = 255;
  bool f32 = false, wzp = false;
  uint32_t seed = 1;
};

void check_conv(const ConvCase& c) {
  SCOPED_TRACE("N=" + std::to_string(c.N) + " H=" + std::to_string(c.H) + " W=" + std::to_string(c.W) + " " +
               c.p.str() + " za=" + std::to_string(c.za) + " f32=" + std::to_string(c.f32) +
               " wzp=" + std::to_string(c.wzp));
  std::mt19937 rng(c.seed);
  std::uniform_int_distribution<int> wd(-128, 127), ad(0, 255);
  std::uniform_real_distribution<float> zw(-1.5f, 1.5f);
  const int K = c.p.KH * c.p.KW * c.p.IC;
  std::vector<int8_t> wei(size_t(c.p.OC) * K);
  for (auto& v : wei) v = static_cast<int8_t>(wd(rng));
  std::vector<int32_t> bias(c.p.OC);
  for (auto& v : bias) v = int(rng() % 20001) - 10000;
  std::vector<float> wzp(c.p.OC);
  for (auto& v : wzp) v = zw(rng);
  std::vector<uint8_t> src(size_t(c.N) * c.H * c.W * c.p.IC);
  for (auto& v : src) v = static_cast<uint8_t>(ad(rng));
  ConvWeights w;
  w.wei = wei.data(), w.bits = 8, w.bias = bias.data(), w.src_zero_point = c.za;
  w.wei_zero_point = c.wzp ? wzp.data() : nullptr;
  const int OH = c.p.out_h(c.H), OW = c.p.out_w(c.W);
  const size_t out = size_t(c.N) * OH * OW * c.p.OC;
  // Scales from the f32 range of each channel, so u8 outputs spread.
  std::vector<float> ones(c.p.OC, 1.f), pilot(out), scale(c.p.OC);
  conv_reference(c.p, w, src.data(), c.N, c.H, c.W, pilot.data(), DequantF32{ones.data(), nullptr});
  for (int oc = 0; oc < c.p.OC; ++oc) {
    float lo = pilot[oc], hi = pilot[oc];
    for (size_t i = oc; i < out; i += c.p.OC) lo = std::min(lo, pilot[i]), hi = std::max(hi, pilot[i]);
    scale[oc] = 250.f / (hi - lo + 1.f);
  }
  PackedConv conv(c.p, w);
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    if (c.f32) {
      const DequantF32 q{scale.data(), nullptr};
      std::vector<float> got(out, -7.f), want(out);
      conv.run(src.data(), c.N, c.H, c.W, got.data(), q);
      conv_reference(c.p, w, src.data(), c.N, c.H, c.W, want.data(), q);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), out * 4), 0) << conv.kernel_name() << " threads=" << threads;
    } else {
      const RequantU8 q{scale.data(), nullptr, c.zp, c.qmin, c.qmax};
      std::vector<uint8_t> got(out, 0xA5), want(out);
      conv.run(src.data(), c.N, c.H, c.W, got.data(), q);
      conv_reference(c.p, w, src.data(), c.N, c.H, c.W, want.data(), q);
      ASSERT_EQ(got, want) << conv.kernel_name() << " threads=" << threads;
      std::sort(want.begin(), want.end());
      if (out >= 64) {
        EXPECT_GT(std::unique(want.begin(), want.end()) - want.begin(), 8) << "outputs barely vary";
      }
    }
  }
  omp_set_num_threads(omp_get_num_procs());
}

std::vector<ConvCase> kxk_cases() {
  std::vector<ConvCase> cs;
  auto add = [&](int N, int H, int W, ConvParams p) {
    ConvCase c;
    c.N = N, c.H = H, c.W = W, c.p = p;
    cs.push_back(c);
  };
  add(1, 7, 7, conv3(8, 24, 3, 1, 1));     // M = 49: balanced 5/6-row tiles
  add(2, 5, 6, conv3(4, 17, 3, 1, 1));     // batch boundary inside tiles, IC = K block
  add(1, 9, 9, conv3(12, 70, 3, 2, 1));    // stride 2, left edge only, 64 + 6 channels
  add(1, 8, 8, conv3(16, 16, 3, 2, 1));    // stride 2, even size: right edge never crossed
  add(1, 3, 2, conv3(8, 8, 3, 1, 1));      // W < KW: windows cross both edges
  add(1, 4, 1, conv3(4, 20, 3, 1, 1));     // one image column
  add(1, 5, 5, conv3(8, 33, 3, 1, 3));     // padding wider than the kernel: rows of only za
  add(1, 6, 7, conv3(20, 40, 5, 1, 2));    // 5x5
  add(1, 9, 11, conv3(64, 64, 3, 1, 1));   // ResNet-like, IC = 64
  add(1, 5, 6, conv3(128, 72, 3, 2, 0));   // no padding, stride 2, IC = 128
  for (int w = 1; w <= 13; ++w) add(1, 1, w, conv3(4, 16, 3, 1, 1));  // M = 1..13 (every tail)
  add(1, 23, 25, conv3(4, 8, 3, 1, 1));    // M = 575 > one M chunk: a chunk starts mid-row (also at 1 thread)
  // 1x1 with K >= kIgemmDirectMinK: the direct GEMM through the exact-row igemm
  // (one pointer per row; a single row keeps the ukernel's FC path)
  add(1, 7, 7, conv3(512, 70, 1, 1, 0));   // M = 49, 64 + 6 channels
  add(1, 1, 1, conv3(1024, 40, 1, 1, 0));  // M = 1
  for (int m : {2, 3, 7, 8, 13}) add(m, 1, 1, conv3(516, 24, 1, 1, 0));  // FC at small batches
  {
    ConvParams p = conv3(8, 12, 3, 1, 0);
    p.pad_top = 2, p.pad_left = 0, p.pad_bottom = 0, p.pad_right = 2;  // asymmetric
    add(1, 5, 6, p);
    ConvParams d = conv3(8, 12, 3, 1, 2);
    d.dilation_h = 2;  // dilation_h keeps kernel-row runs
    add(1, 7, 6, d);
    ConvParams dw = conv3(8, 12, 3, 1, 2);
    dw.dilation_w = 2;  // dilation_w: per-tap pointers
    add(1, 6, 7, dw);
    ConvParams r = conv3(12, 20, 3, 1, 1);
    r.KH = 1;  // 1x3
    add(2, 3, 5, r);
    ConvParams g = conv3(16, 24, 3, 1, 1);
    g.groups = 2;  // grouped: per-tap pointers
    add(1, 5, 5, g);
  }
  return cs;
}

TEST(KxKConv, U8MatchesReference) {
  uint32_t seed = 1;
  for (ConvCase c : kxk_cases()) {
    c.seed = seed++, c.za = seed % 3 == 0 ? 0 : seed % 3 == 1 ? 128 : 255, c.zp = seed % 2 ? 0 : 100;
    if (c.zp) c.qmin = 100, c.qmax = 240;
    check_conv(c);
  }
}

TEST(KxKConv, F32WithWeightZeroPointsMatchesReference) {
  uint32_t seed = 500;
  for (ConvCase c : kxk_cases()) {
    c.seed = seed++, c.za = 37, c.f32 = true, c.wzp = true;
    check_conv(c);
  }
}

}  // namespace
