// lapq bench --model M --bits fp32,w8a8,w4a8,w4a4 --threads 1,2 --batch 1,8 [--runs N] [--warmup W]
//            [--calib DIR] [--json] [--per-layer]
//
// Latency of one model per bit-width, thread count and batch size, side by side
// (docs/benchmarks.md). Every configuration is built first (FP32: a Plan;
// quantized: a QuantizedNetwork on the integer kernels), then the timed runs
// go round robin over the configurations, so machine noise (other processes,
// frequency changes) hits them all alike. Reported: median and p90 of the runs.
//
// Quantized configurations of an ONNX model are made on the spot with a fast
// initialization: max-abs weights, activation ranges fitted max-abs online on
// one batch (calibration images from --calib when given, else random N(0,1)
// inputs). Latency does not depend on the exact clipping values, so this is
// enough to time the network; accuracy needs `lapq quantize`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "apps/cli/commands.h"
#include "engine/error.h"
#include "engine/plan.h"
#include "engine/summary.h"
#include "frontends/dataset/image_folder.h"
#include "frontends/onnx/onnx_loader.h"
#include "quant/calibration.h"
#include "quant/lapq.h"
#include "quant/presets.h"
#include "quant/qmodel_file.h"
#include "quant/quantized_network.h"

namespace lapq::cli {

namespace {

// Machine peak per core (docs/benchmarks.md): AVX-512 VNNI vpdpbusd (int8, also
// used for int4 weights after unpacking) and FP32 FMA, Zen 5 at its sustained clock.
constexpr double kPeakInt8GmacPerCore = 432.0;
constexpr double kPeakFp32GmacPerCore = 108.0;

struct BenchArgs {
  std::string model;
  std::vector<std::string> bits;
  std::vector<int> threads{1};
  std::vector<int64_t> batch{1};
  int runs = 20;
  int warmup = 3;
  std::string calib;
  bool json = false;
  bool per_layer = false;
};

// One entry of --bits: "fp32", "file" (a .lapq file's own config) or wXaY.
struct BitsSpec {
  std::string name;
  bool fp32 = false;
  bool from_file = false;
  quant::Bits bits;
};

BitsSpec parse_bits_spec(const std::string& text) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  BitsSpec s;
  if (t == "fp32") {
    s.name = "fp32";
    s.fp32 = true;
    return s;
  }
  if (t == "file") {
    s.name = "file";
    s.from_file = true;
    return s;
  }
  LAPQ_CHECK(t.size() >= 4 && t[0] == 'w' && t.find('a') != std::string::npos, ErrorCode::kInvalidArgument,
             "--bits '", text, "': expected fp32, file or wXaY (e.g. w8a8, w4a4) with X, Y in 2..8");
  try {
    s.bits = quant::parse_bits(t);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument,
                "--bits '" + text + "': expected fp32, file or wXaY (e.g. w8a8, w4a4) with X, Y in 2..8 (" + e.what() +
                    ")");
  }
  s.name = quant::bits_name(s.bits);
  return s;
}

// A quantized config with bits, made from the model's graph or read from the file.
struct QuantSource {
  Graph graph;  // the FP32 graph the configs refer to (optimized with deploy passes)
  PreprocessConfig preprocess;
  bool is_file = false;
  quant::QuantConfig file_config;
};

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Nearest-rank percentile (p in (0, 100]).
double percentile_of(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

Tensor random_input(const Shape& shape, uint64_t seed) {
  Tensor t(DType::kF32, shape);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = nd(rng);
  return t;
}

Shape input_shape_for(const Graph& g, const PreprocessConfig& pre, int64_t n) {
  Shape s = g.values[g.inputs[0]].shape;
  LAPQ_CHECK(!s.empty(), ErrorCode::kShapeMismatch, "the model's input has no declared shape");
  if (s[0] < 0) s[0] = n;
  LAPQ_CHECK(s[0] == n, ErrorCode::kShapeMismatch, "the model has a fixed batch size of ", s[0],
             "; --batch asked for ", n);
  const int64_t cfg[4] = {n, pre.channels, pre.height, pre.width};
  for (size_t d = 1; d < s.size() && d < 4; ++d)
    if (s[d] < 0) s[d] = cfg[d];
  return s;
}

// Bytes of the deployed weights: quantized weights packed (int4 two per byte
// for <= 4 bits, else one byte), every other constant (biases, FP32 layers) 4 bytes.
double model_bytes(const Graph& g, const quant::QuantConfig* cfg) {
  double bytes = 0.0;
  std::vector<char> quantized(g.values.size(), 0);
  if (cfg) {
    for (const quant::WeightQuant& w : cfg->weights) {
      const int v = g.nodes[static_cast<size_t>(w.node)].inputs[1];
      quantized[static_cast<size_t>(v)] = 1;
      const double n = static_cast<double>(g.values[static_cast<size_t>(v)].constant.numel());
      bytes += w.bits <= 4 ? n / 2.0 : n;
    }
  }
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].is_constant() && !quantized[v]) bytes += 4.0 * static_cast<double>(g.values[v].constant.numel());
  return bytes;
}

