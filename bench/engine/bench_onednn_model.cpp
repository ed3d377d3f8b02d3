// Whole-model FP32 latency at batch 1: ONNX file -> optimize() -> Plan ->
// run(), for 1 and 2 threads. Models: LAPQ_BENCH_MODEL (comma-separated
// .onnx paths) or the torchvision exports in LAPQ_BENCH_MODEL_DIR (default
// /tmp/tv, made by /usr/bin/python3 tools/export_torchvision.py --out /tmp/tv).
// Reports the median latency over the iterations (median_ms): the machine is
// shared and noisy, run with --benchmark_repetitions=N for more.
// LAPQ_ONEDNN_CONV_LAYOUT=nchw|native forces the conv layout (engine/onednn/conv.h).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/passes/passes.h"
#include "engine/plan.h"
#include "frontends/onnx/onnx_loader.h"

namespace {

std::vector<std::string> model_paths() {
  std::vector<std::string> paths;
  if (const char* e = std::getenv("LAPQ_BENCH_MODEL")) {
    std::stringstream ss(e);
    for (std::string p; std::getline(ss, p, ',');)
      if (!p.empty()) paths.push_back(p);
    return paths;
  }
  const char* d = std::getenv("LAPQ_BENCH_MODEL_DIR");
  const std::string dir = d ? d : "/tmp/tv";
  for (const char* name : {"resnet18", "resnet50", "mobilenet_v2"}) {
    std::string p = dir + "/" + name + ".onnx";
    if (std::filesystem::exists(p)) paths.push_back(p);
  }
  return paths;
}

double cpu_now_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// LAPQ_BENCH_PROFILE=1: median process CPU time per node over 20 runs,
// summed per op and implementation (where the time goes; CPU time because
// the shared machine's wall time includes waiting for a core).
void profile(lapq::Plan& plan, const std::vector<lapq::Tensor>& inputs) {
  const int n = static_cast<int>(plan.graph().nodes.size());
  std::vector<std::vector<double>> t(n);
  double last = cpu_now_ms();
  plan.set_observer([&](int node, lapq::Plan&) {
    const double now = cpu_now_ms();
    t[node].push_back(now - last);
    last = now;
  });
  for (int r = 0; r < 20; ++r) {
    plan.set_input(0, inputs[0]);
    last = cpu_now_ms();
    plan.run_nodes(0, n);
  }
  plan.set_observer(nullptr);
  std::map<std::string, double> per_impl;
  for (int i = 0; i < n; ++i) {
    std::sort(t[i].begin(), t[i].end());
    std::string impl = plan.graph().nodes[i].op + " " + plan.impl_name(i);
    per_impl[impl] += t[i][t[i].size() / 2];
  }
  double total = 0;
  for (const auto& [impl, ms] : per_impl) {
    std::fprintf(stderr, "  %8.3f ms  %s\n", ms, impl.c_str());
    total += ms;
  }
  std::fprintf(stderr, "  %8.3f ms  total (sum of per-node medians)\n", total);
}

void bm_model(benchmark::State& state, const std::string& path, int threads) {
  lapq::Graph graph = lapq::load_onnx(path);
  lapq::optimize(graph);
  lapq::Shape in_shape = graph.values[graph.inputs.at(0)].shape;
  for (int64_t& d : in_shape)
    if (d < 0) d = 1;  // symbolic batch -> 1
  lapq::Plan plan(std::move(graph), {in_shape}, lapq::PlanOptions{threads, true, true});
  lapq::Tensor input(lapq::DType::kF32, in_shape);
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> dist(-2.f, 2.f);
  for (float& v : input.span<float>()) v = dist(rng);
  const std::vector<lapq::Tensor> inputs{input};
  for (int i = 0; i < 3; ++i) plan.run(inputs);  // warm up
  std::vector<double> ms, cpu_ms;
  for (auto _ : state) {
    const double c0 = cpu_now_ms();
    auto t0 = std::chrono::steady_clock::now();
    auto out = plan.run(inputs);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu_ms.push_back(cpu_now_ms() - c0);
    benchmark::DoNotOptimize(out);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu_ms.begin(), cpu_ms.end());
  state.counters["median_ms"] = ms[ms.size() / 2];
  state.counters["min_ms"] = ms.front();
  // Process CPU time: on a loaded machine wall time includes waiting for a core.
  state.counters["cpu_median_ms"] = cpu_ms[cpu_ms.size() / 2];
  if (std::getenv("LAPQ_BENCH_PROFILE")) profile(plan, inputs);
  int onednn = 0, nodes = static_cast<int>(plan.graph().nodes.size());
  for (int i = 0; i < nodes; ++i) onednn += plan.impl_name(i).rfind("onednn", 0) == 0;
  state.SetLabel(std::to_string(onednn) + "/" + std::to_string(nodes) + " nodes on oneDNN");
}

}  // namespace

int main(int argc, char** argv) {
  const auto paths = model_paths();
  if (paths.empty()) {
    std::fprintf(stderr, "bench_onednn_model: no model (set LAPQ_BENCH_MODEL or export to /tmp/tv)\n");
    return 1;
  }
  for (const std::string& p : paths)
    for (int threads : {1, 2}) {
      const std::string name = std::filesystem::path(p).stem().string() + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), [p, threads](benchmark::State& st) { bm_model(st, p, threads); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(2.0);
    }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
