// HistogramObserver (see observer.h).
#include "quant/observer.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace lapq::quant {

HistogramObserver::HistogramObserver(int bins) : bins_(bins) {
  LAPQ_CHECK(bins >= 16, ErrorCode::kInvalidArgument, "HistogramObserver: ", bins, " bins (need >= 16)");
  pos_.assign(static_cast<size_t>(bins), 0);
  neg_.assign(static_cast<size_t>(bins), 0);
}

void HistogramObserver::grow_to(double max_abs) {
  if (max_abs <= range_) return;
  if (range_ == 0.0) {  // first non-zero data: only exact zeros were seen, and they are counted apart
    range_ = max_abs;
    return;
  }
  int factor = 1;
  double r = range_;
  while (r < max_abs) {
    r *= 2.0;
    factor *= 2;
    if (factor >= bins_) {  // everything old collapses into bin 0; keep doubling R only
      while (r < max_abs) r *= 2.0;
      break;
    }
  }
  factor = std::min(factor, bins_);
  for (auto* h : {&pos_, &neg_}) {
    std::vector<int64_t> merged(static_cast<size_t>(bins_), 0);
    for (int i = 0; i < bins_; ++i) merged[static_cast<size_t>(i / factor)] += (*h)[static_cast<size_t>(i)];
    *h = std::move(merged);
  }
  range_ = r;
}

void HistogramObserver::observe(std::span<const float> x) {
  const int64_t n = static_cast<int64_t>(x.size());
  if (n == 0) return;
  float lo = x[0], hi = x[0];
  bool finite = true;
#pragma omp parallel for reduction(min : lo) reduction(max : hi) reduction(&& : finite) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[static_cast<size_t>(i)];
    finite = finite && std::isfinite(v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!finite) {
    int64_t bad = 0;
    while (std::isfinite(x[static_cast<size_t>(bad)])) ++bad;
    throw Error(ErrorCode::kInvalidArgument, detail::cat("HistogramObserver: value ", x[static_cast<size_t>(bad)],
                                                         " at index ", bad, " of the batch is not finite"));
  }
  min_ = count_ == 0 ? lo : std::min(min_, lo);
  max_ = count_ == 0 ? hi : std::max(max_, hi);
  count_ += n;
  grow_to(std::max(std::fabs(static_cast<double>(lo)), std::fabs(static_cast<double>(hi))));

  const double inv_w = range_ > 0.0 ? bins_ / range_ : 0.0;
  const int64_t last = bins_ - 1;
  int64_t zeros = 0;
  // Integer counts per thread, summed afterwards: exact, so any thread count gives the same histogram.
#pragma omp parallel reduction(+ : zeros)
  {
    std::vector<int64_t> pos(static_cast<size_t>(bins_), 0), neg(static_cast<size_t>(bins_), 0);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[static_cast<size_t>(i)];
      if (v == 0.0f) {
        ++zeros;
        continue;
      }
      const int64_t b = std::min(static_cast<int64_t>(std::fabs(static_cast<double>(v)) * inv_w), last);
      (v > 0.0f ? pos : neg)[static_cast<size_t>(b)] += 1;
    }
#pragma omp critical(lapq_histogram_observer)
    for (int i = 0; i < bins_; ++i) {
      pos_[static_cast<size_t>(i)] += pos[static_cast<size_t>(i)];
      neg_[static_cast<size_t>(i)] += neg[static_cast<size_t>(i)];
    }
  }
  zeros_ += zeros;
}

}  // namespace lapq::quant
