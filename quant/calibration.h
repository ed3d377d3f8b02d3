// Calibration data: a seeded, class-stratified sample of an image folder,
// decoded once and kept in memory as batches (the LAPQ objective runs over
// all of them at every evaluation), plus FP32 activation observers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/tensor.h"
#include "frontends/dataset/image_folder.h"
#include "quant/observer.h"

namespace lapq::quant {

struct CalibrationSet {
  std::vector<Tensor> batches;             // [B, C, H, W] f32; all of size `batch` but the last
  std::vector<std::vector<int>> labels;    // one per image (-1 = unknown)
  int64_t images() const;
  bool has_labels() const;
};

// Picks `count` images of `ds` (ImageFolder::sample_indices, stratified, `seed`;
// all of them when count >= ds.size()) and decodes them in batches of `batch`.
CalibrationSet load_calibration(const ImageFolder& ds, size_t count, uint64_t seed, int64_t batch,
                                const PreprocessConfig& preprocess);

// Splits pre-made images [N, C, H, W] (+ labels, may be empty) into batches.
CalibrationSet make_calibration(const Tensor& images, const std::vector<int>& labels, int64_t batch);

// Min / max and a histogram of each value in `value_ids` of the FP32 graph over
// every calibration batch (the plan keeps every value).
std::vector<HistogramObserver> observe_fp32(const Graph& graph, const CalibrationSet& calib,
                                            const std::vector<int>& value_ids, int num_threads = 0);

}  // namespace lapq::quant
