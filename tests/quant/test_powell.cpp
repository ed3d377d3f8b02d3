// Powell's method: known minima, scipy's evaluation count on its documented
// example, determinism, the first iteration as a coordinate sweep, limits,
// scaling, positivity and callbacks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/error.h"
#include "quant/powell.h"
#include "quant/scalar_minimize.h"

namespace lapq::quant {
namespace {

double bowl(std::span<const double> x) {  // coupled quadratic, minimum 0.5 at (1, -2)
  const double a = x[0] - 1.0, b = x[1] + 2.0;
  return a * a + 10.0 * b * b + 3.0 * a * b + 0.5;
}
double rosenbrock(std::span<const double> x) {
  const double a = 1.0 - x[0], b = x[1] - x[0] * x[0];
  return a * a + 100.0 * b * b;
}
double separable(std::span<const double> x) {  // sum (i+1) (x_i - c_i)^2, c_i = 0.5 i - 2
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - (0.5 * static_cast<double>(i) - 2.0);
    s += static_cast<double>(i + 1) * d * d;
  }
  return s;
}

TEST(Powell, ScipyDocumentedExampleEvaluationCount) {
  // scipy's fmin_powell docstring: f(x) = x^2 from -1 -> 2 iterations, 16 evaluations.
  PowellOptions o;
  o.reevaluate_line_origin = true;  // scipy's count
  const std::vector<double> x0 = {-1.0};
  const PowellResult r = minimize_powell([](std::span<const double> x) { return x[0] * x[0]; }, x0, o);
  EXPECT_EQ(r.iterations, 2);
  EXPECT_EQ(r.evals, 16);
  EXPECT_EQ(r.stop, PowellStop::kConverged);
  EXPECT_NEAR(r.x[0], 0.0, 1e-6);
  // Reusing the known f at each line origin: the same point, one evaluation fewer per line search.
  const PowellResult r2 = minimize_powell([](std::span<const double> x) { return x[0] * x[0]; }, x0);
  EXPECT_EQ(r2.x, r.x);
  EXPECT_EQ(r2.iterations, 2);
  EXPECT_LT(r2.evals, r.evals);
}

TEST(Powell, CoupledQuadraticBowl) {
  const std::vector<double> x0 = {4.0, 3.0};
  const PowellResult r = minimize_powell(bowl, x0);
  EXPECT_EQ(r.stop, PowellStop::kConverged);
  EXPECT_NEAR(r.x[0], 1.0, 1e-3);
  EXPECT_NEAR(r.x[1], -2.0, 1e-3);
  EXPECT_NEAR(r.f, 0.5, 1e-6);
  EXPECT_EQ(r.f, bowl(r.x));
  // Coupling makes one sweep insufficient: the direction set was updated.
  EXPECT_GE(r.iterations, 2);
  std::cout << "[ measured ] bowl: iterations " << r.iterations << ", evaluations " << r.evals << "\n";
}

TEST(Powell, Rosenbrock2DFromTheStandardStart) {
  const std::vector<double> x0 = {-1.2, 1.0};
  const PowellResult r = minimize_powell(rosenbrock, x0);
  EXPECT_EQ(r.stop, PowellStop::kConverged);
  EXPECT_NEAR(r.x[0], 1.0, 1e-3);
  EXPECT_NEAR(r.x[1], 1.0, 2e-3);
  EXPECT_LT(r.f, 1e-6);
  const PowellResult again = minimize_powell(rosenbrock, x0);
  EXPECT_EQ(again.evals, r.evals);
  EXPECT_EQ(again.x, r.x);
  std::cout << "[ measured ] rosenbrock: iterations " << r.iterations << ", evaluations " << r.evals << "\n";
}

TEST(Powell, Separable10D) {
  const std::vector<double> x0(10, 0.0);
  const PowellResult r = minimize_powell(separable, x0);
  EXPECT_EQ(r.stop, PowellStop::kConverged);
  for (size_t i = 0; i < 10; ++i) EXPECT_NEAR(r.x[i], 0.5 * static_cast<double>(i) - 2.0, 1e-4) << i;
  EXPECT_LT(r.f, 1e-8);
  std::cout << "[ measured ] separable-10d: iterations " << r.iterations << ", evaluations " << r.evals << "\n";
}

TEST(Powell, EvaluationSequenceIsDeterministic) {
  std::vector<std::vector<double>> run1, run2;
  const std::vector<double> x0 = {0.3, -0.7, 2.0};
  const auto f = [](std::span<const double> x) {
    return std::pow(x[0] - 1, 2) + std::pow(x[1] * x[2] - 1, 2) + 0.1 * std::pow(x[2], 4) + std::sin(x[0] * x[1]);
  };
  PowellOptions o1, o2;
  o1.on_eval = [&](const PowellEvalInfo& e) { run1.emplace_back(e.x.begin(), e.x.end()); };
  o2.on_eval = [&](const PowellEvalInfo& e) { run2.emplace_back(e.x.begin(), e.x.end()); };
  const PowellResult r1 = minimize_powell(f, x0, o1);
  const PowellResult r2 = minimize_powell(f, x0, o2);
  EXPECT_EQ(run1, run2);
  EXPECT_EQ(r1.evals, static_cast<int64_t>(run1.size()));
  EXPECT_EQ(r1.x, r2.x);
}

// One iteration on a separable function is a cyclic coordinate sweep: the result equals
// N successive 1-D line searches (bracket from t = 0, 1 then Brent, tol 1e-2), done here
// independently with the scalar routines, bit for bit.
TEST(Powell, MaxIterOneIsOneCoordinateSweep) {
  const size_t n = 10;
  const std::vector<double> x0(n, 0.25);
  PowellOptions o;
  o.maxiter = 1;
  // Coordinates that differ from the previous evaluation, per evaluation.
  std::vector<std::vector<int>> changed;
  std::vector<double> prev;
  std::vector<int> line_of_eval;
  o.on_eval = [&](const PowellEvalInfo& e) {
    std::vector<int> diff;
    for (size_t i = 0; i < prev.size(); ++i) {
      if (prev[i] != e.x[i]) diff.push_back(static_cast<int>(i));
    }
    if (!prev.empty()) {
      EXPECT_EQ(first_changed_coordinate(prev, e.x), diff.empty() ? -1 : diff[0]);
    }
    changed.push_back(diff);
    line_of_eval.push_back(e.line);
    prev.assign(e.x.begin(), e.x.end());
  };
  const PowellResult r = minimize_powell(separable, x0, o);
  EXPECT_EQ(r.iterations, 1);
  EXPECT_EQ(r.stop, PowellStop::kMaxIter);

  std::vector<double> u = x0;
  double fu = separable(u);
  int64_t evals = 1;
  for (size_t i = 0; i < n; ++i) {
    const auto g = [&](double t) {
      std::vector<double> p = u;
      p[i] = u[i] + t;
      return separable(p);
    };
    const Bracket br = bracket_minimum(g, 0.0, 1.0, fu);
    BrentOptions bo;
    bo.tol = 1e-2;
    const ScalarMinResult s = brent_minimize(g, br, bo);
    evals += br.evals + s.evals;
    u[i] = u[i] + s.x;
    fu = s.fx;
  }
  EXPECT_EQ(r.x, u);
  EXPECT_EQ(r.f, fu);
  EXPECT_EQ(r.evals, evals);
  // Evaluations move through the coordinates in order: during line search i only
  // coordinate i moves, except that the first evaluation of line i also returns
  // coordinate i-1 from its last trial point to its line minimum.
  ASSERT_EQ(line_of_eval.size(), static_cast<size_t>(r.evals));
  EXPECT_EQ(line_of_eval[0], -1);  // the starting point
  for (size_t k = 1; k < changed.size(); ++k) {
    const int line = line_of_eval[k];
    ASSERT_GE(line, 0);
    ASSERT_GE(line, line_of_eval[k - 1]) << k;
    const bool first_of_line = line != line_of_eval[k - 1];
    for (int c : changed[k]) {
      EXPECT_TRUE(c == line || (first_of_line && c == line - 1)) << "eval " << k << " line " << line << " coord " << c;
    }
  }
  EXPECT_EQ(line_of_eval.back(), static_cast<int>(n) - 1);
  // Each coordinate lands near its own optimum after the single sweep (separable).
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(r.x[i], 0.5 * static_cast<double>(i) - 2.0, 0.05) << i;
  std::cout << "[ measured ] separable-10d, one sweep: evaluations " << r.evals << "\n";
}

TEST(Powell, ScipyCompatibleCountAddsOneEvaluationPerLineSearch) {
  const std::vector<double> x0(10, 0.0);
  PowellOptions a, b;
  a.maxiter = b.maxiter = 1;
  b.reevaluate_line_origin = true;
  const PowellResult ra = minimize_powell(separable, x0, a);
  const PowellResult rb = minimize_powell(separable, x0, b);
  EXPECT_EQ(ra.x, rb.x);
  EXPECT_EQ(rb.evals, ra.evals + 10);
}

TEST(Powell, MaxEvalsStopsExactlyAtTheBudget) {
  const std::vector<double> x0 = {-1.2, 1.0};
  for (int64_t budget : {1, 2, 7, 40}) {
    PowellOptions o;
    o.max_evals = budget;
    const PowellResult r = minimize_powell(rosenbrock, x0, o);
    EXPECT_EQ(r.stop, PowellStop::kMaxEvals) << budget;
    EXPECT_EQ(r.evals, budget);
    EXPECT_LE(r.f, rosenbrock(x0));
    EXPECT_LE(r.best_f, r.f);
    EXPECT_EQ(r.best_f, rosenbrock(r.best_x));
  }
}

TEST(Powell, DefaultLimitsFollowScipy) {
  // Both limits unset: 1000 N evaluations at most; a function that never converges
  // (strictly decreasing, unbounded below) hits that budget.
  const std::vector<double> x0 = {0.0};
  const PowellResult r = minimize_powell([](std::span<const double> x) { return -std::fabs(x[0]) - 1e-3 * x[0]; }, x0);
  EXPECT_LE(r.evals, 1000);
  EXPECT_TRUE(r.stop == PowellStop::kMaxEvals || r.stop == PowellStop::kMaxIter || r.stop == PowellStop::kConverged);
}

TEST(Powell, ScalingMakesTheSearchScaleInvariant) {
  // g(u) = sum (u_i - 1)^2 in u; f(x) = g(x / s) in x. With scales = s Powell must
  // visit x = s * u exactly where it visits u for g.
  const std::vector<double> s = {0.01, 3.0, 250.0};
  const auto g = [](std::span<const double> u) {
    double v = 0;
    for (size_t i = 0; i < u.size(); ++i) v += (u[i] - 1.0 - 0.1 * i) * (u[i] - 1.0 - 0.1 * i) * (i + 1);
    return v;
  };
  const auto f = [&](std::span<const double> x) {
    std::vector<double> u(x.size());
    for (size_t i = 0; i < x.size(); ++i) u[i] = x[i] / s[i];
    return g(u);
  };
  const std::vector<double> u0 = {0.2, 0.4, 0.6};
  std::vector<double> x0(3);
  for (size_t i = 0; i < 3; ++i) x0[i] = u0[i] * s[i];
  PowellOptions o;
  o.scales = s;
  const PowellResult rx = minimize_powell(f, x0, o);
  const PowellResult ru = minimize_powell(g, u0);
  EXPECT_EQ(rx.evals, ru.evals);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(rx.x[i] / s[i], ru.x[i], 1e-12);
  // scale_by_x0 is scales = |x0|.
  PowellOptions o2;
  o2.scale_by_x0 = true;
  PowellOptions o3;
  o3.scales = {x0[0], x0[1], x0[2]};
  EXPECT_EQ(minimize_powell(f, x0, o2).x, minimize_powell(f, x0, o3).x);
}

TEST(Powell, PositivityKeepsEveryEvaluatedPointPositive) {
  // log-space objective, undefined for x <= 0: optimum at c.
  const std::vector<double> c = {0.01, 0.2, 5.0};
  const auto f = [&](std::span<const double> x) {
    double v = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!(x[i] > 0)) return std::nan("");
      const double d = std::log(x[i] / c[i]);
      v += d * d;
    }
    return v;
  };
  const std::vector<double> x0 = {0.5, 0.5, 0.5};
  for (Positivity pos : {Positivity::kAbs, Positivity::kClamp}) {
    PowellOptions o;
    o.positivity = pos;
    o.scale_by_x0 = true;
    bool all_positive = true;
    o.on_eval = [&](const PowellEvalInfo& e) {
      for (double v : e.x) all_positive = all_positive && v > 0;
    };
    const PowellResult r = minimize_powell(f, x0, o);
    EXPECT_TRUE(all_positive);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(std::log(r.x[i] / c[i]), 0.0, 1e-2) << i;
  }
  // Without positivity a NaN (reported as +inf) region is survived, not propagated.
  const PowellResult r = minimize_powell(f, x0);
  EXPECT_TRUE(std::isfinite(r.f));
  EXPECT_LE(r.f, f(x0));
}

