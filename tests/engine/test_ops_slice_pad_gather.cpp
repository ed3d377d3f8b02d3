// Slice, Pad, Gather.
#include <limits>

#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

using Ints = std::vector<int64_t>;
constexpr int64_t kBig = std::numeric_limits<int64_t>::max();
constexpr int64_t kSmall = std::numeric_limits<int64_t>::min();

Tensor iota(Shape s, float start = 0.f) {
  Tensor t(DType::kF32, std::move(s));
  float v = start;
  for (float& x : t.span<float>()) x = v++;
  return t;
}

TEST(OpsSlice, AttributeFormBeforeOpset10) {
  Tensor x = iota({3, 4});
  expect_exact(OpTest("Slice", 9).in(x).attr("starts", Ints{1, 0}).attr("ends", Ints{3, -1}).run1(),
               f32({2, 3}, {4, 5, 6, 8, 9, 10}));
  expect_exact(OpTest("Slice", 9).in(x).attr("starts", Ints{2}).attr("ends", Ints{1000}).attr("axes", Ints{1}).run1(),
               f32({3, 2}, {2, 3, 6, 7, 10, 11}));
}

TEST(OpsSlice, InputFormStepsAndClamping) {
  Tensor x = iota({5});
  expect_exact(OpTest("Slice").in(x).in(i64({1}, {-1})).in(i64({1}, {-6})).in(i64({1}, {0})).in(i64({1}, {-2})).run1(),
               f32({3}, {4, 2, 0}));
  // Full reverse with the extreme values PyTorch exports.
  expect_exact(OpTest("Slice").in(x).in(i64({1}, {kBig})).in(i64({1}, {kSmall})).none().in(i64({1}, {-1})).run1(),
               f32({5}, {4, 3, 2, 1, 0}));
  expect_exact(OpTest("Slice").in(x).in(i64({1}, {-100})).in(i64({1}, {kBig})).run1(), x);
  // Empty result; slicing an empty dim, also backwards.
  EXPECT_EQ(OpTest("Slice").in(x).in(i64({1}, {3})).in(i64({1}, {1})).run1().shape(), (Shape{0}));
  EXPECT_EQ(OpTest("Slice").in(Tensor(DType::kF32, {0, 2})).in(i64({1}, {-1})).in(i64({1}, {kSmall})).none()
                .in(i64({1}, {-1})).run1().shape(),
            (Shape{0, 2}));
  // Step 2 on the middle axis of a 3-D tensor, negative axis.
  Tensor y = iota({2, 5, 3});
  Tensor s = OpTest("Slice").in(y).in(i64({1}, {1})).in(i64({1}, {5})).in(i64({1}, {-2})).in(i64({1}, {2})).run1();
  ASSERT_EQ(s.shape(), (Shape{2, 2, 3}));
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(s.data<float>()[(a * 2 + b) * 3 + c], y.data<float>()[(a * 5 + 1 + 2 * b) * 3 + c]);
  // int64 data (shape arithmetic): the spatial dims of a shape.
  expect_exact(OpTest("Slice").in(i64({4}, {1, 3, 224, 224})).in(i64({1}, {2})).in(i64({1}, {kBig})).run1(),
               i64({2}, {224, 224}));
}

TEST(OpsSlice, Errors) {
  expect_error([] { OpTest("Slice", 13, "s").in(iota({4})).in(i64({1}, {0})).in(i64({1}, {4})).none().in(i64({1}, {0})).run1(); },
               ErrorCode::kInvalidModel, {"Slice 's'", "step 0"});
  expect_error([] { OpTest("Slice", 13, "s").in(iota({4})).in(i64({1}, {0})).in(i64({1}, {4})).in(i64({1}, {1})).run1(); },
               ErrorCode::kInvalidModel, {"Slice 's'", "axis 1"});
  expect_error([] { OpTest("Slice", 13, "s").in(iota({4})).in(i64({2}, {0, 0})).in(i64({1}, {4})).run1(); },
               ErrorCode::kInvalidModel, {"Slice 's'", "starts"});
}

