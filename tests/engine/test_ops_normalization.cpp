// BatchNormalization, Softmax / LogSoftmax (both opset meanings), ReduceMean.
#include <cmath>

#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

TEST(OpsBatchNorm, PerChannelAffine) {
  Tensor x = f32({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor y = OpTest("BatchNormalization").in(x).in(f32({2}, {1, 2})).in(f32({2}, {0, 1})).in(f32({2}, {1, 3}))
                 .in(f32({2}, {4, 0.25f})).attr("epsilon", 0.f).run1();
  // ch0: (x-1)/2; ch1: (x-3)/0.5*2+1
  expect_f32(y, {1, 2, 1, 2}, {0, 0.5f, 1, 5});
}

TEST(OpsBatchNorm, DefaultEpsilonAndRank2) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = OpTest("BatchNormalization", 9).in(x).in(f32({3}, {1, 1, 1})).in(f32({3}, {0, 0, 0}))
                 .in(f32({3}, {0, 0, 0})).in(f32({3}, {1, 1, 1})).run1();
  const float s = 1.f / std::sqrt(1.f + 1e-5f);
  expect_f32(y, {2, 3}, {1 * s, 2 * s, 3 * s, 4 * s, 5 * s, 6 * s}, 1e-6f);
}

TEST(OpsBatchNorm, Errors) {
  Tensor x = ramp({1, 3, 2, 2});
  Tensor p3 = ramp({3}), p2 = ramp({2});
  expect_error([&] { OpTest("BatchNormalization", 13, "bn").in(x).in(p3).in(p2).in(p3).in(p3).run1(); },
               ErrorCode::kShapeMismatch, {"BatchNormalization 'bn'", "B has shape [2]", "3 channels"});
  expect_error([&] { OpTest("BatchNormalization", 14, "bn").in(x).in(p3).in(p3).in(p3).in(p3)
                         .attr("training_mode", int64_t{1}).run1(); },
               ErrorCode::kUnsupported, {"BatchNormalization 'bn'", "training_mode"});
  expect_error([&] { OpTest("BatchNormalization", 9, "bn").in(x).in(p3).in(p3).in(p3).in(p3).outputs(3).run(); },
               ErrorCode::kUnsupported, {"BatchNormalization 'bn'", "output 1"});
}

// softmax over `len` elements spaced `stride` apart, in double.
std::vector<float> softmax_formula(const std::vector<float>& x, int64_t outer, int64_t len, int64_t inner, bool log) {
  std::vector<float> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(static_cast<double>(x[(o * len + k) * inner + i]));
      for (int64_t k = 0; k < len; ++k) {
        const double v = x[(o * len + k) * inner + i];
        y[(o * len + k) * inner + i] = static_cast<float>(log ? v - std::log(sum) : std::exp(v) / sum);
      }
    }
  return y;
}

TEST(OpsSoftmax, Opset13AxisSemantics) {
  Tensor x = ramp({2, 3, 4}, 7);
  std::vector<float> xv(x.span<float>().begin(), x.span<float>().end());
  expect_f32(OpTest("Softmax").in(x).run1(), {2, 3, 4}, softmax_formula(xv, 6, 4, 1, false), 1e-6f);
  expect_f32(OpTest("Softmax").in(x).attr("axis", int64_t{1}).run1(), {2, 3, 4}, softmax_formula(xv, 2, 3, 4, false),
             1e-6f);
  expect_f32(OpTest("LogSoftmax").in(x).attr("axis", int64_t{0}).run1(), {2, 3, 4}, softmax_formula(xv, 1, 2, 12, true),
             1e-6f);
}

TEST(OpsSoftmax, LegacyCoerceTo2D) {
  Tensor x = ramp({2, 3, 4}, 8);
  std::vector<float> xv(x.span<float>().begin(), x.span<float>().end());
  // Opset 11, default axis 1: softmax over the 12 trailing elements of each batch.
  expect_f32(OpTest("Softmax", 11).in(x).run1(), {2, 3, 4}, softmax_formula(xv, 2, 12, 1, false), 1e-6f);
  expect_f32(OpTest("LogSoftmax", 11).in(x).attr("axis", int64_t{2}).run1(), {2, 3, 4},
             softmax_formula(xv, 6, 4, 1, true), 1e-6f);
  // Without normalize_opset_forms an opset-11 node that the two meanings
  // disagree on is refused, one they agree on ([N, C], axis 1) accepted.
  expect_error([] { OpTest::infer("Softmax", {shaped({2, 3, 4})}, {}, 1, 11); }, ErrorCode::kInternal,
               {"Softmax 'node0'", "normalize_opset_forms"});
  EXPECT_EQ(OpTest::infer("Softmax", {shaped({2, 3})}, {}, 1, 11)[0].shape, (Shape{2, 3}));
}

