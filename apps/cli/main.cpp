// lapq: CNN inference and post-training quantization on the CPU.
#include <cstdio>

#include "apps/cli/commands.h"
#include "engine/error.h"

namespace lapq::cli {

void add_model_options(CLI::App& cmd, ModelArgs& args) {
  cmd.add_option("-m,--model", args.model, "Model file (ONNX)")->required();
  cmd.add_option("-t,--threads", args.threads, "Threads (default: all cores)")->check(CLI::Range(0, 1024));
  cmd.add_option("--pre", args.preprocess,
                 "Preprocessing override key=value, repeatable (resize=none, crop=32, mean=..., std=..., "
                 "color=rgb|bgr|gray, input_size=C,H,W); see docs/preprocessing.md");
  cmd.add_option("--labels", args.labels, "Labels file, one class name per line (overrides the sidecar)");
  cmd.add_flag("--reference", args.reference_only, "Use the reference implementations only (slow; for checking)");
  cmd.add_flag("--no-fold-bn", args.no_fold_bn, "Keep BatchNormalization nodes separate");
}

Model load_model(const ModelArgs& args) {
  ModelOptions o;
  o.num_threads = args.threads;
  o.allow_fast = !args.reference_only;
  o.passes.fold_batchnorm = !args.no_fold_bn;
  o.preprocess_overrides = args.preprocess;
  o.labels_path = args.labels;
  return Model::load(args.model, o);
}

}  // namespace lapq::cli

int main(int argc, char** argv) {
  CLI::App app{"lapq: CNN inference and loss-aware post-training quantization on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lapq 0.1.0");
  lapq::cli::add_classify_command(app);
  lapq::cli::add_eval_command(app);
  lapq::cli::add_info_command(app);
  lapq::cli::add_quantize_command(app);
  lapq::cli::add_bench_command(app);
  lapq::cli::add_export_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const lapq::Error& e) {
    std::fprintf(stderr, "lapq: error (%s): %s\n", lapq::error_code_name(e.code()), e.what());
    return e.exit_status();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lapq: internal error: %s\n", e.what());
    return static_cast<int>(lapq::ErrorCode::kInternal);
  }
  return 0;
}
