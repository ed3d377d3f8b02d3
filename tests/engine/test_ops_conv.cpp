// Conv: hand-computed cases (pads, strides, auto_pad, dilation, groups, bias,
// 1-D) and a sweep over awkward shapes against a naive formula in double.
#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

Tensor iota(Shape s, float start = 1.f) {
  Tensor t(DType::kF32, std::move(s));
  float v = start;
  for (float& x : t.span<float>()) x = v++;
  return t;
}

TEST(OpsConv, ValidAndPaddedStrided) {
  Tensor x = iota({1, 1, 3, 3});  // 1..9
  Tensor w = f32({1, 1, 2, 2}, {1, 1, 1, 1});
  expect_f32(OpTest("Conv").in(x).in(w).run1(), {1, 1, 2, 2}, {12, 16, 24, 28});
  // 3x3 ones, pad 1, stride 2: each output sums the 2x2 corner that is inside.
  Tensor w3 = f32({1, 1, 3, 3}, {1, 1, 1, 1, 1, 1, 1, 1, 1});
  Tensor y = OpTest("Conv").in(x).in(w3).attr("pads", std::vector<int64_t>{1, 1, 1, 1})
                 .attr("strides", std::vector<int64_t>{2, 2}).run1();
  expect_f32(y, {1, 1, 2, 2}, {12, 16, 24, 28});
}

TEST(OpsConv, AsymmetricPadsAndBias) {
  Tensor x = iota({1, 1, 2, 2});  // [[1,2],[3,4]]
  Tensor w = f32({1, 1, 1, 1}, {2});
  // pads: top 1, left 0, bottom 0, right 2 -> 3x4 output.
  Tensor y = OpTest("Conv").in(x).in(w).in(f32({1}, {0.5f}))
                 .attr("pads", std::vector<int64_t>{1, 0, 0, 2}).run1();
  expect_f32(y, {1, 1, 3, 4}, {0.5f, 0.5f, 0.5f, 0.5f, 2.5f, 4.5f, 0.5f, 0.5f, 6.5f, 8.5f, 0.5f, 0.5f});
}

