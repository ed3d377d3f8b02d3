// Exact microkernel tester (tolerance 0): the active ISA's GEMM kernel, fed by
// its real packer, against a naive computation of the formula in
// kernels/gemm.h. Edge matrix: K below/equal/above/multiples of the K block,
// partial M and N tiles, prime strides, zero points 0/128/255, qmin/qmax,
// f32 output, weight zero points, K = 8192 of extreme values.
#include <cpuid.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

#include "engine/error.h"
#include "kernels/epilogue.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/rowsum.h"

using namespace lapq;

namespace {

struct GemmCase {
  size_t m = 1, n = 16, k = 4;
  size_t a_pad = 0, dst_pad = 0;  // extra row stride (elements)
  int32_t za = 0, zp = 0, qmin = 0, qmax = 255;
  bool f32 = false, bias_i32 = true, bias_f = false, wzp = false, int4 = false;
  int extreme = 0;  // 0 random; 1 a=255, w=max; 2 a=255, w=min; 3 a=0, w=min
  uint32_t seed = 1;
  // Nonzero: every channel's scale / float bias is +-fixed (signs alternate by
  // channel), to probe the bounds under which kernels may skip the float clamp.
  float fixed_scale = 0.f, fixed_bias = 0.f;

  std::string str() const {
    std::ostringstream os;
    os << "m=" << m << " n=" << n << " k=" << k << " a_pad=" << a_pad << " dst_pad=" << dst_pad << " za=" << za
       << " zp=" << zp << " q=[" << qmin << "," << qmax << "] f32=" << f32 << " bias_i32=" << bias_i32
       << " bias_f=" << bias_f << " wzp=" << wzp << " int4=" << int4 << " extreme=" << extreme << " seed=" << seed;
    return os.str();
  }
};

// Runs one case; returns the number of mismatching outputs (and prints the first).
void run_case(const GemmCase& c) {
  SCOPED_TRACE(c.str());
  const GemmConfig& cfg = gemm_config(active_isa(), c.int4);
  std::mt19937 rng(c.seed);
  const int wlo = c.int4 ? -8 : -128, whi = c.int4 ? 7 : 127;
  std::uniform_int_distribution<int> wdist(wlo, whi), adist(0, 255), bdist(-20000, 20000);
  std::vector<int8_t> w(c.n * c.k);  // (n, k)
  for (auto& v : w) v = static_cast<int8_t>(c.extreme == 1 ? whi : c.extreme >= 2 ? wlo : wdist(rng));
  std::vector<int32_t> bias(c.n);
  for (auto& v : bias) v = c.bias_i32 ? bdist(rng) : 0;

  const size_t kp = gemm_padded_k(cfg.layout, c.k), bb = gemm_block_bytes(cfg.layout, c.k);
  std::vector<uint8_t> packed((c.n + 15) / 16 * bb + 64);
  uint8_t* pk = packed.data() + (64 - reinterpret_cast<uintptr_t>(packed.data()) % 64) % 64;
  pack_gemm_weights(cfg.layout, c.n, c.k, w.data(), c.bias_i32 ? bias.data() : nullptr, c.za, pk);

  // Activations (m, a_stride) u8 or u16; K padding holds junk the zero weights must cancel.
  const size_t esz = cfg.a_u16 ? 2 : 1, a_stride = kp + c.a_pad;
  std::vector<uint8_t> a(c.m * a_stride * esz);
  std::vector<int32_t> a_val(c.m * c.k), rowsum(c.m);
  for (size_t i = 0; i < c.m; ++i)
    for (size_t j = 0; j < a_stride; ++j) {
      const int v = c.extreme == 3 ? 0 : c.extreme ? 255 : adist(rng);
      if (esz == 2) {
        const uint16_t v16 = static_cast<uint16_t>(v);
        std::memcpy(&a[(i * a_stride + j) * 2], &v16, 2);
      } else {
        a[i * a_stride + j] = static_cast<uint8_t>(v);
      }
      if (j < c.k) a_val[i * c.k + j] = v, rowsum[i] += v - c.za;
    }

  // Exact accumulators; output scale chosen from their range so outputs spread.
  std::vector<int64_t> acc(c.m * c.n);
  for (size_t i = 0; i < c.m; ++i)
    for (size_t j = 0; j < c.n; ++j) {
      int64_t s = bias[j];
      for (size_t kk = 0; kk < c.k; ++kk) s += int64_t{a_val[i * c.k + kk] - c.za} * w[j * c.k + kk];
      ASSERT_LE(std::llabs(s), int64_t{INT32_MAX});
      acc[i * c.n + j] = s;
    }
  const auto [mn, mx] = std::minmax_element(acc.begin(), acc.end());
  const float base = 255.f / static_cast<float>(std::max<int64_t>(1, *mx - *mn));
  std::uniform_real_distribution<float> jitter(0.5f, 1.5f), fb(-30.f, 30.f), zw(-2.f, 2.f);
  std::vector<float> scale(c.n), fbias(c.n), wzp(c.n);
  for (size_t j = 0; j < c.n; ++j) scale[j] = base * jitter(rng), fbias[j] = fb(rng), wzp[j] = zw(rng);
  for (size_t j = 0; j < c.n; ++j) {
    if (c.fixed_scale != 0.f) scale[j] = j % 2 ? -c.fixed_scale : c.fixed_scale;
    if (c.fixed_bias != 0.f) fbias[j] = j % 3 == 1 ? -c.fixed_bias : c.fixed_bias;
  }

  GemmEpilogue ep;
  ep.scale = scale.data();
  ep.bias = c.bias_f ? fbias.data() : nullptr;
  ep.wei_zp = c.wzp ? wzp.data() : nullptr;
  ep.zp = c.zp;
  ep.lo = static_cast<float>(c.qmin - c.zp);
  ep.hi = static_cast<float>(c.qmax - c.zp);
  ep.f32_out = c.f32;

  const size_t dst_stride = c.n + c.dst_pad, desz = c.f32 ? 4 : 1;
  std::vector<uint8_t> dst(c.m * dst_stride * desz, 0xA5), expect(dst);
  for (size_t i = 0; i < c.m; ++i)
    for (size_t j = 0; j < c.n; ++j)
      epilogue_store(static_cast<int32_t>(acc[i * c.n + j]), rowsum[i], j, ep, expect.data(), i * dst_stride + j);

  // Drive the kernel tile by tile, like the convolution driver.
  for (size_t i0 = 0; i0 < c.m; i0 += cfg.mr)
    for (size_t j0 = 0; j0 < c.n; j0 += cfg.nr) {
      GemmEpilogue e = ep;
      e.scale += j0;
      if (e.bias) e.bias += j0;
      if (e.wei_zp) e.wei_zp += j0;
      e.rowsum = c.wzp ? rowsum.data() + i0 : nullptr;
      cfg.ukernel(std::min<size_t>(cfg.mr, c.m - i0), std::min<size_t>(cfg.nr, c.n - j0), kp,
                  a.data() + i0 * a_stride * esz, a_stride * esz, pk + (j0 / 16) * bb, bb,
                  dst.data() + (i0 * dst_stride + j0) * desz, dst_stride, &e);
    }
  size_t bad = 0;
  for (size_t i = 0; i < dst.size(); ++i)
    if (dst[i] != expect[i] && bad++ == 0)
      ADD_FAILURE() << cfg.name << ": first mismatch at byte " << i << " (row " << i / desz / dst_stride << ", col "
                    << i / desz % dst_stride << "): got " << int(dst[i]) << " expected " << int(expect[i]);
  EXPECT_EQ(bad, 0u) << cfg.name;
}

class GemmKernel : public ::testing::TestWithParam<bool> {};  // param: int4

TEST_P(GemmKernel, KEdges) {
  const GemmConfig& cfg = gemm_config(active_isa(), GetParam());
  const size_t kr = cfg.kr;
  for (size_t k : {size_t{1}, kr - 1 ? kr - 1 : 1, kr, kr + 1, 2 * kr, 3 * kr + 1, size_t{64}, size_t{67}, size_t{300}})
    for (int32_t za : {0, 128, 255}) {
      GemmCase c;
      c.m = cfg.mr, c.n = cfg.nr, c.k = k, c.za = za, c.int4 = GetParam(), c.seed = static_cast<uint32_t>(k * 7 + za);
      run_case(c);
    }
}

TEST_P(GemmKernel, PartialTilesAndPrimeStrides) {
  const GemmConfig& cfg = gemm_config(active_isa(), GetParam());
  uint32_t seed = 100;
  for (size_t m = 1; m <= size_t(cfg.mr) + 3; ++m)
    for (size_t n : {1, 5, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100}) {
      GemmCase c;
      c.m = m, c.n = n, c.k = 37, c.a_pad = 7, c.dst_pad = 11, c.za = 128, c.zp = 3, c.int4 = GetParam();
      c.seed = seed++;
      run_case(c);
    }
}

TEST_P(GemmKernel, EpilogueVariants) {
  const GemmConfig& cfg = gemm_config(active_isa(), GetParam());
  uint32_t seed = 500;
  struct Q { int32_t zp, qmin, qmax; };
  for (const Q q : {Q{0, 0, 255}, Q{128, 0, 255}, Q{255, 0, 255}, Q{0, 0, 6}, Q{10, 10, 200}, Q{128, 128, 255}})
    for (bool f32 : {false, true})
      for (bool bias_f : {false, true})
        for (bool wzp : {false, true})
          for (bool bias_i32 : {false, true}) {
            GemmCase c;
            c.m = cfg.mr + 1, c.n = cfg.nr + 3, c.k = 45, c.a_pad = 3, c.dst_pad = 2, c.za = seed % 3 ? 17 : 255;
            c.zp = q.zp, c.qmin = q.qmin, c.qmax = q.qmax, c.f32 = f32, c.bias_f = bias_f, c.wzp = wzp;
            c.bias_i32 = bias_i32, c.int4 = GetParam(), c.seed = seed++;
            run_case(c);
          }
}

TEST_P(GemmKernel, ExtremeValuesLargeKDoNotOverflow) {
  const GemmConfig& cfg = gemm_config(active_isa(), GetParam());
  for (int extreme : {1, 2, 3})
    for (int32_t za : {0, 255}) {
      GemmCase c;
      c.m = cfg.mr, c.n = 17, c.k = 8192, c.za = za, c.extreme = extreme, c.bias_i32 = false, c.f32 = true;
      c.int4 = GetParam();
      run_case(c);
      c.f32 = false;  // u8 output saturates: still exact
      run_case(c);
    }
}

// Large accumulators with scales / float biases at and just beyond the bound
// (|scale| <= 0.5, |bias| <= 2^29) under which the VNNI kernel clamps in the
// saturating integer narrowing instead of in float: both sides must saturate
// exactly like the formula (y far outside [qmin - zp, qmax - zp], also above
// 2^31 where cvtps2dq would overflow).
TEST_P(GemmKernel, SaturationAtTheDirectEpilogueBounds) {
  const GemmConfig& cfg = gemm_config(active_isa(), GetParam());
  struct Q { int32_t zp, qmin, qmax; };
  uint32_t seed = 700;
  for (int extreme : {0, 1, 2})
    for (float scale : {0.5f, std::nextafter(0.5f, 1.f), 1e-4f, 300.f})
      for (float bias : {0.f, 536870912.f, std::nextafter(536870912.f, 1e10f), 3e9f})
        for (const Q q : {Q{0, 0, 255}, Q{100, 3, 250}}) {
          GemmCase c;
          c.m = cfg.mr, c.n = 64 + 17, c.k = 4096, c.za = extreme ? 0 : 128, c.extreme = extreme;
          c.fixed_scale = scale, c.fixed_bias = bias, c.bias_f = bias != 0.f;
          c.zp = q.zp, c.qmin = q.qmin, c.qmax = q.qmax, c.int4 = GetParam(), c.seed = seed++;
          run_case(c);
        }
}

// Calls of many rows (the int4 VNNI kernels take up to 64 rows per call and
// unpack K in chunks of 256): 49 rows (7x7 at batch 1), 8 (small batch), K
// across several chunks with a partial last one, partial 16-channel blocks,
// weight zero points and f32 output on the chunked path.
TEST_P(GemmKernel, ManyRowsAcrossKChunks) {
  uint32_t seed = 900;
  for (size_t m : {7, 8, 49, 64})
    for (size_t k : {256, 264, 600, 2048})
      for (size_t n : {17, 64, 100}) {
        GemmCase c;
        c.m = m, c.n = n, c.k = k, c.a_pad = 5, c.dst_pad = 3, c.za = 128, c.zp = 7, c.int4 = GetParam();
        c.wzp = seed % 2 == 0, c.f32 = seed % 3 == 0, c.bias_f = seed % 5 == 0, c.seed = seed++;
        run_case(c);
      }
}

INSTANTIATE_TEST_SUITE_P(Int8AndInt4, GemmKernel, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "s4" : "s8"; });

