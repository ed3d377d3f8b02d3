// Clipping-value initializers: max-abs and Lp-norm optimal clipping.
//
// fit_lp finds alpha minimizing mean(|Q_alpha(x) - x|^p) over [floor, max] by
// bounded Brent (quant/scalar_minimize.h) where max = max|x| (kUnsigned:
// max(x, 0)) and floor = clamp_alpha(0, max). p > 0 (p = 2: MSE). For
// kAsymmetric the searched parameter is a shrink factor t in [floor, 1] of the
// observed range: [lo, hi] = t [min(x_min, 0), max(x_max, 0)] (the same single
// "alpha" that LAPQ's Powell can then move).
//
// Two data paths, same objective:
//  - exact (std::span of the tensor): each evaluation is one pass over the data,
//    parallel over fixed 32 Ki-element chunks whose double partial sums are
//    added in chunk order, so the result is bit-identical for any OpenMP thread
//    count. Used for weights (the whole tensor is at hand) and for activations
//    fitted on one batch (the LAPQ reference's "online" fit on the first batch).
//  - histogram (HistogramObserver): each evaluation costs O(bins); the error
//    of a bin is that of its centre (exact zeros are exact). Used for
//    activations observed over many calibration batches, where the data does
//    not fit in memory or a pass per evaluation would dominate.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "quant/grid.h"
#include "quant/observer.h"

namespace lapq::quant {

struct LpFitOptions {
  double xrtol = 1e-5;  // Brent x tolerance, relative to the search interval (the reference: 1e-5 absolute)
  int max_evals = 500;
};

struct LpFit {
  Grid grid;          // the fitted grid (alpha = grid.alpha(); kAsymmetric: grid.lo / grid.hi)
  double error = 0.0; // mean |Q(x) - x|^p at the fit (max-abs fits: p = 2)
  double t = 1.0;     // kAsymmetric: the shrink factor of the observed range; else alpha / max
  int evals = 0;      // objective evaluations
};

// Exact data statistics (OpenMP; exact for any thread count).
struct MinMax {
  float min = 0.0f, max = 0.0f;
};
MinMax min_max(std::span<const float> x);  // empty: {0, 0}
float max_abs(std::span<const float> x);

// mean(|fake_quantize(g, x) - x|^p) in double; p > 0. Deterministic for any thread count.
double lp_error(const Grid& g, std::span<const float> x, double p);
double lp_error(const Grid& g, const HistogramObserver& h, double p);

// alpha = max|x| (kUnsigned: max(x, 0); kAsymmetric: [min(x_min,0), max(x_max,0)]); error at p = 2.
LpFit fit_max_abs(std::span<const float> x, GridKind kind, int bits);
LpFit fit_max_abs(const HistogramObserver& h, GridKind kind, int bits);

// Lp-optimal clipping. Throws Error(kInvalidArgument) for p <= 0, bad bits, empty
// data or a non-finite value.
LpFit fit_lp(std::span<const float> x, GridKind kind, int bits, double p, const LpFitOptions& opts = {});
LpFit fit_lp(const HistogramObserver& h, GridKind kind, int bits, double p, const LpFitOptions& opts = {});

// Per output channel of an OC-first weight (channels fitted in parallel, each serially).
std::vector<LpFit> fit_lp_per_channel(std::span<const float> wei, int64_t oc, GridKind kind, int bits, double p,
                                      const LpFitOptions& opts = {});

}  // namespace lapq::quant
