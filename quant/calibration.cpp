#include "quant/calibration.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "engine/error.h"
#include "engine/plan.h"

namespace lapq::quant {

int64_t CalibrationSet::images() const {
  int64_t n = 0;
  for (const Tensor& b : batches) n += b.shape()[0];
  return n;
}

bool CalibrationSet::has_labels() const {
  for (const auto& l : labels)
    for (int y : l)
      if (y < 0) return false;
  return !labels.empty();
}

CalibrationSet load_calibration(const ImageFolder& ds, size_t count, uint64_t seed, int64_t batch,
                                const PreprocessConfig& preprocess) {
  LAPQ_CHECK(batch > 0, ErrorCode::kInvalidArgument, "calibration batch must be > 0");
  LAPQ_CHECK(count > 0, ErrorCode::kInvalidArgument, "--calib-size must be > 0");
  std::vector<size_t> idx;
  if (count >= ds.size()) {
    idx.resize(ds.size());
    std::iota(idx.begin(), idx.end(), size_t{0});
  } else {
    idx = ds.sample_indices(count, seed, SamplingMode::kStratified);
  }
  CalibrationSet c;
  for (size_t b = 0; b < idx.size(); b += static_cast<size_t>(batch)) {
    const size_t e = std::min(idx.size(), b + static_cast<size_t>(batch));
    ImageBatch ib = load_image_batch(ds, std::span<const size_t>(idx.data() + b, e - b), preprocess);
    c.batches.push_back(std::move(ib.images));
    c.labels.push_back(std::move(ib.labels));
  }
  return c;
}

CalibrationSet make_calibration(const Tensor& images, const std::vector<int>& labels, int64_t batch) {
  LAPQ_CHECK(images.dtype() == DType::kF32 && images.shape().size() == 4, ErrorCode::kInvalidArgument,
             "calibration images must be f32 [N, C, H, W]");
  const int64_t n = images.shape()[0];
  LAPQ_CHECK(labels.empty() || static_cast<int64_t>(labels.size()) == n, ErrorCode::kInvalidArgument,
             "calibration: ", labels.size(), " labels for ", n, " images");
  LAPQ_CHECK(batch > 0 && n > 0, ErrorCode::kInvalidArgument, "calibration: empty set or batch <= 0");
  const int64_t per = images.numel() / n;
  CalibrationSet c;
  for (int64_t b = 0; b < n; b += batch) {
    const int64_t e = std::min(n, b + batch);
    Shape s = images.shape();
    s[0] = e - b;
    Tensor t(DType::kF32, s);
    std::copy(images.data<float>() + b * per, images.data<float>() + e * per, t.data<float>());
    c.batches.push_back(std::move(t));
    std::vector<int> l(static_cast<size_t>(e - b), -1);
    if (!labels.empty()) std::copy(labels.begin() + b, labels.begin() + e, l.begin());
    c.labels.push_back(std::move(l));
  }
  return c;
}

std::vector<HistogramObserver> observe_fp32(const Graph& graph, const CalibrationSet& calib,
                                            const std::vector<int>& value_ids, int num_threads) {
  std::vector<HistogramObserver> obs(value_ids.size());
  std::map<Shape, std::unique_ptr<Plan>> plans;
  PlanOptions po;
  po.num_threads = num_threads;
  po.reuse_memory = false;
  for (const Tensor& b : calib.batches) {
    auto& plan = plans[b.shape()];
    if (!plan) plan = std::make_unique<Plan>(graph, std::vector<Shape>{b.shape()}, po);
    plan->run({b});
    for (size_t i = 0; i < value_ids.size(); ++i) obs[i].observe(plan->value(value_ids[i]).span<float>());
  }
  return obs;
}

}  // namespace lapq::quant