TEST(OpsConv, AutoPadSameUpperVsLower) {
  Tensor x = f32({1, 1, 1, 4}, {1, 2, 3, 4});
  Tensor w = f32({1, 1, 1, 2}, {1, 10});
  // One pixel of padding: at the end (UPPER) or the beginning (LOWER).
  expect_f32(OpTest("Conv").in(x).in(w).attr("auto_pad", std::string("SAME_UPPER")).run1(), {1, 1, 1, 4},
             {21, 32, 43, 4});
  expect_f32(OpTest("Conv").in(x).in(w).attr("auto_pad", std::string("SAME_LOWER")).run1(), {1, 1, 1, 4},
             {10, 21, 32, 43});
  expect_f32(OpTest("Conv").in(x).in(w).attr("auto_pad", std::string("VALID")).run1(), {1, 1, 1, 3}, {21, 32, 43});
  // SAME with stride 2 on 5 pixels: ceil(5/2) = 3 outputs.
  Tensor x5 = f32({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor w3 = f32({1, 1, 1, 3}, {1, 1, 1});
  expect_f32(OpTest("Conv").in(x5).in(w3).attr("auto_pad", std::string("SAME_UPPER"))
                 .attr("strides", std::vector<int64_t>{1, 2}).run1(),
             {1, 1, 1, 3}, {3, 9, 9});
}

TEST(OpsConv, Dilation) {
  Tensor x = f32({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor w = f32({1, 1, 1, 2}, {1, 1});
  expect_f32(OpTest("Conv").in(x).in(w).attr("dilations", std::vector<int64_t>{1, 2}).run1(), {1, 1, 1, 3},
             {4, 6, 8});
}

TEST(OpsConv, GroupsAndDepthwise) {
  // Two channels, depthwise 1x1: channel c scaled by (c+1), plus bias.
  Tensor x = f32({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor w = f32({2, 1, 1, 1}, {1, 2});
  expect_f32(OpTest("Conv").in(x).in(w).in(f32({2}, {0, 10})).attr("group", int64_t{2}).run1(), {1, 2, 1, 2},
             {1, 2, 16, 18});
  // group 2 with 4 input channels, 2 output channels: oc0 sums ch 0,1; oc1 sums ch 2,3.
  Tensor x4 = f32({1, 4, 1, 1}, {1, 2, 3, 4});
  Tensor w4 = f32({2, 2, 1, 1}, {1, 1, 1, -1});
  expect_f32(OpTest("Conv").in(x4).in(w4).attr("group", int64_t{2}).run1(), {1, 2, 1, 1}, {3, -1});
}

TEST(OpsConv, OneDimensional) {
  Tensor x = f32({1, 1, 4}, {1, 2, 3, 4});
  Tensor w = f32({2, 1, 2}, {1, -1, 0.5f, 0.5f});
  expect_f32(OpTest("Conv").in(x).in(w).attr("pads", std::vector<int64_t>{1, 0}).run1(), {1, 2, 4},
             {-1, -1, -1, -1, 0.5f, 1.5f, 2.5f, 3.5f});
}

struct ConvCase {
  int64_t N, IC, H, W, OC, KH, KW, group, SH, SW, DH, DW, PT, PL, PB, PR;
  bool bias;
};

// Naive convolution in double: for each output, sum over the window with
// explicit bounds checks.
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor* b, const ConvCase& c, int64_t OH, int64_t OW) {
  Tensor y(DType::kF32, {c.N, c.OC, OH, OW});
  const int64_t ICg = c.IC / c.group, OCg = c.OC / c.group;
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t oc = 0; oc < c.OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b ? b->data<float>()[oc] : 0.0;
          for (int64_t i = 0; i < ICg; ++i)
            for (int64_t kh = 0; kh < c.KH; ++kh)
              for (int64_t kw = 0; kw < c.KW; ++kw) {
                const int64_t ih = oh * c.SH + kh * c.DH - c.PT, iw = ow * c.SW + kw * c.DW - c.PL;
                if (ih < 0 || iw < 0 || ih >= c.H || iw >= c.W) continue;
                const int64_t ic = (oc / OCg) * ICg + i;
                acc += static_cast<double>(x.data<float>()[((n * c.IC + ic) * c.H + ih) * c.W + iw]) *
                       w.data<float>()[((oc * ICg + i) * c.KH + kh) * c.KW + kw];
              }
          y.data<float>()[((n * c.OC + oc) * OH + oh) * OW + ow] = static_cast<float>(acc);
        }
  return y;
}

TEST(OpsConv, AwkwardShapesAgainstNaive) {
  const ConvCase cases[] = {
      {1, 1, 5, 5, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true},
      {2, 3, 7, 9, 4, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, true},     // odd sizes, stride 2
      {1, 17, 6, 5, 17, 3, 3, 17, 1, 1, 1, 1, 1, 1, 1, 1, true},  // depthwise, C = 17
      {1, 6, 8, 8, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, false},    // groups 3, dilation 2
      {1, 3, 1, 1, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true},     // H = W = 1
      {1, 4, 9, 7, 3, 5, 3, 1, 2, 3, 1, 1, 0, 2, 1, 0, true},     // asymmetric pads, mixed strides
      {1, 2, 4, 4, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1, false},    // even kernel, end-only pads
  };
  uint32_t seed = 10;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "IC=" << c.IC << " OC=" << c.OC << " H=" << c.H << " W=" << c.W
                                    << " K=" << c.KH << "x" << c.KW << " group=" << c.group);
    Tensor x = ramp({c.N, c.IC, c.H, c.W}, seed++);
    Tensor w = ramp({c.OC, c.IC / c.group, c.KH, c.KW}, seed++);
    Tensor b = ramp({c.OC}, seed++);
    OpTest t("Conv");
    t.in(x).in(w);
    if (c.bias) t.in(b);
    t.attr("group", c.group).attr("strides", std::vector<int64_t>{c.SH, c.SW})
        .attr("dilations", std::vector<int64_t>{c.DH, c.DW})
        .attr("pads", std::vector<int64_t>{c.PT, c.PL, c.PB, c.PR});
    Tensor y = t.run1();
    const int64_t OH = (c.H + c.PT + c.PB - (c.KH - 1) * c.DH - 1) / c.SH + 1;
    const int64_t OW = (c.W + c.PL + c.PR - (c.KW - 1) * c.DW - 1) / c.SW + 1;
    // Sums of up to 17*9 products of values in [-1,1): float error well below 1e-5 relative.
    expect_near(y, naive_conv(x, w, c.bias ? &b : nullptr, c, OH, OW), 1e-5f);
  }
}

TEST(OpsConv, Errors) {
  Tensor x = ramp({1, 4, 5, 5});
  expect_error([&] { OpTest("Conv", 13, "conv1").in(x).in(ramp({2, 3, 3, 3})).run1(); }, ErrorCode::kShapeMismatch,
               {"Conv 'conv1'", "input has 4 channels but weight expects 3"});
  expect_error([&] { OpTest("Conv", 13, "conv1").in(ramp({4, 5, 5})).in(ramp({2, 4, 3, 3})).run1(); },
               ErrorCode::kShapeMismatch, {"Conv 'conv1'", "rank"});
  expect_error([&] { OpTest("Conv", 13, "conv1").in(x).in(ramp({3, 2, 3, 3})).attr("group", int64_t{2}).run1(); },
               ErrorCode::kInvalidModel, {"Conv 'conv1'", "divisible"});
  expect_error([&] { OpTest("Conv", 13, "conv1").in(x).in(ramp({2, 4, 7, 7})).run1(); }, ErrorCode::kShapeMismatch,
               {"Conv 'conv1'", "kernel"});
  expect_error([&] { OpTest("Conv", 13, "conv1").in(x).in(ramp({2, 4, 3, 3})).in(ramp({3})).run1(); },
               ErrorCode::kShapeMismatch, {"Conv 'conv1'", "bias"});
  expect_error([&] { OpTest("Conv", 13, "conv1").in(x).in(ramp({2, 4, 3, 3})).attr("pads", std::vector<int64_t>{1, 1}).run1(); },
               ErrorCode::kInvalidModel, {"Conv 'conv1'", "pads"});
}

TEST(OpsConv, InferKeepsUnknownBatch) {
  auto out = OpTest::infer("Conv", {shaped({-1, 3, 32, 32}), shaped({8, 3, 3, 3})},
                           [] { Attributes a; a.set("pads", std::vector<int64_t>{1, 1, 1, 1}); a.set("strides", std::vector<int64_t>{2, 2}); return a; }());
  EXPECT_EQ(out[0].shape, (Shape{-1, 8, 16, 16}));
}

}  // namespace
}  // namespace lapq::test
