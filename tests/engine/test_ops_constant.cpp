// Constant, ConstantOfShape, Cast, Range.
#include <cmath>
#include <limits>

#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

TEST(OpsConstant, ValueAttributes) {
  expect_exact(OpTest("Constant").attr("value", i64({2}, {3, 4})).run1(), i64({2}, {3, 4}));
  expect_exact(OpTest("Constant").attr("value_float", 2.5f).run1(), f32({}, {2.5f}));
  expect_exact(OpTest("Constant").attr("value_floats", std::vector<float>{1, 2}).run1(), f32({2}, {1, 2}));
  expect_exact(OpTest("Constant").attr("value_int", int64_t{7}).run1(), i64({}, {7}));
  expect_exact(OpTest("Constant").attr("value_ints", std::vector<int64_t>{-1, 5}).run1(), i64({2}, {-1, 5}));
  expect_error([] { OpTest("Constant", 13, "k").run1(); }, ErrorCode::kInvalidModel, {"Constant 'k'", "exactly one"});
}

TEST(OpsConstant, ConstantOfShape) {
  expect_exact(OpTest("ConstantOfShape").in(i64({2}, {2, 3})).run1(), f32({2, 3}, {0, 0, 0, 0, 0, 0}));
  expect_exact(OpTest("ConstantOfShape").in(i64({1}, {3})).attr("value", i64({1}, {-4})).run1(), i64({3}, {-4, -4, -4}));
  expect_exact(OpTest("ConstantOfShape").in(i64({0}, {})).attr("value", f32({1}, {1.5f})).run1(), f32({}, {1.5f}));
  expect_error([] { OpTest("ConstantOfShape", 13, "c").in(i64({1}, {-2})).run1(); }, ErrorCode::kInvalidModel,
               {"ConstantOfShape 'c'", "negative"});
}

TEST(OpsCast, Conversions) {
  constexpr int64_t kFloat = 1, kInt32 = 6, kInt64 = 7, kBool = 9, kDouble = 11, kUint8 = 2;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  expect_exact(OpTest("Cast").in(f32({4}, {-1.7f, 2.9f, 0.f, nan})).attr("to", kInt64).run1(), i64({4}, {-1, 2, 0, 0}));
  expect_exact(OpTest("Cast").in(i64({2}, {3, -224})).attr("to", kFloat).run1(), f32({2}, {3, -224}));
  expect_exact(OpTest("Cast").in(f32({3}, {0.f, -0.5f, 2.f})).attr("to", kBool).run1(), boolean({3}, {0, 1, 1}));
  expect_exact(OpTest("Cast").in(boolean({2}, {1, 0})).attr("to", kFloat).run1(), f32({2}, {1, 0}));
  expect_exact(OpTest("Cast").in(i64({2}, {5, -6})).attr("to", kInt32).run1(), i32({2}, {5, -6}));
  expect_exact(OpTest("Cast").in(f32({2}, {300.f, -5.f})).attr("to", kUint8).run1(),
               Tensor::from<uint8_t>({2}, {255, 0}));
  Tensor d = OpTest("Cast").in(f32({1}, {0.1f})).attr("to", kDouble).run1();
  EXPECT_EQ(d.dtype(), DType::kF64);
  EXPECT_EQ(d.data<double>()[0], static_cast<double>(0.1f));
  expect_error([] { OpTest("Cast", 13, "c").in(f32({1}, {1})).attr("to", int64_t{8}).run1(); }, ErrorCode::kUnsupported,
               {"Cast 'c'", "data type 8"});
}

TEST(OpsRange, IntegerAndFloat) {
  expect_exact(OpTest("Range", 11).in(i64({}, {0})).in(i64({}, {10})).in(i64({}, {3})).run1(), i64({4}, {0, 3, 6, 9}));
  expect_exact(OpTest("Range", 11).in(i64({}, {10})).in(i64({}, {4})).in(i64({}, {-2})).run1(), i64({3}, {10, 8, 6}));
  EXPECT_EQ(OpTest("Range", 11).in(i64({}, {5})).in(i64({}, {1})).in(i64({}, {1})).run1().shape(), (Shape{0}));
  // ceil((2 - 1) / 0.3) = 4 elements: start + i * delta.
  expect_f32(OpTest("Range", 11).in(f32({}, {1.f})).in(f32({}, {2.f})).in(f32({}, {0.3f})).run1(), {4},
             {1.f, 1.3f, 1.6f, 1.9f}, 1e-6f);
  expect_error([] { OpTest("Range", 11, "r").in(i64({}, {0})).in(i64({}, {4})).in(i64({}, {0})).run1(); },
               ErrorCode::kInvalidModel, {"Range 'r'", "delta is 0"});
  expect_error([] { OpTest("Range", 11, "r").in(f32({}, {0})).in(f32({}, {NAN})).in(f32({}, {1})).run1(); },
               ErrorCode::kInvalidModel, {"Range 'r'", "NaN"});
  expect_error([] { OpTest("Range", 11, "r").in(i64({}, {0})).in(f32({}, {4})).in(i64({}, {1})).run1(); },
               ErrorCode::kInvalidModel, {"Range 'r'", "one dtype"});
}

}  // namespace
}  // namespace lapq::test
