// Identity, Dropout, Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Concat,
// Expand, Shape.
#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

using Ints = std::vector<int64_t>;

TEST(OpsShape, IdentityAndDropout) {
  Tensor x = ramp({2, 3});
  expect_exact(OpTest("Identity").in(x).run1(), x);
  auto outs = OpTest("Dropout", 12).in(x).in(f32({}, {0.5f})).outputs(2).run();
  expect_exact(outs[0], x);  // inference: no scaling
  expect_exact(outs[1], boolean({2, 3}, {1, 1, 1, 1, 1, 1}));
  // Before opset 10 the mask has the input's type.
  auto old = OpTest("Dropout", 7).in(x).outputs(2).run();
  expect_exact(old[1], f32({2, 3}, {1, 1, 1, 1, 1, 1}));
  expect_error([&] { OpTest("Dropout", 13, "d").in(x).none().in(boolean({}, {1})).run1(); }, ErrorCode::kUnsupported,
               {"Dropout 'd'", "training_mode"});
}

TEST(OpsShape, Flatten) {
  Tensor x = ramp({2, 3, 4});
  EXPECT_EQ(OpTest("Flatten").in(x).run1().shape(), (Shape{2, 12}));
  EXPECT_EQ(OpTest("Flatten").in(x).attr("axis", int64_t{0}).run1().shape(), (Shape{1, 24}));
  EXPECT_EQ(OpTest("Flatten").in(x).attr("axis", int64_t{3}).run1().shape(), (Shape{24, 1}));
  EXPECT_EQ(OpTest("Flatten").in(x).attr("axis", int64_t{-1}).run1().shape(), (Shape{6, 4}));
  expect_exact(OpTest("Flatten").in(x).run1(), x.reshaped({2, 12}));
  EXPECT_EQ(OpTest::infer("Flatten", {shaped({-1, 3, 4})})[0].shape, (Shape{-1, 12}));
}

TEST(OpsShape, ReshapeZeroMinusOneAllowzero) {
  Tensor x = ramp({2, 3, 4});
  expect_exact(OpTest("Reshape").in(x).in(i64({2}, {0, -1})).run1(), x.reshaped({2, 12}));
  expect_exact(OpTest("Reshape").in(x).in(i64({3}, {4, 0, 2})).run1(), x.reshaped({4, 3, 2}));
  expect_exact(OpTest("Reshape").in(x).in(i64({1}, {-1})).run1(), x.reshaped({24}));
  // allowzero: a 0 is a real zero-sized dim.
  Tensor empty(DType::kF32, {0, 3});
  EXPECT_EQ(OpTest("Reshape", 14).in(empty).in(i64({2}, {3, 0})).attr("allowzero", int64_t{1}).run1().shape(),
            (Shape{3, 0}));
  expect_error([&] { OpTest("Reshape", 13, "r").in(x).in(i64({2}, {5, -1})).run1(); }, ErrorCode::kShapeMismatch,
               {"Reshape 'r'", "cannot reshape"});
  expect_error([&] { OpTest("Reshape", 13, "r").in(x).in(i64({2}, {-1, -1})).run1(); }, ErrorCode::kInvalidModel,
               {"Reshape 'r'", "more than one -1"});
  expect_error([&] { OpTest("Reshape", 13, "r").in(x).in(i64({2}, {5, 5})).run1(); }, ErrorCode::kShapeMismatch,
               {"Reshape 'r'", "24 elements"});
  // Unknown batch copied through by 0.
  auto out = OpTest::infer("Reshape", {shaped({-1, 3, 4}), constant(i64({2}, {0, -1}))});
  EXPECT_EQ(out[0].shape, (Shape{-1, -1}));
  out = OpTest::infer("Reshape", {shaped({-1, 3, 4}), constant(i64({2}, {0, 12}))});
  EXPECT_EQ(out[0].shape, (Shape{-1, 12}));
}

