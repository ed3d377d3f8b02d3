// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
#include <cmath>

#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

Tensor iota(Shape s) {
  Tensor t(DType::kF32, std::move(s));
  float v = 1.f;
  for (float& x : t.span<float>()) x = v++;
  return t;
}
using Ints = std::vector<int64_t>;

TEST(OpsMaxPool, StridedPaddedDilated) {
  expect_f32(OpTest("MaxPool").in(iota({1, 1, 4, 4})).attr("kernel_shape", Ints{2, 2}).attr("strides", Ints{2, 2}).run1(),
             {1, 1, 2, 2}, {6, 8, 14, 16});
  // 3x3 window, pad 1: the max of each pixel's neighbourhood.
  expect_f32(OpTest("MaxPool").in(iota({1, 1, 3, 3})).attr("kernel_shape", Ints{3, 3}).attr("pads", Ints{1, 1, 1, 1}).run1(),
             {1, 1, 3, 3}, {5, 6, 6, 8, 9, 9, 8, 9, 9});
  expect_f32(OpTest("MaxPool").in(iota({1, 1, 1, 5})).attr("kernel_shape", Ints{1, 2}).attr("dilations", Ints{1, 2}).run1(),
             {1, 1, 1, 3}, {3, 4, 5});
  // Padding never wins against negative values.
  expect_f32(OpTest("MaxPool").in(f32({1, 1, 1, 2}, {-5, -3})).attr("kernel_shape", Ints{1, 2})
                 .attr("pads", Ints{0, 1, 0, 1}).run1(),
             {1, 1, 1, 3}, {-5, -3, -3});
}

TEST(OpsMaxPool, CeilMode) {
  Tensor x = iota({1, 1, 5, 5});
  expect_f32(OpTest("MaxPool").in(x).attr("kernel_shape", Ints{2, 2}).attr("strides", Ints{2, 2}).run1(),
             {1, 1, 2, 2}, {7, 9, 17, 19});
  expect_f32(OpTest("MaxPool").in(x).attr("kernel_shape", Ints{2, 2}).attr("strides", Ints{2, 2})
                 .attr("ceil_mode", int64_t{1}).run1(),
             {1, 1, 3, 3}, {7, 9, 10, 17, 19, 20, 22, 24, 25});
  // in 4, pad 1 each side, k 2, s 2, ceil: windows start at -1, 1, 3 (the last one half in padding).
  Tensor y = OpTest("MaxPool").in(iota({1, 1, 1, 4})).attr("kernel_shape", Ints{1, 2}).attr("strides", Ints{1, 2})
                 .attr("pads", Ints{0, 1, 0, 1}).attr("ceil_mode", int64_t{1}).run1();
  expect_f32(y, {1, 1, 1, 3}, {1, 3, 4});
}

TEST(OpsMaxPool, AutoPad) {
  Tensor x = f32({1, 1, 1, 4}, {1, 2, 3, 4});
  expect_f32(OpTest("MaxPool").in(x).attr("kernel_shape", Ints{1, 2}).attr("auto_pad", std::string("SAME_UPPER")).run1(),
             {1, 1, 1, 4}, {2, 3, 4, 4});
  expect_f32(OpTest("MaxPool").in(x).attr("kernel_shape", Ints{1, 2}).attr("auto_pad", std::string("SAME_LOWER")).run1(),
             {1, 1, 1, 4}, {1, 2, 3, 4});
  expect_f32(OpTest("MaxPool").in(x).attr("kernel_shape", Ints{1, 3}).attr("auto_pad", std::string("VALID")).run1(),
             {1, 1, 1, 2}, {3, 4});
}

TEST(OpsMaxPool, OneAndThreeSpatialDims) {
  expect_f32(OpTest("MaxPool").in(f32({1, 2, 3}, {1, 3, 2, -1, -2, -3})).attr("kernel_shape", Ints{2}).run1(), {1, 2, 2},
             {3, 3, -1, -2});
  expect_f32(OpTest("MaxPool").in(iota({1, 1, 2, 2, 2})).attr("kernel_shape", Ints{2, 2, 2}).run1(), {1, 1, 1, 1, 1}, {8});
  expect_f32(OpTest("AveragePool").in(iota({1, 1, 2, 2, 2})).attr("kernel_shape", Ints{2, 2, 2}).run1(), {1, 1, 1, 1, 1},
             {4.5f});
}

