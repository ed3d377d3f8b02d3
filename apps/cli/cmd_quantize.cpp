// lapq quantize --model M.onnx --calib DIR --bits w4a4 [--method lapq] [--preset paper|deploy] --out Q.lapq
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "api/quantize.h"
#include "apps/cli/commands.h"
#include "engine/error.h"
#include "frontends/dataset/image_folder.h"

namespace lapq::cli {

bool is_quantized_model_arg(const ModelArgs& args) { return quant::is_quantized_model_file(args.model); }

QuantizedModel load_quantized_model_arg(const ModelArgs& args) {
  LAPQ_CHECK(args.preprocess.empty() && args.labels.empty(), ErrorCode::kInvalidArgument, args.model,
             ": a quantized model stores its preprocessing and labels; --pre / --labels do not apply");
  return QuantizedModel::load(args.model, args.threads);
}

namespace {
struct QuantizeArgs {
  ModelArgs model;
  std::string calib, eval, out, report;
  size_t calib_size = 512;
  int64_t eval_limit = 0;
  uint64_t seed = 0;
  std::string bits = "w8a8", method = "lapq", preset = "deploy", objective = "ce";
  bool per_channel = false;
  int first_last_bits = 8;
  std::vector<std::string> layer_bits;
  bool no_bias_correction = false, bias_correction = false;
  std::vector<double> p_range;
  int p_count = 10;
  std::string p_choice = "fit";
  double p = 0.0;
  int maxiter = 1;
  int64_t max_evals = -1;
  int64_t batch = 128;
  bool no_prefix_cache = false;
  bool eval_scan = false;
  bool quiet = false;
};

void run_quantize(const QuantizeArgs& a) {
  Model model = load_model(a.model);
  QuantizeOptions o;
  o.preset.preset = quant::parse_preset(a.preset);
  o.preset.bits = quant::parse_bits(a.bits);
  o.preset.per_channel = a.per_channel;
  o.preset.first_last_bits = a.first_last_bits;
  if (a.no_bias_correction) o.preset.bias_correction = false;
  if (a.bias_correction) o.preset.bias_correction = true;
  for (const std::string& s : a.layer_bits) quant::add_layer_bits(o.preset, s);
  o.lapq.method = quant::parse_method(a.method);
  o.lapq.objective = quant::parse_objective(a.objective);
  if (!a.p_range.empty()) {
    LAPQ_CHECK(a.p_range.size() == 2 && a.p_range[0] > 0 && a.p_range[1] >= a.p_range[0],
               ErrorCode::kInvalidArgument, "--p-range takes LO,HI with 0 < LO <= HI");
    o.lapq.pscan.p_min = a.p_range[0];
    o.lapq.pscan.p_max = a.p_range[1];
  }
  o.lapq.pscan.count = a.p_count;
  LAPQ_CHECK(a.p_choice == "fit" || a.p_choice == "best", ErrorCode::kInvalidArgument, "--p-choice '",
             a.p_choice, "': expected fit or best");
  o.lapq.p_best_scanned = a.p_choice == "best";
  o.lapq.p = a.p;
  o.lapq.maxiter = a.maxiter;
  o.lapq.max_evals = a.max_evals;
  o.lapq.num_threads = model.num_threads();
  o.lapq.prefix_cache = !a.no_prefix_cache;
  o.lapq.quiet = a.quiet;
  o.lapq.evaluate_scan = a.eval_scan;
  o.calib_dir = a.calib;
  o.calib_size = a.calib_size;
  o.seed = a.seed;
  o.calib_batch = a.batch;
  if (!a.eval.empty()) {
    ImageFolder ds = ImageFolder::open(a.eval, model.labels());
    const size_t n = a.eval_limit > 0 ? static_cast<size_t>(a.eval_limit) : ds.size();
    o.eval = quant::load_calibration(ds, n, a.seed, a.batch, model.preprocess());
  }
  QuantizedModel qm = quantize(model, o);
  const quant::LapqReport& r = qm.report();
  std::printf("%-22s %10s %8s %8s\n", "stage", "calib loss", "top-1", "evals");
  for (const quant::StageRecord& s : r.stages) {
    char acc[16] = "-", ev[24] = "";
    if (s.accuracy >= 0) std::snprintf(acc, sizeof acc, "%.2f", s.accuracy);
    if (s.evals > 0) std::snprintf(ev, sizeof ev, "%lld", static_cast<long long>(s.evals));
    std::printf("%-22s %10.4f %8s %8s\n", s.stage.c_str(), s.loss, acc, ev);
  }
  if (r.scanned)
    std::printf("p* = %.4g (%s; quadratic stationary point %.4g, best scanned p %.4g)\n", r.pfit.p_star,
                quant::p_star_case_name(r.pfit.which), r.pfit.p_stationary, r.pfit.best_p);
  std::printf("%zu weight tensors, %zu activations quantized (%s, %s, %s); %.1f s total",
              qm.config().weights.size(), qm.config().acts.size(), a.preset.c_str(), a.bits.c_str(),
              a.method.c_str(), r.seconds_total);
  if (r.method == "lapq")
    std::printf(", Powell %lld evaluations in %.1f s (%s)", static_cast<long long>(r.powell_evals), r.seconds_powell,
                r.powell_stop.c_str());
  std::printf("\n");
  if (!a.out.empty()) {
    qm.save(a.out);
    std::printf("wrote %s\n", a.out.c_str());
  }
  if (!a.report.empty()) {
    std::ofstream f(a.report);
    LAPQ_CHECK(f.good(), ErrorCode::kIo, "cannot write ", a.report);
    f << qm.report_json() << "\n";
    std::printf("wrote %s\n", a.report.c_str());
  }
}
}  // namespace

void add_quantize_command(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Post-training quantization (max / MSE / Lp / LAPQ) to a .lapq file");
  add_model_options(*cmd, a->model);
  cmd->add_option("--calib", a->calib, "Calibration image folder (DIR/<class>/<image>; training images)")->required();
  cmd->add_option("--calib-size", a->calib_size, "Calibration images (seeded, class-stratified sample)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  cmd->add_option("--eval", a->eval, "Held-out image folder: report top-1 after every stage");
  cmd->add_option("--eval-limit", a->eval_limit, "Evaluate a seeded sample of N images of --eval");
  cmd->add_flag("--eval-scan", a->eval_scan, "With --eval: also evaluate every p of the scan");
  cmd->add_option("--seed", a->seed, "Seed for the calibration sample");
  cmd->add_option("--bits", a->bits, "Bit widths, e.g. w4a4, w8a8, w4a8 (2..8)");
  cmd->add_option("--method", a->method, "max | mse | lp | lapq");
  cmd->add_option("--preset", a->preset, "deploy (every conv/FC, BN folded) | paper (LAPQ reference setting)");
  cmd->add_flag("--per-channel", a->per_channel, "Per-output-channel weight clipping (deploy)");
  cmd->add_option("--first-last-bits", a->first_last_bits, "Deploy: bits of the first and last layer (0 = --bits)")
      ->check(CLI::Range(0, 8));
  cmd->add_option("--layer-bits", a->layer_bits, "NAME=w8a8 per-layer override (repeatable)");
  cmd->add_flag("--bias-correction", a->bias_correction, "Weight bias correction (default: on in paper)");
  cmd->add_flag("--no-bias-correction", a->no_bias_correction, "No weight bias correction");
  cmd->add_option("--p-range", a->p_range, "p scan range LO,HI (default 2,4)")->delimiter(',')->expected(2);
  cmd->add_option("--p-count", a->p_count, "Number of p values in the scan (default 10)")->check(CLI::Range(1, 1000));
  cmd->add_option("--p-choice", a->p_choice,
                  "After the scan: fit (the quadratic fit's p*, default) | best (the best scanned p when p*'s loss is worse)");
  cmd->add_option("--p", a->p, "Use this p instead of the scan (lp, lapq)")->check(CLI::PositiveNumber);
  cmd->add_option("--maxiter", a->maxiter, "Powell iterations (default 1)")->check(CLI::Range(1, 1000));
  cmd->add_option("--max-evals", a->max_evals, "Limit on Powell's loss evaluations");
  cmd->add_option("--objective", a->objective, "ce (cross-entropy vs labels) | kl (to the FP32 outputs, label-free)");
  cmd->add_option("--batch", a->batch, "Calibration batch size")->check(CLI::Range(1, 4096));
  cmd->add_flag("--no-prefix-cache", a->no_prefix_cache, "Re-run the whole network at every evaluation");
  cmd->add_option("-o,--out", a->out, "Write the quantized model here (.lapq)");
  cmd->add_option("--report", a->report, "Write the JSON report here");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress lines");
  cmd->callback([a] { run_quantize(*a); });
}

}  // namespace lapq::cli
