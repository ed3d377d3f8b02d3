// The elementwise kernels of the quantized executor (kernels/elementwise.h):
// the active ISA's table (run under every LAPQ_MAX_ISA cap) against the scalar
// table, bit for bit, on every length 0..70 and a few long ones (vector tails),
// zero points 0 / 128 / 255, clamped code ranges, rounding ties, values past the
// clamp, infinities and NaN; the scalar formula against hand-computed codes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <vector>

#include "kernels/elementwise.h"

using namespace lapq;

namespace {

const ElementwiseKernels& active() { return elementwise_kernels(active_isa()); }
const ElementwiseKernels& scalar() { return elementwise_kernels_scalar(); }

std::vector<size_t> lengths() {
  std::vector<size_t> v;
  for (size_t n = 0; n <= 70; ++n) v.push_back(n);
  for (size_t n : {127, 128, 129, 1000, 4099}) v.push_back(n);
  return v;
}

struct Grid {
  float scale;
  int32_t zp, qmin, qmax;
  QuantizeOut out() const {
    QuantizeOut o;
    o.scale = scale;
    o.zp = zp;
    o.lo = static_cast<float>(qmin - zp);
    o.hi = static_cast<float>(qmax - zp);
    return o;
  }
  std::string str() const {
    std::ostringstream os;
    os << "scale=" << scale << " zp=" << zp << " q=[" << qmin << "," << qmax << "]";
    return os.str();
  }
};

const std::vector<Grid>& grids() {
  static const std::vector<Grid> g = {{0.05f, 0, 0, 255},    {0.0371f, 128, 0, 255}, {0.013f, 255, 0, 255},
                                      {0.5f, 0, 0, 15},       {0.1f, 7, 3, 12},       {1.f / 3.f, 128, 128, 255},
                                      {2.0f, 255, 250, 255}};
  return g;
}

// Values that exercise every branch: exact ties (k + 0.5) * scale, values far
// past the clamp, signed zeros, infinities, NaN, random values in range.
std::vector<float> values(size_t n, const Grid& g, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> in_range((g.qmin - g.zp - 3) * g.scale, (g.qmax - g.zp + 3) * g.scale);
  std::uniform_int_distribution<int> code(-300, 300), pick(0, 9);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    switch (pick(rng)) {
      case 0: v[i] = (static_cast<float>(code(rng)) + 0.5f) * g.scale; break;
      case 1: v[i] = static_cast<float>(code(rng)) * g.scale; break;
      case 2: v[i] = (i % 2 ? 1.f : -1.f) * 1e30f; break;
      case 3: {
        const float special[] = {0.f, -0.f, std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                                 std::numeric_limits<float>::denorm_min()};
        v[i] = special[i % 6];
        break;
      }
      default: v[i] = in_range(rng);
    }
  }
  return v;
}

std::vector<uint8_t> codes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(rng));
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Elementwise, TableMatchesActiveIsa) {
  const Isa isa = active_isa();
  const ElementwiseKernels& k = active();
  if (isa == Isa::scalar) EXPECT_EQ(k.isa, Isa::scalar);
  else if (static_cast<int>(isa) >= static_cast<int>(Isa::avx512)) EXPECT_EQ(k.isa, Isa::avx512);
  else EXPECT_EQ(k.isa, Isa::avx2);
  std::printf("elementwise kernels: %s\n", k.name);
}

TEST(Elementwise, ScalarFormulaByHand) {
  // scale 0.5, zp 10, codes [0, 255]: x / 0.5 rounded half to even, + 10.
  Grid g{0.5f, 10, 0, 255};
  const std::vector<float> x = {0.f, 0.25f, 0.75f, 1.25f, -0.25f, -0.75f, 1e9f, -1e9f, 63.0f};
  const std::vector<uint8_t> want = {10, 10, 12, 12, 10, 8, 255, 0, 136};  // 0.5->0, 1.5->2, 2.5->2, -0.5->0, -1.5->-2
  std::vector<uint8_t> got(x.size());
  scalar().quantize(x.data(), got.data(), x.size(), g.out());
  EXPECT_EQ(got, want);
  const std::vector<uint8_t> q = {0, 10, 255};
  std::vector<float> f(3);
  scalar().dequantize(q.data(), f.data(), 3, 0.5f, 10);
  EXPECT_EQ(f, (std::vector<float>{-5.f, 0.f, 122.5f}));
  // qadd: (1.0 + 0.25) / 0.5 = 2.5 -> 2 (even) + 10 = 12; u8 code 14 with zp 10, scale 0.25 reads 1.0.
  const uint8_t qa[] = {14};
  const float fb[] = {0.25f};
  QAddOperand a{qa, true, 0.25f, 10}, b{fb, false, 1.f, 0};
  uint8_t y = 0;
  scalar().qadd(a, b, &y, 1, g.out());
  EXPECT_EQ(y, 12);
}