TEST(OpsShape, SqueezeUnsqueeze) {
  Tensor x = ramp({1, 3, 1, 2});
  EXPECT_EQ(OpTest("Squeeze").in(x).run1().shape(), (Shape{3, 2}));
  EXPECT_EQ(OpTest("Squeeze", 11).in(x).attr("axes", Ints{-2}).run1().shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(OpTest("Squeeze", 13).in(x).in(i64({1}, {0})).run1().shape(), (Shape{3, 1, 2}));
  expect_exact(OpTest("Squeeze").in(x).run1(), x.reshaped({3, 2}));
  expect_error([&] { OpTest("Squeeze", 13, "sq").in(x).in(i64({1}, {1})).run1(); }, ErrorCode::kShapeMismatch,
               {"Squeeze 'sq'", "size 3"});
  EXPECT_EQ(OpTest("Unsqueeze", 11).in(ramp({3, 2})).attr("axes", Ints{0, 3}).run1().shape(), (Shape{1, 3, 2, 1}));
  EXPECT_EQ(OpTest("Unsqueeze", 13).in(ramp({3, 2})).in(i64({2}, {-1, 1})).run1().shape(), (Shape{3, 1, 2, 1}));
  EXPECT_EQ(OpTest("Unsqueeze", 13).in(f32({}, {5})).in(i64({1}, {0})).run1().shape(), (Shape{1}));
  expect_error([] { OpTest("Unsqueeze", 13, "us").in(ramp({3})).in(i64({1}, {2})).run1(); }, ErrorCode::kInvalidModel,
               {"Unsqueeze 'us'", "axis 2"});
}

TEST(OpsShape, Transpose) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_exact(OpTest("Transpose").in(x).run1(), f32({3, 2}, {1, 4, 2, 5, 3, 6}));
  // NCHW -> NHWC against an index formula.
  Tensor img = ramp({2, 3, 4, 5});
  Tensor y = OpTest("Transpose").in(img).attr("perm", Ints{0, 2, 3, 1}).run1();
  ASSERT_EQ(y.shape(), (Shape{2, 4, 5, 3}));
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 4; ++h)
        for (int w = 0; w < 5; ++w)
          ASSERT_EQ(y.data<float>()[((n * 4 + h) * 5 + w) * 3 + c], img.data<float>()[((n * 3 + c) * 4 + h) * 5 + w]);
  expect_exact(OpTest("Transpose").in(i64({2, 1}, {7, 8})).run1(), i64({1, 2}, {7, 8}));
  expect_error([&] { OpTest("Transpose", 13, "t").in(x).attr("perm", Ints{0, 0}).run1(); }, ErrorCode::kInvalidModel,
               {"Transpose 't'", "permutation"});
}

TEST(OpsShape, Concat) {
  Tensor a = f32({2, 1}, {1, 2}), b = f32({2, 2}, {3, 4, 5, 6});
  expect_exact(OpTest("Concat").in(a).in(b).attr("axis", int64_t{-1}).run1(), f32({2, 3}, {1, 3, 4, 2, 5, 6}));
  expect_exact(OpTest("Concat").in(b).in(b).attr("axis", int64_t{0}).run1(), f32({4, 2}, {3, 4, 5, 6, 3, 4, 5, 6}));
  // int64 shape pieces, including an empty one.
  expect_exact(OpTest("Concat").in(i64({1}, {1})).in(i64({0}, {})).in(i64({2}, {-1, 7})).attr("axis", int64_t{0}).run1(),
               i64({3}, {1, -1, 7}));
  expect_error([&] { OpTest("Concat", 13, "c").in(a).in(b).attr("axis", int64_t{0}).run1(); }, ErrorCode::kShapeMismatch,
               {"Concat 'c'", "axis 0"});
  expect_error([&] { OpTest("Concat", 13, "c").in(a).in(ramp({2})).attr("axis", int64_t{0}).run1(); },
               ErrorCode::kShapeMismatch, {"Concat 'c'"});
}

