// Powell's method (see powell.h). The loop mirrors scipy's _minimize_powell:
// the same line searches (bracket from t = 0, 1 then Brent with tol 100 xtol),
// the same stopping tests in the same order and the same direction replacement.
#include "quant/powell.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "engine/error.h"
#include "quant/scalar_minimize.h"

namespace lapq::quant {

const char* powell_stop_name(PowellStop s) {
  switch (s) {
    case PowellStop::kConverged: return "converged";
    case PowellStop::kMaxIter: return "max-iterations";
    case PowellStop::kMaxEvals: return "max-evaluations";
    case PowellStop::kNanRegion: return "nan-region";
    case PowellStop::kCallback: return "stopped-by-callback";
  }
  return "?";
}

int first_changed_coordinate(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i])) return static_cast<int>(i);
  return -1;
}

namespace {

struct MaxEvalsReached {};  // unwinds a line search when the evaluation budget is spent

// The objective as the optimizer sees it: over u, counting, tracking the best point.
class Objective {
 public:
  Objective(const VectorFn& f, std::vector<double> scales, std::vector<double> floors, const PowellOptions& opts,
            int64_t max_evals)
      : f_(f), scales_(std::move(scales)), floors_(std::move(floors)), opts_(opts), max_evals_(max_evals),
        x_(scales_.size()) {}

  std::vector<double> to_x(std::span<const double> u) const {
    std::vector<double> x(u.size());
    map(u, x);
    return x;
  }

  double operator()(std::span<const double> u) {
    if (evals_ >= max_evals_) throw MaxEvalsReached{};
    ++evals_;
    map(u, x_);
    double fx = f_(std::span<const double>(x_));
    if (std::isnan(fx)) fx = std::numeric_limits<double>::infinity();
    if (evals_ == 1 || fx < best_f_) {
      best_f_ = fx;
      best_x_ = x_;
    }
    if (opts_.on_eval) {
      PowellEvalInfo info;
      info.eval = evals_;
      info.x = x_;
      info.f = fx;
      info.best_f = best_f_;
      info.iteration = iteration;
      info.line = line;
      opts_.on_eval(info);
    }
    return fx;
  }

  int64_t evals() const { return evals_; }
  double best_f() const { return best_f_; }
  const std::vector<double>& best_x() const { return best_x_; }

  int iteration = 0;  // reported in PowellEvalInfo
  int line = -1;

 private:
  void map(std::span<const double> u, std::span<double> x) const {
    for (size_t i = 0; i < u.size(); ++i) {
      double v = scales_[i] * u[i];
      switch (opts_.positivity) {
        case Positivity::kNone: break;
        case Positivity::kAbs: v = std::fabs(v); [[fallthrough]];
        case Positivity::kClamp: v = v < floors_[i] ? floors_[i] : v; break;
      }
      x[i] = v;
    }
  }

  const VectorFn& f_;
  std::vector<double> scales_, floors_;
  const PowellOptions& opts_;
  int64_t max_evals_;
  int64_t evals_ = 0;
  double best_f_ = 0.0;
  std::vector<double> best_x_;
  std::vector<double> x_;  // scratch: the point handed to f
};

struct LineResult {
  double f;
  std::vector<double> u;
  std::vector<double> step;  // t * direction: the displacement made
};

// scipy's _linesearch_powell without bounds: minimize g(t) = F(u + t d) from a
// bracket started at t = 0 and t = 1.
LineResult line_search(Objective& obj, const std::vector<double>& u, const std::vector<double>& d, double fval,
                       const PowellOptions& opts) {
  bool any = false;
  for (double v : d) any = any || v != 0.0;
  if (!any) return {fval, u, d};
  std::vector<double> p(u.size());
  const ScalarFn g = [&](double t) {
    for (size_t i = 0; i < u.size(); ++i) p[i] = u[i] + t * d[i];
    return obj(p);
  };
  std::optional<double> f_origin;
  if (!opts.reevaluate_line_origin) f_origin = fval;
  const Bracket br = bracket_minimum(g, 0.0, 1.0, f_origin);
  BrentOptions bo;
  bo.tol = opts.xtol * 100.0;
  bo.min_tol = opts.line_min_tol;
  const ScalarMinResult r = brent_minimize(g, br, bo);
  LineResult out{r.fx, u, d};
  for (size_t i = 0; i < u.size(); ++i) {
    out.step[i] = r.x * d[i];
    out.u[i] = u[i] + out.step[i];
  }
  return out;
}

}  // namespace

