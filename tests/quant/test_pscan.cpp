// p scan: linspace and the guarded quadratic fit on known parabolas.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/error.h"
#include "quant/pscan.h"

namespace lapq::quant {
namespace {

TEST(PScan, DefaultScanIsLinspace2To4By10) {
  const std::vector<double> p = p_scan_values();
  ASSERT_EQ(p.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(p[i], 2.0 + i * 2.0 / 9.0, 1e-15);
  EXPECT_EQ(p.front(), 2.0);
  EXPECT_EQ(p.back(), 4.0);
  EXPECT_NEAR(p[1], 2.2222222222222223, 1e-15);
  PScanOptions wide{1.5, 4.5, 13};
  const std::vector<double> w = p_scan_values(wide);
  EXPECT_EQ(w.size(), 13u);
  EXPECT_EQ(w.back(), 4.5);
  EXPECT_DOUBLE_EQ(w[1], 1.75);
  EXPECT_EQ(linspace(3.0, 7.0, 1), std::vector<double>{3.0});
  EXPECT_THROW(linspace(0, 1, 0), Error);
  EXPECT_THROW(p_scan_values(PScanOptions{0.0, 4.0, 10}), Error);
  EXPECT_THROW(p_scan_values(PScanOptions{3.0, 2.0, 10}), Error);
}

std::vector<double> eval(const std::vector<double>& p, double a, double b, double c) {
  std::vector<double> l;
  for (double v : p) l.push_back(a * v * v + b * v + c);
  return l;
}

TEST(PScan, ExactParabolaGivesItsVertex) {
  const std::vector<double> p = p_scan_values();
  // 3 (p - 2.7)^2 + 1 = 3p^2 - 16.2p + 22.87
  const PStarFit f = fit_p_star(p, eval(p, 3.0, -16.2, 22.87));
  EXPECT_EQ(f.which, PStarCase::kStationary);
  EXPECT_NEAR(f.p_star, 2.7, 1e-9);
  EXPECT_NEAR(f.a, 3.0, 1e-9);
  EXPECT_NEAR(f.b, -16.2, 1e-8);
  EXPECT_NEAR(f.c, 22.87, 1e-8);
  EXPECT_NEAR(f.best_p, 2.6666666666666665, 1e-12);  // the scanned p closest to 2.7
}

TEST(PScan, ConcaveFitFallsBackToBestScannedP) {
  const std::vector<double> p = p_scan_values();
  std::vector<double> l = eval(p, -1.0, 6.0, 0.0);  // -(p-3)^2 + 9: maximum at 3
  l.back() -= 0.01;                                   // make p = 4 the unique best
  const PStarFit f = fit_p_star(p, l);
  EXPECT_EQ(f.which, PStarCase::kConcave);
  EXPECT_LT(f.a, 0.0);
  EXPECT_EQ(f.p_star, 4.0);
  EXPECT_EQ(f.best_p, 4.0);
  EXPECT_NEAR(f.p_stationary, 3.0, 0.05);
  // A straight line (a = 0 up to rounding) is not a minimum either.
  const PStarFit lin = fit_p_star(p, eval(p, 0.0, 1.0, 0.0));
  EXPECT_NE(lin.which, PStarCase::kStationary);
  EXPECT_EQ(lin.p_star, 2.0);
}

TEST(PScan, VertexOutsideTheScanFallsBackToBestScannedP) {
  const std::vector<double> p = p_scan_values();
  const PStarFit hi = fit_p_star(p, eval(p, 1.0, -10.0, 30.0));  // vertex at 5
  EXPECT_EQ(hi.which, PStarCase::kOutOfRange);
  EXPECT_NEAR(hi.p_stationary, 5.0, 1e-9);
  EXPECT_EQ(hi.p_star, 4.0);
  const PStarFit lo = fit_p_star(p, eval(p, 2.0, -7.2, 0.0));  // vertex at 1.8 (MobileNetV2-like)
  EXPECT_EQ(lo.which, PStarCase::kOutOfRange);
  EXPECT_NEAR(lo.p_stationary, 1.8, 1e-9);
  EXPECT_EQ(lo.p_star, 2.0);
}

// The measured W4A4 scan of CIFAR ResNet-20 (paper preset, docs/quantization-results.md):
// a convex fit with its vertex inside the range, whose own loss is worse than p = 2.889's.
TEST(PScan, StationaryPStarWorseThanTheBestScannedPIsReplaced) {
  const std::vector<double> p = p_scan_values();
  const std::vector<double> l = {0.826, 0.887, 0.754, 0.760, 0.736, 0.777, 0.858, 0.818, 0.768, 0.742};
  PStarFit f = fit_p_star(p, l);
  ASSERT_EQ(f.which, PStarCase::kStationary);
  EXPECT_EQ(f.best_p, p[4]);
  EXPECT_EQ(f.best_loss, 0.736);
  const double fitted = f.p_star;
  PStarFit kept = f;
  EXPECT_FALSE(prefer_best_scanned(kept, 0.736));  // as good as the best scanned: the fit stays
  EXPECT_EQ(kept.p_star, fitted);
  EXPECT_EQ(kept.which, PStarCase::kStationary);
  EXPECT_FALSE(prefer_best_scanned(kept, 0.70));
  EXPECT_EQ(kept.p_star, fitted);
  EXPECT_TRUE(prefer_best_scanned(f, 0.867));  // the measured loss at p* = 3.69
  EXPECT_EQ(f.p_star, p[4]);
  EXPECT_EQ(f.which, PStarCase::kWorseThanScanned);
  EXPECT_STREQ(p_star_case_name(f.which), "worse-than-scanned");
  PStarFit nan_loss = fit_p_star(p, l);
  EXPECT_TRUE(prefer_best_scanned(nan_loss, std::nan("")));
  EXPECT_EQ(nan_loss.p_star, p[4]);
  // Already the best scanned p (a fallback case): nothing to replace.
  PStarFit out = fit_p_star(p, eval(p, 1.0, -10.0, 30.0));
  EXPECT_FALSE(prefer_best_scanned(out, 100.0));
  EXPECT_EQ(out.which, PStarCase::kOutOfRange);
}

TEST(PScan, NoisyDataIsALeastSquaresFit) {
  const std::vector<double> p = p_scan_values();
  const std::vector<double> noise = {0.03, -0.02, 0.05, -0.04, 0.0, 0.01, -0.03, 0.02, 0.04, -0.05};
  std::vector<double> l = eval(p, 0.5, -3.0, 5.0);  // vertex 3
  for (size_t i = 0; i < l.size(); ++i) l[i] += noise[i];
  const PStarFit f = fit_p_star(p, l);
  ASSERT_EQ(f.which, PStarCase::kStationary);
  // Normal equations: the residual is orthogonal to 1, p and p^2.
  double r0 = 0, r1 = 0, r2 = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double r = l[i] - (f.a * p[i] * p[i] + f.b * p[i] + f.c);
    r0 += r;
    r1 += r * p[i];
    r2 += r * p[i] * p[i];
  }
  EXPECT_NEAR(r0, 0.0, 1e-10);
  EXPECT_NEAR(r1, 0.0, 1e-10);
  EXPECT_NEAR(r2, 0.0, 1e-9);
  EXPECT_NEAR(f.p_star, -f.b / (2 * f.a), 1e-9);
  EXPECT_NEAR(f.p_star, 3.0, 0.2);
}

TEST(PScan, NonFiniteLossesAreLeftOutAndTooFewPointsFallBack) {
  const std::vector<double> p = p_scan_values();
  std::vector<double> l = eval(p, 3.0, -16.2, 22.87);
  l[3] = NAN;        // p = 2.667, the true best, exploded
  l[5] = INFINITY;
  const PStarFit f = fit_p_star(p, l);
  EXPECT_EQ(f.which, PStarCase::kStationary);
  EXPECT_NEAR(f.p_star, 2.7, 1e-9);
  EXPECT_NE(f.best_p, p[3]);
  EXPECT_TRUE(std::isfinite(f.best_loss));
  const std::vector<double> p2 = {2.0, 3.0, 3.0};
  const PStarFit two = fit_p_star(p2, std::vector<double>{1.0, 0.5, 0.6});
  EXPECT_EQ(two.which, PStarCase::kTooFewPoints);
  EXPECT_EQ(two.p_star, 3.0);
  EXPECT_THROW(fit_p_star(p2, std::vector<double>{1.0, 2.0}), Error);
  EXPECT_THROW(fit_p_star(p2, std::vector<double>{NAN, NAN, INFINITY}), Error);
}

}  // namespace
}  // namespace lapq::quant
