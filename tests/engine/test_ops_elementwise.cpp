// Elementwise ops: activations, unary math, broadcasting binary ops, Clip,
// PRelu, Equal, Where, variadic Min/Max/Sum/Mean.
#include <cmath>
#include <limits>

#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

TEST(OpsActivation, ReluLeakyReluSigmoid) {
  Tensor x = f32({2, 3}, {-2.f, -0.5f, 0.f, 0.5f, 1.f, 3.f});
  expect_f32(OpTest("Relu").in(x).run1(), {2, 3}, {0, 0, 0, 0.5f, 1, 3});
  expect_f32(OpTest("LeakyRelu").in(x).attr("alpha", 0.1f).run1(), {2, 3}, {-0.2f, -0.05f, 0, 0.5f, 1, 3});
  // Default alpha is 0.01.
  expect_f32(OpTest("LeakyRelu").in(x).run1(), {2, 3}, {-0.02f, -0.005f, 0, 0.5f, 1, 3});
  std::vector<float> sig;
  for (float v : x.span<float>()) sig.push_back(1.f / (1.f + std::exp(-v)));
  expect_f32(OpTest("Sigmoid").in(x).run1(), {2, 3}, sig, 1e-6f);
}

TEST(OpsActivation, HardSigmoidHardSwish) {
  Tensor x = f32({5}, {-4.f, -1.f, 0.f, 1.f, 4.f});
  // Defaults alpha 0.2, beta 0.5: clamp(0.2x + 0.5, 0, 1).
  expect_f32(OpTest("HardSigmoid").in(x).run1(), {5}, {0.f, 0.3f, 0.5f, 0.7f, 1.f});
  expect_f32(OpTest("HardSigmoid").in(x).attr("alpha", 0.5f).attr("beta", 0.25f).run1(), {5},
             {0.f, 0.f, 0.25f, 0.75f, 1.f});
  // x * clamp(x/6 + 0.5, 0, 1)
  expect_f32(OpTest("HardSwish", 14).in(x).run1(), {5}, {0.f, -1.f / 3.f, 0.f, 2.f / 3.f, 4.f});
}

TEST(OpsActivation, ReluOnInt64) {
  expect_exact(OpTest("Relu", 14).in(i64({3}, {-5, 0, 7})).run1(), i64({3}, {0, 0, 7}));
}

TEST(OpsUnary, MathFunctions) {
  Tensor x = f32({4}, {0.25f, 1.f, 2.5f, 9.f});
  expect_f32(OpTest("Sqrt").in(x).run1(), {4}, {0.5f, 1.f, std::sqrt(2.5f), 3.f});
  expect_f32(OpTest("Exp").in(x).run1(), {4}, {std::exp(0.25f), std::exp(1.f), std::exp(2.5f), std::exp(9.f)});
  expect_f32(OpTest("Log").in(x).run1(), {4}, {std::log(0.25f), 0.f, std::log(2.5f), std::log(9.f)});
  expect_f32(OpTest("Tanh").in(x).run1(), {4}, {std::tanh(0.25f), std::tanh(1.f), std::tanh(2.5f), std::tanh(9.f)});
  Tensor y = f32({5}, {-1.5f, -0.5f, 0.f, 0.5f, 2.f});
  expect_f32(OpTest("Floor").in(y).run1(), {5}, {-2.f, -1.f, 0.f, 0.f, 2.f});
  expect_f32(OpTest("Ceil").in(y).run1(), {5}, {-1.f, -0.f, 0.f, 1.f, 2.f});
  expect_f32(OpTest("Neg").in(y).run1(), {5}, {1.5f, 0.5f, 0.f, -0.5f, -2.f});
  expect_f32(OpTest("Abs").in(y).run1(), {5}, {1.5f, 0.5f, 0.f, 0.5f, 2.f});
  expect_exact(OpTest("Neg").in(i64({2}, {3, -4})).run1(), i64({2}, {-3, 4}));
  expect_exact(OpTest("Abs").in(i32({2}, {3, -4})).run1(), i32({2}, {3, 4}));
}

