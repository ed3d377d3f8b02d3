// Per-layer FP32 convolution at batch 1 on ResNet-50 / ResNet-18 /
// MobileNetV2 shapes. Per layer, interleaved, median microseconds of:
//   lapq_us   lapq's oneDNN kernel, layout chosen by choose_conv_layout
//   raw_us    raw oneDNN doing the same (same layout, same reorders; for
//             1x1 layers one whole-image dnnl_sgemm + a bias/ReLU pass)
//   nchw_us / native_us / gemm_us   lapq's kernel forced to each layout
//             (gemm only for 1x1 stride-1 layers)
//   floor_us  raw oneDNN's convolution alone in its native layout (no reorders)
// plus lapq/raw (wrapper overhead) and GMACs of lapq_us.
//
//   bench_onednn_conv [--benchmark_filter=resnet50] [--benchmark_repetitions=5]
// One thread unless LAPQ_BENCH_THREADS is set. Counter GMACs = MACs / s.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/onednn/conv.h"

namespace {

using lapq::onednn::ConvLayout;
using lapq::onednn::ConvShape;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct Layer {
  const char* net;
  int64_t IC, OC, H, K, stride, groups;
};

// Distinct conv shapes of the three networks (224x224 input), pad = K / 2.
const Layer kLayers[] = {
    {"resnet18", 3, 64, 224, 7, 2, 1},     {"resnet18", 64, 64, 56, 3, 1, 1},
    {"resnet18", 64, 128, 56, 3, 2, 1},    {"resnet18", 128, 128, 28, 3, 1, 1},
    {"resnet18", 64, 128, 56, 1, 2, 1},    {"resnet18", 128, 256, 28, 3, 2, 1},
    {"resnet18", 256, 256, 14, 3, 1, 1},   {"resnet18", 128, 256, 28, 1, 2, 1},
    {"resnet18", 256, 512, 14, 3, 2, 1},   {"resnet18", 512, 512, 7, 3, 1, 1},
    {"resnet18", 256, 512, 14, 1, 2, 1},
    {"resnet50", 64, 64, 56, 1, 1, 1},     {"resnet50", 64, 256, 56, 1, 1, 1},
    {"resnet50", 256, 64, 56, 1, 1, 1},    {"resnet50", 256, 128, 56, 1, 1, 1},
    {"resnet50", 128, 128, 56, 3, 2, 1},   {"resnet50", 128, 512, 28, 1, 1, 1},
    {"resnet50", 512, 128, 28, 1, 1, 1},   {"resnet50", 256, 512, 56, 1, 2, 1},
    {"resnet50", 512, 256, 28, 1, 1, 1},   {"resnet50", 256, 256, 28, 3, 2, 1},
    {"resnet50", 256, 1024, 14, 1, 1, 1},  {"resnet50", 1024, 256, 14, 1, 1, 1},
    {"resnet50", 1024, 512, 14, 1, 1, 1},  {"resnet50", 512, 512, 14, 3, 2, 1},
    {"resnet50", 512, 2048, 7, 1, 1, 1},   {"resnet50", 2048, 512, 7, 1, 1, 1},
    {"resnet50", 1024, 2048, 14, 1, 2, 1},
    {"mobilenetv2", 3, 32, 224, 3, 2, 1},    {"mobilenetv2", 32, 32, 112, 3, 1, 32},
    {"mobilenetv2", 32, 16, 112, 1, 1, 1},   {"mobilenetv2", 16, 96, 112, 1, 1, 1},
    {"mobilenetv2", 96, 96, 112, 3, 2, 96},  {"mobilenetv2", 96, 24, 56, 1, 1, 1},
    {"mobilenetv2", 24, 144, 56, 1, 1, 1},   {"mobilenetv2", 144, 144, 56, 3, 1, 144},
    {"mobilenetv2", 144, 24, 56, 1, 1, 1},   {"mobilenetv2", 144, 144, 56, 3, 2, 144},
    {"mobilenetv2", 144, 32, 28, 1, 1, 1},   {"mobilenetv2", 32, 192, 28, 1, 1, 1},
    {"mobilenetv2", 192, 192, 28, 3, 1, 192}, {"mobilenetv2", 192, 32, 28, 1, 1, 1},
    {"mobilenetv2", 192, 64, 14, 1, 1, 1},   {"mobilenetv2", 384, 384, 14, 3, 1, 384},
    {"mobilenetv2", 384, 64, 14, 1, 1, 1},   {"mobilenetv2", 576, 576, 14, 3, 2, 576},
    {"mobilenetv2", 576, 160, 7, 1, 1, 1},   {"mobilenetv2", 960, 960, 7, 3, 1, 960},
    {"mobilenetv2", 960, 320, 7, 1, 1, 1},   {"mobilenetv2", 320, 1280, 7, 1, 1, 1},
};

ConvShape shape_of(const Layer& l) {
  ConvShape s;
  s.IC = l.IC;
  s.OC = l.OC;
  s.H = s.W = l.H;
  s.KH = s.KW = l.K;
  s.stride_h = s.stride_w = l.stride;
  s.groups = l.groups;
  s.pad_t = s.pad_l = s.pad_b = s.pad_r = l.K / 2;
  s.OH = s.OW = (l.H + 2 * (l.K / 2) - l.K) / l.stride + 1;
  s.has_bias = true;
  return s;
}

double macs_of(const ConvShape& s) {
  return double(s.OC) * s.OH * s.OW * (s.IC / s.groups) * s.KH * s.KW;
}

std::vector<float> random_floats(int64_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

const lapq::FusedActivation kRelu{lapq::FusedActivation::Kind::kRelu, 0.f, 0.f};

// A callable that runs one variant once.
using Runner = std::function<void()>;

// lapq's kernel through the OpKernel interface, as the Plan runs it.
struct LapqRunner {
  std::unique_ptr<lapq::OpKernel> kernel;
  lapq::Tensor src, dst;
  LapqRunner(const ConvShape& s, ConvLayout layout)
      : src(lapq::DType::kF32, {1, s.IC, s.H, s.W}), dst(lapq::DType::kF32, {1, s.OC, s.OH, s.OW}) {
    auto wei = random_floats(s.OC * (s.IC / s.groups) * s.KH * s.KW), bias = random_floats(s.OC);
    kernel = lapq::onednn::make_conv(s, wei.data(), bias.data(), kRelu, omp_get_max_threads(), layout);
    auto v = random_floats(src.numel());
    std::copy(v.begin(), v.end(), src.data<float>());
  }
  void operator()() {
    const lapq::Tensor* in[] = {&src};
    lapq::Tensor* out[] = {&dst};
    kernel->run(in, out);
  }
};

// Raw oneDNN, used the ordinary way (C++ API, library scratchpad): the same
// layout strategy as lapq's kernel when `with_reorders`, else the
// convolution alone in its preferred layout.
struct RawRunner {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::convolution_forward conv;
  dnnl::reorder to_native, from_native;
  dnnl::memory wei, bias, src_user, dst_user, src, dst;
  std::vector<float> wv, bv, sv;
  bool convert_src = false, convert_dst = false;
  std::string impl;

  RawRunner(const ConvShape& s, ConvLayout layout, bool with_reorders) {
    if (layout == ConvLayout::kAuto) layout = lapq::onednn::choose_conv_layout(s);
    const dnnl::memory::dims src_dims{1, s.IC, s.H, s.W}, dst_dims{1, s.OC, s.OH, s.OW};
    const dnnl::memory::dims wei_dims = s.groups == 1 ? dnnl::memory::dims{s.OC, s.IC, s.KH, s.KW}
                                                      : dnnl::memory::dims{s.groups, s.OC / s.groups,
                                                                           s.IC / s.groups, s.KH, s.KW};
    const tag act = layout == ConvLayout::kPlain ? tag::nchw : layout == ConvLayout::kBlocked ? tag::nChw16c : tag::any;
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, {src_dims, dt::f32, act},
        {wei_dims, dt::f32, tag::any}, {{s.OC}, dt::f32, tag::a}, {dst_dims, dt::f32, act},
        {s.stride_h, s.stride_w}, {s.pad_t, s.pad_l}, {s.pad_b, s.pad_r});
    dnnl::post_ops po;
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    dnnl::convolution_forward::primitive_desc pd(desc, attr, eng);
    conv = dnnl::convolution_forward(pd);
    impl = pd.impl_info_str();
    wv = random_floats(s.OC * (s.IC / s.groups) * s.KH * s.KW);
    bv = random_floats(s.OC);
    sv = random_floats(s.IC * s.H * s.W);
    dnnl::memory wei_user({wei_dims, dt::f32, s.groups == 1 ? tag::oihw : tag::goihw}, eng, wv.data());
    wei = dnnl::memory(pd.weights_desc(), eng);
    bias = dnnl::memory({{s.OC}, dt::f32, tag::a}, eng, bv.data());
    dnnl::reorder(wei_user, wei).execute(strm, wei_user, wei);
    src_user = dnnl::memory({src_dims, dt::f32, tag::nchw}, eng, sv.data());
    dst_user = dnnl::memory({dst_dims, dt::f32, tag::nchw}, eng);
    src = dnnl::memory(pd.src_desc(), eng);
    dst = dnnl::memory(pd.dst_desc(), eng);
    dnnl::reorder(src_user, src).execute(strm, src_user, src);
    convert_src = with_reorders && pd.src_desc() != src_user.get_desc();
    convert_dst = with_reorders && pd.dst_desc() != dst_user.get_desc();
    if (convert_src) to_native = dnnl::reorder(src_user, src);
    if (convert_dst) from_native = dnnl::reorder(dst, dst_user);
    strm.wait();
  }
  void operator()() {
    if (convert_src) to_native.execute(strm, src_user, src);
    conv.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}});
    if (convert_dst) from_native.execute(strm, dst, dst_user);
    strm.wait();
  }
};