TEST(Powell, CallbacksReportProgressAndCanStop) {
  const std::vector<double> x0 = {-1.2, 1.0};
  PowellOptions o;
  int64_t last_eval = 0;
  double last_best = INFINITY;
  bool monotone = true;
  int iters_seen = 0;
  o.on_eval = [&](const PowellEvalInfo& e) {
    monotone = monotone && e.eval == last_eval + 1 && e.best_f <= last_best && e.best_f <= e.f;
    last_eval = e.eval;
    last_best = e.best_f;
  };
  o.on_iter = [&](const PowellIterInfo& it) {
    ++iters_seen;
    EXPECT_EQ(it.iteration, iters_seen);
    EXPECT_EQ(it.evals, last_eval);
    EXPECT_EQ(it.f, rosenbrock(it.x));
    return it.iteration < 2;  // stop after two iterations
  };
  const PowellResult r = minimize_powell(rosenbrock, x0, o);
  EXPECT_TRUE(monotone);
  EXPECT_EQ(r.stop, PowellStop::kCallback);
  EXPECT_EQ(r.iterations, 2);
  EXPECT_EQ(iters_seen, 2);
  EXPECT_EQ(r.evals, last_eval);
}

TEST(Powell, BadArguments) {
  const std::vector<double> empty;
  EXPECT_THROW(minimize_powell(rosenbrock, empty), Error);
  const std::vector<double> nan0 = {NAN, 1.0};
  EXPECT_THROW(minimize_powell(rosenbrock, nan0), Error);
  const std::vector<double> x0 = {1.0, 1.0};
  PowellOptions o;
  o.scales = {1.0};
  EXPECT_THROW(minimize_powell(rosenbrock, x0, o), Error);
  o.scales = {1.0, 0.0};
  EXPECT_THROW(minimize_powell(rosenbrock, x0, o), Error);
}

TEST(Powell, FirstChangedCoordinate) {
  const std::vector<double> a = {1, 2, 3}, b = {1, 2.5, 4}, c = {1, 2, 3}, d = {1, 2};
  EXPECT_EQ(first_changed_coordinate(a, b), 1);
  EXPECT_EQ(first_changed_coordinate(a, c), -1);
  EXPECT_EQ(first_changed_coordinate(a, d), 0);
}

}  // namespace
}  // namespace lapq::quant
