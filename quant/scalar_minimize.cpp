// One-dimensional minimizers (see scalar_minimize.h). The update rules follow
// Brent (1973) as implemented by scipy.optimize (fminbound, bracket, Brent), so
// that Powell's line searches visit the same points as the LAPQ reference.
#include "quant/scalar_minimize.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "engine/error.h"

namespace lapq::quant {

namespace {
constexpr double kGoldenSection = 0.3819660112501051;  // (3 - sqrt(5)) / 2
double sign_or_one(double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 1.0); }
}  // namespace

ScalarMinResult minimize_bounded(const ScalarFn& f, double lo, double hi, const BoundedMinimizeOptions& opts) {
  LAPQ_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, ErrorCode::kInvalidArgument,
             "minimize_bounded: interval [", lo, ", ", hi, "] is empty or not finite");
  LAPQ_CHECK(opts.max_evals >= 1, ErrorCode::kInvalidArgument, "minimize_bounded: max_evals ", opts.max_evals);
  const double sqrt_eps = std::sqrt(2.2e-16);
  const double xatol = std::max(opts.xatol, opts.xrtol * (hi - lo));

  double a = lo, b = hi;
  // xf: best point; nfc: second best; fulc: previous second best.
  double fulc = a + kGoldenSection * (b - a);
  double nfc = fulc, xf = fulc;
  double rat = 0.0, e = 0.0;
  double fx = f(xf);
  int num = 1;
  double ffulc = fx, fnfc = fx;
  double xm = 0.5 * (a + b);
  double tol1 = sqrt_eps * std::fabs(xf) + xatol / 3.0;
  double tol2 = 2.0 * tol1;
  bool converged = true;

  while (std::fabs(xf - xm) > (tol2 - 0.5 * (b - a))) {
    bool golden = true;
    if (std::fabs(e) > tol1) {  // try a parabola through the three best points
      golden = false;
      double r = (xf - nfc) * (fx - ffulc);
      double q = (xf - fulc) * (fx - fnfc);
      double p = (xf - fulc) * q - (xf - nfc) * r;
      q = 2.0 * (q - r);
      if (q > 0.0) p = -p;
      q = std::fabs(q);
      r = e;
      e = rat;
      if (std::fabs(p) < std::fabs(0.5 * q * r) && p > q * (a - xf) && p < q * (b - xf)) {
        rat = p / q;
        const double x = xf + rat;
        if ((x - a) < tol2 || (b - x) < tol2) rat = tol1 * sign_or_one(xm - xf);
      } else {
        golden = true;
      }
    }
    if (golden) {
      e = (xf >= xm) ? a - xf : b - xf;
      rat = kGoldenSection * e;
    }
    const double x = xf + sign_or_one(rat) * std::max(std::fabs(rat), tol1);
    const double fu = f(x);
    ++num;
    if (fu <= fx) {
      if (x >= xf) a = xf; else b = xf;
      fulc = nfc; ffulc = fnfc;
      nfc = xf; fnfc = fx;
      xf = x; fx = fu;
    } else {
      if (x < xf) a = x; else b = x;
      if (fu <= fnfc || nfc == xf) {
        fulc = nfc; ffulc = fnfc;
        nfc = x; fnfc = fu;
      } else if (fu <= ffulc || fulc == xf || fulc == nfc) {
        fulc = x; ffulc = fu;
      }
    }
    xm = 0.5 * (a + b);
    tol1 = sqrt_eps * std::fabs(xf) + xatol / 3.0;
    tol2 = 2.0 * tol1;
    if (num >= opts.max_evals) {
      converged = false;
      break;
    }
  }
  return {xf, fx, num, converged};
}

