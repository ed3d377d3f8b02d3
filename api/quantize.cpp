#include "api/quantize.h"

#include <omp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/plan.h"
#include "frontends/dataset/image_folder.h"
#include "frontends/onnx/onnx_loader.h"

namespace lapq {

QuantizedModel::QuantizedModel(quant::QuantizedModelFile file, Graph graph, std::string path, int num_threads)
    : file_(std::move(file)), graph_(std::move(graph)), path_(std::move(path)),
      num_threads_(num_threads > 0 ? num_threads : omp_get_max_threads()) {}
QuantizedModel::QuantizedModel(QuantizedModel&&) noexcept = default;
QuantizedModel& QuantizedModel::operator=(QuantizedModel&&) noexcept = default;
QuantizedModel::~QuantizedModel() = default;

QuantizedModel QuantizedModel::load(const std::string& path, int num_threads) {
  LAPQ_CHECK(std::filesystem::is_regular_file(path), ErrorCode::kIo, "model file not found: ", path);
  quant::QuantizedModelFile f = quant::read_quantized_model(path);
  Graph g = quant::load_quantized_graph(f, path);
  return QuantizedModel(std::move(f), std::move(g), path, num_threads);
}

void QuantizedModel::save(const std::string& path) const { quant::save_quantized_model(path, file_, graph_); }

void QuantizedModel::set_report(quant::LapqReport r, std::string json) {
  report_ = std::move(r);
  file_.report = std::move(json);
}

std::string QuantizedModel::label(int i) const { return label_or_index(file_.labels, i); }

Shape QuantizedModel::input_shape(int64_t n) const { return batch_input_shape(graph_, file_.preprocess, n); }

int64_t QuantizedModel::max_batch(int64_t wanted) const { return fixed_batch_or(graph_, wanted); }

Tensor QuantizedModel::forward(const Tensor& input) {
  auto& net = nets_[input.shape()];
  if (!net) {
    PlanOptions po;
    po.num_threads = num_threads_;
    net = std::make_unique<quant::QuantizedNetwork>(graph_, file_.config, input.shape(), po);
  }
  return net->forward(input);
}

std::vector<std::vector<Prediction>> QuantizedModel::classify(const Tensor& batch, int top_k) {
  Tensor logits = forward(batch);
  LAPQ_CHECK(logits.rank() == 2, ErrorCode::kUnsupported, "classification needs [N, classes] logits; the model gives ",
             shape_str(logits.shape()));
  const int n = static_cast<int>(logits.dim(0)), k = static_cast<int>(logits.dim(1));
  std::vector<std::vector<Prediction>> out;
  for (int i = 0; i < n; ++i)
    out.push_back(top_k_predictions(logits.data<float>() + int64_t(i) * k, k, top_k, file_.labels));
  return out;
}

std::vector<Prediction> QuantizedModel::classify_file(const std::string& image_path, int top_k) {
  return classify(preprocess_file(image_path, file_.preprocess), top_k)[0];
}

namespace {
int64_t count_top1(const Tensor& logits, const std::vector<int>& labels) {
  const int64_t n = logits.dim(0), k = logits.dim(1);
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * k;
    if (std::max_element(row, row + k) - row == labels[static_cast<size_t>(i)]) ++hits;
  }
  return hits;
}
}  // namespace

double quantized_top1(const Graph& graph, const quant::QuantConfig& config, const quant::CalibrationSet& data,
                      int num_threads) {
  std::map<Shape, std::unique_ptr<quant::QuantizedNetwork>> nets;
  PlanOptions po;
  po.num_threads = num_threads;
  int64_t hits = 0;
  for (size_t b = 0; b < data.batches.size(); ++b) {
    auto& net = nets[data.batches[b].shape()];
    if (!net) net = std::make_unique<quant::QuantizedNetwork>(graph, config, data.batches[b].shape(), po);
    hits += count_top1(net->forward(data.batches[b]), data.labels[b]);
  }
  return 100.0 * static_cast<double>(hits) / static_cast<double>(data.images());
}

double fp32_top1(const Graph& graph, const quant::CalibrationSet& data, int num_threads) {
  std::map<Shape, std::unique_ptr<Plan>> plans;
  PlanOptions po;
  po.num_threads = num_threads;
  int64_t hits = 0;
  for (size_t b = 0; b < data.batches.size(); ++b) {
    auto& plan = plans[data.batches[b].shape()];
    if (!plan) plan = std::make_unique<Plan>(graph, std::vector<Shape>{data.batches[b].shape()}, po);
    hits += count_top1(plan->run({data.batches[b]})[0], data.labels[b]);
  }
  return 100.0 * static_cast<double>(hits) / static_cast<double>(data.images());
}

QuantizedModel quantize(const Model& model, const QuantizeOptions& o) {
  LAPQ_CHECK(!model.path().empty(), ErrorCode::kInvalidArgument,
             "quantize: the model must come from an ONNX file (its bytes are embedded in the quantized model)");
  quant::QuantizedModelFile f;
  {
    std::ifstream in(model.path(), std::ios::binary);
    LAPQ_CHECK(in.good(), ErrorCode::kIo, "cannot read model ", model.path());
    std::ostringstream bytes;
    bytes << in.rdbuf();
    f.onnx = bytes.str();
  }
  f.source_name = std::filesystem::path(model.path()).filename().string();
  f.passes = quant::preset_pass_options(o.preset.preset);
  f.preprocess = model.preprocess();
  f.preprocess.labels_path.clear();
  f.labels = model.labels();
  Graph g = load_onnx(model.path());
  optimize(g, f.passes);
  const quant::QuantConfig skeleton = quant::make_preset_config(g, o.preset);

  quant::CalibrationSet loaded;
  const quant::CalibrationSet* calib = &o.calib;
  if (o.calib.batches.empty()) {
    LAPQ_CHECK(!o.calib_dir.empty(), ErrorCode::kInvalidArgument, "quantize: no calibration data (set calib_dir)");
    ImageFolder ds = ImageFolder::open(o.calib_dir, model.labels());
    loaded = quant::load_calibration(ds, o.calib_size, o.seed, o.calib_batch, model.preprocess());
    calib = &loaded;
  }
  quant::LapqOptions lo = o.lapq;
  if (!o.eval.batches.empty() && !lo.evaluate)
    lo.evaluate = [&](const quant::QuantConfig& c) { return quantized_top1(g, c, o.eval, lo.num_threads); };
  quant::LapqResult r = quant::run_lapq(g, skeleton, *calib, lo);
  if (!o.eval.batches.empty()) r.report.stages.front().accuracy = fp32_top1(g, o.eval, lo.num_threads);
  f.config = r.config;
  std::map<std::string, std::string> settings = {
      {"model", model.path()},
      {"preset", quant::preset_name(o.preset.preset)},
      {"bits", quant::bits_name(o.preset.bits)},
      {"per_channel", o.preset.per_channel ? "true" : "false"},
      {"method", quant::method_name(o.lapq.method)},
      {"objective", quant::objective_name(o.lapq.objective)},
      {"calib", o.calib_dir},
      {"calib_size", std::to_string(calib->images())},
      {"seed", std::to_string(o.seed)},
      {"maxiter", std::to_string(o.lapq.maxiter)}};
  std::string json = quant::report_to_json(r.report, r.config, settings);
  QuantizedModel qm(std::move(f), std::move(g), "", model.num_threads());
  qm.set_report(std::move(r.report), std::move(json));
  return qm;
}

}  // namespace lapq