TEST(OpsUnary, ErfAndPow) {
  // erf(0) = 0, erf is odd, erf(1) = 0.8427007929.
  expect_f32(OpTest("Erf").in(f32({3}, {0.f, 1.f, -1.f})).run1(), {3}, {0.f, 0.8427007929f, -0.8427007929f}, 1e-6f);
  // x^2 with a scalar exponent (LayerNorm variance in ConvNeXt exports).
  expect_f32(OpTest("Pow").in(f32({3}, {-3.f, 0.5f, 2.f})).in(f32({}, {2.f})).run1(), {3}, {9.f, 0.25f, 4.f});
  // Broadcast exponent of another dtype; output keeps the base's dtype.
  expect_f32(OpTest("Pow").in(f32({2, 2}, {2, 3, 4, 9})).in(i64({2}, {3, -1})).run1(), {2, 2},
             {8.f, 1.f / 3, 64.f, 1.f / 9});
  expect_exact(OpTest("Pow").in(i64({3}, {2, -3, 5})).in(i64({}, {3})).run1(), i64({3}, {8, -27, 125}));
  expect_f32(OpTest("Pow").in(f32({1}, {4.f})).in(f32({1}, {0.5f})).run1(), {1}, {2.f});
}

TEST(OpsUnary, MoreMathAndActivations) {
  Tensor x = f32({5}, {-2.5f, -0.5f, 0.f, 0.5f, 1.5f});
  expect_f32(OpTest("Reciprocal").in(f32({3}, {2.f, -4.f, 0.5f})).run1(), {3}, {0.5f, -0.25f, 2.f});
  // Round: halves go to the even neighbour.
  expect_f32(OpTest("Round").in(x).run1(), {5}, {-2.f, -0.f, 0.f, 0.f, 2.f});
  expect_f32(OpTest("Sign").in(x).run1(), {5}, {-1, -1, 0, 1, 1});
  expect_exact(OpTest("Sign").in(i64({3}, {-7, 0, 9})).run1(), i64({3}, {-1, 0, 1}));
  expect_f32(OpTest("Sin").in(f32({2}, {0.f, 1.f})).run1(), {2}, {0.f, std::sin(1.f)});
  expect_f32(OpTest("Cos").in(f32({2}, {0.f, 1.f})).run1(), {2}, {1.f, std::cos(1.f)});
  expect_f32(OpTest("Tan").in(f32({2}, {0.f, 1.f})).run1(), {2}, {0.f, std::tan(1.f)});
  // softplus(0) = ln 2; softsign(x) = x / (1 + |x|).
  expect_f32(OpTest("Softplus").in(f32({2}, {0.f, 2.f})).run1(), {2}, {std::log(2.f), std::log(1.f + std::exp(2.f))});
  expect_f32(OpTest("Softsign").in(f32({2}, {-3.f, 1.f})).run1(), {2}, {-0.75f, 0.5f});
  expect_f32(OpTest("Elu").in(f32({2}, {-1.f, 2.f})).attr("alpha", 2.f).run1(), {2}, {2.f * (std::exp(-1.f) - 1.f), 2.f});
  const float a = 1.67326319217681884765625f, g = 1.05070102214813232421875f;
  expect_f32(OpTest("Selu").in(f32({2}, {-1.f, 2.f})).run1(), {2}, {g * a * (std::exp(-1.f) - 1.f), g * 2.f});
  expect_f32(OpTest("ThresholdedRelu").in(f32({3}, {0.5f, 1.f, 1.5f})).run1(), {3}, {0.f, 0.f, 1.5f});
  expect_exact(OpTest("Not").in(boolean({2}, {1, 0})).run1(), boolean({2}, {0, 1}));
}

TEST(OpsUnary, FloatOnlyOpsRejectIntegers) {
  expect_error([] { OpTest("Sqrt").in(i64({1}, {4})).run1(); }, ErrorCode::kUnsupported, {"Sqrt 'node0'", "int64"});
}

