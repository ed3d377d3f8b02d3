#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "api/lapq.h"
#include "frontends/dataset/labels.h"
#include "frontends/image/preprocess_config.h"
#include "frontends/onnx/onnx_loader.h"

namespace lapq {

Model Model::load(const std::string& path, const ModelOptions& options) {
  LAPQ_CHECK(std::filesystem::is_regular_file(path), ErrorCode::kIo, "model file not found: ", path);
  Model m(load_onnx(path), options);
  m.path_ = path;
  m.finish_setup(path);
  return m;
}

Model::Model(Graph graph, const ModelOptions& options) : graph_(std::move(graph)), options_(options) {
  LAPQ_CHECK(!graph_.inputs.empty(), ErrorCode::kInvalidModel, "the model has no inputs");
  LAPQ_CHECK(!graph_.outputs.empty(), ErrorCode::kInvalidModel, "the model has no outputs");
  optimize(graph_, options_.passes);
  if (options_.num_threads <= 0) options_.num_threads = omp_get_max_threads();
  finish_setup("");
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

// Preprocessing: ImageNet conventions, adapted to the model's input size and
// channel count, then the sidecar (when the model has one), then overrides.
void Model::finish_setup(const std::string& model_path) {
  const Value& in = graph_.values[graph_.inputs[0]];
  preprocess_ = preprocess_for_model_input(in.shape, in.has_shape, model_path);
  apply_preprocess_overrides(preprocess_, options_.preprocess_overrides);
  if (!options_.labels_path.empty()) preprocess_.labels_path = options_.labels_path;
  labels_.clear();
  if (!preprocess_.labels_path.empty()) labels_ = read_labels_file(preprocess_.labels_path);
}

std::string label_or_index(const std::vector<std::string>& labels, int i) {
  if (i >= 0 && i < static_cast<int>(labels.size())) return labels[i];
  return std::to_string(i);
}

std::string Model::label(int i) const { return label_or_index(labels_, i); }

Shape batch_input_shape(const Graph& graph, const PreprocessConfig& pre, int64_t n) {
  Shape s = graph.values[graph.inputs[0]].shape;
  LAPQ_CHECK(!s.empty(), ErrorCode::kShapeMismatch, "the model's input has no declared shape");
  if (s[0] < 0) s[0] = n;
  LAPQ_CHECK(s[0] == n, ErrorCode::kShapeMismatch, "the model has a fixed batch size of ", s[0], "; asked for ", n);
  const int64_t from_config[4] = {n, pre.channels, pre.height, pre.width};
  for (size_t d = 1; d < s.size() && d < 4; ++d)
    if (s[d] < 0) s[d] = from_config[d];
  return s;
}

int64_t fixed_batch_or(const Graph& graph, int64_t wanted) {
  const Shape& s = graph.values[graph.inputs[0]].shape;
  return (!s.empty() && s[0] > 0) ? s[0] : wanted;
}

Shape Model::input_shape(int64_t n) const { return batch_input_shape(graph_, preprocess_, n); }

int64_t Model::max_batch(int64_t wanted) const { return fixed_batch_or(graph_, wanted); }

Plan& Model::plan_for(const Shape& shape) {
  auto it = plans_.find(shape);
  if (it != plans_.end()) return *it->second;
  PlanOptions po;
  po.num_threads = options_.num_threads;
  po.allow_fast = options_.allow_fast;
  // Fixing the batch lets shape computations on it (x.view(x.size(0), -1)) fold.
  Graph specialized = graph_;
  specialize_input_shapes(specialized, {shape});
  auto plan = std::make_unique<Plan>(std::move(specialized), std::vector<Shape>{shape}, po);
  return *plans_.emplace(shape, std::move(plan)).first->second;
}

Tensor Model::forward(const Tensor& input) {
  LAPQ_CHECK(graph_.inputs.size() == 1, ErrorCode::kUnsupported, "forward() takes models with one input; this one has ",
             graph_.inputs.size());
  Plan& plan = plan_for(input.shape());
  return plan.run({input})[0];
}

std::vector<Prediction> top_k_predictions(const float* logits, int num_classes, int k,
                                          const std::vector<std::string>& labels) {
  float mx = *std::max_element(logits, logits + num_classes);
  std::vector<double> p(num_classes);
  double sum = 0;
  for (int c = 0; c < num_classes; ++c) sum += p[c] = std::exp(double(logits[c]) - mx);
  std::vector<int> order(num_classes);
  std::iota(order.begin(), order.end(), 0);
  k = std::min(k, num_classes);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  std::vector<Prediction> out;
  for (int i = 0; i < k; ++i) {
    int c = order[i];
    out.push_back({c, label_or_index(labels, c),
                   static_cast<float>(p[c] / sum), logits[c]});
  }
  return out;
}

std::vector<std::vector<Prediction>> Model::classify(const Tensor& batch, int top_k) {
  Tensor logits = forward(batch);
  LAPQ_CHECK(logits.rank() == 2, ErrorCode::kUnsupported, "classification needs [N, classes] logits; the model gives ",
             shape_str(logits.shape()));
  const int n = static_cast<int>(logits.dim(0)), k = static_cast<int>(logits.dim(1));
  std::vector<std::vector<Prediction>> result;
  for (int i = 0; i < n; ++i) result.push_back(top_k_predictions(logits.data<float>() + int64_t(i) * k, k, top_k, labels_));
  return result;
}

std::vector<Prediction> Model::classify_file(const std::string& image_path, int top_k) {
  return classify(preprocess_file(image_path, preprocess_), top_k)[0];
}

}  // namespace lapq