TEST(OpsMaxPool, IndicesOutputUnsupported) {
  expect_error([] { OpTest("MaxPool", 13, "mp").in(iota({1, 1, 2, 2})).attr("kernel_shape", Ints{2, 2}).outputs(2).run(); },
               ErrorCode::kUnsupported, {"MaxPool 'mp'", "Indices"});
}

TEST(OpsAveragePool, PadsAndCountIncludePad) {
  expect_f32(OpTest("AveragePool").in(iota({1, 1, 4, 4})).attr("kernel_shape", Ints{2, 2}).attr("strides", Ints{2, 2}).run1(),
             {1, 1, 2, 2}, {3.5f, 5.5f, 11.5f, 13.5f});
  Tensor x = iota({1, 1, 3, 3});
  // Excluding padding: corner = mean(1,2,4,5), edge = mean(1,2,3,4,5,6), centre = 5.
  expect_f32(OpTest("AveragePool").in(x).attr("kernel_shape", Ints{3, 3}).attr("pads", Ints{1, 1, 1, 1}).run1(), {1, 1, 3, 3},
             {3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7});
  // Including padding: always divide by 9.
  expect_f32(OpTest("AveragePool").in(x).attr("kernel_shape", Ints{3, 3}).attr("pads", Ints{1, 1, 1, 1})
                 .attr("count_include_pad", int64_t{1}).run1(),
             {1, 1, 3, 3}, {12.f / 9, 21.f / 9, 16.f / 9, 27.f / 9, 45.f / 9, 33.f / 9, 24.f / 9, 39.f / 9, 28.f / 9});
}

TEST(OpsAveragePool, CeilModeWindowsPastTheEdge) {
  Tensor x = iota({1, 1, 1, 5});
  // Last window holds only the 5th pixel: its mean is 5 in both count modes.
  for (int64_t include : {0, 1})
    expect_f32(OpTest("AveragePool").in(x).attr("kernel_shape", Ints{1, 2}).attr("strides", Ints{1, 2})
                   .attr("ceil_mode", int64_t{1}).attr("count_include_pad", include).run1(),
               {1, 1, 1, 3}, {1.5f, 3.5f, 5.f});
  // With pads and count_include_pad, the pad pixel counts but the part past it does not:
  // in [1..4], pad end 1, k3 s2 ceil: windows [1,2,3], [3,4,pad] -> 6/3, 7/3.
  expect_f32(OpTest("AveragePool").in(iota({1, 1, 1, 4})).attr("kernel_shape", Ints{1, 3}).attr("strides", Ints{1, 2})
                 .attr("pads", Ints{0, 0, 0, 1}).attr("ceil_mode", int64_t{1}).attr("count_include_pad", int64_t{1}).run1(),
             {1, 1, 1, 2}, {2.f, 7.f / 3});
}

TEST(OpsAveragePool, SameUpperExcludesPadding) {
  expect_f32(OpTest("AveragePool").in(f32({1, 1, 1, 4}, {1, 2, 3, 4})).attr("kernel_shape", Ints{1, 2})
                 .attr("auto_pad", std::string("SAME_UPPER")).run1(),
             {1, 1, 1, 4}, {1.5f, 2.5f, 3.5f, 4.f});
}

TEST(OpsGlobalPool, AverageAndMax) {
  Tensor x = f32({1, 2, 2, 2}, {1, 2, 3, 4, -1, -5, 0, 2});
  expect_f32(OpTest("GlobalAveragePool").in(x).run1(), {1, 2, 1, 1}, {2.5f, -1.f});
  expect_f32(OpTest("GlobalMaxPool").in(x).run1(), {1, 2, 1, 1}, {4.f, 2.f});
  // H = W = 1 is a copy.
  expect_f32(OpTest("GlobalAveragePool").in(f32({2, 1, 1, 1}, {3, 4})).run1(), {2, 1, 1, 1}, {3, 4});
}

struct PoolCase {
  int64_t N, C, H, W, KH, KW, SH, SW, PT, PL, PB, PR;
  bool ceil;
};