TEST(OpsSoftmax, LargeValuesStayFinite) {
  expect_f32(OpTest("Softmax").in(f32({3}, {1000.f, 1000.f, -1000.f})).run1(), {3}, {0.5f, 0.5f, 0.f});
}

TEST(OpsLayerNorm, TrailingAxesWithStats) {
  // Rows [1,2,3] and [2,4,6]: means 2 and 4, variances 2/3 and 8/3.
  Tensor x = f32({2, 3}, {1, 2, 3, 2, 4, 6});
  auto outs = OpTest("LayerNormalization", 17).in(x).in(f32({3}, {1, 2, 1})).in(f32({}, {0.5f}))
                  .attr("epsilon", 0.f).outputs(3).run();
  const float s1 = 1.f / std::sqrt(2.f / 3.f), s2 = 1.f / std::sqrt(8.f / 3.f);
  expect_f32(outs[0], {2, 3}, {-s1 + 0.5f, 0.5f, s1 + 0.5f, -2 * s2 + 0.5f, 0.5f, 2 * s2 + 0.5f}, 1e-6f);
  expect_f32(outs[1], {2, 1}, {2, 4});
  expect_f32(outs[2], {2, 1}, {s1, s2}, 1e-6f);
  // axis 1 of [1,2,2]: the whole sample; no bias.
  Tensor y = OpTest("LayerNormalization", 17).in(f32({1, 2, 2}, {0, 0, 2, 2})).in(f32({2, 2}, {1, 1, 1, 1}))
                 .attr("axis", int64_t{1}).attr("epsilon", 0.f).run1();
  expect_f32(y, {1, 2, 2}, {-1, -1, 1, 1}, 1e-6f);
  expect_error([] { OpTest("LayerNormalization", 17, "ln").in(ramp({2, 3})).in(ramp({2})).run1(); },
               ErrorCode::kShapeMismatch, {"LayerNormalization 'ln'", "Scale"});
}

TEST(OpsInstanceNorm, PerSampleAndChannel) {
  Tensor x = f32({1, 2, 1, 2}, {1, 3, 5, 7});
  // ch0: mean 2, var 1 -> [-1, 1]*2 + 1; ch1: mean 6, var 1 -> [-1, 1]*3 - 1.
  Tensor y = OpTest("InstanceNormalization").in(x).in(f32({2}, {2, 3})).in(f32({2}, {1, -1}))
                 .attr("epsilon", 0.f).run1();
  expect_f32(y, {1, 2, 1, 2}, {-1, 3, -4, 2}, 1e-6f);
  expect_error([] { OpTest("InstanceNormalization", 13, "in").in(ramp({1, 2, 2})).in(ramp({3})).in(ramp({2})).run1(); },
               ErrorCode::kShapeMismatch, {"InstanceNormalization 'in'", "scale"});
}

TEST(OpsReduceMean, AxesKeepdims) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_f32(OpTest("ReduceMean").in(x).attr("axes", std::vector<int64_t>{1}).run1(), {2, 1}, {2, 5});
  expect_f32(OpTest("ReduceMean").in(x).attr("axes", std::vector<int64_t>{-2}).attr("keepdims", int64_t{0}).run1(), {3},
             {2.5f, 3.5f, 4.5f});
  expect_f32(OpTest("ReduceMean").in(x).run1(), {1, 1}, {3.5f});
  expect_f32(OpTest("ReduceMean").in(x).attr("keepdims", int64_t{0}).run1(), {}, {3.5f});
  // Spatial mean of NCHW (what GlobalAveragePool computes).
  Tensor img = ramp({2, 3, 4, 5}, 3);
  expect_near(OpTest("ReduceMean").in(img).attr("axes", std::vector<int64_t>{2, 3}).run1(),
              OpTest("GlobalAveragePool").in(img).run1(), 1e-6f);
}

TEST(OpsReduceMean, Opset18AxesInput) {
  Tensor x = f32({2, 2}, {1, 2, 3, 5});
  expect_f32(OpTest("ReduceMean", 18).in(x).in(i64({1}, {0})).run1(), {1, 2}, {2, 3.5f});
  // Empty axes with noop_with_empty_axes: identity.
  expect_f32(OpTest("ReduceMean", 18).in(x).in(i64({0}, {})).attr("noop_with_empty_axes", int64_t{1}).run1(), {2, 2},
             {1, 2, 3, 5});
  expect_error([&] { OpTest("ReduceMean", 18, "rm").in(x).in(i64({1}, {2})).run1(); }, ErrorCode::kInvalidModel,
               {"ReduceMean 'rm'", "axis 2"});
}

}  // namespace
}  // namespace lapq::test
