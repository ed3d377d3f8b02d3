// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
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
