// The quantized executor's elementwise kernels (kernels/elementwise.h) on the
// residual-add sizes of ResNet-50 at batch 1 (56x56x256, 28x28x512, 14x14x1024,
// 7x7x2048 elements) and the 224x224 RGB input, on the active ISA:
//   qadd_u8/*            two u8 operands: the kernel's default (checked reciprocal, or
//                        the division with LAPQ_QUANT_RECIPROCAL=0) and the verified
//                        reciprocal (qadd_verified_reciprocal, no check)
//   qadd_f32u8, qadd_f32f32   an f32 operand (the deploy preset's residual, the fused
//                        QConv + QAdd tile)
//   quantize, quantize_interleave3   the input Quantize (150,528 values)
// Counters: ns per element. Compare a build (or LAPQ_QUANT_RECIPROCAL=0) against
// another in one interleaved run: the host is shared.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/elementwise.h"

namespace {

using namespace lapq;

QuantizeOut relu_out() {
  QuantizeOut o;
  o.scale = 0.0517f, o.zp = 0, o.lo = 0.f, o.hi = 255.f;  // fused ReLU
  return o;
}

void per_element(benchmark::State& state, size_t n, const ElementwiseKernels& k) {
  state.counters["ns/elem"] = benchmark::Counter(static_cast<double>(n) * state.iterations(),
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(k.name);
}

void qadd_u8(benchmark::State& state, bool verified) {
  const size_t n = static_cast<size_t>(state.range(0));
  const ElementwiseKernels& k = elementwise_kernels(active_isa());
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(0, 255);
  std::vector<uint8_t> a(n), b(n), dst(n);
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<uint8_t>(code(rng)), b[i] = static_cast<uint8_t>(code(rng));
  QAddOperand xa, xb;
  xa.data = a.data(), xa.u8 = true, xa.scale = 0.0413f, xa.zp = 0;
  xb.data = b.data(), xb.u8 = true, xb.scale = 0.0291f, xb.zp = 117;
  QuantizeOut o = relu_out();
  if (verified) {
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
  per_element(state, n, k);
}

// a: f32 values ~ N(0, 2) (a conv's output); b: u8 codes or f32 values.
void qadd_f32(benchmark::State& state, bool b_u8) {
  const size_t n = static_cast<size_t>(state.range(0));
  const ElementwiseKernels& k = elementwise_kernels(active_isa());
  std::mt19937 rng(8);
  std::normal_distribution<float> value(0.f, 2.f);
  std::uniform_int_distribution<int> code(0, 255);
  std::vector<float> fa(n), fb(n);
  std::vector<uint8_t> qb(n), dst(n);
  for (size_t i = 0; i < n; ++i) fa[i] = value(rng), fb[i] = value(rng), qb[i] = static_cast<uint8_t>(code(rng));
  QAddOperand xa, xb;
  xa.data = fa.data(), xa.u8 = false;
  xb.data = b_u8 ? static_cast<const void*>(qb.data()) : fb.data(), xb.u8 = b_u8, xb.scale = 0.0291f, xb.zp = 0;
  const QuantizeOut o = relu_out();
  for (auto _ : state) {
    k.qadd(xa, xb, dst.data(), n, o);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  per_element(state, n, k);
}

// The normalized RGB input: values ~ N(0, 1), an asymmetric grid.
std::vector<float> input_values(size_t n) {
  std::mt19937 rng(9);
  std::normal_distribution<float> value(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = value(rng);
  return v;
}
QuantizeOut input_out() {
  QuantizeOut o;
  o.scale = 0.0187f, o.zp = 114, o.lo = -114.f, o.hi = 141.f;
  return o;
}

void quantize(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const ElementwiseKernels& k = elementwise_kernels(active_isa());
  const std::vector<float> src = input_values(n);
  std::vector<uint8_t> dst(n);
  for (auto _ : state) {
    k.quantize(src.data(), dst.data(), n, input_out());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  per_element(state, n, k);
}

void quantize_interleave3(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));  // pixels; 3 values each
  const ElementwiseKernels& k = elementwise_kernels(active_isa());
  const std::vector<float> src = input_values(3 * n);
  const float* planes[3] = {src.data(), src.data() + n, src.data() + 2 * n};
  std::vector<uint8_t> dst(3 * n);
  for (auto _ : state) {
    k.quantize_interleave3(planes, dst.data(), n, input_out());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  per_element(state, 3 * n, k);
}

void residual_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {56 * 56 * 256, 28 * 28 * 512, 14 * 14 * 1024, 7 * 7 * 2048}) b->Arg(n);
}

BENCHMARK_CAPTURE(qadd_u8, default, false)->Apply(residual_sizes);
BENCHMARK_CAPTURE(qadd_u8, verified_reciprocal, true)->Apply(residual_sizes);
BENCHMARK_CAPTURE(qadd_f32, f32u8, true)->Apply(residual_sizes);
BENCHMARK_CAPTURE(qadd_f32, f32f32, false)->Apply(residual_sizes);
// One call per L1 tile row or tile of the fused QConv + QAdd (kernels/conv.cpp).
BENCHMARK_CAPTURE(qadd_f32, f32u8_tile, true)->Arg(64)->Arg(256)->Arg(1536);
BENCHMARK(quantize)->Arg(3 * 224 * 224);
BENCHMARK(quantize_interleave3)->Arg(224 * 224);

}  // namespace

BENCHMARK_MAIN();
