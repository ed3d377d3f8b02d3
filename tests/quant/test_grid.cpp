// Grids: hand-computed levels and codes for every grid and bit width, round-half-
// to-even ties, clamping, the vectorized path against the std::nearbyint path,
// integer codes against fake-quantization (bit-exact), per-channel and bias correction.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "engine/error.h"
#include "quant/grid.h"

namespace lapq::quant {
namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;  // "did not throw"
}

TEST(Grid, BitWidthOutsideTwoToEightIsInvalidArgument) {
  for (int bits : {-1, 0, 1, 9, 16}) {
    EXPECT_EQ(code_of([&] { make_lapq_weight_grid(1.0f, bits); }), ErrorCode::kInvalidArgument) << bits;
    EXPECT_EQ(code_of([&] { make_symmetric_grid(1.0f, bits); }), ErrorCode::kInvalidArgument) << bits;
    EXPECT_EQ(code_of([&] { make_symmetric_full_grid(1.0f, bits); }), ErrorCode::kInvalidArgument) << bits;
    EXPECT_EQ(code_of([&] { make_unsigned_grid(1.0f, bits); }), ErrorCode::kInvalidArgument) << bits;
    EXPECT_EQ(code_of([&] { make_asymmetric_grid(-1.0f, 1.0f, bits); }), ErrorCode::kInvalidArgument) << bits;
  }
  for (int bits = 2; bits <= 8; ++bits) EXPECT_NO_THROW(make_lapq_weight_grid(1.0f, bits));
}

// The set of values a grid produces over a dense sweep of [-2 alpha, 2 alpha].
std::set<float> produced_levels(const Grid& g, float span) {
  std::set<float> out;
  const int n = 200001;
  for (int i = 0; i < n; ++i) out.insert(fake_quantize(g, -span + 2.0f * span * static_cast<float>(i) / (n - 1)));
  return out;
}

TEST(Grid, LapqMidRiseLevelsAreOddMultiplesOfAlphaOver2bMinus1) {
  const float alpha = 1.5f;
  for (int bits = 2; bits <= 8; ++bits) {
    const Grid g = make_lapq_weight_grid(alpha, bits);
    const int qmax = (1 << bits) - 1;
    const std::set<float> lv = produced_levels(g, 2 * alpha);
    ASSERT_EQ(lv.size(), static_cast<size_t>(1 << bits)) << bits;
    int q = 0;
    for (float v : lv) {
      const double want = alpha * (2.0 * q - qmax) / qmax;  // alpha * {-(n-1), ..., -1, 1, ..., n-1} / (n-1)
      EXPECT_NEAR(v, want, 1e-6 * alpha) << "bits " << bits << " q " << q;
      EXPECT_NE(v, 0.0f) << "zero must not be a mid-rise level";
      ++q;
    }
    EXPECT_FLOAT_EQ(*lv.begin(), -alpha);
    EXPECT_FLOAT_EQ(*lv.rbegin(), alpha);
  }
  // 4 bits: alpha * {+-1, +-3, ..., +-15} / 15, integer codes odd in [-15, 15], scale alpha/15.
  const Grid g4 = make_lapq_weight_grid(1.5f, 4);
  EXPECT_FLOAT_EQ(g4.step, 0.2f);
  EXPECT_FLOAT_EQ(int_params(g4).scale, 0.1f);
  EXPECT_EQ(quantize_code(g4, 0.01f), 1);
  EXPECT_EQ(quantize_code(g4, -0.01f), -1);
  EXPECT_EQ(quantize_code(g4, 1.45f), 15);
  EXPECT_EQ(quantize_code(g4, 9.0f), 15);
  EXPECT_EQ(quantize_code(g4, -9.0f), -15);
}

