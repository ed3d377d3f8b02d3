// Time of one LAPQ loss evaluation (a forward pass of the quantized network over
// the whole calibration set) with and without prefix caching, by the position
// of the coordinate that changed (lapq-method.md, "Prefix caching").
//
//   LAPQ_BENCH_MODEL=/tmp/models/resnet18.onnx build/bin/bench_loss_oracle
//       [--benchmark_filter=...]   (env LAPQ_BENCH_IMAGES, default 512; LAPQ_BENCH_BITS, default w4a4)
//
// Calibration images are random N(0, 1) tensors at the model's input size with
// random labels: the cost of an evaluation does not depend on their content.
// Each benchmark iteration moves coordinate i (alternately x0[i] and 1.05 x0[i])
// and evaluates, so with caching it re-runs only the suffix of the network from
// the first layer that coordinate affects, as in Powell's line searches.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "engine/passes/passes.h"
#include "frontends/onnx/onnx_loader.h"
#include "quant/lapq.h"
#include "quant/presets.h"

namespace {

using namespace lapq;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

struct Setup {
  Graph graph;
  quant::QuantConfig init;
  quant::CalibrationSet calib;
};

// Built once: loading ResNet-18 and fitting the initial point takes seconds.
Setup* setup() {
  static std::unique_ptr<Setup> s = [] {
    const std::string path = env_or("LAPQ_BENCH_MODEL", "/tmp/lapq-bench-models/resnet18.onnx");
    if (!std::filesystem::exists(path)) return std::unique_ptr<Setup>();
    auto st = std::make_unique<Setup>();
    st->graph = load_onnx(path);
    quant::PresetOptions po;
    po.preset = quant::Preset::kDeploy;
    po.bits = quant::parse_bits(env_or("LAPQ_BENCH_BITS", "w4a4"));
    optimize(st->graph, quant::preset_pass_options(po.preset));
    st->init = quant::make_preset_config(st->graph, po);

    const Shape in = st->graph.values.at(static_cast<size_t>(st->graph.inputs.at(0))).shape;  // [N, C, H, W], N may be -1
    const int64_t n = std::stoll(env_or("LAPQ_BENCH_IMAGES", "512"));
    const int64_t classes = 1000;
    Tensor images(DType::kF32, {n, in[1], in[2], in[3]});
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (float& v : images.span<float>()) v = normal(rng);
    std::vector<int> labels(static_cast<size_t>(n));
    for (int& l : labels) l = static_cast<int>(rng() % classes);
    st->calib = quant::make_calibration(images, labels, 128);  // lapq quantize's default --batch

    quant::init_weights(st->graph, st->init, 0.0);
    Tensor first8(DType::kF32, {8, in[1], in[2], in[3]});  // activation ranges: 8 images are enough for timing
    for (float& v : first8.span<float>()) v = normal(rng);
    quant::init_acts_online(st->graph, st->init, first8, 0.0);
    return st;
  }();
  return s.get();
}

void BM_LossEvaluation(benchmark::State& state) {
  Setup* s = setup();
  if (!s) {
    state.SkipWithError("model not found: set LAPQ_BENCH_MODEL (tools/export_torchvision.py)");
    return;
  }
  quant::OracleOptions oo;
  oo.prefix_cache = state.range(1) != 0;
  quant::LossOracle oracle(s->graph, s->init, s->calib, oo);
  std::vector<double> x = oracle.coords().x0();
  const size_t i = static_cast<size_t>(state.range(0)) * (x.size() - 1) / 100;
  const double x0 = x[i];
  oracle(x);  // warm: builds the cache boundary at coordinate i's first layer
  x[i] = 1.05 * x0;
  oracle(x);
  bool up = false;
  for (auto _ : state) {
    x[i] = up ? 1.05 * x0 : x0;
    up = !up;
    benchmark::DoNotOptimize(oracle(x));
  }
  state.counters["coordinate"] = static_cast<double>(i);
  state.counters["coordinates"] = static_cast<double>(x.size());
  state.counters["first_node"] = oracle.coords()[i].first_node;
  state.counters["images"] = static_cast<double>(s->calib.images());
  state.counters["cache_MiB"] = static_cast<double>(oracle.cache_bytes()) / (1 << 20);
}
// Args: {position of the changed coordinate in % of the coordinate list, prefix cache 0/1}.
BENCHMARK(BM_LossEvaluation)
    ->ArgsProduct({{0, 25, 50, 75, 100}, {0, 1}})
    ->ArgNames({"pos%", "cache"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(4)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