TEST(OpsClip, AttributesBeforeOpset11) {
  Tensor x = f32({5}, {-3.f, -1.f, 0.f, 2.f, 8.f});
  expect_f32(OpTest("Clip", 6).in(x).attr("min", -1.f).attr("max", 6.f).run1(), {5}, {-1.f, -1.f, 0.f, 2.f, 6.f});
  expect_f32(OpTest("Clip", 6).in(x).attr("min", 0.f).run1(), {5}, {0.f, 0.f, 0.f, 2.f, 8.f});
}

TEST(OpsClip, InputsFromOpset11) {
  Tensor x = f32({5}, {-3.f, -1.f, 0.f, 2.f, 8.f});
  expect_f32(OpTest("Clip", 11).in(x).in(f32({}, {0.f})).in(f32({}, {6.f})).run1(), {5}, {0, 0, 0, 2, 6});
  // Only max given (min omitted).
  expect_f32(OpTest("Clip", 11).in(x).none().in(f32({}, {1.f})).run1(), {5}, {-3, -1, 0, 1, 1});
  // No bounds: identity.
  expect_f32(OpTest("Clip", 11).in(x).run1(), {5}, {-3, -1, 0, 2, 8});
  // min > max: everything becomes max.
  expect_f32(OpTest("Clip", 11).in(x).in(f32({}, {5.f})).in(f32({}, {1.f})).run1(), {5}, {1, 1, 1, 1, 1});
  expect_exact(OpTest("Clip", 12).in(i64({3}, {-9, 4, 9})).in(i64({}, {-2})).in(i64({}, {5})).run1(),
               i64({3}, {-2, 4, 5}));
}

TEST(OpsClip, NonScalarBoundIsAnError) {
  expect_error([] { OpTest("Clip", 11).in(f32({2}, {1, 2})).in(f32({2}, {0, 0})).run1(); },
               ErrorCode::kInvalidModel, {"Clip 'node0'", "scalar"});
}

TEST(OpsBinary, SameShape) {
  Tensor a = f32({2, 2}, {1, 2, 3, 4});
  Tensor b = f32({2, 2}, {10, 20, 30, 40});
  expect_f32(OpTest("Add").in(a).in(b).run1(), {2, 2}, {11, 22, 33, 44});
  expect_f32(OpTest("Sub").in(a).in(b).run1(), {2, 2}, {-9, -18, -27, -36});
  expect_f32(OpTest("Mul").in(a).in(b).run1(), {2, 2}, {10, 40, 90, 160});
  expect_f32(OpTest("Div").in(b).in(a).run1(), {2, 2}, {10, 10, 10, 10});
}

TEST(OpsBinary, NumpyBroadcasting) {
  // [2,1,3] + [4,1] -> [2,4,3]; compare with an index formula.
  Tensor a = ramp({2, 1, 3}, 3), b = ramp({4, 1}, 4);
  Tensor y = OpTest("Sub").in(a).in(b).run1();
  ASSERT_EQ(y.shape(), (Shape{2, 4, 3}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k)
        EXPECT_EQ(y.data<float>()[(i * 4 + j) * 3 + k], a.data<float>()[i * 3 + k] - b.data<float>()[j]);
  // Scalar operand on the left.
  expect_f32(OpTest("Div").in(f32({}, {12.f})).in(f32({3}, {1, 2, 4})).run1(), {3}, {12, 6, 3});
  // Per-channel [1,C,1,1] times [N,C,H,W].
  Tensor x = ramp({2, 3, 2, 2}, 5), s = f32({1, 3, 1, 1}, {1.f, -2.f, 0.5f});
  Tensor z = OpTest("Mul").in(x).in(s).run1();
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 4; ++i) {
        int idx = (n * 3 + c) * 4 + i;
        EXPECT_EQ(z.data<float>()[idx], x.data<float>()[idx] * s.data<float>()[c]);
      }
}

