// In-process A/B of the fused residual add (docs/quantized-execution.md, "The fused
// residual add"): the deploy preset's quantized network lowered twice from one config
// (fused, and LAPQ_FUSE_QADD=0), timed alternately, then once more per node (observer)
// to show where the time goes. Quantizes on the spot like `lapq bench` (max-abs
// weights, activations from 8 random N(0, 1) inputs).
//
//   OMP_WAIT_POLICY=passive build/bench/quant/bench_qadd_fusion MODEL.onnx [--bits w8a8,w4a8]
//       [--threads 1] [--runs 20] [--rounds 3]
//
// Prints per bit width: the medians of the fused and unfused forward times over
// `rounds` x `runs` alternating runs (fused, unfused, fused, ...), their ratio, the
// median ratio of the rounds, and per-node medians summed by kind.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/passes/passes.h"
#include "frontends/onnx/onnx_loader.h"
#include "quant/lapq.h"
#include "quant/presets.h"
#include "quant/qops/qops.h"
#include "quant/quantized_network.h"

namespace {

using namespace lapq;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Tensor random_tensor(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  Tensor t(DType::kF32, s);
  for (float& x : t.span<float>()) x = d(rng);
  return t;
}

double time_forward(quant::QuantizedNetwork& net, const Tensor& x) {
  const auto t0 = Clock::now();
  net.forward(x);
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Kind of a lowered node for the per-node sums.
std::string kind_of(const Node& n) {
  if (n.op == quant::kQConvOp) {
    if (n.has_input(5)) return "QConv+QAdd (fused)";
    if (n.attrs.get_int("out_nhwc", 0)) return "QConv f32 -> QAdd";
    return "QConv (other)";
  }
  if (n.op == quant::kQAddOp) return "QAdd";
  return "other";
}

// Per-node medians over `runs` forwards, summed by kind.
std::map<std::string, double> per_kind(quant::QuantizedNetwork& net, const Tensor& x, int runs) {
  Plan& p = net.plan();
  const Graph& g = net.lowered_graph();
  std::vector<std::vector<double>> ms(g.nodes.size());
  Clock::time_point last;
  p.set_observer([&](int node, Plan&) {
    const auto now = Clock::now();
    ms[static_cast<size_t>(node)].push_back(std::chrono::duration<double, std::milli>(now - last).count());
    last = now;
  });
  for (int r = 0; r < runs; ++r) {
    last = Clock::now();
    net.forward(x);
  }
  p.set_observer({});
  std::map<std::string, double> sums;
  for (size_t i = 0; i < g.nodes.size(); ++i) sums[kind_of(g.nodes[i])] += median(ms[i]);
  return sums;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.onnx [--bits w8a8,w4a8] [--threads 1] [--runs 20] [--rounds 3]\n", argv[0]);
    return 2;
  }
  const std::string model = argv[1];
  std::string bits_list = "w8a8,w4a8";
  int threads = 1, runs = 20, rounds = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--bits") bits_list = v;
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--runs") runs = std::stoi(v);
    else if (k == "--rounds") rounds = std::stoi(v);
  }
  try {
    Graph g = load_onnx(model);
    optimize(g, quant::preset_pass_options(quant::Preset::kDeploy));
    Shape in = g.values.at(static_cast<size_t>(g.inputs.at(0))).shape;
    if (in.size() != 4) throw Error(ErrorCode::kUnsupported, "expects an [N, C, H, W] input");
    for (size_t d = 0; d < 4; ++d)
      if (in[d] < 0) in[d] = d == 0 ? 1 : 224;
    Shape calib_shape = in, shape = in;
    calib_shape[0] = 8;
    shape[0] = 1;
    const Tensor calib = random_tensor(calib_shape, 12345), x = random_tensor(shape, 1);
    std::printf("%s, %d thread(s), batch 1, %d rounds x %d alternating runs\n", model.c_str(), threads, rounds, runs);
    std::stringstream ss(bits_list);
    std::string bits;
    while (std::getline(ss, bits, ',')) {
      quant::PresetOptions po;
      po.preset = quant::Preset::kDeploy;
      po.bits = quant::parse_bits(bits);
      quant::QuantConfig cfg = quant::make_preset_config(g, po);
      quant::init_weights(g, cfg, 0.0);
      quant::init_acts_online(g, cfg, calib, 0.0);
      PlanOptions opt;
      opt.num_threads = threads;
      quant::QuantizedNetwork fused(g, cfg, shape, opt);
      setenv("LAPQ_FUSE_QADD", "0", 1);
      quant::QuantizedNetwork unfused(g, cfg, shape, opt);
      unsetenv("LAPQ_FUSE_QADD");
      const bool same = fused.forward(x).equals(unfused.forward(x));
      int nfused = 0;
      for (const Node& n : fused.lowered_graph().nodes) nfused += n.op == quant::kQConvOp && n.has_input(5);
      for (int w = 0; w < 3; ++w) time_forward(fused, x), time_forward(unfused, x);
      std::vector<double> all_f, all_u, round_ratio;
      for (int r = 0; r < rounds; ++r) {
        std::vector<double> f, u;
        for (int i = 0; i < runs; ++i) {
          f.push_back(time_forward(fused, x));
          u.push_back(time_forward(unfused, x));
        }
        round_ratio.push_back(median(f) / median(u));
        all_f.insert(all_f.end(), f.begin(), f.end());
        all_u.insert(all_u.end(), u.begin(), u.end());
      }
      std::printf("%-6s fused %7.3f ms  unfused %7.3f ms  ratio %.3f  (rounds:", bits.c_str(), median(all_f),
                  median(all_u), median(all_f) / median(all_u));
      for (double r : round_ratio) std::printf(" %.3f", r);
      std::printf(")  %d fused nodes, logits %s\n", nfused, same ? "bit-identical" : "DIFFER");
      const auto kf = per_kind(fused, x, runs), ku = per_kind(unfused, x, runs);
      std::map<std::string, std::pair<double, double>> rows;
      for (const auto& [k, v] : kf) rows[k].first = v;
      for (const auto& [k, v] : ku) rows[k].second = v;
      double sf = 0, su = 0;
      for (const auto& [k, v] : rows) {
        std::printf("         per node, %-20s fused %7.3f ms  unfused %7.3f ms\n", k.c_str(), v.first, v.second);
        sf += v.first, su += v.second;
      }
      std::printf("         per node, %-20s fused %7.3f ms  unfused %7.3f ms\n", "sum", sf, su);
      if (!same) return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