TEST(Grid, LapqMidRiseHandComputedTwoBitWithTies) {
  // alpha = 3, 2 bits: step 2, levels {-3, -1, 1, 3}; (w + 3) / 2 rounded half to even.
  const Grid g = make_lapq_weight_grid(3.0f, 2);
  EXPECT_FLOAT_EQ(g.step, 2.0f);
  EXPECT_EQ(fake_quantize(g, 0.0f), 1.0f);    // 1.5 -> 2 (even)    -> 2*2-3 = 1
  EXPECT_EQ(fake_quantize(g, -2.0f), -3.0f);  // 0.5 -> 0 (even)    -> -3
  EXPECT_EQ(fake_quantize(g, 2.0f), 1.0f);    // 2.5 -> 2 (even), not 3
  EXPECT_EQ(fake_quantize(g, -1.0f), -1.0f);  // 1.0 -> 1
  EXPECT_EQ(fake_quantize(g, 2.1f), 3.0f);
  EXPECT_EQ(fake_quantize(g, 7.0f), 3.0f);    // clamped
  EXPECT_EQ(fake_quantize(g, -7.0f), -3.0f);
}

TEST(Grid, SymmetricRestrictedRangeHandComputed) {
  for (int bits = 2; bits <= 8; ++bits) {
    const int qm = (1 << (bits - 1)) - 1;
    const Grid g = make_symmetric_grid(static_cast<float>(qm), bits);  // step exactly 1
    EXPECT_FLOAT_EQ(g.step, 1.0f) << bits;
    const IntParams ip = int_params(g);
    EXPECT_EQ(ip.code_min, -qm);
    EXPECT_EQ(ip.code_max, qm);
    EXPECT_EQ(quantize_code(g, 1000.0f), qm);
    EXPECT_EQ(quantize_code(g, -1000.0f), -qm);  // restricted: -qm, never -qm-1
    EXPECT_EQ(fake_quantize(g, 0.0f), 0.0f);      // zero is a level
    EXPECT_EQ(quantize_code(g, 0.5f), 0);         // ties to even
    EXPECT_EQ(quantize_code(g, -0.5f), 0);
    if (qm >= 2) {
      EXPECT_EQ(quantize_code(g, 1.5f), 2);
      EXPECT_EQ(quantize_code(g, -1.5f), -2);
    }
    EXPECT_EQ(produced_levels(g, 2.0f * qm).size(), static_cast<size_t>(2 * qm + 1));
  }
  EXPECT_EQ(int_params(make_symmetric_grid(1.0f, 8)).code_min, -127);
  EXPECT_EQ(int_params(make_symmetric_grid(1.0f, 4)).code_max, 7);
  const Grid g4 = make_symmetric_grid(0.7f, 4);
  EXPECT_FLOAT_EQ(g4.step, 0.1f);
  EXPECT_EQ(quantize_code(g4, 0.26f), 3);
  EXPECT_EQ(quantize_code(g4, -0.64f), -6);
}

