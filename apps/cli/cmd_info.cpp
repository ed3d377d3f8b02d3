// lapq info --model M: ops, parameters and MACs per layer and in total.
#include <cstdio>
#include <memory>

#include "apps/cli/commands.h"
#include "engine/plan.h"
#include "engine/summary.h"

namespace lapq::cli {

namespace {
struct InfoArgs {
  ModelArgs model;
  int64_t batch = 1;
  bool graph = false;
};

void run_info(const InfoArgs& a) {
  Model model = load_model(a.model);
  Graph g = model.graph();
  infer_shapes(g, {model.input_shape(a.batch)});
  GraphSummary s = summarize(g);
  const Value& in = model.graph().values[model.graph().inputs[0]];
  std::printf("model     %s (opset %d)\n", model.path().c_str(), g.opset);
  std::printf("input     %s %s %s\n", in.name.c_str(), shape_str(in.shape).c_str(), dtype_name(in.dtype));
  for (int v : g.outputs) std::printf("output    %s %s\n", g.values[v].name.c_str(), shape_str(g.values[v].shape).c_str());
  std::printf("preprocess %s\n", describe_preprocess_config(model.preprocess()).c_str());
  std::printf("labels    %zu%s%s\n\n", model.labels().size(), model.labels().empty() ? "" : " from ",
              model.preprocess().labels_path.c_str());
  if (a.graph) std::printf("%s\n", g.to_string().c_str());
  std::printf("%-4s %-18s %-28s %-20s %10s %12s\n", "#", "op", "name", "output", "params", "MACs");
  for (const LayerSummary& l : s.layers) {
    std::string op = l.op + (l.activation.empty() ? "" : "+" + l.activation);
    std::printf("%-4d %-18s %-28.28s %-20s %10lld %12lld\n", l.node_id, op.c_str(), l.name.c_str(),
                shape_str(l.output_shape).c_str(), (long long)l.params, (long long)l.macs);
  }
  std::printf("\nops:");
  for (auto& [op, count] : s.op_counts) std::printf(" %s x%d", op.c_str(), count);
  std::printf("\nparameters %lld (%.2f MB fp32)\nMACs       %lld (%.3f GMAC) at batch %lld\n", (long long)s.total_params,
              s.total_params * 4.0 / 1e6, (long long)s.total_macs, s.total_macs / 1e9, (long long)a.batch);
}
}  // namespace

void add_info_command(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Show a model's ops, parameters and MACs per layer");
  add_model_options(*cmd, args->model);
  cmd->add_option("--batch", args->batch, "Batch size for the MAC count")->check(CLI::Range(1, 65536));
  cmd->add_flag("--graph", args->graph, "Print the optimized graph, one node per line");
  cmd->callback([args] { run_info(*args); });
}

}  // namespace lapq::cli
