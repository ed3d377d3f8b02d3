// Observers: accumulate the statistics of a tensor (an activation) over many
// calibration batches so its clipping can be fitted without keeping the data.
//
// HistogramObserver keeps the exact min, max and count, the number of exact
// zeros (ReLU outputs are ~half zeros; they are quantized exactly by every
// grid but the mid-rise one, so they are not smeared over a bin), and two
// histograms of |x| with `bins` bins over [0, R]: one for x > 0, one for x < 0.
// R is the largest |x| of the first batch and doubles (merging bin pairs, an
// exact re-binning) whenever a later batch exceeds it, so the bin width is at
// most twice max|x| / bins. Counts are integers: the result is identical for
// any batch split into threads. The Lp fit on a histogram lives in lp_init.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace lapq::quant {

class HistogramObserver {
 public:
  // bins per sign, >= 16 (Error kInvalidArgument otherwise).
  explicit HistogramObserver(int bins = 2048);

  // Adds one batch. Non-finite values are rejected (Error kInvalidArgument naming the index).
  void observe(std::span<const float> x);

  int64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  float min() const { return min_; }  // exact over all batches (0 when empty)
  float max() const { return max_; }
  int64_t zeros() const { return zeros_; }
  int bins() const { return bins_; }
  double range() const { return range_; }  // R: the histograms cover |x| in [0, R]
  double bin_width() const { return range_ / bins_; }
  // Bin i holds the values with |x| in [i w, (i+1) w) (the last bin also |x| == R).
  std::span<const int64_t> positive() const { return pos_; }
  std::span<const int64_t> negative() const { return neg_; }

 private:
  void grow_to(double max_abs);

  int bins_;
  int64_t count_ = 0;
  int64_t zeros_ = 0;
  float min_ = 0.0f, max_ = 0.0f;
  double range_ = 0.0;
  std::vector<int64_t> pos_, neg_;
};

}  // namespace lapq::quant