// Raw oneDNN for a 1x1 stride-1 layer the way a user of oneDNN would write
// kGemm: one dnnl_sgemm over the whole image, then bias + ReLU in one pass.
struct RawGemmRunner {
  ConvShape s;
  std::vector<float> wv, bv, sv, dv;
  explicit RawGemmRunner(const ConvShape& shape) : s(shape) {
    wv = random_floats(s.OC * s.IC);
    bv = random_floats(s.OC);
    sv = random_floats(s.IC * s.H * s.W);
    dv.resize(s.OC * s.H * s.W);
  }
  void operator()() {
    const int64_t hw = s.H * s.W;
    dnnl_sgemm('N', 'N', s.OC, hw, s.IC, 1.f, wv.data(), s.IC, sv.data(), hw, 0.f, dv.data(), hw);
    for (int64_t r = 0; r < s.OC; ++r)
      for (int64_t c = 0; c < hw; ++c) dv[r * hw + c] = std::max(dv[r * hw + c] + bv[r], 0.f);
  }
};

// The machine is shared and noisy: every iteration runs all variants back to
// back, and each variant's median over the iterations is reported (in us),
// so a burst of load hits all variants alike. lapq/raw is the overhead ratio
// of lapq's kernel over raw oneDNN doing the same layout strategy.
void bm_layer(benchmark::State& state, Layer l) {
  const ConvShape s = shape_of(l);
  LapqRunner lapq_auto(s, ConvLayout::kAuto), lapq_nchw(s, ConvLayout::kPlain), lapq_native(s, ConvLayout::kNative);
  RawRunner raw_native(s, ConvLayout::kAuto, true), raw_floor(s, ConvLayout::kNative, false);
  RawGemmRunner raw_gemm(s);
  const bool gemm_layer = lapq::onednn::choose_conv_layout(s) == ConvLayout::kGemm;
  Runner raw_same = gemm_layer ? Runner(std::ref(raw_gemm)) : Runner(std::ref(raw_native));
  std::unique_ptr<LapqRunner> lapq_gemm;
  if (lapq::onednn::is_pointwise(s)) lapq_gemm = std::make_unique<LapqRunner>(s, ConvLayout::kGemm);
  std::vector<std::pair<const char*, Runner>> variants{
      {"lapq_us", std::ref(lapq_auto)},   {"raw_us", raw_same},
      {"nchw_us", std::ref(lapq_nchw)},   {"native_us", std::ref(lapq_native)},
      {"floor_us", std::ref(raw_floor)}};
  if (lapq_gemm) variants.push_back({"gemm_us", std::ref(*lapq_gemm)});
  std::vector<std::vector<double>> times(variants.size());
  for (auto& v : variants) v.second();  // warm up
  for (auto _ : state) {
    for (size_t i = 0; i < variants.size(); ++i) {
      auto t0 = std::chrono::steady_clock::now();
      variants[i].second();
      times[i].push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::vector<double> med(variants.size());
  for (size_t i = 0; i < variants.size(); ++i) {
    auto& t = times[i];
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    med[i] = t[t.size() / 2];
    state.counters[variants[i].first] = med[i];
  }
  state.counters["lapq/raw"] = med[0] / med[1];
  state.counters["GMACs"] = macs_of(s) * 1e-3 / med[0];
  state.SetLabel(lapq_auto.kernel->impl_name());
}

}  // namespace

int main(int argc, char** argv) {
  const char* t = std::getenv("LAPQ_BENCH_THREADS");
  omp_set_num_threads(t ? std::atoi(t) : 1);
  for (const Layer& l : kLayers) {
    const ConvShape s = shape_of(l);
    const std::string name = std::string(l.net) + "/ic" + std::to_string(l.IC) + "_oc" + std::to_string(l.OC) +
                             "_" + std::to_string(l.H) + "_k" + std::to_string(l.K) + "s" +
                             std::to_string(l.stride) + (l.groups > 1 ? "_dw" : "");
    benchmark::RegisterBenchmark(name.c_str(), [l](benchmark::State& st) { bm_layer(st, l); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime()
        ->MinTime(0.5);
    (void)s;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
