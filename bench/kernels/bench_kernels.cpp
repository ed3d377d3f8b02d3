// Kernel benchmarks. Counters: GMACs = GMAC/s, peak% = share of the one-core
// int8 peak (432 GMAC/s, vpdpbusd zmm x2/cycle, ../shared/docs/performance-anchors.md).
//   ukernel/<name>/k<K>           one microkernel call on L1-resident data
//   conv/<net>/<layer>/b<N>/<impl> lapq_s8 | lapq_s4 | onednn_s8 on the same shape; lapq_s8_wzp
//                                 with weight zero points (row sums); cold_lapq_s{8,4}: weights from L3
// Threads: 1 unless --threads=<n> is given (before the benchmark flags); with 1
// thread the rates use the thread's CPU time (robust on a shared machine), with
// more threads the wall time.
// oneDNN is capped at avx512_core_vnni (the instruction set of our kernels) unless
// --onednn-amx is given: this host also has AMX-INT8, which oneDNN would use.
// Compare with --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// --benchmark_report_aggregates_only=true (medians; the machine is shared).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/kernels/onednn_conv.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"

using namespace lapq;

namespace {

constexpr double kPeakGmacs = 432.0;

void set_counters(benchmark::State& state, double macs) {
  state.counters["GMACs"] = benchmark::Counter(macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak%"] = benchmark::Counter(macs * 1e-9 / kPeakGmacs * 100.0,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

struct Layer {
  const char* net;
  const char* name;
  int H, W;
  ConvParams p;
};

ConvParams cp(int IC, int OC, int K, int stride, int pad, int groups = 1) {
  ConvParams p;
  p.IC = IC, p.OC = OC, p.KH = p.KW = K, p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.groups = groups;
  return p;
}

const std::vector<Layer>& layers() {
  static const std::vector<Layer> l = {
      {"resnet18", "conv1_7x7s2_3_64", 224, 224, cp(3, 64, 7, 2, 3)},
      {"resnet18", "3x3_64_64_56", 56, 56, cp(64, 64, 3, 1, 1)},
      {"resnet18", "3x3s2_64_128_56", 56, 56, cp(64, 128, 3, 2, 1)},
      {"resnet18", "3x3_128_128_28", 28, 28, cp(128, 128, 3, 1, 1)},
      {"resnet18", "3x3_256_256_14", 14, 14, cp(256, 256, 3, 1, 1)},
      {"resnet18", "3x3_512_512_7", 7, 7, cp(512, 512, 3, 1, 1)},
      {"resnet18", "fc_512_1000", 1, 1, cp(512, 1000, 1, 1, 0)},
      {"resnet50", "1x1_64_64_56", 56, 56, cp(64, 64, 1, 1, 0)},
      {"resnet50", "1x1_64_256_56", 56, 56, cp(64, 256, 1, 1, 0)},
      {"resnet50", "1x1_256_64_56", 56, 56, cp(256, 64, 1, 1, 0)},
      {"resnet50", "3x3s2_128_128_56", 56, 56, cp(128, 128, 3, 2, 1)},
      {"resnet50", "1x1_512_128_28", 28, 28, cp(512, 128, 1, 1, 0)},
      {"resnet50", "1x1_1024_256_14", 14, 14, cp(1024, 256, 1, 1, 0)},
      {"resnet50", "1x1_256_1024_14", 14, 14, cp(256, 1024, 1, 1, 0)},
      {"resnet50", "1x1_2048_512_7", 7, 7, cp(2048, 512, 1, 1, 0)},
      {"resnet50", "1x1_512_2048_7", 7, 7, cp(512, 2048, 1, 1, 0)},
      {"resnet50", "fc_2048_1000", 1, 1, cp(2048, 1000, 1, 1, 0)},
      {"mobilenetv2", "dw3x3_32_112", 112, 112, cp(32, 32, 3, 1, 1, 32)},
      {"mobilenetv2", "dw3x3s2_96_112", 112, 112, cp(96, 96, 3, 2, 1, 96)},
      {"mobilenetv2", "dw3x3_144_56", 56, 56, cp(144, 144, 3, 1, 1, 144)},
      {"mobilenetv2", "dw3x3_384_14", 14, 14, cp(384, 384, 3, 1, 1, 384)},
      {"mobilenetv2", "dw3x3_960_7", 7, 7, cp(960, 960, 3, 1, 1, 960)},
      // The other MobileNetV2 depthwise shapes (every one of the network's 17 is one of these ten).
      {"mobilenetv2", "dw3x3s2_144_56", 56, 56, cp(144, 144, 3, 2, 1, 144)},
      {"mobilenetv2", "dw3x3_192_28", 28, 28, cp(192, 192, 3, 1, 1, 192)},
      {"mobilenetv2", "dw3x3s2_192_28", 28, 28, cp(192, 192, 3, 2, 1, 192)},
      {"mobilenetv2", "dw3x3_576_14", 14, 14, cp(576, 576, 3, 1, 1, 576)},
      {"mobilenetv2", "dw3x3s2_576_14", 14, 14, cp(576, 576, 3, 2, 1, 576)},
      {"mobilenetv2", "1x1_16_96_112", 112, 112, cp(16, 96, 1, 1, 0)},
      {"mobilenetv2", "1x1_144_24_56", 56, 56, cp(144, 24, 1, 1, 0)},
      {"mobilenetv2", "1x1_384_64_14", 14, 14, cp(384, 64, 1, 1, 0)},
      {"mobilenetv2", "1x1_960_160_7", 7, 7, cp(960, 160, 1, 1, 0)},
      {"mobilenetv2", "1x1_320_1280_7", 7, 7, cp(320, 1280, 1, 1, 0)},
  };
  return l;
}

// Shared data of one (layer, batch): weights, scales, input, output.
struct Data {
  std::vector<int8_t> w8, w4;
  std::vector<float> scale;
  std::vector<uint8_t> src, dst;
  double macs = 0;
};

std::shared_ptr<Data> make_data(const Layer& l, int N) {
  auto d = std::make_shared<Data>();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> w8(-127, 127), w4(-8, 7), a(0, 255);
  const ConvParams& p = l.p;
  const size_t nw = size_t(p.OC) * p.KH * p.KW * (p.IC / p.groups);
  d->w8.resize(nw);
  d->w4.resize(nw);
  for (size_t i = 0; i < nw; ++i) d->w8[i] = static_cast<int8_t>(w8(rng)), d->w4[i] = static_cast<int8_t>(w4(rng));
  d->scale.assign(p.OC, 1.f / 4096.f);
  d->src.resize(size_t(N) * l.H * l.W * p.IC);
  for (auto& v : d->src) v = static_cast<uint8_t>(a(rng));
  const size_t out = size_t(N) * p.out_h(l.H) * p.out_w(l.W);
  d->dst.resize(out * p.OC);
  d->macs = double(out) * p.OC * p.KH * p.KW * (p.IC / p.groups);
  return d;
}

// wzp: with per-channel weight zero points (asymmetric / mid-rise weight grids),
// which adds the activation row sums to every output pixel.
void bench_lapq(benchmark::State& state, Layer l, int N, int bits, std::shared_ptr<Data> d, bool wzp = false) {
  ConvWeights w;
  w.wei = bits == 8 ? d->w8.data() : d->w4.data();
  w.bits = bits;
  const std::vector<float> zero_points(l.p.OC, 0.5f);
  if (wzp) w.wei_zero_point = zero_points.data();
  PackedConv conv(l.p, w);
  const RequantU8 q{d->scale.data(), nullptr, 0, 0, 255};
  for (auto _ : state) {
    conv.run(d->src.data(), N, l.H, l.W, d->dst.data(), q);
    benchmark::DoNotOptimize(d->dst.data());
  }
  state.SetLabel(conv.kernel_name());
  set_counters(state, d->macs);
}

// Weight-bound layers in a whole network stream their weights from L3/DRAM: cycle
// through enough copies of the layer (>= 64 MiB of int8 weights) that every run
// starts cold, for int8 and int4 alike.
void bench_lapq_cold(benchmark::State& state, Layer l, int N, int bits, std::shared_ptr<Data> d) {
  ConvWeights w;
  w.wei = bits == 8 ? d->w8.data() : d->w4.data();
  w.bits = bits;
  const size_t int8_bytes = d->w8.size();
  const size_t copies = std::min<size_t>(512, (size_t{64} << 20) / int8_bytes + 1);
  std::vector<std::unique_ptr<PackedConv>> convs;
  for (size_t i = 0; i < copies; ++i) convs.push_back(std::make_unique<PackedConv>(l.p, w));
  const RequantU8 q{d->scale.data(), nullptr, 0, 0, 255};
  size_t i = 0;
  for (auto _ : state) {
    convs[i]->run(d->src.data(), N, l.H, l.W, d->dst.data(), q);
    benchmark::DoNotOptimize(d->dst.data());
    i = i + 1 < copies ? i + 1 : 0;
  }
  state.SetLabel(std::string(convs[0]->kernel_name()) + " x" + std::to_string(copies) + " copies");
  set_counters(state, d->macs);
}

void bench_onednn(benchmark::State& state, Layer l, int N, std::shared_ptr<Data> d) {
  bench::OnednnConv conv(l.p, N, l.H, l.W, d->w8, d->scale);
  for (auto _ : state) {
    conv.run(d->src.data(), d->dst.data());
    benchmark::DoNotOptimize(d->dst.data());
  }
  state.SetLabel(conv.impl_name());
  set_counters(state, d->macs);
}

void bench_ukernel(benchmark::State& state, bool int4, size_t k) {
  const GemmConfig& cfg = gemm_config(active_isa(), int4);
  const size_t kp = gemm_padded_k(cfg.layout, k), bb = gemm_block_bytes(cfg.layout, k);
  const size_t nblocks = (cfg.nr + 15) / 16, esz = cfg.a_u16 ? 2 : 1;
  std::vector<int8_t> w(size_t(cfg.nr) * k, 3);
  std::vector<uint8_t> packed(nblocks * bb + 64), a(cfg.mr * kp * esz, 1), dst(cfg.mr * cfg.nr);
  uint8_t* pk = packed.data() + (64 - reinterpret_cast<uintptr_t>(packed.data()) % 64) % 64;
  pack_gemm_weights(cfg.layout, cfg.nr, k, w.data(), nullptr, 0, pk);
  std::vector<float> scale(cfg.nr, 0.01f);
  GemmEpilogue ep;
  ep.scale = scale.data();
  for (auto _ : state) {
    cfg.ukernel(cfg.mr, cfg.nr, kp, a.data(), kp * esz, pk, bb, dst.data(), cfg.nr, &ep);
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetLabel(cfg.name);
  set_counters(state, double(cfg.mr) * cfg.nr * k);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  bool amx = false;
  while (argc > 1 && (std::strncmp(argv[1], "--threads=", 10) == 0 || std::strcmp(argv[1], "--onednn-amx") == 0)) {
    if (argv[1][2] == 't') threads = std::atoi(argv[1] + 10);
    else amx = true;
    argv[1] = argv[0];
    ++argv, --argc;
  }
  omp_set_num_threads(threads);
  if (!amx) bench::cap_onednn_isa();
  for (bool int4 : {false, true})
    for (size_t k : {64, 512, 2048})
      benchmark::RegisterBenchmark(("ukernel/" + std::string(int4 ? "s4" : "s8") + "/k" + std::to_string(k)).c_str(),
                                   bench_ukernel, int4, k);
  for (const Layer& l : layers())
    for (int N : {1, 8}) {
      if (N == 8 && (l.H >= 112 || std::strcmp(l.net, "resnet50") != 0)) continue;  // keep the run short
      auto d = make_data(l, N);
      const std::string base = std::string("conv/") + l.net + "/" + l.name + "/b" + std::to_string(N) + "/";
      for (auto* b : {benchmark::RegisterBenchmark((base + "lapq_s8").c_str(), bench_lapq, l, N, 8, d, false),
                      benchmark::RegisterBenchmark((base + "onednn_s8").c_str(), bench_onednn, l, N, d),
                      benchmark::RegisterBenchmark((base + "lapq_s4").c_str(), bench_lapq, l, N, 4, d, false),
                      benchmark::RegisterBenchmark((base + "lapq_s8_wzp").c_str(), bench_lapq, l, N, 8, d, true)})
        if (threads > 1) b->UseRealTime();
      const bool weight_bound = N == 1 && l.p.KH == 1 && l.H <= 7;  // FC and 1x1 at 7x7
      if (weight_bound)
        for (int bits : {8, 4})
          benchmark::RegisterBenchmark((base + "cold_lapq_s" + std::to_string(bits)).c_str(), bench_lapq_cold, l, N,
                                       bits, d);
    }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