// Full signed range (PyTorch's qint8 [-128, 127]): step = alpha / 2^(b-1), codes
// [-2^(b-1), 2^(b-1) - 1], levels -alpha .. alpha - step.
TEST(Grid, SymmetricFullRangeHandComputed) {
  for (int bits = 2; bits <= 8; ++bits) {
    const int half = 1 << (bits - 1);
    const Grid g = make_symmetric_full_grid(static_cast<float>(half), bits);  // step exactly 1
    EXPECT_EQ(g.kind, GridKind::kSymmetricFull);
    EXPECT_EQ(g.step, 1.0f) << bits;
    EXPECT_EQ(g.lo, -static_cast<float>(half));
    EXPECT_EQ(g.hi, static_cast<float>(half - 1));
    EXPECT_EQ(g.alpha(), static_cast<float>(half));  // make_grid(kind, alpha(), bits) rebuilds it
    const IntParams ip = int_params(g);
    EXPECT_EQ(ip.code_min, -half);
    EXPECT_EQ(ip.code_max, half - 1);
    EXPECT_EQ(ip.zero_point, 0);
    EXPECT_TRUE(ip.is_signed);
    EXPECT_EQ(quantize_code(g, 1000.0f), half - 1);
    EXPECT_EQ(quantize_code(g, -1000.0f), -half);  // the extra level
    EXPECT_EQ(fake_quantize(g, -1000.0f), -static_cast<float>(half));
    EXPECT_EQ(quantize_code(g, -static_cast<float>(half) - 0.4f), -half);
    EXPECT_EQ(quantize_code(g, static_cast<float>(half) - 0.5f), half - 1);  // tie at the top: clamped first
    EXPECT_EQ(fake_quantize(g, 0.0f), 0.0f);  // zero is a level
    EXPECT_EQ(quantize_code(g, 0.5f), 0);     // ties to even
    EXPECT_EQ(quantize_code(g, -0.5f), 0);
    EXPECT_EQ(quantize_code(g, 1.5f), bits == 2 ? 1 : 2);  // 2-bit: clamped to 1
    EXPECT_EQ(quantize_code(g, -1.5f), -2);
    EXPECT_EQ(quantize_code(g, -2.5f), -2);  // a tie (3 bits and up), clamped (2 bits)
    if (bits >= 3) EXPECT_EQ(quantize_code(g, -3.5f), -4);
    EXPECT_EQ(produced_levels(g, 2.0f * half).size(), static_cast<size_t>(2 * half)) << bits;
    EXPECT_EQ(make_grid(GridKind::kSymmetricFull, g.alpha(), bits).step, g.step);
  }
  // 8 bits: exactly PyTorch's qint8 range, and any scale is recovered by alpha = 128 * scale.
  const Grid g8 = make_symmetric_full_grid(1.0f, 8);
  EXPECT_EQ(int_params(g8).code_min, -128);
  EXPECT_EQ(int_params(g8).code_max, 127);
  EXPECT_EQ(g8.step, 1.0f / 128);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> e(-30.f, 5.f);
  for (int i = 0; i < 1000; ++i) {
    const float scale = std::ldexp(1.0f + static_cast<float>(i) / 1000.f, static_cast<int>(e(rng)));
    for (int bits : {4, 8})
      ASSERT_EQ(int_params(make_symmetric_full_grid(scale * static_cast<float>(1 << (bits - 1)), bits)).scale, scale)
          << scale;
  }
  // 4 bits: -8 .. 7 (the int4 container's full range).
  const Grid g4 = make_symmetric_full_grid(0.8f, 4);
  EXPECT_EQ(g4.step, 0.1f);
  EXPECT_EQ(quantize_code(g4, -0.8f), -8);
  EXPECT_EQ(quantize_code(g4, 0.8f), 7);
  EXPECT_EQ(quantize_code(g4, -0.64f), -6);
  const Grid g4e = make_symmetric_full_grid(1.0f, 4);  // step 1/8: the ties below are exact
  std::vector<float> x = {-1.0f, -0.9375f, -0.8125f, 0.875f, 2.0f};
  std::vector<int8_t> c(x.size());
  const IntParams ip = quantize_s8(g4e, x, c);
  EXPECT_EQ(c, (std::vector<int8_t>{-8, -8, -6, 7, 7}));  // -7.5 -> -8, -6.5 -> -6 (ties to even)
  EXPECT_EQ(ip.code_min, -8);
  EXPECT_EQ(ip.scale, 0.125f);
}

TEST(Grid, GridKindNamesRoundTrip) {
  for (GridKind k : {GridKind::kLapqMidRise, GridKind::kSymmetric, GridKind::kUnsigned, GridKind::kAsymmetric,
                     GridKind::kSymmetricFull}) {
    GridKind back = GridKind::kUnsigned;
    ASSERT_TRUE(grid_kind_from_name(grid_kind_name(k), &back)) << grid_kind_name(k);
    EXPECT_EQ(back, k);
  }
  GridKind k;
  EXPECT_FALSE(grid_kind_from_name("symmetric-restricted", &k));
  EXPECT_FALSE(grid_kind_from_name("", &k));
  EXPECT_STREQ(grid_kind_name(GridKind::kSymmetricFull), "symmetric-full");
  EXPECT_TRUE(is_weight_grid(GridKind::kSymmetricFull));
  EXPECT_FALSE(is_weight_grid(GridKind::kUnsigned));
}