PowellResult minimize_powell(const VectorFn& f, std::span<const double> x0, const PowellOptions& opts) {
  const size_t n = x0.size();
  LAPQ_CHECK(n > 0, ErrorCode::kInvalidArgument, "minimize_powell: empty starting point");
  for (size_t i = 0; i < n; ++i)
    LAPQ_CHECK(std::isfinite(x0[i]), ErrorCode::kInvalidArgument, "minimize_powell: x0[", i, "] = ", x0[i],
               " is not finite");
  std::vector<double> scales(n, 1.0);
  if (opts.scale_by_x0) {
    for (size_t i = 0; i < n; ++i) scales[i] = x0[i] != 0.0 ? std::fabs(x0[i]) : 1.0;
  } else if (!opts.scales.empty()) {
    LAPQ_CHECK(opts.scales.size() == n, ErrorCode::kInvalidArgument, "minimize_powell: ", opts.scales.size(),
               " scales for ", n, " coordinates");
    for (size_t i = 0; i < n; ++i)
      LAPQ_CHECK(std::isfinite(opts.scales[i]) && opts.scales[i] > 0.0, ErrorCode::kInvalidArgument,
                 "minimize_powell: scales[", i, "] = ", opts.scales[i], " is not a positive number");
    scales = opts.scales;
  }
  std::vector<double> floors(n);
  for (size_t i = 0; i < n; ++i) floors[i] = std::max(opts.positive_floor_rel * std::fabs(x0[i]), opts.positive_floor_abs);

  // scipy's defaults for the two limits.
  constexpr int64_t kUnlimited = std::numeric_limits<int64_t>::max();
  int64_t maxiter = opts.maxiter, max_evals = opts.max_evals;
  if (maxiter < 0 && max_evals < 0) {
    maxiter = max_evals = 1000 * static_cast<int64_t>(n);
  } else if (maxiter < 0) {
    maxiter = kUnlimited;
  } else if (max_evals < 0) {
    max_evals = kUnlimited;
  }

  Objective obj(f, scales, floors, opts, max_evals);
  std::vector<std::vector<double>> direc(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) direc[i][i] = 1.0;
  std::vector<double> u(n);
  for (size_t i = 0; i < n; ++i) u[i] = x0[i] / scales[i];

  PowellResult res;
  double fval = 0.0;
  int iter = 0;
  bool stopped_by_evals = false;
  try {
    fval = obj(u);
  } catch (const MaxEvalsReached&) {
    // max_evals == 0: nothing evaluated.
    stopped_by_evals = true;
  }
  std::vector<double> u1 = u;
  while (!stopped_by_evals) {
    try {
      const double fx = fval;
      size_t bigind = 0;
      double delta = 0.0;
      obj.iteration = iter;
      for (size_t i = 0; i < n; ++i) {
        obj.line = static_cast<int>(i);
        const double fx2 = fval;
        LineResult lr = line_search(obj, u, direc[i], fval, opts);
        fval = lr.f;
        u = std::move(lr.u);
        if (fx2 - fval > delta) {
          delta = fx2 - fval;
          bigind = i;
        }
      }
      obj.line = -1;
      ++iter;
      if (opts.on_iter) {
        const std::vector<double> x = obj.to_x(u);
        PowellIterInfo info{iter, x, fval, obj.evals()};
        if (!opts.on_iter(info)) {
          res.stop = PowellStop::kCallback;
          break;
        }
      }
      const double bnd = opts.ftol * (std::fabs(fx) + std::fabs(fval)) + 1e-20;
      if (2.0 * (fx - fval) <= bnd) {
        res.stop = PowellStop::kConverged;
        break;
      }
      if (obj.evals() >= max_evals) {
        res.stop = PowellStop::kMaxEvals;
        break;
      }
      if (iter >= maxiter) {
        res.stop = PowellStop::kMaxIter;
        break;
      }
      if (std::isinf(fx) && std::isinf(fval) && fx > 0 && fval > 0) {  // NaN region (NaN is mapped to +inf)
        res.stop = PowellStop::kNanRegion;
        break;
      }
      // Extrapolate along the iteration's net displacement.
      std::vector<double> d1(n), u2(n);
      for (size_t i = 0; i < n; ++i) {
        d1[i] = u[i] - u1[i];
        u2[i] = u[i] + d1[i];
      }
      u1 = u;
      const double fx2 = obj(u2);
      if (fx > fx2) {
        double t = 2.0 * (fx + fx2 - 2.0 * fval);
        double temp = fx - fval - delta;
        t *= temp * temp;
        temp = fx - fx2;
        t -= delta * temp * temp;
        if (t < 0.0) {  // the displacement is a good new direction: search it and keep it
          obj.line = static_cast<int>(n);
          LineResult lr = line_search(obj, u, d1, fval, opts);
          obj.line = -1;
          fval = lr.f;
          u = std::move(lr.u);
          bool any = false;
          for (double v : lr.step) any = any || v != 0.0;
          if (any) {
            direc[bigind] = direc[n - 1];
            direc[n - 1] = std::move(lr.step);
          }
        }
      }
    } catch (const MaxEvalsReached&) {
      stopped_by_evals = true;
    }
  }
  if (stopped_by_evals) res.stop = PowellStop::kMaxEvals;
  res.x = obj.to_x(u);
  res.f = fval;
  res.best_x = obj.evals() > 0 ? obj.best_x() : res.x;
  res.best_f = obj.evals() > 0 ? obj.best_f() : fval;
  res.iterations = iter;
  res.evals = obj.evals();
  res.directions = std::move(direc);
  return res;
}

}  // namespace lapq::quant