TEST(OpsShape, Expand) {
  expect_exact(OpTest("Expand").in(f32({3, 1}, {1, 2, 3})).in(i64({3}, {2, 1, 4})).run1(),
               f32({2, 3, 4}, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
  // The shape may be smaller than the input's: bidirectional broadcast.
  EXPECT_EQ(OpTest("Expand").in(ramp({2, 3})).in(i64({1}, {1})).run1().shape(), (Shape{2, 3}));
  expect_error([] { OpTest("Expand", 13, "e").in(ramp({2, 3})).in(i64({1}, {4})).run1(); }, ErrorCode::kShapeMismatch,
               {"Expand 'e'"});
  expect_error([] { OpTest("Expand", 13, "e").in(ramp({2, 3})).in(i64({1}, {-1})).run1(); }, ErrorCode::kInvalidModel,
               {"Expand 'e'", "negative"});
}

TEST(OpsShape, Split) {
  Tensor x = f32({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  auto eq = OpTest("Split", 13).in(x).attr("axis", int64_t{1}).outputs(2).run();
  expect_exact(eq[0], f32({2, 2}, {0, 1, 4, 5}));
  expect_exact(eq[1], f32({2, 2}, {2, 3, 6, 7}));
  auto var = OpTest("Split", 13).in(x).in(i64({3}, {1, 0, 3})).attr("axis", int64_t{-1}).outputs(3).run();
  expect_exact(var[0], f32({2, 1}, {0, 4}));
  EXPECT_EQ(var[1].shape(), (Shape{2, 0}));
  expect_exact(var[2], f32({2, 3}, {1, 2, 3, 5, 6, 7}));
  auto old = OpTest("Split", 11).in(x).attr("split", Ints{1, 1}).outputs(2).run();  // axis 0, attribute form
  expect_exact(old[1], f32({1, 4}, {4, 5, 6, 7}));
  // Opset 18 num_outputs: uneven, the last part smaller (5 -> 2, 2, 1).
  auto uneven = OpTest("Split", 18).in(f32({5}, {1, 2, 3, 4, 5})).attr("num_outputs", int64_t{3}).outputs(3).run();
  expect_exact(uneven[2], f32({1}, {5}));
  expect_error([&] { OpTest("Split", 13, "sp").in(x).attr("axis", int64_t{1}).outputs(3).run(); },
               ErrorCode::kShapeMismatch, {"Split 'sp'", "3 equal parts"});
  expect_error([&] { OpTest("Split", 13, "sp").in(x).in(i64({2}, {1, 2})).attr("axis", int64_t{1}).outputs(2).run(); },
               ErrorCode::kShapeMismatch, {"Split 'sp'", "sum to 3"});
}

TEST(OpsShape, TileAndSize) {
  expect_exact(OpTest("Tile").in(f32({2, 1}, {1, 2})).in(i64({2}, {2, 3})).run1(),
               f32({4, 3}, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
  expect_error([] { OpTest("Tile", 13, "t").in(f32({2}, {1, 2})).in(i64({2}, {1, 1})).run1(); },
               ErrorCode::kInvalidModel, {"Tile 't'", "repeats"});
  expect_exact(OpTest("Size").in(Tensor(DType::kF32, {2, 3, 4})).run1(), i64({}, {24}));
}

TEST(OpsShape, ShapeWithStartEnd) {
  Tensor x(DType::kF32, {2, 3, 4, 5});
  expect_exact(OpTest("Shape").in(x).run1(), i64({4}, {2, 3, 4, 5}));
  expect_exact(OpTest("Shape", 15).in(x).attr("start", int64_t{1}).attr("end", int64_t{-1}).run1(), i64({2}, {3, 4}));
  expect_exact(OpTest("Shape", 15).in(x).attr("start", int64_t{-10}).attr("end", int64_t{10}).run1(),
               i64({4}, {2, 3, 4, 5}));
  expect_exact(OpTest("Shape", 15).in(x).attr("start", int64_t{3}).attr("end", int64_t{1}).run1(), i64({0}, {}));
  EXPECT_EQ(OpTest::infer("Shape", {shaped({-1, 3})})[0].shape, (Shape{2}));
}

}  // namespace
}  // namespace lapq::test