TEST(Grid, UnsignedHandComputed) {
  for (int bits = 2; bits <= 8; ++bits) {
    const int qmax = (1 << bits) - 1;
    const Grid g = make_unsigned_grid(static_cast<float>(qmax), bits);  // step 1
    EXPECT_FLOAT_EQ(g.step, 1.0f);
    EXPECT_EQ(quantize_code(g, -3.0f), 0);
    EXPECT_EQ(quantize_code(g, 0.5f), 0);
    EXPECT_EQ(quantize_code(g, 1.5f), 2);
    EXPECT_EQ(quantize_code(g, 2.5f), 2);
    EXPECT_EQ(quantize_code(g, 1e6f), qmax);
    EXPECT_EQ(fake_quantize(g, static_cast<float>(qmax) + 0.4f), static_cast<float>(qmax));
    EXPECT_EQ(produced_levels(g, 2.0f * qmax).size(), static_cast<size_t>(qmax + 1));
  }
  const Grid g = make_unsigned_grid(3.0f, 4);  // step 0.2
  EXPECT_FLOAT_EQ(g.step, 0.2f);
  EXPECT_NEAR(fake_quantize(g, 1.01f), 1.0f, 1e-6f);
}

TEST(Grid, AsymmetricHandComputed) {
  // [-1, 2], 2 bits: step 1, zero point 1, levels {-1, 0, 1, 2}.
  const Grid g = make_asymmetric_grid(-1.0f, 2.0f, 2);
  EXPECT_FLOAT_EQ(g.step, 1.0f);
  EXPECT_EQ(g.zero_point, 1);
  EXPECT_EQ(quantize_code(g, 0.0f), 1);
  EXPECT_EQ(fake_quantize(g, 0.0f), 0.0f);
  EXPECT_EQ(quantize_code(g, 0.5f), 1);   // rne(0.5) = 0
  EXPECT_EQ(quantize_code(g, 1.5f), 3);   // rne(1.5) = 2
  EXPECT_EQ(quantize_code(g, -1.5f), 0);  // rne(-1.5) = -2 -> clamp
  EXPECT_EQ(fake_quantize(g, -1.5f), -1.0f);
  EXPECT_EQ(quantize_code(g, 5.0f), 3);
  // 8 bits [-1, 2]: step 3/255, zero point rne(85) = 85; 0 is exact.
  const Grid g8 = make_asymmetric_grid(-1.0f, 2.0f, 8);
  EXPECT_EQ(g8.zero_point, 85);
  EXPECT_EQ(fake_quantize(g8, 0.0f), 0.0f);
  EXPECT_EQ(quantize_code(g8, 2.0f), 255);
  EXPECT_EQ(quantize_code(g8, -1.0f), 0);
  // zero point rounds half to even: [-0.5, 2.5], 2 bits: step 1, -lo/step = 0.5 -> 0.
  EXPECT_EQ(make_asymmetric_grid(-0.5f, 2.5f, 2).zero_point, 0);
  EXPECT_EQ(make_asymmetric_grid(-1.5f, 1.5f, 2).zero_point, 2);  // 1.5 -> 2
  // A range not containing zero is widened to contain it.
  const Grid gp = make_asymmetric_grid(0.5f, 2.0f, 8);
  EXPECT_EQ(gp.lo, 0.0f);
  EXPECT_EQ(gp.zero_point, 0);
  const Grid gn = make_asymmetric_grid(-2.0f, -0.5f, 8);
  EXPECT_EQ(gn.hi, 0.0f);
  EXPECT_EQ(gn.zero_point, 255);
  EXPECT_EQ(fake_quantize(gn, 0.0f), 0.0f);
  EXPECT_EQ(code_of([] { make_asymmetric_grid(-INFINITY, 1.0f, 8); }), ErrorCode::kInvalidArgument);
}