TEST(GemmPack, RoundTripAllLayouts) {
  std::mt19937 rng(7);
  for (GemmLayout layout : {GemmLayout::n16c4_s8, GemmLayout::n16c8_s4, GemmLayout::n16c2_s16, GemmLayout::n16c2_s4}) {
    const bool s4 = layout == GemmLayout::n16c8_s4 || layout == GemmLayout::n16c2_s4;
    std::uniform_int_distribution<int> wd(s4 ? -8 : -128, s4 ? 7 : 127), bd(-100000, 100000);
    for (size_t n : {1, 16, 21, 40})
      for (size_t k : {1, 3, 8, 13, 64}) {
        for (int32_t za : {0, 77, 255}) {
          std::vector<int8_t> w(n * k), w2(n * k);
          std::vector<int32_t> b(n), b2(n);
          for (auto& v : w) v = static_cast<int8_t>(wd(rng));
          for (auto& v : b) v = bd(rng);
          std::vector<uint8_t> packed((n + 15) / 16 * gemm_block_bytes(layout, k));
          pack_gemm_weights(layout, n, k, w.data(), b.data(), za, packed.data());
          unpack_gemm_weights(layout, n, k, packed.data(), za, w2.data(), b2.data());
          EXPECT_EQ(w, w2) << "layout " << int(layout) << " n=" << n << " k=" << k;
          EXPECT_EQ(b, b2) << "layout " << int(layout) << " n=" << n << " k=" << k << " za=" << za;
        }
      }
  }
}

