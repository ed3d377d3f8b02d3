// The reduction family and ArgMax / ArgMin (ReduceMean is in
// test_ops_normalization.cpp).
#include <cmath>

#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

using Ints = std::vector<int64_t>;

TEST(OpsReduce, EachKindOverOneAxis) {
  Tensor x = f32({2, 3}, {1, -2, 3, 4, 5, -6});
  auto red = [&](const char* op) { return OpTest(op, 13).in(x).attr("axes", Ints{1}).attr("keepdims", int64_t{0}).run1(); };
  // ReduceSum takes axes as an input from opset 13.
  expect_f32(OpTest("ReduceSum", 13).in(x).in(i64({1}, {1})).attr("keepdims", int64_t{0}).run1(), {2}, {2, 3});
  expect_f32(red("ReduceMax"), {2}, {3, 5});
  expect_f32(red("ReduceMin"), {2}, {-2, -6});
  expect_f32(red("ReduceProd"), {2}, {-6, -120});
  expect_f32(red("ReduceL1"), {2}, {6, 15});
  expect_f32(red("ReduceL2"), {2}, {std::sqrt(14.f), std::sqrt(77.f)});
  expect_f32(red("ReduceSumSquare"), {2}, {14, 77});
  Tensor pos = f32({2, 2}, {1, 2, 3, 4});
  expect_f32(OpTest("ReduceLogSum", 13).in(pos).attr("axes", Ints{0}).run1(), {1, 2}, {std::log(4.f), std::log(6.f)});
  expect_f32(OpTest("ReduceLogSumExp", 13).in(pos).attr("axes", Ints{0}).run1(), {1, 2},
             {std::log(std::exp(1.f) + std::exp(3.f)), std::log(std::exp(2.f) + std::exp(4.f))});
}

TEST(OpsReduce, AllAxesNoopAndIntegers) {
  Tensor x = i64({2, 2}, {1, 2, 3, 4});
  expect_exact(OpTest("ReduceSum", 13).in(x).run1(), i64({1, 1}, {10}));
  expect_exact(OpTest("ReduceMax", 13).in(x).attr("keepdims", int64_t{0}).run1(), i64({}, {4}));
  expect_exact(OpTest("ReduceSum", 13).in(x).in(i64({0}, {})).attr("noop_with_empty_axes", int64_t{1}).run1(), x);
  expect_error([&] { OpTest("ReduceSum", 13, "rs").in(x).in(i64({2}, {0, -2})).run1(); }, ErrorCode::kInvalidModel,
               {"ReduceSum 'rs'", "twice"});
}

TEST(OpsArgMax, AxisKeepdimsLastIndex) {
  Tensor x = f32({2, 3}, {1, 5, 5, 7, 0, 7});
  expect_exact(OpTest("ArgMax", 13).in(x).attr("axis", int64_t{1}).run1(), i64({2, 1}, {1, 0}));
  expect_exact(OpTest("ArgMax", 13).in(x).attr("axis", int64_t{1}).attr("select_last_index", int64_t{1}).run1(),
               i64({2, 1}, {2, 2}));
  expect_exact(OpTest("ArgMin", 13).in(x).attr("axis", int64_t{0}).attr("keepdims", int64_t{0}).run1(), i64({3}, {0, 1, 0}));
  expect_error([&] { OpTest("ArgMax", 13, "am").in(x).attr("axis", int64_t{2}).run1(); }, ErrorCode::kInvalidModel,
               {"ArgMax 'am'", "axis 2"});
}

}  // namespace
}  // namespace lapq::test
