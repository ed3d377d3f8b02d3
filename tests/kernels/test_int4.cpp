// The int4 (nibble) paths of the active ISA against the naive conv_reference,
// bit for bit, on the shapes where the VNNI int4 kernel switches strategy:
// calls of 2..6 rows (register tile), 7..60 rows with K <= 1024 (first row group
// unpacks into a stack panel, the others run the int8 x16 kernel) and K > 1024
// (K chunks unpacked to L1, equal chunks per tap, two panels) for 1x1 / FC rows;
// the indirect GEMM of K x K layers with K <= 8192 (panel of plain weights in
// scratch, int8 igemm) and above (K chunks). Each case also runs
// with weight zero points, f32 output, float biases, a fused clamp, and weight
// extremes -8 / 7 against activations 0 / 255 (largest accumulators).
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <vector>

#include "kernels/conv.h"
#include "kernels/reference.h"
#include "tests/kernels/exact_compare.h"

using namespace lapq;

namespace {

struct Int4Case {
  int N = 1, H = 7, W = 7, IC = 64, OC = 64, K = 1, pad = 0;
  int extreme = 0;  // 0 random; 1: w = 7, a = 255; 2: w = -8, a = 255; 3: w = -8, a = 0 (za = 255)
  bool wzp = false, f32 = false, bias_f = false, clamp = false;
  uint32_t seed = 1;
  std::string str() const {
    std::ostringstream os;
    os << "N=" << N << " H=" << H << " W=" << W << " IC=" << IC << " OC=" << OC << " K=" << K << " pad=" << pad
       << " extreme=" << extreme << " wzp=" << wzp << " f32=" << f32 << " bias_f=" << bias_f << " clamp=" << clamp
       << " seed=" << seed;
    return os.str();
  }
};

void check(const Int4Case& c) {
  SCOPED_TRACE(c.str());
  ConvParams p;
  p.IC = c.IC, p.OC = c.OC, p.KH = p.KW = c.K;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = c.pad;
  std::mt19937 rng(c.seed);
  std::uniform_int_distribution<int> wd(-8, 7), ad(0, 255), bd(-2000, 2000);
  std::uniform_real_distribution<float> zw(-1.5f, 1.5f), fb(-20.f, 20.f), sj(0.7f, 1.4f);
  const size_t nw = size_t(c.OC) * c.K * c.K * c.IC;
  std::vector<int8_t> wei(nw);
  for (auto& v : wei) v = static_cast<int8_t>(c.extreme == 1 ? 7 : c.extreme >= 2 ? -8 : wd(rng));
  std::vector<uint8_t> src(size_t(c.N) * c.H * c.W * c.IC);
  for (auto& v : src) v = static_cast<uint8_t>(c.extreme == 3 ? 0 : c.extreme ? 255 : ad(rng));
  std::vector<int32_t> bias(c.OC);
  std::vector<float> wzp(c.OC), fbias(c.OC), scale(c.OC);
  for (int oc = 0; oc < c.OC; ++oc) bias[oc] = c.extreme ? 0 : bd(rng), wzp[oc] = zw(rng), fbias[oc] = fb(rng);
  ConvWeights w;
  w.wei = wei.data(), w.bits = 4, w.bias = bias.data();
  w.wei_zero_point = c.wzp ? wzp.data() : nullptr;
  w.src_zero_point = c.extreme == 3 ? 255 : c.extreme ? 0 : 128;
  // Scales from the accumulator range (u8 outputs spread instead of saturating;
  // the extreme cases saturate on purpose).
  const float range = float(c.K * c.K * c.IC) * 255.f * 8.f;
  for (int oc = 0; oc < c.OC; ++oc) scale[oc] = (c.extreme ? 1.f : 4096.f) / range * sj(rng) * (oc % 2 ? -1.f : 1.f);
  PackedConv conv(p, w);
  const size_t out = size_t(c.N) * p.out_h(c.H) * p.out_w(c.W) * c.OC;
  if (c.f32) {
    const DequantF32 q{scale.data(), c.bias_f ? fbias.data() : nullptr};
    std::vector<float> got(out, -7.f), want(out);
    conv.run(src.data(), c.N, c.H, c.W, got.data(), q);
    conv_reference(p, w, src.data(), c.N, c.H, c.W, want.data(), q);
    EXPECT_EQ(test::count_mismatches(got, want, conv.kernel_name()), 0u) << conv.kernel_name();
  } else {
    const RequantU8 q{scale.data(), c.bias_f ? fbias.data() : nullptr, c.clamp ? 100 : 0, c.clamp ? 3 : 0,
                      c.clamp ? 250 : 255};
    std::vector<uint8_t> got(out, 0xA5), want(out);
    conv.run(src.data(), c.N, c.H, c.W, got.data(), q);
    conv_reference(p, w, src.data(), c.N, c.H, c.W, want.data(), q);
    EXPECT_EQ(test::count_mismatches(got, want, conv.kernel_name()), 0u) << conv.kernel_name();
  }
}

// Every epilogue variant of one shape (u8 direct / with clamp / with weight zero
// points, f32 with and without float bias) plus the three extremes.
void check_variants(Int4Case c) {
  const uint32_t seed = c.seed;
  for (int v = 0; v < 5; ++v) {
    c.seed = seed * 8 + v;
    c.wzp = v == 2 || v == 4, c.f32 = v >= 3, c.bias_f = v == 1 || v == 3, c.clamp = v == 1 || v == 2;
    check(c);
  }
  c.wzp = c.f32 = c.bias_f = c.clamp = false;
  for (int e : {1, 2, 3}) {
    c.extreme = e;
    check(c);
    c.f32 = true;
    check(c);
    c.f32 = false;
  }
}

}  // namespace