TEST(GemmPack, Int4RejectsOutOfRangeWeights) {
  std::vector<int8_t> w = {3, 8};
  std::vector<uint8_t> packed(gemm_block_bytes(GemmLayout::n16c8_s4, 2));
  EXPECT_THROW(pack_gemm_weights(GemmLayout::n16c8_s4, 1, 2, w.data(), nullptr, 0, packed.data()), Error);
}

TEST(GemmConfigTable, KernelMatchesIsa) {
  for (bool int4 : {false, true}) {
    const GemmConfig& cfg = gemm_config(active_isa(), int4);
    const Isa kernel_isa = active_isa();  // every level has its own int8 and int4 kernels
    EXPECT_EQ(cfg.isa, kernel_isa);
    EXPECT_NE(std::string(cfg.name).find(std::string("__") + isa_name(kernel_isa)), std::string::npos) << cfg.name;
  }
}

// avx512vnni int4: the GFNI variant exactly when the host has GFNI (CPUID.(7,0):ECX[8])
// and LAPQ_GFNI is not 0 (ctest runs the int4 tests both ways); never below that level.
TEST(GemmConfigTable, Int4GfniVariantFollowsCpuidAndEnv) {
  const GemmConfig& cfg = gemm_config(active_isa(), true);
  const bool gfni_name = std::string(cfg.name).find("_gfni") != std::string::npos;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) >= 7) __cpuid_count(7, 0, a, b, c, d);
  const bool host_gfni = (c & bit_GFNI) != 0;
  const char* env = std::getenv("LAPQ_GFNI");
  const bool env_off = env && std::strcmp(env, "0") == 0;
  EXPECT_EQ(gfni_name, active_isa() == Isa::avx512vnni && host_gfni && !env_off) << cfg.name;
  EXPECT_EQ(cfg.isa, active_isa());
}

