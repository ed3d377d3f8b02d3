// The `lapq` command line: one binary, one file per subcommand. Each
// add_*_command() registers its options on the CLI11 app and a callback that
// does the work; errors are thrown as lapq::Error and turned into a message
// and an exit status by main() (docs/cli.md lists them).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "api/lapq.h"
#include "api/quantize.h"

namespace lapq::cli {

// Options every model-loading subcommand shares.
struct ModelArgs {
  std::string model;
  int threads = 0;
  std::vector<std::string> preprocess;  // --pre key=value (repeatable)
  std::string labels;
  bool reference_only = false;
  bool no_fold_bn = false;
};
void add_model_options(CLI::App& cmd, ModelArgs& args);
Model load_model(const ModelArgs& args);
// A quantized model file (.lapq, detected by its magic bytes): eval / classify load it
// with load_quantized_model_arg (its preprocessing and labels are stored in the file).
bool is_quantized_model_arg(const ModelArgs& args);
QuantizedModel load_quantized_model_arg(const ModelArgs& args);

void add_classify_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_export_command(CLI::App& app);  // export (and import) of ONNX QDQ models

}  // namespace lapq::cli