// Fully connected layers at batch 1..8 (rows per call = batch): K tails (K % 8),
// partial 16-channel blocks, K across the 1024 boundary and several chunks.
TEST(Int4Paths, FullyConnectedBatches) {
  uint32_t seed = 1;
  for (int N : {1, 2, 5, 7, 8})
    for (int IC : {13, 300, 1030, 2048})
      for (int OC : {7, 100}) {
        Int4Case c;
        c.N = N, c.H = c.W = 1, c.IC = IC, c.OC = OC, c.seed = seed++;
        if (N == 8 && OC == 100) check_variants(c);
        else check(c);
      }
}

// 1x1 layers at 7x7 (49 rows per call) and 8x8 (60 + 4 rows): K below / at / above
// the panel limit (1024), chunked K with a shorter last chunk (1288 = 2 x 648 - 8),
// partial blocks (OC = 100 = 64 + 36).
TEST(Int4Paths, OneByOneManyRows) {
  struct S { int HW, IC, OC; };
  uint32_t seed = 100;
  // (14x14: 196 rows, tall tiles even split over 2 threads: plain int8 panel per work
  // item, K >= 512 through the igemm)
  for (const S s : {S{7, 24, 100}, S{7, 1024, 64}, S{7, 1032, 100}, S{8, 512, 100}, S{7, 1288, 64}, S{14, 520, 40}}) {
    Int4Case c;
    c.H = c.W = s.HW, c.IC = s.IC, c.OC = s.OC, c.seed = seed++;
    check_variants(c);
  }
}

// K x K layers through the indirect GEMM with many rows: K = 9 * IC on the panel
// paths (plain weights in the panel, the int8 igemm for the other row groups) and
// above their limit (K = 8280 > 8192: K chunks), padding (taps reading the
// zero-point row), 7x7 and 5x5 images.
TEST(Int4Paths, IndirectManyRows) {
  struct S { int HW, IC, OC; };
  uint32_t seed = 300;
  for (const S s : {S{5, 16, 40}, S{7, 112, 72}, S{7, 264, 40}, S{7, 920, 24}}) {
    Int4Case c;
    c.H = c.W = s.HW, c.IC = s.IC, c.OC = s.OC, c.K = 3, c.pad = 1, c.seed = seed++;
    check_variants(c);
  }
}