TEST(Elementwise, QuantizeEqualsScalar) {
  for (const Grid& g : grids())
    for (size_t n : lengths()) {
      SCOPED_TRACE(g.str() + " n=" + std::to_string(n));
      const std::vector<float> x = values(n, g, static_cast<uint32_t>(n * 7 + g.zp));
      std::vector<uint8_t> want(n + 1, 0xAB), got(n + 1, 0xAB);  // one guard byte
      scalar().quantize(x.data(), want.data(), n, g.out());
      active().quantize(x.data(), got.data(), n, g.out());
      ASSERT_EQ(got, want);
    }
}

TEST(Elementwise, DequantizeEqualsScalar) {
  for (const Grid& g : grids())
    for (size_t n : lengths()) {
      SCOPED_TRACE(g.str() + " n=" + std::to_string(n));
      const std::vector<uint8_t> q = codes(n, static_cast<uint32_t>(n + 3));
      std::vector<float> want(n + 1, -7.f), got(n + 1, -7.f);
      scalar().dequantize(q.data(), want.data(), n, g.scale, g.zp);
      active().dequantize(q.data(), got.data(), n, g.scale, g.zp);
      ASSERT_TRUE(same_bits(got, want));
    }
}

TEST(Elementwise, QAddEqualsScalarAllOperandKinds) {
  const std::vector<Grid>& gs = grids();
  for (size_t gi = 0; gi < gs.size(); ++gi) {
    const Grid& go = gs[gi];
    const Grid& ga = gs[(gi + 1) % gs.size()];
    const Grid& gb = gs[(gi + 3) % gs.size()];
    for (size_t n : lengths())
      for (int kinds = 0; kinds < 4; ++kinds) {
        SCOPED_TRACE(go.str() + " n=" + std::to_string(n) + " kinds=" + std::to_string(kinds));
        const std::vector<uint8_t> qa = codes(n, static_cast<uint32_t>(n + 11)), qb = codes(n, static_cast<uint32_t>(n + 12));
        const std::vector<float> fa = values(n, go, static_cast<uint32_t>(n + 13)),
                                 fb = values(n, go, static_cast<uint32_t>(n + 14));
        const bool a_u8 = kinds & 1, b_u8 = kinds & 2;
        const QAddOperand a{a_u8 ? static_cast<const void*>(qa.data()) : fa.data(), a_u8, ga.scale, ga.zp};
        const QAddOperand b{b_u8 ? static_cast<const void*>(qb.data()) : fb.data(), b_u8, gb.scale, gb.zp};
        std::vector<uint8_t> want(n + 1, 0x5A), got(n + 1, 0x5A);
        scalar().qadd(a, b, want.data(), n, go.out());
        active().qadd(a, b, got.data(), n, go.out());
        ASSERT_EQ(got, want);
      }
  }
}

TEST(Elementwise, TransposeEqualsScalar) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (size_t rows : {1, 3, 7, 8, 9, 16, 17, 33})
    for (size_t cols : {1, 2, 8, 15, 16, 24, 65}) {
      SCOPED_TRACE("rows=" + std::to_string(rows) + " cols=" + std::to_string(cols));
      const size_t ss = cols + 3, ds = rows + 5;  // strides wider than the block
      std::vector<float> src(rows * ss);
      for (float& x : src) x = d(rng);
      std::vector<float> want(cols * ds, 9.f), got(cols * ds, 9.f);
      scalar().transpose_f32(src.data(), ss, want.data(), ds, rows, cols);
      active().transpose_f32(src.data(), ss, got.data(), ds, rows, cols);
      ASSERT_TRUE(same_bits(got, want));
      for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) ASSERT_EQ(want[c * ds + r], src[r * ss + c]);
    }
}

}  // namespace