TEST(Grid, AlphaIsClampedToASmallPositiveMinimum) {
  EXPECT_EQ(clamp_alpha(0.0f), kAlphaFloorAbs);
  EXPECT_EQ(clamp_alpha(-3.0f), kAlphaFloorAbs);
  EXPECT_EQ(clamp_alpha(NAN), kAlphaFloorAbs);
  EXPECT_EQ(clamp_alpha(0.0f, 100.0f), kAlphaFloorRel * 100.0f);
  EXPECT_EQ(clamp_alpha(0.5f, 100.0f), 0.5f);
  for (GridKind k : {GridKind::kLapqMidRise, GridKind::kSymmetric, GridKind::kUnsigned, GridKind::kAsymmetric,
                     GridKind::kSymmetricFull}) {
    for (float a : {0.0f, -1.0f}) {
      const Grid g = make_grid(k, a, 4);
      EXPECT_GT(g.step, 0.0f) << grid_kind_name(k);
      EXPECT_TRUE(std::isfinite(fake_quantize(g, 1.0f))) << grid_kind_name(k);
    }
  }
}

TEST(Grid, RoundingTrickEqualsNearbyint) {
  for (int i = -1200; i <= 1200; ++i) {  // every quarter in [-300, 300]: all ties included
    const float v = i * 0.25f;
    EXPECT_TRUE(same_bits(detail::rne_small(v) + 0.0f, std::nearbyint(v) + 0.0f)) << v;
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-256.0f, 256.0f);
  for (int i = 0; i < 100000; ++i) {
    const float v = d(rng);
    ASSERT_EQ(detail::rne_small(v), std::nearbyint(v)) << v;
  }
  // Values next to the ties.
  for (float t : {0.5f, 1.5f, 2.5f, 254.5f, -0.5f, -1.5f}) {
    ASSERT_EQ(detail::rne_small(std::nextafter(t, 1000.0f)), std::nearbyint(std::nextafter(t, 1000.0f)));
    ASSERT_EQ(detail::rne_small(std::nextafter(t, -1000.0f)), std::nearbyint(std::nextafter(t, -1000.0f)));
  }
}

// Inputs that stress a grid: random values over twice its range plus every exact
// rounding threshold (tie point) and its float neighbours.
std::vector<float> stress_inputs(const Grid& g, uint32_t seed) {
  std::vector<float> v;
  std::mt19937 rng(seed);
  const float span = 2.0f * std::max(std::fabs(g.lo), std::fabs(g.hi));
  std::uniform_real_distribution<float> d(-span, span);
  for (int i = 0; i < 20000; ++i) v.push_back(d(rng));
  const IntParams ip = int_params(g);
  for (int c = ip.code_min - 1; c <= ip.code_max + 1; ++c) {
    const float tie = g.kind == GridKind::kLapqMidRise ? (c + 0.5f) * g.step - g.hi : (c + 0.5f) * g.step;
    v.push_back(tie);
    v.push_back(std::nextafter(tie, INFINITY));
    v.push_back(std::nextafter(tie, -INFINITY));
  }
  v.push_back(0.0f);
  v.push_back(-0.0f);
  return v;
}

std::vector<Grid> all_grids() {
  std::vector<Grid> gs;
  for (int bits = 2; bits <= 8; ++bits) {
    for (float a : {0.37f, 1.0f, 5.3f}) {
      gs.push_back(make_lapq_weight_grid(a, bits));
      gs.push_back(make_symmetric_grid(a, bits));
      gs.push_back(make_symmetric_full_grid(a, bits));
      gs.push_back(make_unsigned_grid(a, bits));
      gs.push_back(make_asymmetric_grid(-0.3f * a, a, bits));
    }
  }
  return gs;
}

TEST(Grid, VectorPathIsBitIdenticalToScalarNearbyintPath) {
  uint32_t seed = 1;
  for (const Grid& g : all_grids()) {
    const std::vector<float> x = stress_inputs(g, seed++);
    std::vector<float> y(x.size());
    quantize_dequantize(g, x, y);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_TRUE(same_bits(y[i] + 0.0f, fake_quantize(g, x[i]) + 0.0f))
          << grid_kind_name(g.kind) << " bits " << g.bits << " x " << x[i] << " vec " << y[i] << " scalar "
          << fake_quantize(g, x[i]);
    // In place.
    std::vector<float> z = x;
    quantize_dequantize(g, z, z);
    ASSERT_EQ(z, y);
  }
}

