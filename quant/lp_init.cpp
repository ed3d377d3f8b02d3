// Max-abs and Lp-optimal clipping (see lp_init.h).
#include "quant/lp_init.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "quant/scalar_minimize.h"

namespace lapq::quant {

namespace {

constexpr size_t kChunk = size_t{1} << 15;  // elements per reduction chunk (fixed: defines the sum order)
constexpr size_t kBlock = 256;             // elements per vectorized error block
constexpr size_t kLanes = 8;               // independent double accumulators inside a chunk

struct Stats {
  float min = 0.0f, max = 0.0f;
  bool finite = true;
};

Stats stats_of(std::span<const float> x) {
  Stats s;
  if (x.empty()) return s;
  const int64_t n = static_cast<int64_t>(x.size());
  float lo = x[0], hi = x[0];
  bool finite = true;
#pragma omp parallel for reduction(min : lo) reduction(max : hi) reduction(&& : finite) schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[static_cast<size_t>(i)];
    finite = finite && std::isfinite(v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return {lo, hi, finite};
}

// |e|^p with the common integer powers as products (exact, and ~5x cheaper than powf).
enum class PowKind { kP1, kP2, kP3, kP4, kGeneral };
PowKind pow_kind(double p) {
  if (p == 1.0) return PowKind::kP1;
  if (p == 2.0) return PowKind::kP2;
  if (p == 3.0) return PowKind::kP3;
  if (p == 4.0) return PowKind::kP4;
  return PowKind::kGeneral;
}

template <PowKind K>
double chunk_error_sum(const detail::Affine& a, const float* x, size_t n, float pf) {
  double acc[kLanes] = {};
  float buf[kBlock];
  for (size_t i0 = 0; i0 < n; i0 += kBlock) {
    const size_t m = std::min(kBlock, n - i0);
    for (size_t j = 0; j < m; ++j) {
      const float v = x[i0 + j];
      const float e = std::fabs(detail::fake_quantize_affine(a, v) - v);
      if constexpr (K == PowKind::kP1) buf[j] = e;
      else if constexpr (K == PowKind::kP2) buf[j] = e * e;
      else if constexpr (K == PowKind::kP3) buf[j] = e * e * e;
      else if constexpr (K == PowKind::kP4) buf[j] = (e * e) * (e * e);
      else buf[j] = std::pow(e, pf);  // float overload: glibc powf, < 1 ulp
    }
    const size_t m_up = (m + kLanes - 1) / kLanes * kLanes;
    for (size_t j = m; j < m_up; ++j) buf[j] = 0.0f;
    for (size_t j = 0; j < m_up; j += kLanes)
      for (size_t l = 0; l < kLanes; ++l) acc[l] += buf[j + l];
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <PowKind K>
double error_sum(const detail::Affine& a, std::span<const float> x, float pf) {
  const size_t n = x.size();
  const int64_t chunks = static_cast<int64_t>((n + kChunk - 1) / kChunk);
  if (chunks <= 1) return chunk_error_sum<K>(a, x.data(), n, pf);
  std::vector<double> partial(static_cast<size_t>(chunks));
  // Threads only pay off from a few chunks on; the sum is the same either way.
#pragma omp parallel for schedule(static) if (chunks >= 4)
  for (int64_t c = 0; c < chunks; ++c) {
    const size_t begin = static_cast<size_t>(c) * kChunk;
    partial[static_cast<size_t>(c)] = chunk_error_sum<K>(a, x.data() + begin, std::min(kChunk, n - begin), pf);
  }
  double sum = 0.0;
  for (double v : partial) sum += v;  // chunk order: independent of the thread count
  return sum;
}

void check_p(double p, const char* where) {
  LAPQ_CHECK(std::isfinite(p) && p > 0.0, ErrorCode::kInvalidArgument, where, ": p = ", p, " (need a finite p > 0)");
}

// The largest value the clipping search may reach, per kind.
double search_max(GridKind kind, float mn, float mx) {
  if (kind == GridKind::kUnsigned) return std::max(mx, 0.0f);
  return std::max(std::fabs(mn), std::fabs(mx));
}

// The grid for a search parameter s: alpha for the single-parameter grids, the
// shrink factor t of [min(mn,0), max(mx,0)] for kAsymmetric.
Grid grid_at(GridKind kind, int bits, double s, float mn, float mx) {
  if (kind == GridKind::kAsymmetric) {
    const float lo = std::min(mn, 0.0f), hi = std::max(mx, 0.0f);
    return make_asymmetric_grid(static_cast<float>(s * lo), static_cast<float>(s * hi), bits);
  }
  return make_grid(kind, static_cast<float>(s), bits);
}

// Shared driver: minimize err(grid) over the kind's search interval.
template <class ErrFn>
LpFit fit_with(GridKind kind, int bits, float mn, float mx, const LpFitOptions& opts, ErrFn err) {
  const double top = search_max(kind, mn, mx);
  LpFit fit;
  if (top <= 0.0) {  // all zeros (a dead ReLU): the smallest grid
    fit.grid = grid_at(kind, bits, kind == GridKind::kAsymmetric ? 1.0 : clamp_alpha(0.0f), mn, mx);
    fit.error = err(fit.grid);
    fit.evals = 1;
    return fit;
  }
  // kAsymmetric searches t in (0, 1]; the others alpha in (0, top].
  const double hi = kind == GridKind::kAsymmetric ? 1.0 : top;
  const double lo = kind == GridKind::kAsymmetric ? static_cast<double>(kAlphaFloorRel)
                                                  : static_cast<double>(clamp_alpha(0.0f, static_cast<float>(top)));
  BoundedMinimizeOptions bo;
  bo.xatol = 0.0;
  bo.xrtol = opts.xrtol;
  bo.max_evals = opts.max_evals;
  const ScalarMinResult r = minimize_bounded([&](double s) { return err(grid_at(kind, bits, s, mn, mx)); }, lo, hi, bo);
  fit.grid = grid_at(kind, bits, r.x, mn, mx);
  fit.error = r.fx;
  fit.t = kind == GridKind::kAsymmetric ? r.x : r.x / top;
  fit.evals = r.evals;
  return fit;
}

}  // namespace

MinMax min_max(std::span<const float> x) {
  const Stats s = stats_of(x);
  return {s.min, s.max};
}

float max_abs(std::span<const float> x) {
  const Stats s = stats_of(x);
  return std::max(std::fabs(s.min), std::fabs(s.max));
}

double lp_error(const Grid& g, std::span<const float> x, double p) {
  check_p(p, "lp_error");
  if (x.empty()) return 0.0;
  const detail::Affine a = detail::affine_of(g);
  const float pf = static_cast<float>(p);
  double sum = 0.0;
  switch (pow_kind(p)) {
    case PowKind::kP1: sum = error_sum<PowKind::kP1>(a, x, pf); break;
    case PowKind::kP2: sum = error_sum<PowKind::kP2>(a, x, pf); break;
    case PowKind::kP3: sum = error_sum<PowKind::kP3>(a, x, pf); break;
    case PowKind::kP4: sum = error_sum<PowKind::kP4>(a, x, pf); break;
    case PowKind::kGeneral: sum = error_sum<PowKind::kGeneral>(a, x, pf); break;
  }
  return sum / static_cast<double>(x.size());
}

double lp_error(const Grid& g, const HistogramObserver& h, double p) {
  check_p(p, "lp_error");
  if (h.empty()) return 0.0;
  const detail::Affine a = detail::affine_of(g);
  const double w = h.bin_width();
  // Exact zeros are exact; every other value sits at the centre of its bin.
  double sum = static_cast<double>(h.zeros()) * std::pow(std::fabs(static_cast<double>(detail::fake_quantize_affine(a, 0.0f))), p);
  const auto pos = h.positive(), neg = h.negative();
  for (int i = 0; i < h.bins(); ++i) {
    const size_t ui = static_cast<size_t>(i);
    if (pos[ui] == 0 && neg[ui] == 0) continue;
    const float c = static_cast<float>((i + 0.5) * w);
    if (pos[ui] != 0)
      sum += static_cast<double>(pos[ui]) * std::pow(std::fabs(static_cast<double>(detail::fake_quantize_affine(a, c)) - c), p);
    if (neg[ui] != 0)
      sum += static_cast<double>(neg[ui]) *
             std::pow(std::fabs(static_cast<double>(detail::fake_quantize_affine(a, -c)) + c), p);
  }
  return sum / static_cast<double>(h.count());
}

LpFit fit_max_abs(std::span<const float> x, GridKind kind, int bits) {
  check_bits(bits, "fit_max_abs");
  LAPQ_CHECK(!x.empty(), ErrorCode::kInvalidArgument, "fit_max_abs: empty tensor");
  const Stats s = stats_of(x);
  LAPQ_CHECK(s.finite, ErrorCode::kInvalidArgument, "fit_max_abs: the tensor has a non-finite value");
  LpFit fit;
  const float top = static_cast<float>(search_max(kind, s.min, s.max));
  fit.grid = grid_at(kind, bits, kind == GridKind::kAsymmetric ? 1.0 : clamp_alpha(top, top), s.min, s.max);
  fit.error = lp_error(fit.grid, x, 2.0);
  fit.evals = 1;
  return fit;
}

LpFit fit_max_abs(const HistogramObserver& h, GridKind kind, int bits) {
  check_bits(bits, "fit_max_abs");
  LAPQ_CHECK(!h.empty(), ErrorCode::kInvalidArgument, "fit_max_abs: the observer has seen no data");
  LpFit fit;
  const float top = static_cast<float>(search_max(kind, h.min(), h.max()));
  fit.grid = grid_at(kind, bits, kind == GridKind::kAsymmetric ? 1.0 : clamp_alpha(top, top), h.min(), h.max());
  fit.error = lp_error(fit.grid, h, 2.0);
  fit.evals = 1;
  return fit;
}

LpFit fit_lp(std::span<const float> x, GridKind kind, int bits, double p, const LpFitOptions& opts) {
  check_bits(bits, "fit_lp");
  check_p(p, "fit_lp");
  LAPQ_CHECK(!x.empty(), ErrorCode::kInvalidArgument, "fit_lp: empty tensor");
  const Stats s = stats_of(x);
  LAPQ_CHECK(s.finite, ErrorCode::kInvalidArgument, "fit_lp: the tensor has a non-finite value");
  return fit_with(kind, bits, s.min, s.max, opts, [&](const Grid& g) { return lp_error(g, x, p); });
}

LpFit fit_lp(const HistogramObserver& h, GridKind kind, int bits, double p, const LpFitOptions& opts) {
  check_bits(bits, "fit_lp");
  check_p(p, "fit_lp");
  LAPQ_CHECK(!h.empty(), ErrorCode::kInvalidArgument, "fit_lp: the observer has seen no data");
  return fit_with(kind, bits, h.min(), h.max(), opts, [&](const Grid& g) { return lp_error(g, h, p); });
}

std::vector<LpFit> fit_lp_per_channel(std::span<const float> wei, int64_t oc, GridKind kind, int bits, double p,
                                      const LpFitOptions& opts) {
  check_bits(bits, "fit_lp_per_channel");
  check_p(p, "fit_lp_per_channel");
  LAPQ_CHECK(oc > 0 && !wei.empty() && wei.size() % static_cast<size_t>(oc) == 0, ErrorCode::kInvalidArgument,
             "fit_lp_per_channel: ", wei.size(), " values do not split into ", oc, " output channels");
  const size_t k = wei.size() / static_cast<size_t>(oc);
  std::vector<LpFit> fits(static_cast<size_t>(oc));
  // One channel per task; each channel's fit is serial inside (nested regions run on one
  // thread), so the result does not depend on the thread count.
  bool finite = true;
#pragma omp parallel for schedule(dynamic) reduction(&& : finite)
  for (int64_t c = 0; c < oc; ++c) {
    const auto ch = wei.subspan(static_cast<size_t>(c) * k, k);
    const Stats s = stats_of(ch);
    if (!s.finite) {
      finite = false;
      continue;
    }
    fits[static_cast<size_t>(c)] =
        fit_with(kind, bits, s.min, s.max, opts, [&](const Grid& g) { return lp_error(g, ch, p); });
  }
  LAPQ_CHECK(finite, ErrorCode::kInvalidArgument, "fit_lp_per_channel: the weight has a non-finite value");
  return fits;
}

}  // namespace lapq::quant
