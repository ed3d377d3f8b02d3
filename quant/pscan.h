// The LAPQ p scan: the network's calibration loss is measured for the Lp
// clipping of every tensor at each p of a scan, loss(p) is fitted with a
// quadratic by least squares and p* is its stationary point. The reference
// trusts the fit blindly; here it is guarded: a concave fit or a p* outside the
// scanned range falls back to the best scanned p (lapq-method.md, step 3).
// Optionally (LapqOptions::p_best_scanned, `--p-choice best`) so does a
// stationary p* whose measured loss is higher than the best scanned p's.
#pragma once

#include <span>
#include <vector>

namespace lapq::quant {

// numpy.linspace(lo, hi, count): count >= 2 points, first lo, last exactly hi
// (count == 1: {lo}). count < 1 or non-finite ends: Error kInvalidArgument.
std::vector<double> linspace(double lo, double hi, int count);

struct PScanOptions {
  double p_min = 2.0;  // the reference's scan: linspace(2, 4, 10)
  double p_max = 4.0;
  int count = 10;
};
std::vector<double> p_scan_values(const PScanOptions& opts = {});

enum class PStarCase {
  kStationary,       // convex fit (a > 0) with p* in [min p, max p]: p* = -b / (2a)
  kConcave,          // a <= 0: no minimum; best scanned p used
  kOutOfRange,       // convex but p* outside the scanned range; best scanned p used
  kTooFewPoints,     // fewer than 3 distinct p with a finite loss; best scanned p used
  kWorseThanScanned, // stationary, but the network's loss at p* is above the best scanned loss; best scanned p used
};
const char* p_star_case_name(PStarCase c);

struct PStarFit {
  double p_star = 0.0;      // the p to use
  PStarCase which = PStarCase::kStationary;
  double a = 0.0, b = 0.0, c = 0.0;  // loss(p) ~ a p^2 + b p + c (zeros for kTooFewPoints)
  double p_stationary = 0.0;         // -b / (2a) when a != 0, whatever the case (for the log)
  double best_p = 0.0;               // the scanned p with the lowest loss, and that loss
  double best_loss = 0.0;
};

// Fits loss(p) over the points with a finite loss (a loss that exploded to inf/NaN
// is left out of the fit and can never be the best). Throws Error(kInvalidArgument)
// if the sizes differ or no loss is finite.
PStarFit fit_p_star(std::span<const double> p, std::span<const double> loss);

// After the loss at fit.p_star was measured: when it is higher than the best
// scanned loss, switches fit to the best scanned p (case kWorseThanScanned) and
// returns true. On CIFAR-10 ResNet-20 the fitted p* measured worse than a
// scanned p in 7 of 10 preset / bit-width runs (docs/quantization-results.md).
bool prefer_best_scanned(PStarFit& fit, double loss_at_p_star);

}  // namespace lapq::quant