TEST(Grid, IntegerCodesDequantizeExactlyToFakeQuant) {
  uint32_t seed = 100;
  for (const Grid& g : all_grids()) {
    const std::vector<float> x = stress_inputs(g, seed++);
    std::vector<float> fq(x.size());
    quantize_dequantize(g, x, fq);
    const IntParams ip0 = int_params(g);
    std::vector<int32_t> codes(x.size());
    if (ip0.is_signed) {
      if (g.kind == GridKind::kLapqMidRise && g.bits == 8) {
        std::vector<int8_t> c8(x.size());
        EXPECT_EQ(code_of([&] { quantize_s8(g, x, c8); }), ErrorCode::kUnsupported);
        for (size_t i = 0; i < x.size(); ++i) codes[i] = quantize_code(g, x[i]);
      } else {
        std::vector<int8_t> c8(x.size());
        quantize_s8(g, x, c8);
        for (size_t i = 0; i < x.size(); ++i) codes[i] = c8[i];
      }
    } else {
      std::vector<uint8_t> c8(x.size());
      quantize_u8(g, x, c8);
      for (size_t i = 0; i < x.size(); ++i) codes[i] = c8[i];
    }
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(codes[i], quantize_code(g, x[i])) << grid_kind_name(g.kind) << " x " << x[i];
      ASSERT_GE(codes[i], ip0.code_min);
      ASSERT_LE(codes[i], ip0.code_max);
      if (g.kind == GridKind::kLapqMidRise) {
        ASSERT_NE(codes[i] % 2, 0) << "mid-rise codes are odd";
      }
      const float deq = static_cast<float>(codes[i] - ip0.zero_point) * ip0.scale;
      ASSERT_TRUE(same_bits(deq + 0.0f, fq[i] + 0.0f)) << grid_kind_name(g.kind) << " bits " << g.bits;
    }
  }
}

