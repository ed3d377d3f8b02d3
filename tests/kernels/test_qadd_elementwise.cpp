// The elementwise kernels of the quantized executor (kernels/elementwise.h):
// the active ISA's table (run under every LAPQ_MAX_ISA cap) against the scalar
// table, bit for bit, on every length 0..70 and a few long ones (vector tails),
// zero points 0 / 128 / 255, clamped code ranges, rounding ties, values past the
// clamp, infinities and NaN; the scalar formula against hand-computed codes. The
// checked reciprocal (t = v * (1/scale), the division near ties; elementwise.h):
// every value at and within 64 ulps of every tie (k + 0.5) * scale for scales that
// are not powers of two, special values, random grids, all operand kinds of qadd.
#include <gtest/gtest.h>

#include <cfloat>
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

size_t count_differences(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t d = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d += a[i] != b[i];
  return d;
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

// Every pair of u8 codes (a, b) as two operand arrays: a = i / 256, b = i % 256.
struct AllPairs {
  std::vector<uint8_t> a, b;
  AllPairs() : a(65536), b(65536) {
    for (size_t i = 0; i < 65536; ++i) a[i] = static_cast<uint8_t>(i / 256), b[i] = static_cast<uint8_t>(i % 256);
  }
};

// Random residual-add grids (operand scales, output scale, zero points, ReLU or not),
// plus scales so far apart that t overflows to +-inf.
struct AddCase {
  float sa, sb;
  int32_t za, zb;
  Grid out;
};
std::vector<AddCase> add_cases(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> log_scale(-6.f, 0.f);
  std::uniform_int_distribution<int> zp(0, 255), relu(0, 1);
  std::vector<AddCase> v;
  for (int i = 0; i < count; ++i) {
    const int32_t zo = relu(rng) ? 0 : zp(rng);
    v.push_back({std::exp(log_scale(rng)), std::exp(log_scale(rng)), zp(rng), zp(rng),
                 Grid{std::exp(log_scale(rng)), zo, zo == 0 ? 0 : 3, 255}});
  }
  v.push_back({1e30f, 3e29f, 0, 200, Grid{1e-10f, 0, 0, 255}});
  v.push_back({1e30f, 3e29f, 0, 200, Grid{1e-10f, 100, 5, 250}});
  return v;
}

// Where the reciprocal verifies, the fast path gives the reference's codes for every
// pair of inputs (scalar table without it = the reference), on every length's tail too.
TEST(Elementwise, QAddVerifiedReciprocalEqualsDivisionOnEveryPair) {
  const AllPairs pairs;
  int verified = 0;
  for (const AddCase& c : add_cases(40, 21)) {
    SCOPED_TRACE(c.out.str() + " sa=" + std::to_string(c.sa) + " sb=" + std::to_string(c.sb));
    QAddOperand a{pairs.a.data(), true, c.sa, c.za}, b{pairs.b.data(), true, c.sb, c.zb};
    QuantizeOut fast = c.out.out();
    fast.inv_scale = qadd_verified_reciprocal(active(), a, b, fast);
    EXPECT_EQ(fast.inv_scale, qadd_verified_reciprocal(scalar(), a, b, fast)) << "ISAs disagree on the check";
    if (fast.inv_scale == 0.f) continue;
    ++verified;
    EXPECT_EQ(fast.inv_scale, 1.f / c.out.scale);
    for (size_t n : {size_t{65536}, size_t{65535}, size_t{63}, size_t{17}}) {
      std::vector<uint8_t> want(n + 1, 0x5A), got(n + 1, 0x5A);
      scalar().qadd(a, b, want.data(), n, c.out.out());
      active().qadd(a, b, got.data(), n, fast);
      ASSERT_EQ(got, want) << "n=" << n;
    }
  }
  EXPECT_GT(verified, 30) << "the fast path should verify for most grids";
}

// The check is not vacuous: for grids where 1/scale changes some code, it refuses.
// Found by search: exact half-integer sums are where a multiply by the rounded
// reciprocal can land on the other side of the tie.
TEST(Elementwise, QAddVerifiedReciprocalRefusesWhenACodeChanges) {
  const AllPairs pairs;
  int refused = 0;
  for (float so : {3.f, 0.3f, 0.7f, 0.11f, 0.013f, 1.7f, 0.9f, 6.1f}) {
    // Operand a's step equals the output step, b's is half of it: a + b lands on exact ties.
    QAddOperand a{pairs.a.data(), true, so, 128}, b{pairs.b.data(), true, so * 0.5f, 128};
    QuantizeOut o = Grid{so, 128, 0, 255}.out();
    std::vector<uint8_t> by_division(65536), by_reciprocal(65536);
    scalar().qadd(a, b, by_division.data(), 65536, o);
    QuantizeOut m = o;
    m.inv_scale = 1.f / so;
    scalar().qadd(a, b, by_reciprocal.data(), 65536, m);
    const bool differs = by_division != by_reciprocal;
    EXPECT_EQ(qadd_verified_reciprocal(active(), a, b, o) == 0.f, differs) << "so=" << so;
    refused += differs;
  }
  EXPECT_GT(refused, 0) << "no grid exercised the refusal";
  // Operands that are not both u8 never take the fast path.
  const std::vector<float> f(4, 1.f);
  QAddOperand fa{f.data(), false, 1.f, 0}, qb{pairs.b.data(), true, 0.5f, 0};
  EXPECT_EQ(qadd_verified_reciprocal(active(), fa, qb, Grid{0.1f, 0, 0, 255}.out()), 0.f);
}

// The reference formula with t = v * inv: what the kernels would give without the
// fallback to the division near ties (used to show the adversarial sets hit it).
uint8_t quantize_by_multiply(float v, float inv, const QuantizeOut& o) {
  float t = v * inv;
  t = t < o.lo ? o.lo : t;
  t = t > o.hi ? o.hi : t;
  const float r = (t + 12582912.0f) - 12582912.0f;
  return static_cast<uint8_t>(static_cast<int32_t>(r) + o.zp);
}

// Scales that are not powers of two (their reciprocal is rounded) and grids with the
// full and clamped code ranges.
std::vector<Grid> tie_grids() {
  std::vector<Grid> g;
  std::vector<float> scales = {0.1f, 1.f / 3.f, 0.0123f, 7.77f, 0.013f, 3e-5f, 0.7f};
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> log_scale(-12.f, 3.f);
  for (int i = 0; i < 5; ++i) scales.push_back(std::exp(log_scale(rng)));
  for (float s : scales) {
    g.push_back({s, 0, 0, 255});
    g.push_back({s, 128, 0, 255});
    g.push_back({s, 255, 0, 255});
    g.push_back({s, 3, 1, 250});
  }
  return g;
}

// Every tie of the grid's code range (and one past each end): v = (k + 0.5) * scale in
// float and from the exact double product, each with its +-1..+-64-ulp neighbours,
// and the negated values.
std::vector<float> tie_values(const Grid& g) {
  std::vector<float> v;
  for (int k = g.qmin - g.zp - 2; k <= g.qmax - g.zp + 1; ++k) {
    const float centers[] = {(static_cast<float>(k) + 0.5f) * g.scale,
                             static_cast<float>((k + 0.5) * static_cast<double>(g.scale))};
    for (float c : centers)
      for (float sign : {1.f, -1.f}) {
        v.push_back(sign * c);
        float up = sign * c, down = sign * c;
        for (int u = 0; u < 64; ++u) {
          up = std::nextafter(up, INFINITY);
          down = std::nextafter(down, -INFINITY);
          v.push_back(up);
          v.push_back(down);
        }
      }
  }
  return v;
}

TEST(Elementwise, QuantizeReciprocalOnlyWhereTheArgumentHolds) {
  const QuantizeOut ok = Grid{0.1f, 128, 0, 255}.out();
  EXPECT_EQ(quantize_reciprocal(ok), 1.f / 0.1f);
  for (float s : {0.f, -0.f, 1e-39f, FLT_MIN * 0.5f, 1e38f, INFINITY, NAN}) {  // scale or 1/scale not normal
    QuantizeOut o = ok;
    o.scale = s;
    EXPECT_EQ(quantize_reciprocal(o), 0.f) << s;
  }
  QuantizeOut o = ok;
  o.lo = -0.5f;  // not an integer
  EXPECT_EQ(quantize_reciprocal(o), 0.f);
  o = ok;
  o.hi = 300.f;  // beyond the bound's |t| <= 256
  EXPECT_EQ(quantize_reciprocal(o), 0.f);
  o = ok;
  o.lo = -256.f, o.hi = 256.f;
  EXPECT_EQ(quantize_reciprocal(o), 1.f / 0.1f);
}

// The adversarial set: every tie and its neighbours. The multiply alone gets some of
// them wrong (checked here, so the set is not vacuous); the kernels must not.
TEST(Elementwise, QuantizeAtAndAroundEveryTieEqualsDivision) {
  size_t multiply_differs = 0, total = 0;
  for (const Grid& g : tie_grids()) {
    SCOPED_TRACE(g.str());
    const QuantizeOut o = g.out();
    const std::vector<float> x = tie_values(g);
    std::vector<uint8_t> want(x.size() + 1, 0xAB), got(x.size() + 1, 0xAB);
    scalar().quantize(x.data(), want.data(), x.size(), o);
    active().quantize(x.data(), got.data(), x.size(), o);
    ASSERT_EQ(count_differences(got, want), 0u);
    const float inv = 1.f / g.scale;
    for (size_t i = 0; i < x.size(); ++i) multiply_differs += quantize_by_multiply(x[i], inv, o) != want[i];
    total += x.size();
    // The same values through qadd: f32 + 0 (f32 or u8 code zp) is the value itself.
    const std::vector<float> zeros(x.size(), 0.f);
    const std::vector<uint8_t> zp_codes(x.size(), 17);
    const QAddOperand fx{x.data(), false, 1.f, 0}, fz{zeros.data(), false, 1.f, 0},
        qz{zp_codes.data(), true, 0.37f, 17};
    for (const auto& [a, b] : {std::pair{fx, fz}, std::pair{fx, qz}, std::pair{qz, fx}}) {
      std::vector<uint8_t> sum(x.size() + 1, 0xAB), want_sum(x.size() + 1, 0xAB);
      scalar().qadd(a, b, want_sum.data(), x.size(), o);
      active().qadd(a, b, sum.data(), x.size(), o);
      ASSERT_EQ(count_differences(sum, want_sum), 0u) << "a.u8=" << a.u8 << " b.u8=" << b.u8;
    }
    // And through the RGB-input quantize (three planes: x, -x, x reversed).
    std::vector<float> neg(x.size()), rev(x.rbegin(), x.rend());
    for (size_t i = 0; i < x.size(); ++i) neg[i] = -x[i];
    const float* planes[3] = {x.data(), neg.data(), rev.data()};
    std::vector<uint8_t> want3(3 * x.size()), got3(3 * x.size());
    scalar().quantize_interleave3(planes, want3.data(), x.size(), o);
    active().quantize_interleave3(planes, got3.data(), x.size(), o);
    ASSERT_EQ(count_differences(got3, want3), 0u);
  }
  std::printf("tie values: %zu, of which the bare multiply gets %zu wrong\n", total, multiply_differs);
  EXPECT_GT(multiply_differs, 100u) << "the adversarial set no longer exercises the fallback";
}

// The kernels test a group of vectors at once (the largest distance from a tie per
// lane): a NaN in a lane must not hide a near tie in the same lane of another vector.
// Each value the bare multiply gets wrong, at every position of a block of NaNs.
TEST(Elementwise, NearTieAmongNaNsEqualsDivision) {
  for (const Grid& g : tie_grids()) {
    SCOPED_TRACE(g.str());
    const QuantizeOut o = g.out();
    const std::vector<float> ties = tie_values(g);
    std::vector<float> wrong;
    for (float v : ties) {
      uint8_t ref = 0;
      scalar().quantize(&v, &ref, 1, o);
      if (quantize_by_multiply(v, 1.f / g.scale, o) != ref && wrong.size() < 8) wrong.push_back(v);
    }
    for (float w : wrong) {
      std::vector<float> x(64 * 64, std::numeric_limits<float>::quiet_NaN());
      for (size_t k = 0; k < 64; ++k) x[64 * k + k] = w;
      std::vector<uint8_t> want(x.size()), got(x.size());
      scalar().quantize(x.data(), want.data(), x.size(), o);
      active().quantize(x.data(), got.data(), x.size(), o);
      ASSERT_EQ(count_differences(got, want), 0u) << "w=" << w;
      const std::vector<float> zeros(x.size(), 0.f);
      const QAddOperand a{x.data(), false, 1.f, 0}, b{zeros.data(), false, 1.f, 0};
      scalar().qadd(a, b, want.data(), x.size(), o);
      active().qadd(a, b, got.data(), x.size(), o);
      ASSERT_EQ(count_differences(got, want), 0u) << "qadd w=" << w;
    }
  }
}

// +-0, subnormals, +-inf, NaNs, FLT_MAX, huge and tiny values, on grids whose scale
// allows the reciprocal and on grids where it does not (tiny / huge scales), every tail.
TEST(Elementwise, QuantizeSpecialValuesEqualsDivision) {
  const float nan_neg = -std::numeric_limits<float>::quiet_NaN();
  uint32_t payload_bits = 0x7FC12345u;
  float nan_payload;
  std::memcpy(&nan_payload, &payload_bits, 4);
  const std::vector<float> special = {0.f, -0.f, std::numeric_limits<float>::denorm_min(),
                                      -std::numeric_limits<float>::denorm_min(), FLT_MIN, -FLT_MIN, FLT_MIN * 0.75f,
                                      INFINITY, -INFINITY, NAN, nan_neg, nan_payload, FLT_MAX, -FLT_MAX, 1e30f,
                                      -1e30f, 3e38f, 1e-30f, 1.f, -1.f, 127.5f, -127.5f, 0.5f, -0.5f};
  std::vector<Grid> gs = {{0.1f, 0, 0, 255},   {0.0123f, 128, 0, 255}, {7.77f, 255, 0, 255}, {1e-38f, 128, 0, 255},
                          {3e-39f, 10, 0, 255}, {1e38f, 128, 0, 255},   {3e38f, 0, 0, 255},   {1.f / 3.f, 0, 0, 15}};
  for (const Grid& g : gs)
    for (size_t n : lengths()) {
      SCOPED_TRACE(g.str() + " n=" + std::to_string(n));
      std::vector<float> x(n);
      for (size_t i = 0; i < n; ++i) x[i] = special[(i * 7 + n) % special.size()] * (i % 5 == 4 ? g.scale : 1.f);
      std::vector<uint8_t> want(n + 1, 0xAB), got(n + 1, 0xAB);
      scalar().quantize(x.data(), want.data(), n, g.out());
      active().quantize(x.data(), got.data(), n, g.out());
      ASSERT_EQ(got, want);
      const std::vector<float> y(x.rbegin(), x.rend());
      const QAddOperand a{x.data(), false, 1.f, 0}, b{y.data(), false, 1.f, 0};
      scalar().qadd(a, b, want.data(), n, g.out());
      active().qadd(a, b, got.data(), n, g.out());
      ASSERT_EQ(got, want);
    }
}

// Random grids (log-uniform scales 2^-20..2^10, any zero point and code range) and
// random values over and past the code range, all qadd operand kinds.
TEST(Elementwise, RandomGridsEqualDivision) {
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> log2_scale(-20.f, 10.f), unit(-1.2f, 1.2f);
  std::uniform_int_distribution<int> code(0, 255), len(1, 300);
  for (int trial = 0; trial < 300; ++trial) {
    int q0 = code(rng), q1 = code(rng);
    if (q0 > q1) std::swap(q0, q1);
    const Grid g{std::exp2(log2_scale(rng)), code(rng), q0, q1};
    SCOPED_TRACE(g.str());
    const size_t n = static_cast<size_t>(len(rng));
    std::vector<float> x(n), y(n);
    for (size_t i = 0; i < n; ++i) x[i] = unit(rng) * 280.f * g.scale, y[i] = unit(rng) * 140.f * g.scale;
    const std::vector<uint8_t> q = codes(n, static_cast<uint32_t>(trial));
    std::vector<uint8_t> want(n + 1, 0xAB), got(n + 1, 0xAB);
    scalar().quantize(x.data(), want.data(), n, g.out());
    active().quantize(x.data(), got.data(), n, g.out());
    ASSERT_EQ(got, want);
    const QAddOperand fa{x.data(), false, 1.f, 0}, fb{y.data(), false, 1.f, 0},
        qb{q.data(), true, g.scale * 0.5f, code(rng)};
    for (const auto& [a, b] : {std::pair{fa, fb}, std::pair{fa, qb}, std::pair{qb, fa}, std::pair{qb, qb}}) {
      scalar().qadd(a, b, want.data(), n, g.out());
      active().qadd(a, b, got.data(), n, g.out());
      ASSERT_EQ(got, want) << "a.u8=" << a.u8 << " b.u8=" << b.u8;
    }
  }
}

// Two u8 operands without the verified reciprocal take the checked multiply: on grids
// built so that sums land on exact ties (b's step is half the output step) every pair
// equals the division.
TEST(Elementwise, QAddU8U8OnTieGridsEqualsDivision) {
  const AllPairs pairs;
  for (float so : {3.f, 0.3f, 0.7f, 0.11f, 0.013f, 1.7f, 0.9f, 6.1f, 1.f / 3.f})
    for (int32_t zo : {0, 128}) {
      SCOPED_TRACE("so=" + std::to_string(so) + " zo=" + std::to_string(zo));
      QAddOperand a{pairs.a.data(), true, so, 128}, b{pairs.b.data(), true, so * 0.5f, 128};
      const QuantizeOut o = Grid{so, zo, zo == 0 ? 0 : 5, 255}.out();
      for (size_t n : {size_t{65536}, size_t{65535}, size_t{47}}) {
        std::vector<uint8_t> want(n + 1, 0x5A), got(n + 1, 0x5A);
        scalar().qadd(a, b, want.data(), n, o);
        active().qadd(a, b, got.data(), n, o);
        ASSERT_EQ(count_differences(got, want), 0u) << "n=" << n;
      }
    }
}

// The RGB-input quantize: the scalar version equals quantize() per plane, then
// interleaved; the active ISA's equals the scalar one (tails, NaN, ties, clamps).
TEST(Elementwise, QuantizeInterleave3EqualsPerPlaneQuantize) {
  for (const Grid& g : grids())
    for (size_t n : lengths()) {
      SCOPED_TRACE(g.str() + " n=" + std::to_string(n));
      std::vector<float> v[3];
      for (uint32_t c = 0; c < 3; ++c) v[c] = values(n, g, static_cast<uint32_t>(n * 3 + c));
      const float* planes[3] = {v[0].data(), v[1].data(), v[2].data()};
      std::vector<uint8_t> want(3 * n + 1, 0x5A);
      for (size_t c = 0; c < 3; ++c) {
        std::vector<uint8_t> q(n);
        scalar().quantize(planes[c], q.data(), n, g.out());
        for (size_t p = 0; p < n; ++p) want[3 * p + c] = q[p];
      }
      std::vector<uint8_t> by_scalar(3 * n + 1, 0x5A), by_active(3 * n + 1, 0x5A);
      scalar().quantize_interleave3(planes, by_scalar.data(), n, g.out());
      active().quantize_interleave3(planes, by_active.data(), n, g.out());
      ASSERT_EQ(by_scalar, want);
      ASSERT_EQ(by_active, want);
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
