// lapq's in-process C++ API: load a model (ONNX, with its sidecar), run it,
// classify images. One object, no global state; see apps/example_inprocess.cpp.
//
//   lapq::Model model = lapq::Model::load("models/fashion_resnet.onnx");
//   auto top5 = model.classify_file("shoe.png", 5);
//   lapq::Tensor logits = model.forward(batch);   // [N,C,H,W] -> [N,K]
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "engine/tensor.h"
#include "frontends/image/preprocess.h"

namespace lapq {

struct ModelOptions {
  int num_threads = 0;          // 0 = all cores
  bool allow_fast = true;       // false = reference implementations only (for checking)
  PassOptions passes;           // graph passes applied after loading
  // "key=value" preprocessing overrides applied after the sidecar (docs/preprocessing.md).
  std::vector<std::string> preprocess_overrides;
  std::string labels_path;      // overrides the sidecar's labels file
};

struct Prediction {
  int class_index = -1;
  std::string label;   // from the labels file, or the index as text
  float probability = 0.f;
  float logit = 0.f;
};

class Model {
 public:
  // Loads an ONNX file; reads `path + ".json"` (the sidecar) when present.
  static Model load(const std::string& path, const ModelOptions& options = {});
  // Wraps a graph built in code (no sidecar: preprocessing from the input shape).
  Model(Graph graph, const ModelOptions& options = {});
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const Graph& graph() const { return graph_; }
  const std::string& path() const { return path_; }
  const PreprocessConfig& preprocess() const { return preprocess_; }
  const std::vector<std::string>& labels() const { return labels_; }
  std::string label(int class_index) const;
  int num_threads() const { return options_.num_threads; }

  // Input shape for a batch of n (the symbolic batch dim replaced by n).
  // Throws kShapeMismatch when the model's batch is fixed and n differs.
  Shape input_shape(int64_t n) const;
  // Largest batch the model accepts (its fixed batch, or `wanted`).
  int64_t max_batch(int64_t wanted) const;

  // Runs the model on a preprocessed batch [N,C,H,W]; returns output 0.
  // Plans are built on first use of each input shape and cached.
  Tensor forward(const Tensor& input);
  // The plan for an input shape (built on demand).
  Plan& plan_for(const Shape& input_shape);

  // Softmax + top-k for every row of a batch.
  std::vector<std::vector<Prediction>> classify(const Tensor& batch, int top_k);
  std::vector<Prediction> classify_file(const std::string& image_path, int top_k);

 private:
  void finish_setup(const std::string& sidecar_source);
  Graph graph_;
  std::string path_;
  ModelOptions options_;
  PreprocessConfig preprocess_;
  std::vector<std::string> labels_;
  std::map<Shape, std::unique_ptr<Plan>> plans_;
};

// Shared by Model and QuantizedModel (api/quantize.h):
// graph input 0 for a batch of n, unknown C/H/W taken from the preprocessing;
// throws kShapeMismatch when the model's batch is fixed and n differs.
Shape batch_input_shape(const Graph& graph, const PreprocessConfig& pre, int64_t n);
// The model's fixed batch size, or `wanted` when the batch is symbolic.
int64_t fixed_batch_or(const Graph& graph, int64_t wanted);
// labels[i], or i as text when there is no such label.
std::string label_or_index(const std::vector<std::string>& labels, int i);

// Top-k of softmax(logits) for one row (ties broken by lower index).
std::vector<Prediction> top_k_predictions(const float* logits, int num_classes, int k,
                                          const std::vector<std::string>& labels);

}  // namespace lapq
