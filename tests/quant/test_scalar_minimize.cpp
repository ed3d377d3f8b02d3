// Bounded Brent and the bracket + Brent pair against known minima.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

#include "engine/error.h"
#include "quant/scalar_minimize.h"

namespace lapq::quant {
namespace {

TEST(MinimizeBounded, KnownMinima) {
  struct Case {
    std::function<double(double)> f;
    double lo, hi, xmin;
  };
  const std::vector<Case> cases = {
      {[](double x) { return (x - 1.3) * (x - 1.3); }, 0.0, 3.0, 1.3},
      {[](double x) { return std::sin(x); }, 0.0, 2 * std::numbers::pi, 1.5 * std::numbers::pi},
      {[](double x) { return std::fabs(x - 0.7); }, 0.0, 2.0, 0.7},             // kink
      {[](double x) { return std::pow(x - 2.0, 4); }, -5.0, 5.0, 2.0},         // flat bottom
      {[](double x) { return x; }, 1.0, 2.0, 1.0},                             // at the lower bound
      {[](double x) { return -x * x; }, -1.0, 3.0, 3.0},                        // at the upper bound
      {[](double x) { return std::exp(x) - 4 * x; }, 0.0, 5.0, std::log(4.0)},
  };
  for (const Case& c : cases) {
    std::vector<double> seen;
    const auto f = [&](double x) {
      seen.push_back(x);
      return c.f(x);
    };
    const ScalarMinResult r = minimize_bounded(f, c.lo, c.hi);
    // xatol 1e-5 plus sqrt(eps)|x|; the flat x^4 bottom is only found to ~f tolerance.
    const double tol = c.xmin == 2.0 ? 2e-3 : 3e-5 + 1.5e-8 * std::fabs(c.xmin);
    EXPECT_NEAR(r.x, c.xmin, tol) << "[" << c.lo << ", " << c.hi << "]";
    EXPECT_TRUE(r.converged);
    EXPECT_EQ(r.evals, static_cast<int>(seen.size()));
    EXPECT_EQ(r.fx, c.f(r.x));
    for (double x : seen) {
      EXPECT_GE(x, c.lo);
      EXPECT_LE(x, c.hi);
    }
    EXPECT_NEAR(seen.front(), c.lo + 0.3819660112501051 * (c.hi - c.lo), 1e-12);
    // Deterministic: the same points again.
    std::vector<double> first = seen;
    seen.clear();
    minimize_bounded(f, c.lo, c.hi);
    EXPECT_EQ(seen, first);
  }
}

// scipy's minimize_scalar docstring: f(x) = (x - 2) x (x + 2)^2.
//   bounded on (-3, -1): x = -2.0000002026, f = 3.28365179850e-13
//   Brent (bracket from 0, 1; tol 1.48e-8): x = 1.28077640403, f = -9.9149495908
// The printed digits are matched: same algorithm, same points.
double scipy_doc_f(double x) { return ((x - 2) * x) * ((x + 2) * (x + 2)); }  // Python evaluation order

TEST(MinimizeBounded, ReproducesScipyDocumentedResult) {
  const ScalarMinResult r = minimize_bounded(scipy_doc_f, -3.0, -1.0);
  EXPECT_NEAR(r.x, -2.0000002026, 5e-11);
  EXPECT_NEAR(r.fx, 3.28365179850e-13, 5e-23);
}

TEST(Brent, ReproducesScipyDocumentedResult) {
  const Bracket br = bracket_minimum(scipy_doc_f);
  const ScalarMinResult r = brent_minimize(scipy_doc_f, br);
  EXPECT_NEAR(r.x, 1.28077640403, 5e-12);
  EXPECT_NEAR(r.fx, -9.9149495908, 5e-11);
}

TEST(MinimizeBounded, ToleranceOptionsAndLimits) {
  // |x - c|^1.5: no parabola fits it exactly, so the tolerance decides the work.
  const auto f = [](double x) { return std::pow(std::fabs(x - 0.123456), 1.5); };
  BoundedMinimizeOptions loose;
  loose.xatol = 0.0;
  loose.xrtol = 1e-2;
  BoundedMinimizeOptions tight;
  tight.xatol = 1e-9;
  const ScalarMinResult rl = minimize_bounded(f, 0.0, 10.0, loose);
  const ScalarMinResult rt = minimize_bounded(f, 0.0, 10.0, tight);
  EXPECT_NEAR(rl.x, 0.123456, 0.1);
  EXPECT_NEAR(rt.x, 0.123456, 1e-7);
  EXPECT_LT(rl.evals, rt.evals);
  BoundedMinimizeOptions capped;
  capped.max_evals = 4;
  const ScalarMinResult rc = minimize_bounded(f, 0.0, 10.0, capped);
  EXPECT_EQ(rc.evals, 4);
  EXPECT_FALSE(rc.converged);
  const ScalarMinResult point = minimize_bounded(f, 2.0, 2.0);
  EXPECT_EQ(point.x, 2.0);
  EXPECT_THROW(minimize_bounded(f, 3.0, 2.0), Error);
  EXPECT_THROW(minimize_bounded(f, 0.0, INFINITY), Error);
}

TEST(Bracket, EnclosesTheMinimumWalkingDownhill) {
  for (double c : {5.0, -3.0, 0.4, 250.0}) {
    int calls = 0;
    const auto f = [&](double x) {
      ++calls;
      return (x - c) * (x - c);
    };
    const Bracket br = bracket_minimum(f);
    EXPECT_EQ(br.evals, calls);
    EXPECT_LE(std::min(br.xa, br.xc), c) << c;
    EXPECT_GE(std::max(br.xa, br.xc), c) << c;
    EXPECT_LE(br.fb, br.fa);
    EXPECT_LE(br.fb, br.fc);
    EXPECT_EQ(br.fa, f(br.xa));
    EXPECT_EQ(br.fb, f(br.xb));
    EXPECT_EQ(br.fc, f(br.xc));
    // With f(xa) known, one evaluation fewer and the same bracket.
    calls = 0;
    const Bracket br2 = bracket_minimum(f, 0.0, 1.0, c * c);
    EXPECT_EQ(br2.evals, br.evals - 1);
    EXPECT_EQ(br2.xb, br.xb);
    EXPECT_EQ(br2.xc, br.xc);
  }
  // Golden growth from (0, 1): the first trial beyond is 1 + 1.618034.
  std::vector<double> xs;
  bracket_minimum([&](double x) {
    xs.push_back(x);
    return -x;  // unbounded below along +x: grows until max_iter
  }, 0.0, 1.0, {}, 110.0, 5);
  ASSERT_GE(xs.size(), 3u);
  EXPECT_EQ(xs[0], 0.0);
  EXPECT_EQ(xs[1], 1.0);
  EXPECT_DOUBLE_EQ(xs[2], 2.618034);
}

TEST(Brent, FindsTheMinimumFromABracket) {
  struct Case {
    std::function<double(double)> f;
    double xmin;
  };
  const std::vector<Case> cases = {
      {[](double x) { return (x - 5.0) * (x - 5.0); }, 5.0},
      {[](double x) { return std::cosh(x + 2.0); }, -2.0},
      {[](double x) { return x * x * x * x - 3 * x; }, std::cbrt(0.75)},
      {[](double x) { return std::pow(std::fabs(x - 3.3), 1.5); }, 3.3},
  };
  for (const Case& c : cases) {
    const Bracket br = bracket_minimum(c.f);
    const ScalarMinResult r = brent_minimize(c.f, br);
    EXPECT_TRUE(r.converged);
    EXPECT_NEAR(r.x, c.xmin, 1e-6 * (1 + std::fabs(c.xmin)));
    EXPECT_LE(r.fx, br.fb);
    BrentOptions loose;
    loose.tol = 1e-2;  // Powell's line-search tolerance
    const ScalarMinResult rl = brent_minimize(c.f, br, loose);
    EXPECT_NEAR(rl.x, c.xmin, 0.05 * (1 + std::fabs(c.xmin)));
    EXPECT_LE(rl.evals, r.evals);
    if (c.xmin == 3.3) {
      EXPECT_LT(rl.evals, r.evals);
    }
  }
}

}  // namespace
}  // namespace lapq::quant