// Output size from the ONNX formula in floating point, with the rule that
// the last ceil_mode window must start inside the input or leading padding.
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, bool ceil_mode) {
  const double q = static_cast<double>(in + pb + pe - k) / static_cast<double>(s);
  int64_t out = static_cast<int64_t>(ceil_mode ? std::ceil(q) : std::floor(q)) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) --out;
  return out;
}

TEST(OpsPool, AwkwardShapesAgainstNaive) {
  const PoolCase cases[] = {
      {1, 1, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, false},
      {2, 3, 7, 9, 3, 3, 2, 2, 0, 0, 0, 0, true},   // odd sizes, stride 2, ceil
      {1, 17, 6, 5, 2, 3, 2, 1, 1, 0, 0, 2, true},  // C = 17, asymmetric pads
      {1, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false},  // H = W = 1
      {1, 2, 8, 8, 3, 2, 3, 3, 1, 1, 1, 0, true},
  };
  uint32_t seed = 40;
  for (const PoolCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "C=" << c.C << " H=" << c.H << " W=" << c.W << " K=" << c.KH << "x" << c.KW
                                    << " S=" << c.SH << "x" << c.SW << " ceil=" << c.ceil);
    Tensor x = ramp({c.N, c.C, c.H, c.W}, seed++);
    const int64_t OH = pool_out(c.H, c.KH, c.SH, c.PT, c.PB, c.ceil), OW = pool_out(c.W, c.KW, c.SW, c.PL, c.PR, c.ceil);
    for (const char* op : {"MaxPool", "AveragePool"})
      for (int64_t include : {0, 1}) {
        if (std::string(op) == "MaxPool" && include) continue;
        OpTest t(op);
        t.in(x).attr("kernel_shape", Ints{c.KH, c.KW}).attr("strides", Ints{c.SH, c.SW})
            .attr("pads", Ints{c.PT, c.PL, c.PB, c.PR}).attr("ceil_mode", int64_t{c.ceil});
        if (std::string(op) == "AveragePool") t.attr("count_include_pad", include);
        Tensor y = t.run1();
        Tensor want(DType::kF32, {c.N, c.C, OH, OW});
        for (int64_t p = 0; p < c.N * c.C; ++p)
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              double best = -1e30, sum = 0;
              int64_t n_in = 0, n_padded = 0;
              for (int64_t kh = 0; kh < c.KH; ++kh)
                for (int64_t kw = 0; kw < c.KW; ++kw) {
                  const int64_t ih = oh * c.SH - c.PT + kh, iw = ow * c.SW - c.PL + kw;
                  if (ih < c.H + c.PB && iw < c.W + c.PR) ++n_padded;
                  if (ih < 0 || iw < 0 || ih >= c.H || iw >= c.W) continue;
                  const double v = x.data<float>()[(p * c.H + ih) * c.W + iw];
                  best = std::max(best, v);
                  sum += v;
                  ++n_in;
                }
              want.data<float>()[(p * OH + oh) * OW + ow] =
                  static_cast<float>(std::string(op) == "MaxPool" ? best : sum / (include ? n_padded : n_in));
            }
        // Max is exact; a mean of <= 9 values in [-1, 1) is within float rounding.
        expect_near(y, want, 1e-6f);
      }
  }
}

TEST(OpsPool, Errors) {
  expect_error([] { OpTest("MaxPool", 13, "p1").in(iota({4, 4})).attr("kernel_shape", Ints{2, 2}).run1(); },
               ErrorCode::kShapeMismatch, {"MaxPool 'p1'", "[4,4]"});
  expect_error([] { OpTest("AveragePool", 13, "p1").in(iota({1, 1, 2, 2})).attr("kernel_shape", Ints{3, 3}).run1(); },
               ErrorCode::kShapeMismatch, {"AveragePool 'p1'", "kernel"});
  expect_error([] { OpTest("MaxPool", 13, "p1").in(iota({1, 1, 2, 2})).run1(); }, ErrorCode::kInvalidModel,
               {"MaxPool 'p1'", "kernel_shape"});
  expect_error([] { OpTest("GlobalAveragePool", 13, "p1").in(iota({2, 2})).run1(); }, ErrorCode::kShapeMismatch,
               {"GlobalAveragePool 'p1'"});
}

}  // namespace
}  // namespace lapq::test