// The most common weight / activation bits of a config ("w4a4" for a deploy
// config whose first and last layers are 8-bit).
std::string config_bits_name(const quant::QuantConfig& c) {
  auto mode = [](const std::vector<int>& v) {
    int best = 8, count = 0;
    for (int b = 2; b <= 8; ++b) {
      const int n = static_cast<int>(std::count(v.begin(), v.end(), b));
      if (n > count) best = b, count = n;
    }
    return best;
  };
  std::vector<int> wb, ab;
  for (auto& w : c.weights) wb.push_back(w.bits);
  for (auto& a : c.acts) ab.push_back(a.bits);
  return quant::bits_name({mode(wb), mode(ab)});
}

// One configuration: a ready-to-run network and its timings.
struct Config {
  std::string bits_name;
  bool quantized = false;
  int threads = 1;
  int64_t batch = 1;
  double macs = 0.0;        // per forward (the whole batch)
  double size_bytes = 0.0;
  Tensor input;
  std::unique_ptr<Plan> fp32_plan;
  std::unique_ptr<quant::QuantizedNetwork> qnet;
  std::vector<double> ms;                        // per timed run
  std::vector<std::vector<double>> node_ms;      // [node][run] (--per-layer)
  std::chrono::steady_clock::time_point last;

  Plan& plan() { return quantized ? qnet->plan() : *fp32_plan; }
  void run() {
    if (quantized) {
      qnet->forward(input);
    } else {
      fp32_plan->set_input(0, input);
      fp32_plan->run_nodes(0, static_cast<int>(fp32_plan->graph().nodes.size()));
    }
  }
};

quant::QuantConfig fast_config(const Graph& g, quant::Bits bits, const Tensor& calib_batch) {
  quant::PresetOptions po;
  po.preset = quant::Preset::kDeploy;
  po.bits = bits;
  quant::QuantConfig cfg = quant::make_preset_config(g, po);
  quant::init_weights(g, cfg, 0.0);                    // max-abs
  quant::init_acts_online(g, cfg, calib_batch, 0.0);   // max-abs on one batch
  return cfg;
}

Tensor calibration_batch(const BenchArgs& a, const QuantSource& src) {
  const Shape& declared = src.graph.values[src.graph.inputs[0]].shape;
  const int64_t n = !declared.empty() && declared[0] > 0 ? declared[0] : 8;  // a fixed batch, else 8 images
  if (!a.calib.empty()) {
    ImageFolder ds = ImageFolder::open(a.calib);
    quant::CalibrationSet cs = quant::load_calibration(ds, std::min<size_t>(n, ds.size()), 0, n, src.preprocess);
    if (!cs.batches.empty()) return cs.batches[0];
  }
  return random_input(input_shape_for(src.graph, src.preprocess, n), 12345);
}

