// The quantized executor's elementwise kernels (kernels/elementwise.h) on the
// residual-add sizes of ResNet-50 at batch 1 (56x56x256, 28x28x512, 14x14x1024,
// 7x7x2048 codes): qadd of two u8 operands with the true division and with the
// verified reciprocal, on the active ISA. Counters: ns per element and GB/s
// (two u8 reads and one u8 write per element).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/elementwise.h"

namespace {

using namespace lapq;

void qadd_u8(benchmark::State& state, bool reciprocal) {
  const size_t n = static_cast<size_t>(state.range(0));
  const ElementwiseKernels& k = elementwise_kernels(active_isa());
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(0, 255);
  std::vector<uint8_t> a(n), b(n), dst(n);
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<uint8_t>(code(rng)), b[i] = static_cast<uint8_t>(code(rng));
  QAddOperand xa, xb;
  xa.data = a.data(), xa.u8 = true, xa.scale = 0.0413f, xa.zp = 0;
  xb.data = b.data(), xb.u8 = true, xb.scale = 0.0291f, xb.zp = 117;
  QuantizeOut o;
  o.scale = 0.0517f, o.zp = 0, o.lo = 0.f, o.hi = 255.f;  // fused ReLU
  if (reciprocal) {
    o.inv_scale = qadd_verified_reciprocal(k, xa, xb, o);
    if (o.inv_scale == 0.f) {
      state.SkipWithError("the reciprocal did not verify for these scales");
      return;
    }
  }
  for (auto _ : state) {
    k.qadd(xa, xb, dst.data(), n, o);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.counters["ns/elem"] = benchmark::Counter(static_cast<double>(n) * state.iterations(),
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["GB/s"] = benchmark::Counter(3.0 * n * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(k.name);
}

void args(benchmark::internal::Benchmark* b) {
  for (int64_t n : {56 * 56 * 256, 28 * 28 * 512, 14 * 14 * 1024, 7 * 7 * 2048}) b->Arg(n);
}

BENCHMARK_CAPTURE(qadd_u8, division, false)->Apply(args);
BENCHMARK_CAPTURE(qadd_u8, verified_reciprocal, true)->Apply(args);

}  // namespace

BENCHMARK_MAIN();