// The active ISA's row-sum kernels against plain loops, bit for bit: lengths
// around the 32/64-byte vectors, row counts around the 4/8-row reductions,
// strides and segment pointers at odd offsets, all-255 rows (largest sums).
TEST(RowSums, MatchPlainSums) {
  const RowSumKernels& rs = rowsum_kernels(active_isa());
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> ad(0, 255);
  for (int fill : {-1, 255})
    for (size_t rows : {1, 3, 4, 7, 8, 9, 17})
      for (size_t len : {1, 5, 31, 32, 33, 63, 64, 65, 127, 200, 4608}) {
        SCOPED_TRACE(::testing::Message() << "rows=" << rows << " len=" << len << " fill=" << fill);
        const size_t stride = len + 13, taps = 3;
        std::vector<uint8_t> a(rows * stride + 1);
        std::vector<uint16_t> a16(rows * stride);
        for (auto& v : a) v = static_cast<uint8_t>(fill < 0 ? ad(rng) : fill);
        for (size_t i = 0; i < a16.size(); ++i) a16[i] = a[i + 1];
        const int32_t offset = -int32_t(len) * 77;
        std::vector<int32_t> want(rows + 1, -1), want_ind(rows + 1, -1);
        std::vector<const uint8_t*> ptrs(rows * taps);
        for (size_t r = 0; r < rows; ++r) {
          int32_t sum = offset, sum_ind = offset;
          for (size_t k = 0; k < len; ++k) sum += a[1 + r * stride + k];
          for (size_t t = 0; t < taps; ++t) {
            ptrs[r * taps + t] = a.data() + ((r * 5 + t * 3) % rows) * stride + (t + 1) % 2;  // overlapping, odd
            for (size_t k = 0; k < len; ++k) sum_ind += ptrs[r * taps + t][k];
          }
          want[r] = sum, want_ind[r] = sum_ind;
        }
        std::vector<int32_t> got(rows + 1, -1), got16(rows + 1, -1), got_ind(rows + 1, -1);
        rs.u8(rows, a.data() + 1, stride, len, offset, got.data());
        rs.u16(rows, a16.data(), stride, len, offset, got16.data());
        rs.u8_indirect(rows, taps, ptrs.data(), len, offset, got_ind.data());
        EXPECT_EQ(got, want);  // the last element (-1) checks nothing is written past rows
        EXPECT_EQ(got16, want);
        EXPECT_EQ(got_ind, want_ind);
      }
}

}  // namespace
