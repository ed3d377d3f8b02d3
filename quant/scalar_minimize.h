// One-dimensional minimizers, deterministic, in double:
//  - minimize_bounded: Brent's method on a closed interval (golden section +
//    parabolic interpolation), the algorithm of scipy's fminbound /
//    minimize_scalar(method='bounded'); used by the Lp clipping fits.
//  - bracket_minimum + brent_minimize: scipy's downhill bracket search and its
//    unbounded Brent, which together are the line search of Powell's method
//    (quant/powell.h). Same update rules and constants as scipy, so the
//    sequence of evaluated points matches it; docs/quantization-math.md.
#pragma once

#include <functional>
#include <optional>

namespace lapq::quant {

using ScalarFn = std::function<double(double)>;

struct BoundedMinimizeOptions {
  // Absolute x tolerance (scipy's xatol, default 1e-5). The effective tolerance
  // is max(xatol, xrtol * (hi - lo)); set xrtol to make it relative to the interval.
  double xatol = 1e-5;
  double xrtol = 0.0;
  int max_evals = 500;  // scipy's maxiter (it counts evaluations)
};

struct ScalarMinResult {
  double x = 0.0;
  double fx = 0.0;
  int evals = 0;
  bool converged = false;  // false: stopped at max_evals
};

// Minimizes f on [lo, hi] (lo <= hi, both finite; else Error kInvalidArgument).
// The first evaluation is at lo + 0.381966 (hi - lo); f is never evaluated
// outside [lo, hi]. Returns the best point found.
ScalarMinResult minimize_bounded(const ScalarFn& f, double lo, double hi, const BoundedMinimizeOptions& opts = {});

// A triple with xb between xa and xc and f(xb) <= f(xa), f(xb) <= f(xc) (when found).
struct Bracket {
  double xa = 0, xb = 0, xc = 0;
  double fa = 0, fb = 0, fc = 0;
  int evals = 0;  // evaluations made by bracket_minimum
};

// scipy's bracket(): evaluate xa and xb, walk downhill with golden growth
// (1.618034) and parabolic extrapolation limited to grow_limit times the last
// step. fa_known, if given, is used as f(xa) without evaluating it (Powell
// knows f at the line origin). Stops after max_iter growth steps and returns
// the last triple (newer scipy would then fall back to the best point; Brent
// below still returns the best point it evaluates).
Bracket bracket_minimum(const ScalarFn& f, double xa = 0.0, double xb = 1.0, std::optional<double> fa_known = {},
                        double grow_limit = 110.0, int max_iter = 1000);

struct BrentOptions {
  double tol = 1.48e-8;     // relative x tolerance (scipy's brent tol; Powell passes 100 * xtol)
  double min_tol = 1.0e-11; // absolute floor of the tolerance (scipy's _mintol)
  int max_iter = 500;
};

// scipy's Brent.optimize() started from a bracket: returns the point with the
// lowest f among the bracket middle and all points it evaluates.
// evals counts only the evaluations made here (add bracket.evals for the total).
ScalarMinResult brent_minimize(const ScalarFn& f, const Bracket& bracket, const BrentOptions& opts = {});

}  // namespace lapq::quant
