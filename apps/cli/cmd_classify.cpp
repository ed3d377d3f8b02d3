// lapq classify --model M IMG...: top-k labels with probabilities per image.
#include <cstdio>
#include <memory>

#include "apps/cli/commands.h"
#include "frontends/image/preprocess.h"

namespace lapq::cli {

namespace {
struct ClassifyArgs {
  ModelArgs model;
  std::vector<std::string> images;
  int top_k = 5;
  bool json = false;
};

template <class M>  // Model (ONNX) or QuantizedModel (.lapq)
void run_classify_with(M& model, const ClassifyArgs& a) {
  if (a.json) std::printf("[\n");
  for (size_t i = 0; i < a.images.size(); ++i) {
    const std::string& path = a.images[i];
    std::vector<Prediction> top = model.classify_file(path, a.top_k);
    if (a.json) {
      std::printf("  {\"image\": \"%s\", \"top\": [", path.c_str());
      for (size_t j = 0; j < top.size(); ++j)
        std::printf("%s{\"class\": %d, \"label\": \"%s\", \"probability\": %.6f}", j ? ", " : "", top[j].class_index,
                    top[j].label.c_str(), top[j].probability);
      std::printf("]}%s\n", i + 1 < a.images.size() ? "," : "");
    } else {
      std::printf("%s\n", path.c_str());
      for (const Prediction& p : top)
        std::printf("  %6.2f%%  %-3d %s\n", 100.0 * p.probability, p.class_index, p.label.c_str());
    }
  }
  if (a.json) std::printf("]\n");
}

void run_classify(const ClassifyArgs& a) {
  if (is_quantized_model_arg(a.model)) {
    QuantizedModel model = load_quantized_model_arg(a.model);
    run_classify_with(model, a);
  } else {
    Model model = load_model(a.model);
    run_classify_with(model, a);
  }
}
}  // namespace

void add_classify_command(CLI::App& app) {
  auto args = std::make_shared<ClassifyArgs>();
  CLI::App* cmd = app.add_subcommand("classify", "Classify images: top-k labels with probabilities");
  add_model_options(*cmd, args->model);
  cmd->add_option("images", args->images, "Image files (JPEG, PNG, BMP)")->required();
  cmd->add_option("-k,--top", args->top_k, "How many classes to show")->check(CLI::Range(1, 100000));
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { run_classify(*args); });
}

}  // namespace lapq::cli