TEST(OpsPad, ConstantModes) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  // pads = [begin0, begin1, end0, end1]
  expect_exact(OpTest("Pad", 11).in(x).in(i64({4}, {1, 0, 0, 1})).in(f32({}, {9})).run1(),
               f32({3, 3}, {9, 9, 9, 1, 2, 9, 3, 4, 9}));
  expect_exact(OpTest("Pad", 2).in(x).attr("pads", Ints{0, 1, 0, 0}).attr("value", 7.f).run1(),
               f32({2, 3}, {7, 1, 2, 7, 3, 4}));
  // Default constant 0; negative pads crop.
  expect_exact(OpTest("Pad", 13).in(f32({4}, {1, 2, 3, 4})).in(i64({2}, {-1, 1})).run1(), f32({4}, {2, 3, 4, 0}));
  expect_exact(OpTest("Pad", 13).in(i64({2}, {5, 6})).in(i64({2}, {1, 1})).in(i64({}, {-1})).run1(),
               i64({4}, {-1, 5, 6, -1}));
}

TEST(OpsPad, ReflectAndEdge) {
  Tensor x = f32({3}, {1, 2, 3});
  expect_exact(OpTest("Pad", 13).in(x).in(i64({2}, {2, 2})).attr("mode", std::string("reflect")).run1(),
               f32({7}, {3, 2, 1, 2, 3, 2, 1}));
  expect_exact(OpTest("Pad", 13).in(x).in(i64({2}, {2, 1})).attr("mode", std::string("edge")).run1(),
               f32({6}, {1, 1, 1, 2, 3, 3}));
  // NCHW reflect of H and W by 1.
  Tensor img = f32({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6});
  expect_exact(OpTest("Pad", 13).in(img).in(i64({8}, {0, 0, 1, 1, 0, 0, 1, 1})).attr("mode", std::string("reflect")).run1(),
               f32({1, 1, 4, 5}, {5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5, 2, 1, 2, 3, 2}));
}

TEST(OpsPad, Opset18Axes) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  expect_exact(OpTest("Pad", 18).in(x).in(i64({2}, {1, 0})).none().in(i64({1}, {-1})).run1(),
               f32({2, 3}, {0, 1, 2, 0, 3, 4}));
}

TEST(OpsPad, Errors) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  expect_error([&] { OpTest("Pad", 13, "p").in(x).in(i64({2}, {1, 1})).run1(); }, ErrorCode::kInvalidModel,
               {"Pad 'p'", "pads has 2 values, expected 4"});
  expect_error([&] { OpTest("Pad", 13, "p").in(x).in(i64({4}, {1, 1, 1, 1})).attr("mode", std::string("wrap")).run1(); },
               ErrorCode::kUnsupported, {"Pad 'p'", "wrap"});
  expect_error([&] { OpTest("Pad", 13, "p").in(x).in(i64({4}, {-3, 0, 0, 0})).run1(); }, ErrorCode::kShapeMismatch,
               {"Pad 'p'", "below zero"});
}

TEST(OpsGather, AxesAndIndexKinds) {
  Tensor x = iota({3, 2});
  expect_exact(OpTest("Gather").in(x).in(i64({2}, {2, 0})).run1(), f32({2, 2}, {4, 5, 0, 1}));
  expect_exact(OpTest("Gather").in(x).in(i32({2}, {-1, 1})).run1(), f32({2, 2}, {4, 5, 2, 3}));
  // axis 1 with 2-D indices: out [3, 2, 2].
  expect_exact(OpTest("Gather").in(x).in(i64({2, 2}, {0, 1, 1, 1})).attr("axis", int64_t{1}).run1(),
               f32({3, 2, 2}, {0, 1, 1, 1, 2, 3, 3, 3, 4, 5, 5, 5}));
  // Scalar index removes the axis (PyTorch's x.size(0)).
  expect_exact(OpTest("Gather").in(i64({4}, {1, 3, 224, 224})).in(i64({}, {0})).run1(), i64({}, {1}));
  expect_exact(OpTest("Gather").in(x).in(i64({}, {1})).attr("axis", int64_t{-1}).run1(), f32({3}, {1, 3, 5}));
}

TEST(OpsGather, Errors) {
  expect_error([] { OpTest("Gather", 13, "g").in(iota({3})).in(i64({1}, {3})).run1(); }, ErrorCode::kInvalidModel,
               {"Gather 'g'", "index 3"});
  expect_error([] { OpTest("Gather", 13, "g").in(iota({3})).in(f32({1}, {0})).run1(); }, ErrorCode::kUnsupported,
               {"Gather 'g'"});
  expect_error([] { OpTest("Gather", 13, "g").in(iota({3})).in(i64({1}, {0})).attr("axis", int64_t{1}).run1(); },
               ErrorCode::kInvalidModel, {"Gather 'g'", "axis 1"});
}

}  // namespace
}  // namespace lapq::test
