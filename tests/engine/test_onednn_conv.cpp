// oneDNN Conv fast kernel vs the reference Conv over awkward shapes, both
// activation layouts, every fused activation, auto_pad, and the declines.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "engine/onednn/context.h"
#include "engine/onednn/conv.h"
#include "tests/engine/test_onednn_util.h"

namespace lapq {
namespace {

using test::OneNode;

struct ConvCase {
  // A constructor rather than aggregate initialization: the cases leave the
  // trailing members at their defaults, which GCC's -Wextra reports for aggregates.
  ConvCase(std::string name_, int64_t N_, int64_t IC_, int64_t H_, int64_t W_, int64_t OC_, int64_t KH_, int64_t KW_,
           std::vector<int64_t> strides_, std::vector<int64_t> dilations_, std::vector<int64_t> pads_,
           int64_t group_ = 1, std::string auto_pad_ = "", bool bias_ = true)
      : name(std::move(name_)), N(N_), IC(IC_), H(H_), W(W_), OC(OC_), KH(KH_), KW(KW_), strides(std::move(strides_)),
        dilations(std::move(dilations_)), pads(std::move(pads_)), group(group_), auto_pad(std::move(auto_pad_)),
        bias(bias_) {}
  std::string name;
  int64_t N, IC, H, W, OC, KH, KW;
  std::vector<int64_t> strides, dilations, pads;  // empty = attribute absent
  int64_t group = 1;
  std::string auto_pad;  // empty = absent
  bool bias = true;
};

std::ostream& operator<<(std::ostream& os, const ConvCase& c) { return os << c.name; }

std::vector<ConvCase> conv_cases() {
  return {
      {"c1_3x3", 1, 1, 5, 5, 1, 3, 3, {}, {}, {1, 1, 1, 1}},
      {"c3_to17_odd_stride2", 1, 3, 7, 9, 17, 3, 3, {2, 2}, {}, {1, 1, 1, 1}},
      {"c17_to3_1x1_hw1", 1, 17, 1, 1, 3, 1, 1, {}, {}, {}},
      {"hw1_k3_pad1", 1, 5, 1, 1, 7, 3, 3, {}, {}, {1, 1, 1, 1}},
      {"stem_k7_s2_odd", 1, 3, 33, 31, 64, 7, 7, {2, 2}, {}, {3, 3, 3, 3}},
      {"groups3", 1, 6, 8, 8, 9, 3, 3, {}, {}, {1, 1, 1, 1}, 3},
      {"depthwise17_s2", 1, 17, 9, 9, 17, 3, 3, {2, 2}, {}, {1, 1, 1, 1}, 17},
      {"depthwise_mult2", 1, 8, 10, 10, 16, 3, 3, {}, {}, {1, 1, 1, 1}, 8},
      {"dilation2", 1, 4, 11, 11, 5, 3, 3, {}, {2, 2}, {2, 2, 2, 2}},
      {"dilation2x3_stride2", 1, 3, 13, 15, 4, 3, 3, {2, 1}, {2, 3}, {1, 0, 2, 3}},
      {"asym_pads", 1, 4, 6, 7, 6, 3, 3, {}, {}, {0, 1, 2, 0}},
      {"asym_kernel_1x3", 1, 5, 6, 6, 6, 1, 3, {}, {}, {0, 1, 0, 1}},
      {"same_upper_s2", 1, 3, 7, 7, 5, 3, 3, {2, 2}, {}, {}, 1, "SAME_UPPER"},
      {"same_lower_s2", 1, 3, 8, 8, 5, 4, 4, {2, 2}, {}, {}, 1, "SAME_LOWER"},
      {"same_upper_even_k", 1, 2, 6, 5, 3, 2, 2, {}, {}, {}, 1, "SAME_UPPER"},
      {"valid", 1, 3, 9, 9, 4, 3, 3, {}, {}, {}, 1, "VALID"},
      {"no_bias", 1, 8, 5, 5, 8, 3, 3, {}, {}, {1, 1, 1, 1}, 1, "", false},
      {"batch2", 2, 16, 9, 9, 32, 3, 3, {2, 2}, {}, {1, 1, 1, 1}},
      {"pointwise_plain_shape", 1, 128, 14, 14, 40, 1, 1, {}, {}, {}},
      {"pointwise_small_ic", 1, 24, 10, 10, 144, 1, 1, {}, {}, {}},
      {"wide_k", 1, 64, 7, 7, 33, 3, 3, {}, {}, {1, 1, 1, 1}},
      {"pointwise_batch3_odd", 3, 19, 9, 13, 37, 1, 1, {}, {}, {}},
      {"pointwise_large_plane", 1, 8, 40, 41, 300, 1, 1, {}, {}, {}},  // several column blocks
      {"pointwise_no_bias", 2, 16, 5, 5, 8, 1, 1, {}, {}, {}, 1, "", false},
      {"pointwise_stride2_odd", 1, 16, 9, 11, 24, 1, 1, {2, 2}, {}, {}},  // ResNet downsampling
      {"pointwise_stride2x3_batch2", 2, 5, 10, 13, 7, 1, 1, {2, 3}, {}, {}},
      {"pointwise_stride2_large", 1, 32, 29, 29, 64, 1, 1, {2, 2}, {}, {0, 0, 0, 0}},
  };
}

Attributes conv_attrs(const ConvCase& c) {
  Attributes a;
  if (!c.strides.empty()) a.set("strides", c.strides);
  if (!c.dilations.empty()) a.set("dilations", c.dilations);
  if (!c.pads.empty()) a.set("pads", c.pads);
  if (c.group != 1) a.set("group", c.group);
  if (!c.auto_pad.empty()) a.set("auto_pad", c.auto_pad);
  a.set("kernel_shape", std::vector<int64_t>{c.KH, c.KW});
  return a;
}

// Builds the one-node graph with random data, runs the kernel in `layout`,
// compares with the reference under the bound of test_onednn_util.h.
void check_conv(const ConvCase& c, const FusedActivation& act, onednn::ConvLayout layout, int threads = 1) {
  onednn::ScopedThreads scoped(threads);  // as the Plan does: omp_set_num_threads for the run too
  std::mt19937 rng(1234);
  std::vector<Tensor> in{test::random_tensor({c.N, c.IC, c.H, c.W}, rng),
                         test::random_tensor({c.OC, c.IC / c.group, c.KH, c.KW}, rng)};
  std::vector<bool> constant{false, true};
  if (c.bias) {
    in.push_back(test::random_tensor({c.OC}, rng));
    constant.push_back(true);
  }
  OneNode g("Conv", in, constant, conv_attrs(c), act);
  const std::string what = c.name + " act=" + act.str() + " layout=" + std::to_string(int(layout));

  KernelRequest req = g.request(threads);
  onednn::ConvShape s;
  std::string why;
  ASSERT_TRUE(onednn::resolve_conv(req, &s, &why)) << what << ": " << why;
  auto kernel = onednn::make_conv(s, in[1].data<float>(), c.bias ? in[2].data<float>() : nullptr, act, threads,
                                  layout);
  ASSERT_TRUE(kernel->fuses_activation());
  Tensor got = g.run(*kernel);
  Tensor want = g.reference(in);
  std::vector<Tensor> abs_in;
  for (const Tensor& t : in) abs_in.push_back(test::abs_of(t));
  Tensor bound = g.reference(abs_in, false);
  const int64_t K = c.IC / c.group * c.KH * c.KW + (c.bias ? 1 : 0);
  test::expect_close(got, want, bound, K, test::lipschitz_of(act), what + " [" + kernel->impl_name() + "]");
  // A second run on the same buffers gives the same bits (no state kept between runs).
  Tensor again = g.run(*kernel);
  EXPECT_TRUE(again.equals(got)) << what;
}

class OnednnConv : public ::testing::TestWithParam<ConvCase> {};

// Shapes the kGemm layout accepts: 1x1, no pads, one group (any stride).
bool pointwise(const ConvCase& c) {
  bool zero_pads = c.pads.empty() || c.pads == std::vector<int64_t>{0, 0, 0, 0};
  return c.KH == 1 && c.KW == 1 && zero_pads && c.group == 1 && (c.auto_pad.empty() || c.auto_pad == "VALID");
}

TEST_P(OnednnConv, MatchesReferenceInEveryLayout) {
  for (auto layout : {onednn::ConvLayout::kAuto, onednn::ConvLayout::kPlain, onednn::ConvLayout::kNative,
                      onednn::ConvLayout::kBlocked})
    check_conv(GetParam(), {}, layout);
  if (pointwise(GetParam())) check_conv(GetParam(), {}, onednn::ConvLayout::kGemm);
}

TEST_P(OnednnConv, MatchesReferenceWithReluTwoThreads) {
  check_conv(GetParam(), {FusedActivation::Kind::kRelu, 0, 0}, onednn::ConvLayout::kAuto, 2);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OnednnConv, ::testing::ValuesIn(conv_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(OnednnConvActivation, EachFusedActivationInEveryLayout) {
  const ConvCase c{"act", 1, 7, 9, 9, 19, 3, 3, {2, 2}, {}, {1, 1, 1, 1}};
  const ConvCase dw{"act_dw", 1, 16, 8, 8, 16, 3, 3, {}, {}, {1, 1, 1, 1}, 16};
  const ConvCase pw{"act_pw", 1, 24, 11, 9, 40, 1, 1, {}, {}, {}};
  for (const FusedActivation& act : test::all_activations()) {
    for (auto layout : {onednn::ConvLayout::kPlain, onednn::ConvLayout::kNative, onednn::ConvLayout::kBlocked}) {
      check_conv(c, act, layout);
      check_conv(dw, act, layout);
      check_conv(pw, act, layout);
    }
    check_conv(pw, act, onednn::ConvLayout::kGemm);
    check_conv(pw, act, onednn::ConvLayout::kGemm, 2);
  }
}

TEST(OnednnConvFactory, AcceptsThroughTheRegistryCandidate) {
  const OpSchema* schema = OpRegistry::get().find("Conv");
  ASSERT_NE(schema, nullptr);
  const FastCandidate* cand = nullptr;
  for (const FastCandidate& f : schema->fast)
    if (f.name == "onednn") cand = &f;
  ASSERT_NE(cand, nullptr) << "register_kernels() did not add the oneDNN Conv candidate (weak fallback linked?)";
  std::mt19937 rng(7);
  std::vector<Tensor> in{test::random_tensor({1, 8, 6, 6}, rng), test::random_tensor({4, 8, 3, 3}, rng)};
  OneNode g("Conv", in, {false, true}, conv_attrs({"f", 1, 8, 6, 6, 4, 3, 3, {}, {}, {1, 1, 1, 1}}));
  std::string why;
  auto k = cand->create(g.request(), &why);
  ASSERT_TRUE(k) << why;
  EXPECT_NE(k->impl_name().find("onednn"), std::string::npos);
}

TEST(OnednnConvFactory, DeclinesWithAReason) {
  std::mt19937 rng(7);
  auto try_create = [](const OneNode& g) {
    std::string why;
    auto k = onednn::create_conv_kernel(g.request(), &why);
    EXPECT_FALSE(k);
    EXPECT_FALSE(why.empty());
    return why;
  };
  Tensor x = test::random_tensor({1, 4, 5, 5}, rng), w = test::random_tensor({2, 4, 3, 3}, rng);
  // Weights computed at run time (a graph input, not an initializer).
  EXPECT_NE(try_create(OneNode("Conv", {x, w}, {false, false}, Attributes())).find("constant"), std::string::npos);
  // 1-D convolution (rank 3).
  Tensor x1 = test::random_tensor({1, 4, 9}, rng), w1 = test::random_tensor({2, 4, 3}, rng);
  EXPECT_NE(try_create(OneNode("Conv", {x1, w1}, {false, true}, Attributes())).find("4-D"), std::string::npos);
  // Non-constant bias.
  Tensor b = test::random_tensor({2}, rng);
  EXPECT_NE(try_create(OneNode("Conv", {x, w, b}, {false, true, false}, Attributes())).find("bias"),
            std::string::npos);
}

// The whole path through a Plan: the oneDNN candidate is chosen and the
// output equals the reference-only plan's within the bound.
TEST(OnednnConvPlan, PlanPicksOnednnAndMatchesReferencePlan) {
  std::mt19937 rng(99);
  const ConvCase c{"plan", 1, 16, 15, 15, 24, 3, 3, {2, 2}, {}, {1, 1, 1, 1}};
  std::vector<Tensor> in{test::random_tensor({1, 16, 15, 15}, rng), test::random_tensor({24, 16, 3, 3}, rng),
                         test::random_tensor({24}, rng)};
  OneNode g("Conv", in, {false, true, true}, conv_attrs(c), {FusedActivation::Kind::kClip, 0.f, 6.f});
  Plan fast(g.graph, {in[0].shape()}, PlanOptions{1, true, true});
  Plan ref(g.graph, {in[0].shape()}, PlanOptions{1, false, true});
  EXPECT_NE(fast.impl_name(0).find("onednn"), std::string::npos) << fast.impl_name(0);
  Tensor got = fast.run({in[0]}).at(0);
  Tensor want = ref.run({in[0]}).at(0);
  std::vector<Tensor> abs_in;
  for (const Tensor& t : in) abs_in.push_back(test::abs_of(t));
  test::expect_close(got, want, g.reference(abs_in, false), 16 * 9 + 1, 1.0, "plan");
}

// NCHW data of `t` reordered to NHWC (same shape tag, channels-last bytes) and back.
Tensor to_nhwc(const Tensor& t, bool back = false) {
  const int64_t N = t.dim(0), C = t.dim(1), HW = t.dim(2) * t.dim(3);
  Tensor r(DType::kF32, t.shape());
  const float* s = t.data<float>();
  float* d = r.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < HW; ++p) {
        const int64_t nchw = (n * C + c) * HW + p, nhwc = (n * HW + p) * C + c;
        if (back) d[nchw] = s[nhwc];
        else d[nhwc] = s[nchw];
      }
  return r;
}

// Channels-last 3x3 stride-1 convolutions wide enough for Winograd F(2x2, 3x3)
// (use_winograd) meet the same per-element bound as the direct ones, alone and
// with the residual sum (dst = relu(conv + r), bound with K + 1 terms and S + |r|),
// on 1 and 2 threads.
TEST(OnednnConvWinograd, ChannelsLastMatchesReference) {
  struct Case {
    int64_t N, IC, H, W, OC;
  };
  for (const Case c : {Case{1, 64, 14, 14, 64}, Case{1, 64, 15, 17, 80}, Case{2, 128, 16, 16, 64}}) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool sum = variant & 1;
      const int threads = variant < 2 ? 1 : 2;
      onednn::ScopedThreads scoped(threads);
      std::mt19937 rng(77);
      std::vector<Tensor> in{test::random_tensor({c.N, c.IC, c.H, c.W}, rng),
                             test::random_tensor({c.OC, c.IC, 3, 3}, rng), test::random_tensor({c.OC}, rng)};
      Attributes a;
      a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
      a.set("kernel_shape", std::vector<int64_t>{3, 3});
      OneNode g("Conv", in, {false, true, true}, a);
      onednn::ConvShape s;
      std::string why;
      ASSERT_TRUE(onednn::resolve_conv(g.request(), &s, &why)) << why;
      const std::string what = "N" + std::to_string(c.N) + " " + std::to_string(c.IC) + "->" + std::to_string(c.OC) +
                               " " + std::to_string(c.H) + "x" + std::to_string(c.W) + (sum ? " +sum" : "") +
                               " threads " + std::to_string(threads);
      FusedActivation relu;
      relu.kind = FusedActivation::Kind::kRelu;
      auto kernel = onednn::make_conv(s, in[1].data<float>(), in[2].data<float>(), sum ? FusedActivation{} : relu, threads,
                                      onednn::ConvLayout::kAuto, Layout::kNhwc, Layout::kNhwc, sum ? &relu : nullptr);
      if (!onednn::use_winograd(s) || kernel->impl_name().find("wino") == std::string::npos)
        GTEST_SKIP() << "no Winograd kernel here: " << kernel->impl_name();
      const Tensor residual = test::random_tensor({c.N, c.OC, c.H, c.W}, rng);
      const Tensor x = to_nhwc(in[0]);
      Tensor y = sum ? to_nhwc(residual) : Tensor(DType::kF32, residual.shape());
      const Tensor* ins[] = {&x};
      Tensor* outs[] = {&y};
      kernel->run(ins, outs);
      const Tensor got = to_nhwc(y, /*back=*/true);

      Tensor want = g.reference(in, false);
      std::vector<Tensor> abs_in;
      for (const Tensor& t : in) abs_in.push_back(test::abs_of(t));
      Tensor bound = g.reference(abs_in, false);
      for (int64_t i = 0; i < want.numel(); ++i) {
        float& w = want.data<float>()[i];
        if (sum) {
          w += residual.data<float>()[i];
          bound.data<float>()[i] += std::fabs(residual.data<float>()[i]);
        }
        w = relu.apply(w);
      }
      const int64_t K = c.IC * 9 + 1 + (sum ? 1 : 0);
      test::expect_close(got, want, bound, K, 1.0, what + " [" + kernel->impl_name() + "]");
    }
  }
}

}  // namespace
}  // namespace lapq
