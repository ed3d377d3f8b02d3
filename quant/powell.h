// Powell's conjugate-direction method, gradient free, as scipy's
// minimize(method='Powell') / fmin_powell runs it with its defaults (the
// optimizer of the LAPQ reference): initial directions = unit vectors, each
// iteration = one Brent line search along every direction in order, then an
// extrapolation test that may replace the direction of largest decrease by the
// iteration's net displacement. Deterministic: the same objective values give
// the same sequence of evaluated points. Details: docs/quantization-math.md.
//
// Two departures from a bare scipy call, both options:
//  - Coordinate scaling: the search runs over u = x / scales, so scipy's first
//    trial step of 1.0 along a direction means one `scales` unit. For LAPQ pass
//    scales = alpha0 (or set scale_by_x0): the unit step is then "alpha doubles".
//  - Positivity: clipping values must stay > 0. kAbs hands the objective |x|
//    (floored), kClamp hands max(x, floor); the optimizer itself is unbounded,
//    exactly as in scipy, and the returned x is the transformed one.
// Also by default the line search reuses the known f at its origin instead of
// re-evaluating it (scipy re-evaluates it: one wasted evaluation per line
// search). The evaluated points and the result are identical either way for a
// deterministic objective; reevaluate_line_origin = true reproduces scipy's
// evaluation count exactly.
//
// Settings: the LAPQ reference exactly = PowellOptions{} with maxiter 1 or 2 and
// reevaluate_line_origin = true (same points and counts as scipy). Recommended for
// lapq: scale_by_x0 = true, positivity = Positivity::kAbs (same algorithm, sensible
// first steps, no collapsed layer).
//
// Prefix caching: the objective always receives the full x. Along a unit
// direction only one coordinate differs from the previous evaluation (bit for
// bit: u_j + t * 0 == u_j) -- except the first evaluation of line i, which also
// moves coordinate i-1 from its last trial value back to its line minimum. A
// caller that caches per-layer state compares x with the previous x
// (first_changed_coordinate) and recomputes from the first changed layer.
// After the first iteration, directions may be combinations of coordinates.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace lapq::quant {

using VectorFn = std::function<double(std::span<const double>)>;

enum class Positivity : uint8_t {
  kNone,   // the objective sees x as is
  kAbs,    // the objective sees max(|x_i|, floor_i)
  kClamp,  // the objective sees max(x_i, floor_i)
};

struct PowellEvalInfo {
  int64_t eval = 0;                // 1-based count of objective evaluations so far
  std::span<const double> x;       // the point just evaluated (after scaling / positivity)
  double f = 0.0;                  // its value (NaN is reported as +inf)
  double best_f = 0.0;             // lowest f seen so far
  int iteration = 0;               // 0-based index of the running iteration
  int line = -1;                   // direction being searched (0..N-1), N for the extra
                                   // line search of an iteration, -1 otherwise
};

struct PowellIterInfo {
  int iteration = 0;               // 1-based: iterations completed
  std::span<const double> x;       // current point (after scaling / positivity)
  double f = 0.0;
  int64_t evals = 0;
};

enum class PowellStop : uint8_t {
  kConverged,     // 2 (f_start - f_end) <= ftol (|f_start| + |f_end|) + 1e-20 over an iteration
  kMaxIter,
  kMaxEvals,
  kNanRegion,     // f was NaN (reported as +inf) at both ends of an iteration
  kCallback,      // on_iter returned false
};
const char* powell_stop_name(PowellStop s);

struct PowellOptions {
  double xtol = 1e-4;   // line-search tolerance: Brent runs with relative tol 100 * xtol
  double ftol = 1e-4;   // relative decrease per iteration below which Powell stops
  // Limits with scipy's defaults: both unset (-1) -> both 1000 * N; one set -> the other unlimited.
  int maxiter = -1;
  int64_t max_evals = -1;
  double line_min_tol = 1e-11;  // absolute floor of Brent's tolerance (scipy's _mintol), in u units
  std::vector<double> scales;   // optimize over u = x / scales (empty: all 1)
  bool scale_by_x0 = false;     // scales = |x0| (a zero coordinate gets scale 1); overrides `scales`
  Positivity positivity = Positivity::kNone;
  double positive_floor_rel = 1e-6;   // floor_i = max(positive_floor_rel * |x0_i|, positive_floor_abs)
  double positive_floor_abs = 1e-12;
  bool reevaluate_line_origin = false;  // true: scipy's evaluation count (see above)
  std::function<void(const PowellEvalInfo&)> on_eval;  // after every evaluation
  std::function<bool(const PowellIterInfo&)> on_iter;  // after every iteration; false stops
};

struct PowellResult {
  std::vector<double> x;       // final point (after scaling / positivity): what to use
  double f = 0.0;              // objective at x
  std::vector<double> best_x;  // lowest-f point ever evaluated (== x unless stopped mid-line-search)
  double best_f = 0.0;
  int iterations = 0;
  int64_t evals = 0;
  PowellStop stop = PowellStop::kConverged;
  std::vector<std::vector<double>> directions;  // final direction set, in u units
};

// Minimizes f from x0. Throws Error(kInvalidArgument) for an empty x0, a
// non-finite x0, scales of the wrong size or not > 0. Exceptions thrown by f propagate.
PowellResult minimize_powell(const VectorFn& f, std::span<const double> x0, const PowellOptions& opts = {});

// Index of the first coordinate where a and b differ (bitwise value compare), -1 if none;
// a.size() != b.size() returns 0. For callers that cache a prefix of their computation.
int first_changed_coordinate(std::span<const double> a, std::span<const double> b);

}  // namespace lapq::quant
