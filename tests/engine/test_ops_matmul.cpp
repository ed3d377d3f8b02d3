// Gemm and MatMul.
#include "tests/engine/test_ops_util.h"

namespace lapq::test {
namespace {

TEST(OpsGemm, PlainAndTransposed) {
  Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = f32({3, 2}, {1, 0, 0, 1, 1, 1});
  // [1+3, 2+3; 4+6, 5+6]
  expect_f32(OpTest("Gemm").in(a).in(b).run1(), {2, 2}, {4, 5, 10, 11});
  Tensor at = f32({3, 2}, {1, 4, 2, 5, 3, 6});  // a^T
  Tensor bt = f32({2, 3}, {1, 0, 1, 0, 1, 1});  // b^T
  expect_f32(OpTest("Gemm").in(at).in(bt).attr("transA", int64_t{1}).attr("transB", int64_t{1}).run1(), {2, 2},
             {4, 5, 10, 11});
}

TEST(OpsGemm, AlphaBetaAndBroadcastC) {
  Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = f32({3, 2}, {1, 0, 0, 1, 1, 1});
  // alpha 2, beta 0.5, C [N]
  expect_f32(OpTest("Gemm").in(a).in(b).in(f32({2}, {10, 20})).attr("alpha", 2.f).attr("beta", 0.5f).run1(), {2, 2},
             {13, 20, 25, 32});
  // C [M,1]
  expect_f32(OpTest("Gemm").in(a).in(b).in(f32({2, 1}, {100, 200})).run1(), {2, 2}, {104, 105, 210, 211});
  // C scalar
  expect_f32(OpTest("Gemm").in(a).in(b).in(f32({}, {1})).run1(), {2, 2}, {5, 6, 11, 12});
  // C omitted (opset 11+)
  expect_f32(OpTest("Gemm").in(a).in(b).none().run1(), {2, 2}, {4, 5, 10, 11});
}

TEST(OpsGemm, Errors) {
  expect_error([] { OpTest("Gemm", 13, "fc").in(ramp({2, 3})).in(ramp({4, 2})).run1(); }, ErrorCode::kShapeMismatch,
               {"Gemm 'fc'", "2x3", "4x2"});
  expect_error([] { OpTest("Gemm", 13, "fc").in(ramp({2, 3, 1})).in(ramp({3, 2})).run1(); },
               ErrorCode::kShapeMismatch, {"Gemm 'fc'", "2-D"});
  expect_error([] { OpTest("Gemm", 13, "fc").in(ramp({2, 3})).in(ramp({3, 2})).in(ramp({3})).run1(); },
               ErrorCode::kShapeMismatch, {"Gemm 'fc'", "C shape"});
}

// Naive batched matmul over explicit broadcast batch indices.
TEST(OpsMatMul, BatchedBroadcastAgainstNaive) {
  Tensor a = ramp({2, 1, 3, 4}, 1);
  Tensor b = ramp({3, 4, 5}, 2);
  Tensor y = OpTest("MatMul").in(a).in(b).run1();
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3, 5}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int m = 0; m < 3; ++m)
        for (int n = 0; n < 5; ++n) {
          double acc = 0;
          for (int k = 0; k < 4; ++k)
            acc += static_cast<double>(a.data<float>()[(i * 3 + m) * 4 + k]) * b.data<float>()[(j * 4 + k) * 5 + n];
          EXPECT_NEAR(y.data<float>()[((i * 3 + j) * 3 + m) * 5 + n], acc, 1e-5);
        }
}

TEST(OpsMatMul, OneDimensionalOperands) {
  Tensor v = f32({3}, {1, 2, 3});
  Tensor m = f32({3, 2}, {1, 4, 2, 5, 3, 6});
  expect_f32(OpTest("MatMul").in(v).in(m).run1(), {2}, {14, 32});
  Tensor mt = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_f32(OpTest("MatMul").in(mt).in(v).run1(), {2}, {14, 32});
  expect_f32(OpTest("MatMul").in(v).in(v).run1(), {}, {14});
  // Batched matrix times vector: [2,2,3] x [3] -> [2,2].
  Tensor bm = f32({2, 2, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  expect_f32(OpTest("MatMul").in(bm).in(v).run1(), {2, 2}, {1, 2, 3, 6});
  expect_exact(OpTest("MatMul").in(i64({1, 2}, {2, 3})).in(i64({2, 1}, {4, 5})).run1(), i64({1, 1}, {23}));
}

TEST(OpsMatMul, Errors) {
  expect_error([] { OpTest("MatMul", 13, "mm").in(ramp({2, 3})).in(ramp({4, 2})).run1(); },
               ErrorCode::kShapeMismatch, {"MatMul 'mm'", "inner dimensions"});
  expect_error([] { OpTest("MatMul", 13, "mm").in(ramp({2, 2, 3})).in(ramp({3, 3, 2})).run1(); },
               ErrorCode::kShapeMismatch, {"MatMul 'mm'", "broadcast"});
}

}  // namespace
}  // namespace lapq::test
