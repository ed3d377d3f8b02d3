// lapq eval --model M --data DIR: top-1 / top-5 accuracy over an image folder.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>

#include "apps/cli/commands.h"
#include "engine/progress.h"
#include "frontends/dataset/image_folder.h"

namespace lapq::cli {

namespace {
struct EvalArgs {
  ModelArgs model;
  std::string data;
  int64_t limit = 0;
  int64_t batch = 64;
  uint64_t seed = 0;
  bool json = false;
  bool quiet = false;
};

// M: Model (ONNX) or QuantizedModel (.lapq); same interface.
template <class M>
void run_eval_with(M& model, const EvalArgs& a) {
  ImageFolder ds = ImageFolder::open(a.data, model.labels());
  std::vector<size_t> indices(ds.size());
  std::iota(indices.begin(), indices.end(), size_t{0});
  if (a.limit > 0 && static_cast<size_t>(a.limit) < ds.size())
    indices = ds.sample_indices(static_cast<size_t>(a.limit), a.seed, SamplingMode::kStratified);
  const int64_t batch = model.max_batch(a.batch);

  int64_t top1 = 0, top5 = 0, done = 0;
  double infer_seconds = 0;
  Progress progress("eval", static_cast<int64_t>(indices.size()), a.quiet || a.json);
  for (size_t begin = 0; begin < indices.size(); begin += batch) {
    size_t end = std::min(indices.size(), begin + static_cast<size_t>(batch));
    std::span<const size_t> chunk(indices.data() + begin, end - begin);
    ImageBatch b = load_image_batch(ds, chunk, model.preprocess());
    Tensor input = b.images;
    if (static_cast<int64_t>(chunk.size()) < batch && model.max_batch(0) > 0) {
      // A fixed-batch model: pad the last batch with zeros.
      Tensor padded(DType::kF32, model.input_shape(batch));
      std::copy(input.data<float>(), input.data<float>() + input.numel(), padded.data<float>());
      input = padded;
    }
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<Prediction>> preds = model.classify(input, 5);
    infer_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < chunk.size(); ++i) {
      const auto& p = preds[i];
      if (!p.empty() && p[0].class_index == b.labels[i]) ++top1;
      for (const Prediction& q : p)
        if (q.class_index == b.labels[i]) { ++top5; break; }
    }
    done += static_cast<int64_t>(chunk.size());
    char extra[64];
    std::snprintf(extra, sizeof extra, "top1 %.2f%%", 100.0 * top1 / done);
    progress.update(done, extra);
  }
  progress.finish();
  double total = progress.elapsed_seconds();
  double acc1 = done ? 100.0 * top1 / done : 0, acc5 = done ? 100.0 * top5 / done : 0;
  if (a.json) {
    std::printf("{\"model\": \"%s\", \"data\": \"%s\", \"images\": %lld, \"top1\": %.4f, \"top5\": %.4f, "
                "\"seconds\": %.3f, \"images_per_second\": %.2f, \"inference_images_per_second\": %.2f, "
                "\"threads\": %d}\n",
                model.path().c_str(), a.data.c_str(), (long long)done, acc1, acc5, total, done / total,
                done / infer_seconds, model.num_threads());
  } else {
    std::printf("images   %lld (%zu classes%s)\n", (long long)done, ds.classes().size(),
                ds.skipped_files() ? ", some non-image files skipped" : "");
    std::printf("top-1    %.2f %%\ntop-5    %.2f %%\n", acc1, acc5);
    std::printf("speed    %.1f images/s end to end, %.1f images/s inference (%d threads, batch %lld)\n",
                done / total, done / infer_seconds, model.num_threads(), (long long)batch);
  }
}

void run_eval(const EvalArgs& a) {
  if (is_quantized_model_arg(a.model)) {
    QuantizedModel model = load_quantized_model_arg(a.model);
    run_eval_with(model, a);
  } else {
    Model model = load_model(a.model);
    run_eval_with(model, a);
  }
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Top-1 / top-5 accuracy over an image folder (one sub-folder per class)");
  add_model_options(*cmd, args->model);
  cmd->add_option("-d,--data", args->data, "Image folder: DIR/<class>/<image>")->required();
  cmd->add_option("--limit", args->limit, "Evaluate a seeded, class-balanced sample of N images")->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--batch", args->batch, "Batch size")->check(CLI::Range(1, 4096));
  cmd->add_option("--seed", args->seed, "Seed for --limit sampling");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress line");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace lapq::cli
