// In-process quantization: FP32 model -> LAPQ -> quantized model, run it,
// save it, load it back (apps/example_quantize.cpp).
//
//   lapq::Model fp32 = lapq::Model::load("resnet20.onnx");
//   lapq::QuantizeOptions q;  q.preset.bits = {4, 4};  q.calib_dir = "calib/";
//   lapq::QuantizedModel qm = lapq::quantize(fp32, q);
//   qm.save("resnet20_w4a4.lapq");
//   lapq::QuantizedModel again = lapq::QuantizedModel::load("resnet20_w4a4.lapq");
//   auto top5 = again.classify_file("cat.png", 5);
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/lapq.h"
#include "quant/calibration.h"
#include "quant/lapq.h"
#include "quant/presets.h"
#include "quant/qmodel_file.h"
#include "quant/report.h"

namespace lapq {

struct QuantizeOptions {
  quant::PresetOptions preset;   // preset, bits, per-channel, overrides
  quant::LapqOptions lapq;       // method, p scan, Powell limits, objective
  std::string calib_dir;         // image folder (labels from the model's labels, else sorted folders)
  size_t calib_size = 512;
  uint64_t seed = 0;
  int64_t calib_batch = 128;
  // Already-prepared calibration data (used instead of calib_dir when not empty).
  quant::CalibrationSet calib;
  // Optional labelled held-out set: test top-1 after every stage (in the report).
  quant::CalibrationSet eval;
};

class QuantizedModel {
 public:
  // Reads a .lapq file (docs/quantized-model-file.md); errors: kIo / kInvalidModel naming the file.
  static QuantizedModel load(const std::string& path, int num_threads = 0);
  QuantizedModel(quant::QuantizedModelFile file, Graph graph, std::string path, int num_threads);
  QuantizedModel(QuantizedModel&&) noexcept;
  QuantizedModel& operator=(QuantizedModel&&) noexcept;
  ~QuantizedModel();

  void save(const std::string& path) const;
  const quant::QuantConfig& config() const { return file_.config; }
  const Graph& graph() const { return graph_; }           // the FP32 graph the config refers to
  const std::string& path() const { return path_; }
  const PreprocessConfig& preprocess() const { return file_.preprocess; }
  const std::vector<std::string>& labels() const { return file_.labels; }
  std::string label(int class_index) const;
  int num_threads() const { return num_threads_; }
  const std::string& report_json() const { return file_.report; }
  // The report of the quantization run that made this model (set by quantize()).
  const quant::LapqReport& report() const { return report_; }
  void set_report(quant::LapqReport r, std::string json);

  Shape input_shape(int64_t n) const;
  int64_t max_batch(int64_t wanted) const;
  // Runs the quantized network (integer kernels) on [N, C, H, W]; one network per batch size.
  Tensor forward(const Tensor& input);
  std::vector<std::vector<Prediction>> classify(const Tensor& batch, int top_k);
  std::vector<Prediction> classify_file(const std::string& image_path, int top_k);

 private:
  quant::QuantizedModelFile file_;
  Graph graph_;
  std::string path_;
  int num_threads_ = 0;
  quant::LapqReport report_;
  std::map<Shape, std::unique_ptr<quant::QuantizedNetwork>> nets_;
};

// Quantizes `model` (loaded from an ONNX file: its bytes are re-read and
// embedded; the graph is re-prepared with the preset's passes).
QuantizedModel quantize(const Model& model, const QuantizeOptions& options);

// Top-1 accuracy (percent) of a quantized config over a labelled set.
double quantized_top1(const Graph& graph, const quant::QuantConfig& config, const quant::CalibrationSet& data,
                      int num_threads = 0);
double fp32_top1(const Graph& graph, const quant::CalibrationSet& data, int num_threads = 0);

}  // namespace lapq