void run_bench(const BenchArgs& a) {
  LAPQ_CHECK(a.runs >= 1, ErrorCode::kInvalidArgument, "--runs must be >= 1");
  const bool is_file = quant::is_quantized_model_file(a.model);
  std::vector<std::string> bits_list = a.bits;
  if (bits_list.empty()) bits_list = is_file ? std::vector<std::string>{"fp32", "file"}
                                             : std::vector<std::string>{"fp32", "w8a8", "w4a8", "w4a4"};
  std::vector<BitsSpec> specs;
  for (const std::string& b : bits_list) {
    // CLI11 splits "fp32,w8a8" only with ->delimiter; accept both forms.
    std::stringstream ss(b);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) specs.push_back(parse_bits_spec(item));
  }
  LAPQ_CHECK(!specs.empty(), ErrorCode::kInvalidArgument, "--bits: nothing to run");

  // The FP32 graph every configuration derives from.
  QuantSource src;
  if (is_file) {
    QuantizedModel qm = QuantizedModel::load(a.model, 1);
    src.graph = qm.graph();
    src.preprocess = qm.preprocess();
    src.is_file = true;
    src.file_config = qm.config();
  } else {
    LAPQ_CHECK(std::filesystem::is_regular_file(a.model), ErrorCode::kIo, "model file not found: ", a.model);
    Model m = Model::load(a.model);  // for its preprocessing (sidecar)
    src.preprocess = m.preprocess();
    src.graph = load_onnx(a.model);
    optimize(src.graph, quant::preset_pass_options(quant::Preset::kDeploy));
  }
  for (const BitsSpec& s : specs)
    LAPQ_CHECK(!s.from_file || is_file, ErrorCode::kInvalidArgument,
               "--bits file: the model is not a quantized .lapq file: ", a.model);

  // Quantized configs, one per bit-width (independent of threads / batch).
  std::map<std::string, quant::QuantConfig> qconfigs;
  Tensor calib;
  for (const BitsSpec& s : specs) {
    if (s.fp32 || qconfigs.count(s.name)) continue;
    if (s.from_file) {
      qconfigs[s.name] = src.file_config;
      continue;
    }
    if (calib.empty()) calib = calibration_batch(a, src);
    if (!a.json)
      std::fprintf(stderr, "quantizing %s on the spot (max-abs weights, activations from %s)\n", s.name.c_str(),
                   a.calib.empty() ? "8 random N(0,1) inputs" : "8 calibration images");
    qconfigs[s.name] = fast_config(src.graph, s.bits, calib);
  }

  std::vector<Config> configs;
  for (const BitsSpec& s : specs)
    for (int t : a.threads)
      for (int64_t n : a.batch) {
        Config c;
        c.bits_name = s.from_file ? "file:" + config_bits_name(src.file_config) : s.name;
        c.quantized = !s.fp32;
        c.threads = t;
        c.batch = n;
        const Shape shape = input_shape_for(src.graph, src.preprocess, n);
        c.input = random_input(shape, 1);
        Graph g = src.graph;
        infer_shapes(g, {shape});
        c.macs = static_cast<double>(summarize(g).total_macs);
        PlanOptions po;
        po.num_threads = t;
        if (c.quantized) {
          const quant::QuantConfig& qc = qconfigs.at(s.name);
          c.size_bytes = model_bytes(src.graph, &qc);
          c.qnet = std::make_unique<quant::QuantizedNetwork>(src.graph, qc, shape, po);
        } else {
          c.size_bytes = model_bytes(src.graph, nullptr);
          c.fp32_plan = std::make_unique<Plan>(src.graph, std::vector<Shape>{shape}, po);
        }
        configs.push_back(std::move(c));
      }

  if (a.per_layer)
    for (Config& c : configs) {
      c.node_ms.assign(c.plan().graph().nodes.size(), {});
      Config* cp = &c;
      c.plan().set_observer([cp](int node, Plan&) {
        const auto now = std::chrono::steady_clock::now();
        cp->node_ms[static_cast<size_t>(node)].push_back(
            std::chrono::duration<double, std::milli>(now - cp->last).count());
        cp->last = now;
      });
    }

  // With OpenMP's default (spinning) wait policy, the pool threads left idle
  // by a multi-threaded configuration spin through the next single-threaded
  // one and take its core: mixed thread counts are only comparable with
  // passive waiting (docs/benchmarks.md). The policy is read at program start.
  const bool mixed_threads = std::any_of(a.threads.begin(), a.threads.end(), [&](int t) { return t != a.threads[0]; });
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  if (mixed_threads && (!policy || std::string(policy) != "passive"))
    std::fprintf(stderr, "note: mixed --threads without OMP_WAIT_POLICY=passive: idle OpenMP threads spin during the "
                         "single-threaded runs and slow them (docs/benchmarks.md)\n");

  // Warmup, then timed runs, round robin over the configurations.
  for (int r = 0; r < a.warmup; ++r)
    for (Config& c : configs) {
      c.last = std::chrono::steady_clock::now();
      c.run();
    }
  if (a.per_layer)
    for (Config& c : configs)
      for (auto& v : c.node_ms) v.clear();
  for (int r = 0; r < a.runs; ++r)
    for (Config& c : configs) {
      const auto t0 = std::chrono::steady_clock::now();
      c.last = t0;
      c.run();
      const auto t1 = std::chrono::steady_clock::now();
      c.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }

  // Report.
  nlohmann::json rows = nlohmann::json::array();
  const std::string model_name = std::filesystem::path(a.model).filename().string();
  if (!a.json) {
    std::printf("lapq bench: %s, %d runs after %d warmup (round robin); peak per core: %.0f GMAC/s int8 (vpdpbusd), "
                "%.0f GMAC/s fp32 (FMA), scaled by threads\n",
                model_name.c_str(), a.runs, a.warmup, kPeakInt8GmacPerCore, kPeakFp32GmacPerCore);
    std::printf("%-24s %-10s %7s %5s %10s %10s %10s %8s %7s %8s\n", "model", "bits", "threads", "batch", "median ms",
                "p90 ms", "images/s", "GMAC/s", "%peak", "size MB");
  }
  for (Config& c : configs) {
    const double med = median_of(c.ms), p90 = percentile_of(c.ms, 90.0);
    const double gmacs = c.macs / (med * 1e-3) / 1e9;
    const double peak = (c.quantized ? kPeakInt8GmacPerCore : kPeakFp32GmacPerCore) * c.threads;
    const double ips = static_cast<double>(c.batch) / (med * 1e-3);
    nlohmann::json row = {{"model", model_name},   {"bits", c.bits_name},      {"threads", c.threads},
                          {"batch", c.batch},      {"median_ms", med},         {"p90_ms", p90},
                          {"images_per_s", ips},   {"gmacs", c.macs / 1e9},    {"gmac_per_s", gmacs},
                          {"peak_gmac_per_s", peak}, {"percent_of_peak", 100.0 * gmacs / peak},
                          {"size_mb", c.size_bytes / 1e6}, {"runs", static_cast<int>(c.ms.size())}};
    if (!a.json)
      std::printf("%-24.24s %-10s %7d %5lld %10.3f %10.3f %10.1f %8.1f %6.1f%% %8.2f\n", model_name.c_str(),
                  c.bits_name.c_str(), c.threads, static_cast<long long>(c.batch), med, p90, ips, gmacs,
                  100.0 * gmacs / peak, c.size_bytes / 1e6);
    if (a.per_layer) {
      const Plan& p = c.plan();
      std::vector<double> node_med(c.node_ms.size());
      double total = 0.0;
      for (size_t i = 0; i < node_med.size(); ++i) total += node_med[i] = median_of(c.node_ms[i]);
      nlohmann::json layers = nlohmann::json::array();
      for (size_t i = 0; i < node_med.size(); ++i) {
        const Node& nd = p.graph().nodes[i];
        const std::string name = nd.name.empty() && !nd.outputs.empty() ? p.graph().values[nd.outputs[0]].name : nd.name;
        const std::string impl = p.impl_name(static_cast<int>(i));
        layers.push_back({{"node", i}, {"op", nd.op}, {"name", name}, {"impl", impl}, {"median_ms", node_med[i]},
                          {"share", total > 0 ? node_med[i] / total : 0.0}});
      }
      row["layers"] = layers;
      if (!a.json) {
        std::printf("  per layer (%s, %d thread(s), batch %lld; medians, sum %.3f ms)\n", c.bits_name.c_str(),
                    c.threads, static_cast<long long>(c.batch), total);
        std::printf("  %-4s %-16s %-28s %-40s %9s %6s\n", "#", "op", "name", "kernel", "ms", "share");
        for (const auto& l : layers)
          std::printf("  %-4d %-16.16s %-28.28s %-40.40s %9.4f %5.1f%%\n", l["node"].get<int>(),
                      l["op"].get<std::string>().c_str(), l["name"].get<std::string>().c_str(),
                      l["impl"].get<std::string>().c_str(), l["median_ms"].get<double>(),
                      100.0 * l["share"].get<double>());
      }
    }
    rows.push_back(row);
  }
  if (a.json) std::printf("%s\n", rows.dump(2).c_str());
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Latency per bit-width, thread count and batch size, side by side");
  cmd->add_option("-m,--model", a->model, "Model file: ONNX, or a quantized .lapq file")->required();
  cmd->add_option("--bits", a->bits,
                  "Comma-separated: fp32, wXaY (quantized on the spot for an ONNX model), file (a .lapq file's own "
                  "config); default fp32,w8a8,w4a8,w4a4 (ONNX) or fp32,file (.lapq)")
      ->delimiter(',');
  cmd->add_option("--threads", a->threads, "Comma-separated thread counts")->delimiter(',')->check(CLI::Range(1, 1024));
  cmd->add_option("--batch", a->batch, "Comma-separated batch sizes")->delimiter(',')->check(CLI::Range(1, 65536));
  cmd->add_option("--runs", a->runs, "Timed runs per configuration (median, p90)")->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", a->warmup, "Untimed runs per configuration first")->check(CLI::Range(0, 100000));
  cmd->add_option("--calib", a->calib, "Image folder for the activation ranges of on-the-spot quantization");
  cmd->add_flag("--json", a->json, "Print the results as JSON");
  cmd->add_flag("--per-layer", a->per_layer, "Also print the median time of every node (op, kernel, share)");
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace lapq::cli
