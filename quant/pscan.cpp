// p-scan helpers and the guarded quadratic fit (see pscan.h).
#include "quant/pscan.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace lapq::quant {

std::vector<double> linspace(double lo, double hi, int count) {
  LAPQ_CHECK(count >= 1 && std::isfinite(lo) && std::isfinite(hi), ErrorCode::kInvalidArgument,
             "linspace: need count >= 1 and finite ends, got [", lo, ", ", hi, "] x ", count);
  std::vector<double> v(static_cast<size_t>(count));
  if (count == 1) {
    v[0] = lo;
    return v;
  }
  const double step = (hi - lo) / (count - 1);
  for (int i = 0; i < count; ++i) v[static_cast<size_t>(i)] = lo + i * step;
  v.back() = hi;
  return v;
}

std::vector<double> p_scan_values(const PScanOptions& opts) {
  LAPQ_CHECK(opts.p_min > 0.0 && opts.p_max >= opts.p_min, ErrorCode::kInvalidArgument,
             "p scan: range [", opts.p_min, ", ", opts.p_max, "] must satisfy 0 < p_min <= p_max");
  return linspace(opts.p_min, opts.p_max, opts.count);
}

const char* p_star_case_name(PStarCase c) {
  switch (c) {
    case PStarCase::kStationary: return "stationary";
    case PStarCase::kConcave: return "concave-fit";
    case PStarCase::kOutOfRange: return "out-of-range";
    case PStarCase::kTooFewPoints: return "too-few-points";
    case PStarCase::kWorseThanScanned: return "worse-than-scanned";
  }
  return "?";
}

namespace {
// Solves the 3x3 system m x = r by Gaussian elimination with partial pivoting.
// Returns false if it is singular.
bool solve3(double m[3][3], double r[3], double x[3]) {
  for (int col = 0; col < 3; ++col) {
    int piv = col;
    for (int row = col + 1; row < 3; ++row)
      if (std::fabs(m[row][col]) > std::fabs(m[piv][col])) piv = row;
    if (std::fabs(m[piv][col]) < 1e-12) return false;
    if (piv != col) {
      for (int k = 0; k < 3; ++k) std::swap(m[piv][k], m[col][k]);
      std::swap(r[piv], r[col]);
    }
    for (int row = col + 1; row < 3; ++row) {
      const double f = m[row][col] / m[col][col];
      for (int k = col; k < 3; ++k) m[row][k] -= f * m[col][k];
      r[row] -= f * r[col];
    }
  }
  for (int row = 2; row >= 0; --row) {
    double s = r[row];
    for (int k = row + 1; k < 3; ++k) s -= m[row][k] * x[k];
    x[row] = s / m[row][row];
  }
  return true;
}
}  // namespace

PStarFit fit_p_star(std::span<const double> p, std::span<const double> loss) {
  LAPQ_CHECK(p.size() == loss.size(), ErrorCode::kInvalidArgument, "fit_p_star: ", p.size(), " p values but ",
             loss.size(), " losses");
  std::vector<double> ps, ls;
  for (size_t i = 0; i < p.size(); ++i) {
    if (std::isfinite(p[i]) && std::isfinite(loss[i])) {
      ps.push_back(p[i]);
      ls.push_back(loss[i]);
    }
  }
  LAPQ_CHECK(!ps.empty(), ErrorCode::kInvalidArgument, "fit_p_star: none of the ", p.size(),
             " scanned losses is finite");
  PStarFit fit;
  const size_t best = static_cast<size_t>(std::min_element(ls.begin(), ls.end()) - ls.begin());
  fit.best_p = ps[best];
  fit.best_loss = ls[best];
  fit.p_star = fit.best_p;
  const auto [pmin_it, pmax_it] = std::minmax_element(ps.begin(), ps.end());
  const double pmin = *pmin_it, pmax = *pmax_it;

  std::vector<double> distinct = ps;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() < 3) {
    fit.which = PStarCase::kTooFewPoints;
    return fit;
  }
  // Least squares in the standardized variable s = (p - mean) / spread keeps the
  // normal equations well conditioned; the coefficients are mapped back to p.
  double mean = 0.0;
  for (double v : ps) mean += v;
  mean /= static_cast<double>(ps.size());
  const double spread = std::max(pmax - mean, mean - pmin);
  double m[3][3] = {}, r[3] = {};
  for (size_t i = 0; i < ps.size(); ++i) {
    const double s = (ps[i] - mean) / spread;
    const double basis[3] = {s * s, s, 1.0};
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 3; ++k) m[j][k] += basis[j] * basis[k];
      r[j] += basis[j] * ls[i];
    }
  }
  double coef[3];
  if (!solve3(m, r, coef)) {
    fit.which = PStarCase::kTooFewPoints;
    return fit;
  }
  const double A = coef[0], B = coef[1], C = coef[2];
  // loss = A s^2 + B s + C with s = (p - mean) / spread.
  fit.a = A / (spread * spread);
  fit.b = B / spread - 2.0 * A * mean / (spread * spread);
  fit.c = A * mean * mean / (spread * spread) - B * mean / spread + C;
  if (A != 0.0) fit.p_stationary = mean - B * spread / (2.0 * A);
  if (!(A > 0.0)) {
    fit.which = PStarCase::kConcave;
  } else if (fit.p_stationary < pmin || fit.p_stationary > pmax) {
    fit.which = PStarCase::kOutOfRange;
  } else {
    fit.which = PStarCase::kStationary;
    fit.p_star = fit.p_stationary;
  }
  return fit;
}

bool prefer_best_scanned(PStarFit& fit, double loss_at_p_star) {
  if (fit.p_star == fit.best_p || loss_at_p_star <= fit.best_loss) return false;  // a NaN loss at p* is replaced
  fit.p_star = fit.best_p;
  fit.which = PStarCase::kWorseThanScanned;
  return true;
}

}  // namespace lapq::quant
