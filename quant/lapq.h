// The LAPQ pipeline (lapq-method.md): max-abs baseline, Lp initialization
// with a p scan and a guarded quadratic fit of loss(p), then Powell over all
// clipping values jointly on the calibration loss, every evaluation a forward
// pass through QuantizedNetwork (the deployed integer executor) with prefix
// caching.
//
//   QuantConfig skel = make_preset_config(graph, preset_opts);
//   LapqResult r = run_lapq(graph, skel, calib, LapqOptions{});
//   r.config  -> QuantizedNetwork / save_quantized_model;  r.report -> JSON
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "quant/calibration.h"
#include "quant/powell.h"
#include "quant/pscan.h"
#include "quant/quant_config.h"
#include "quant/quantized_network.h"

namespace lapq::quant {

enum class InitMethod { kMax, kMse, kLp, kLapq };
InitMethod parse_method(const std::string& name);  // max | mse | lp | lapq
const char* method_name(InitMethod m);

enum class Objective { kCrossEntropy, kKl };
Objective parse_objective(const std::string& name);  // ce | kl
const char* objective_name(Objective o);

// ---- The optimized coordinates: one per quantized tensor, in network order ----
// Per-tensor weights and unsigned activations: the coordinate IS alpha.
// Per-channel weights and asymmetric activations: a factor on the initial
// clipping values (1 at the start).
struct Coordinate {
  bool is_weight = true;
  size_t index = 0;        // into config.weights / config.acts
  int first_node = 0;      // earliest lowered node it affects
  bool is_factor = false;
};
class Coordinates {
 public:
  Coordinates(const QuantConfig& init, const QuantizedNetwork& net);
  size_t size() const { return coords_.size(); }
  const Coordinate& operator[](size_t i) const { return coords_[i]; }
  std::vector<double> x0() const;
  // Applies coordinate i with value x to `cfg` (alphas) and returns nothing.
  void apply(QuantConfig& cfg, size_t i, double x) const;
  QuantConfig config_at(std::span<const double> x) const;

 private:
  QuantConfig init_;
  std::vector<Coordinate> coords_;
};

// ---- The loss oracle ----
struct OracleOptions {
  Objective objective = Objective::kCrossEntropy;
  int num_threads = 0;
  bool prefix_cache = true;
  // Bound on the bytes of cached live values over all batches; above it the
  // cache is not advanced (evaluations restart from the inputs instead).
  int64_t cache_limit_bytes = int64_t{2} << 30;
};

class LossOracle {
 public:
  // fp32_probs: softmax of the FP32 network per batch (needed for kKl; may be empty for kCrossEntropy).
  LossOracle(const Graph& fp32, const QuantConfig& init, const CalibrationSet& calib, const OracleOptions& opts,
             std::vector<Tensor> fp32_probs = {});
  ~LossOracle();
  const Coordinates& coords() const { return *coords_; }
  // Loss at coordinates x (changes only what differs from the previous call).
  double operator()(std::span<const double> x);
  int64_t evaluations() const { return evals_; }
  int64_t cache_bytes() const { return cache_bytes_; }
  int64_t cache_peak_bytes() const { return cache_peak_; }

 private:
  struct Net;
  double batch_loss(size_t b, const Tensor& logits) const;
  const Graph& fp32_;
  const CalibrationSet& calib_;
  OracleOptions opts_;
  std::vector<Tensor> fp32_probs_;
  std::unique_ptr<Coordinates> coords_;
  std::map<int64_t, std::unique_ptr<QuantizedNetwork>> nets_;  // by batch size
  std::vector<double> prev_x_;
  struct Cache {
    int node = 0;  // 0: nothing cached but the input
    std::vector<std::pair<int, Tensor>> values;
  };
  std::vector<Cache> cache_;
  double last_loss_ = 0.0;
  int64_t evals_ = 0, cache_bytes_ = 0, cache_peak_ = 0;
};

// Softmax of the FP32 network's output 0 per calibration batch.
std::vector<Tensor> fp32_softmax(const Graph& fp32, const CalibrationSet& calib, int num_threads);
// Objective value of logits [N, K] for one batch (sum over its images, not the mean).
double objective_sum(Objective o, const Tensor& logits, std::span<const int> labels, const Tensor* fp32_probs);

// ---- Initialization ----
// Weight alphas from the weights alone: max-abs (p <= 0) or Lp(p).
void init_weights(const Graph& fp32, QuantConfig& cfg, double p);
// Activation alphas fitted online in execution order on `batch`: activation j
// is fitted on its values in the network with weights and activations 0..j-1
// quantized. Max-abs for p <= 0, Lp(p) otherwise.
void init_acts_online(const Graph& fp32, QuantConfig& cfg, const Tensor& batch, double p, int num_threads = 0);

// ---- The pipeline ----
struct LapqOptions {
  InitMethod method = InitMethod::kLapq;
  double p = 0.0;               // > 0: this p instead of the scan (lp / lapq)
  PScanOptions pscan;           // linspace(2, 4, 10)
  // After the scan: start from the fitted p* (the reference; guarded only for a
  // concave fit or p* out of range), or also fall back to the best scanned p
  // when the loss measured at p* is worse (prefer_best_scanned). Measured on
  // CIFAR ResNet-20, the lower starting loss led Powell to a lower final top-1
  // in 4 of 5 runs at 4 bits and below (docs/quantization-results.md), so fit is the default.
  bool p_best_scanned = false;
  int maxiter = 1;
  int64_t max_evals = -1;
  Objective objective = Objective::kCrossEntropy;
  int num_threads = 0;
  bool prefix_cache = true;
  int64_t cache_limit_bytes = int64_t{2} << 30;
  bool quiet = false;
  // Optional: test accuracy (percent) of a config, recorded after each stage.
  std::function<double(const QuantConfig&)> evaluate;
  bool evaluate_scan = false;   // also after every p of the scan
};

struct StageRecord {
  std::string stage;      // "fp32", "max", "p=2.222", "lp(p*=2.89)", "powell iter 1", ...
  double p = 0.0;         // for Lp stages
  double loss = 0.0;      // calibration objective
  double accuracy = -1.0; // test top-1 (percent) when evaluated, else -1
  int64_t evals = 0;      // cumulative Powell evaluations (Powell stages)
  double seconds = 0.0;   // since the start of the pipeline
};

struct LapqReport {
  std::string method, objective;
  std::vector<StageRecord> stages;
  bool scanned = false;
  PStarFit pfit;               // when scanned
  double p_used = 0.0;
  int64_t powell_evals = 0;
  int powell_iterations = 0;
  std::string powell_stop;
  double seconds_init = 0.0, seconds_powell = 0.0, seconds_total = 0.0;
  int64_t calib_images = 0;
  int64_t cache_peak_bytes = 0;
  double final_loss = 0.0;
};

struct LapqResult {
  QuantConfig config;
  LapqReport report;
};

// Runs the method on the skeleton (from make_preset_config). Deterministic.
LapqResult run_lapq(const Graph& fp32, const QuantConfig& skeleton, const CalibrationSet& calib,
                    const LapqOptions& opts);

}  // namespace lapq::quant