TEST(OpsBinary, Int64ForShapeArithmetic) {
  expect_exact(OpTest("Mul").in(i64({2}, {3, 224})).in(i64({}, {2})).run1(), i64({2}, {6, 448}));
  expect_exact(OpTest("Div").in(i64({3}, {7, -7, 224})).in(i64({}, {2})).run1(), i64({3}, {3, -3, 112}));
  expect_exact(OpTest("Add").in(i32({2}, {1, 2})).in(i32({2}, {3, 4})).run1(), i32({2}, {4, 6}));
}

TEST(OpsBinary, Errors) {
  expect_error([] { OpTest("Add", 13, "add7").in(f32({2, 3}, {1, 2, 3, 4, 5, 6})).in(f32({2}, {1, 2})).run1(); },
               ErrorCode::kShapeMismatch, {"Add 'add7'", "[2,3]", "[2]"});
  expect_error([] { OpTest("Mul").in(f32({1}, {1})).in(i64({1}, {1})).run1(); }, ErrorCode::kInvalidModel,
               {"Mul 'node0'", "different dtypes"});
  expect_error([] { OpTest("Div").in(i64({1}, {1})).in(i64({1}, {0})).run1(); }, ErrorCode::kInvalidArgument,
               {"Div 'node0'", "division by zero"});
  expect_error([] { OpTest("Add").in(f32({1}, {1})).run1(); }, ErrorCode::kInvalidModel, {"Add 'node0'", "1 inputs"});
}

TEST(OpsBinary, PRelu) {
  Tensor x = f32({1, 2, 2}, {-1.f, 2.f, -3.f, 4.f});
  // Per-channel slope [C,1] for [N,C,W].
  expect_f32(OpTest("PRelu").in(x).in(f32({2, 1}, {0.5f, 0.25f})).run1(), {1, 2, 2}, {-0.5f, 2.f, -0.75f, 4.f});
  // Scalar slope.
  expect_f32(OpTest("PRelu").in(x).in(f32({1}, {0.1f})).run1(), {1, 2, 2}, {-0.1f, 2.f, -0.3f, 4.f});
  // The slope must broadcast to X, not enlarge it.
  expect_error([&] { OpTest("PRelu").in(x).in(f32({3, 1, 1, 1}, {1, 1, 1})).run1(); }, ErrorCode::kShapeMismatch,
               {"PRelu 'node0'", "slope"});
}

TEST(OpsCompare, EqualAndWhere) {
  Tensor eq = OpTest("Equal").in(i64({2, 2}, {1, 2, 3, 4})).in(i64({2}, {1, 4})).run1();
  expect_exact(eq, boolean({2, 2}, {1, 0, 0, 1}));
  expect_exact(OpTest("Equal").in(f32({2}, {0.5f, 1.f})).in(f32({}, {1.f})).run1(), boolean({2}, {0, 1}));
  // Where with three-way broadcasting: cond [2,1], X [2], Y scalar.
  Tensor w = OpTest("Where").in(boolean({2, 1}, {1, 0})).in(i64({2}, {7, 8})).in(i64({}, {-1})).run1();
  expect_exact(w, i64({2, 2}, {7, 8, -1, -1}));
  Tensor wf = OpTest("Where").in(boolean({3}, {0, 1, 0})).in(f32({3}, {1, 2, 3})).in(f32({3}, {4, 5, 6})).run1();
  expect_f32(wf, {3}, {4, 2, 6});
  expect_error([] { OpTest("Where").in(f32({1}, {1})).in(f32({1}, {1})).in(f32({1}, {1})).run1(); },
               ErrorCode::kInvalidModel, {"Where 'node0'", "bool"});
}