TEST(Grid, CodeFunctionsRejectTheWrongGridOrSize) {
  std::vector<float> x(4, 0.5f);
  std::vector<int8_t> s(4);
  std::vector<uint8_t> u(4), u3(3);
  EXPECT_EQ(code_of([&] { quantize_s8(make_unsigned_grid(1, 8), x, s); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { quantize_u8(make_symmetric_grid(1, 8), x, u); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { quantize_u8(make_unsigned_grid(1, 8), x, u3); }), ErrorCode::kInvalidArgument);
  std::vector<float> y3(3);
  EXPECT_EQ(code_of([&] { quantize_dequantize(make_unsigned_grid(1, 8), x, y3); }), ErrorCode::kInvalidArgument);
}

TEST(Grid, PerChannelEqualsPerTensorOnEachChannel) {
  const int oc = 5, k = 37;
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> wei(oc * k);
  for (float& v : wei) v = d(rng);
  std::vector<Grid> grids;
  for (int c = 0; c < oc; ++c) grids.push_back(make_lapq_weight_grid(0.5f + 0.3f * c, 4));
  std::vector<float> out(wei.size());
  quantize_dequantize_per_channel(grids, wei, out);
  std::vector<int8_t> codes(wei.size());
  const std::vector<IntParams> ips = quantize_s8_per_channel(grids, wei, codes);
  ASSERT_EQ(ips.size(), static_cast<size_t>(oc));
  for (int c = 0; c < oc; ++c) {
    for (int i = 0; i < k; ++i) {
      const size_t j = static_cast<size_t>(c * k + i);
      ASSERT_EQ(out[j], fake_quantize(grids[c], wei[j]));
      ASSERT_EQ(codes[j], quantize_code(grids[c], wei[j]));
      ASSERT_EQ(static_cast<float>(codes[j]) * ips[c].scale, out[j]);
    }
  }
  std::vector<float> bad(oc * k + 1), bad_out(oc * k + 1);
  EXPECT_EQ(code_of([&] { quantize_dequantize_per_channel(grids, bad, bad_out); }), ErrorCode::kInvalidArgument);
}

TEST(Grid, PerChannelFullRangeReachesMinus128) {
  const int oc = 4, k = 50;
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> wei(oc * k);
  for (float& v : wei) v = d(rng);
  std::vector<Grid> grids;
  for (int c = 0; c < oc; ++c) {
    float mx = 0.f;
    for (int i = 0; i < k; ++i) mx = std::max(mx, std::fabs(wei[c * k + i]));
    grids.push_back(make_symmetric_full_grid(0.5f * mx, 8));  // clipping: both extremes saturate
  }
  std::vector<float> out(wei.size());
  quantize_dequantize_per_channel(grids, wei, out);
  std::vector<int8_t> codes(wei.size());
  const std::vector<IntParams> ips = quantize_s8_per_channel(grids, wei, codes);
  for (int c = 0; c < oc; ++c) {
    int lows = 0, highs = 0;
    for (int i = 0; i < k; ++i) {
      const size_t j = static_cast<size_t>(c * k + i);
      ASSERT_EQ(codes[j], quantize_code(grids[c], wei[j]));
      ASSERT_TRUE(same_bits(static_cast<float>(codes[j]) * ips[c].scale + 0.0f, out[j] + 0.0f));
      lows += codes[j] == -128;
      highs += codes[j] == 127;
    }
    EXPECT_GT(lows, 0) << c;
    EXPECT_GT(highs, 0) << c;
    EXPECT_EQ(ips[c].code_min, -128);
  }
}

TEST(Grid, BiasCorrectionHandComputed) {
  const std::vector<float> wei = {1, 2, 3, 4};
  std::vector<float> hat = {0, 2, 3, 3};
  const std::vector<float> shift = bias_correct_weights(wei, hat, 2);
  ASSERT_EQ(shift.size(), 2u);
  EXPECT_FLOAT_EQ(shift[0], 0.5f);  // mean 1.5 vs 1.0
  EXPECT_FLOAT_EQ(shift[1], 0.5f);  // mean 3.5 vs 3.0
  EXPECT_EQ(hat, (std::vector<float>{0.5f, 2.5f, 3.5f, 3.5f}));
  EXPECT_EQ(code_of([&] { bias_correct_weights(wei, hat, 3); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of([&] { bias_correct_weights(wei, hat, 0); }), ErrorCode::kInvalidArgument);
}

TEST(Grid, BiasCorrectionRestoresEveryChannelMean) {
  const int oc = 16, k = 3 * 3 * 8;
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 0.1f);
  std::vector<float> wei(oc * k);
  for (int c = 0; c < oc; ++c)
    for (int i = 0; i < k; ++i) wei[c * k + i] = d(rng) + 0.01f * (c - 8);  // channel-dependent mean
  std::vector<float> hat(wei.size());
  quantize_dequantize(make_lapq_weight_grid(0.15f, 3), wei, hat);  // per-tensor grid, coarse: means drift
  std::vector<float> before = hat;
  const std::vector<float> shift = bias_correct_weights(wei, hat, oc);
  double max_drift_before = 0;
  for (int c = 0; c < oc; ++c) {
    double mw = 0, mh = 0, mb = 0;
    for (int i = 0; i < k; ++i) {
      mw += wei[c * k + i];
      mh += hat[c * k + i];
      mb += before[c * k + i];
      ASSERT_EQ(hat[c * k + i], before[c * k + i] + shift[c]);
    }
    mw /= k; mh /= k; mb /= k;
    max_drift_before = std::max(max_drift_before, std::fabs(mb - mw));
    // Float rounding of w_hat + shift: at most half an ulp of |w_hat| <= 0.2 per element.
    EXPECT_NEAR(mh, mw, 2e-8) << c;
    EXPECT_NEAR(shift[c], mw - mb, 1e-7) << c;
  }
  EXPECT_GT(max_drift_before, 1e-4);  // the test data really had a drift to correct
}

}  // namespace
}  // namespace lapq::quant