Bracket bracket_minimum(const ScalarFn& f, double xa, double xb, std::optional<double> fa_known,
                        double grow_limit, int max_iter) {
  constexpr double kGold = 1.618034;
  constexpr double kVerySmall = 1e-21;
  Bracket br;
  double fa = fa_known ? *fa_known : f(xa);
  double fb = f(xb);
  br.evals = fa_known ? 1 : 2;
  if (fa < fb) {  // walk downhill from a to b
    std::swap(xa, xb);
    std::swap(fa, fb);
  }
  double xc = xb + kGold * (xb - xa);
  double fc = f(xc);
  ++br.evals;
  int iter = 0;
  while (fc < fb) {
    const double tmp1 = (xb - xa) * (fb - fc);
    const double tmp2 = (xb - xc) * (fb - fa);
    const double val = tmp2 - tmp1;
    const double denom = std::fabs(val) < kVerySmall ? 2.0 * kVerySmall : 2.0 * val;
    double w = xb - ((xb - xc) * tmp2 - (xb - xa) * tmp1) / denom;  // parabola vertex
    const double wlim = xb + grow_limit * (xc - xb);
    if (iter > max_iter) break;
    ++iter;
    double fw;
    if ((w - xc) * (xb - w) > 0.0) {  // vertex between b and c
      fw = f(w);
      ++br.evals;
      if (fw < fc) {
        br = {xb, w, xc, fb, fw, fc, br.evals};
        return br;
      }
      if (fw > fb) {
        br = {xa, xb, w, fa, fb, fw, br.evals};
        return br;
      }
      w = xc + kGold * (xc - xb);
      fw = f(w);
      ++br.evals;
    } else if ((w - wlim) * (wlim - xc) >= 0.0) {  // vertex beyond the growth limit
      w = wlim;
      fw = f(w);
      ++br.evals;
    } else if ((w - wlim) * (xc - w) > 0.0) {  // vertex between c and the limit
      fw = f(w);
      ++br.evals;
      if (fw < fc) {
        xb = xc;
        xc = w;
        w = xc + kGold * (xc - xb);
        fb = fc;
        fc = fw;
        fw = f(w);
        ++br.evals;
      }
    } else {  // vertex behind: plain golden growth
      w = xc + kGold * (xc - xb);
      fw = f(w);
      ++br.evals;
    }
    xa = xb; xb = xc; xc = w;
    fa = fb; fb = fc; fc = fw;
  }
  const int evals = br.evals;
  br = {xa, xb, xc, fa, fb, fc, evals};
  return br;
}

ScalarMinResult brent_minimize(const ScalarFn& f, const Bracket& br, const BrentOptions& opts) {
  constexpr double kCg = 0.3819660;  // scipy's rounded golden-section constant
  double x = br.xb, w = br.xb, v = br.xb;
  double fx = br.fb, fw = br.fb, fv = br.fb;
  double a = br.xa < br.xc ? br.xa : br.xc;
  double b = br.xa < br.xc ? br.xc : br.xa;
  double deltax = 0.0, rat = 0.0;
  int evals = 0, iter = 0;
  bool converged = false;
  while (iter < opts.max_iter) {
    const double tol1 = opts.tol * std::fabs(x) + opts.min_tol;
    const double tol2 = 2.0 * tol1;
    const double xmid = 0.5 * (a + b);
    if (std::fabs(x - xmid) < (tol2 - 0.5 * (b - a))) {
      converged = true;
      break;
    }
    if (std::fabs(deltax) <= tol1) {
      deltax = (x >= xmid) ? a - x : b - x;  // golden section step
      rat = kCg * deltax;
    } else {  // parabolic step through x, w, v
      const double tmp1 = (x - w) * (fx - fv);
      double tmp2 = (x - v) * (fx - fw);
      double p = (x - v) * tmp2 - (x - w) * tmp1;
      tmp2 = 2.0 * (tmp2 - tmp1);
      if (tmp2 > 0.0) p = -p;
      tmp2 = std::fabs(tmp2);
      const double dx_temp = deltax;
      deltax = rat;
      if (p > tmp2 * (a - x) && p < tmp2 * (b - x) && std::fabs(p) < std::fabs(0.5 * tmp2 * dx_temp)) {
        rat = p / tmp2;
        const double u = x + rat;
        if ((u - a) < tol2 || (b - u) < tol2) rat = (xmid - x >= 0) ? tol1 : -tol1;
      } else {
        deltax = (x >= xmid) ? a - x : b - x;
        rat = kCg * deltax;
      }
    }
    const double u = std::fabs(rat) < tol1 ? (rat >= 0 ? x + tol1 : x - tol1) : x + rat;
    const double fu = f(u);
    ++evals;
    if (fu > fx) {
      if (u < x) a = u; else b = u;
      if (fu <= fw || w == x) {
        v = w; w = u;
        fv = fw; fw = fu;
      } else if (fu <= fv || v == x || v == w) {
        v = u;
        fv = fu;
      }
    } else {
      if (u >= x) a = x; else b = x;
      v = w; w = x; x = u;
      fv = fw; fw = fx; fx = fu;
    }
    ++iter;
  }
  return {x, fx, evals, converged};
}

}  // namespace lapq::quant