TEST(OpsCompare, OrderingAndLogic) {
  Tensor a = f32({3}, {1, 2, 3}), b = f32({}, {2});
  expect_exact(OpTest("Greater").in(a).in(b).run1(), boolean({3}, {0, 0, 1}));
  expect_exact(OpTest("Less").in(a).in(b).run1(), boolean({3}, {1, 0, 0}));
  expect_exact(OpTest("GreaterOrEqual").in(a).in(b).run1(), boolean({3}, {0, 1, 1}));
  expect_exact(OpTest("LessOrEqual").in(a).in(b).run1(), boolean({3}, {1, 1, 0}));
  Tensor p = boolean({2, 2}, {0, 0, 1, 1}), q = boolean({2}, {0, 1});
  expect_exact(OpTest("And").in(p).in(q).run1(), boolean({2, 2}, {0, 0, 0, 1}));
  expect_exact(OpTest("Or").in(p).in(q).run1(), boolean({2, 2}, {0, 1, 1, 1}));
  expect_exact(OpTest("Xor").in(p).in(q).run1(), boolean({2, 2}, {0, 1, 1, 0}));
  expect_error([&] { OpTest("And", 13, "and").in(a).in(a).run1(); }, ErrorCode::kUnsupported, {"And 'and'", "bool"});
}

TEST(OpsBinary, ModSignConventions) {
  // fmod=0: sign of the divisor; fmod=1: sign of the dividend.
  expect_exact(OpTest("Mod").in(i64({4}, {7, -7, 7, -7})).in(i64({4}, {3, 3, -3, -3})).run1(), i64({4}, {1, 2, -2, -1}));
  expect_exact(OpTest("Mod").in(i64({4}, {7, -7, 7, -7})).in(i64({4}, {3, 3, -3, -3})).attr("fmod", int64_t{1}).run1(),
               i64({4}, {1, -1, 1, -1}));
  expect_f32(OpTest("Mod").in(f32({2}, {5.5f, -5.5f})).in(f32({}, {2.f})).attr("fmod", int64_t{1}).run1(), {2},
             {1.5f, -1.5f});
  expect_error([] { OpTest("Mod", 13, "m").in(f32({1}, {1})).in(f32({1}, {1})).run1(); }, ErrorCode::kInvalidModel,
               {"Mod 'm'", "fmod=1"});
  expect_error([] { OpTest("Mod", 13, "m").in(i32({1}, {1})).in(i32({1}, {0})).run1(); }, ErrorCode::kInvalidArgument,
               {"Mod 'm'", "by zero"});
}

TEST(OpsVariadic, MinMaxSumMean) {
  Tensor a = f32({2, 2}, {1, 5, 3, 8});
  Tensor b = f32({2}, {4, 4});
  Tensor c = f32({}, {2});
  expect_f32(OpTest("Max").in(a).in(b).in(c).run1(), {2, 2}, {4, 5, 4, 8});
  expect_f32(OpTest("Min").in(a).in(b).in(c).run1(), {2, 2}, {1, 2, 2, 2});
  expect_f32(OpTest("Sum").in(a).in(b).in(c).run1(), {2, 2}, {7, 11, 9, 14});
  expect_f32(OpTest("Mean").in(a).in(b).in(c).run1(), {2, 2}, {7.f / 3, 11.f / 3, 3.f, 14.f / 3});
  // A single input is copied.
  expect_f32(OpTest("Sum").in(a).run1(), {2, 2}, {1, 5, 3, 8});
  // Broadcasting to a shape none of the inputs has.
  expect_f32(OpTest("Max").in(f32({2, 1}, {0, 10})).in(f32({1, 3}, {-1, 5, 20})).run1(), {2, 3},
             {0, 5, 20, 10, 10, 20});
  expect_exact(OpTest("Min", 13).in(i64({2}, {3, -1})).in(i64({2}, {2, 0})).run1(), i64({2}, {2, -1}));
}

TEST(OpsInfer, BroadcastToleratesUnknownDims) {
  auto out = OpTest::infer("Add", {shaped({-1, 3, 1}), shaped({4})});
  EXPECT_EQ(out[0].shape, (Shape{-1, 3, 4}));
  auto out2 = OpTest::infer("Relu", {shaped({-1, 8})});
  EXPECT_EQ(out2[0].shape, (Shape{-1, 8}));
}

}  // namespace
}  // namespace lapq::test
