// Gemm (alpha, beta, transA, transB, broadcast C) and numpy-style MatMul
// (batched, broadcast batch dims, 1-D operands).
#include "engine/ops/op_util.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

// ---- Gemm -------------------------------------------------------------------

void gemm_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& a = req_in(ctx, 0);
  const Value& b = req_in(ctx, 1);
  require_dtype(ctx, 0, {DType::kF32});
  require_dtype(ctx, 1, {DType::kF32});
  LAPQ_CHECK(a.shape.size() == 2 && b.shape.size() == 2, ErrorCode::kShapeMismatch, ctx.where(),
             ": A and B must be 2-D, got ", shape_str(a.shape), " and ", shape_str(b.shape));
  const bool ta = ctx.node.attrs.get_int("transA", 0) != 0;
  const bool tb = ctx.node.attrs.get_int("transB", 0) != 0;
  const int64_t M = ta ? a.shape[1] : a.shape[0];
  const int64_t K = ta ? a.shape[0] : a.shape[1];
  const int64_t Kb = tb ? b.shape[1] : b.shape[0];
  const int64_t N = tb ? b.shape[0] : b.shape[1];
  LAPQ_CHECK(K < 0 || Kb < 0 || K == Kb, ErrorCode::kShapeMismatch, ctx.where(), ": A", (ta ? "^T" : ""), " is ",
             M, "x", K, " but B", (tb ? "^T" : ""), " is ", Kb, "x", N);
  if (has_in(ctx, 2)) {
    const Value& c = req_in(ctx, 2);
    require_dtype(ctx, 2, {DType::kF32});
    LAPQ_CHECK(c.shape.size() <= 2, ErrorCode::kShapeMismatch, ctx.where(), ": C has rank ", c.shape.size());
    const Shape y{M, N};
    LAPQ_CHECK(broadcasts_to(c.shape, y), ErrorCode::kShapeMismatch, ctx.where(), ": C shape ", shape_str(c.shape),
               " does not broadcast to ", shape_str(y));
  }
  set_out(ctx, 0, DType::kF32, {M, N});
}

void gemm_ref(const Node& node, In in, Out out) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  const Tensor* c = in.size() > 2 ? in[2] : nullptr;
  Tensor& y = *out[0];
  const bool ta = node.attrs.get_int("transA", 0) != 0;
  const bool tb = node.attrs.get_int("transB", 0) != 0;
  const float alpha = node.attrs.get_float("alpha", 1.f);
  const float beta = node.attrs.get_float("beta", 1.f);
  const int64_t M = y.dim(0), N = y.dim(1), K = ta ? a.dim(0) : a.dim(1);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* py = y.data<float>();
  std::vector<int64_t> cs;
  if (c) cs = broadcast_strides(c->shape(), y.shape());
  const float* pc = c ? c->data<float>() : nullptr;
#pragma omp parallel for schedule(static)
  for (int64_t m = 0; m < M; ++m) {
    std::vector<float> acc(N, 0.f);
    for (int64_t k = 0; k < K; ++k) {
      const float av = ta ? pa[k * M + m] : pa[m * K + k];
      if (tb) {
        for (int64_t n = 0; n < N; ++n) acc[n] += av * pb[n * K + k];
      } else {
        const float* brow = pb + k * N;
        for (int64_t n = 0; n < N; ++n) acc[n] += av * brow[n];
      }
    }
    for (int64_t n = 0; n < N; ++n) {
      float v = alpha * acc[n];
      if (pc) v += beta * pc[m * cs[0] + n * cs[1]];
      py[m * N + n] = v;
    }
  }
}

// ---- MatMul -------------------------------------------------------------------

void matmul_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& a = req_in(ctx, 0);
  const Value& b = req_in(ctx, 1);
  require_dtype(ctx, 0, {DType::kF32, DType::kF64, DType::kI32, DType::kI64});
  LAPQ_CHECK(a.dtype == b.dtype, ErrorCode::kInvalidModel, ctx.where(), ": inputs have different dtypes (",
             dtype_name(a.dtype), ", ", dtype_name(b.dtype), ")");
  LAPQ_CHECK(!a.shape.empty() && !b.shape.empty(), ErrorCode::kShapeMismatch, ctx.where(),
             ": inputs must have rank >= 1, got ", shape_str(a.shape), " and ", shape_str(b.shape));
  const int64_t K = a.shape.back();
  const int64_t Kb = b.shape.size() == 1 ? b.shape[0] : b.shape[b.shape.size() - 2];
  LAPQ_CHECK(K < 0 || Kb < 0 || K == Kb, ErrorCode::kShapeMismatch, ctx.where(), ": inner dimensions differ: ",
             shape_str(a.shape), " x ", shape_str(b.shape));
  Shape ba = a.shape.size() > 2 ? Shape(a.shape.begin(), a.shape.end() - 2) : Shape{};
  Shape bb = b.shape.size() > 2 ? Shape(b.shape.begin(), b.shape.end() - 2) : Shape{};
  Shape y = broadcast_shapes(ba, bb, ctx.where());
  if (a.shape.size() >= 2) y.push_back(a.shape[a.shape.size() - 2]);
  if (b.shape.size() >= 2) y.push_back(b.shape.back());
  set_out(ctx, 0, a.dtype, y);
}

void matmul_ref(const Node& node, In in, Out out) {
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  Tensor& y = *out[0];
  // View both operands as [batch..., rows, cols] (1-D A is a row, 1-D B a column).
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  Shape abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
  Shape batch = broadcast_shapes(abatch, bbatch, node_where(node));
  const int64_t nbatch = shape_numel(batch);
  const auto ast = broadcast_strides(abatch, batch), bst = broadcast_strides(bbatch, batch);
  const auto yst = strides_of(batch);
  dispatch_numeric(a.dtype(), node_where(node), [&]<class T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t bi = 0; bi < nbatch; ++bi) {
      int64_t aoff = 0, boff = 0, rem = bi;
      for (size_t d = 0; d < batch.size(); ++d) {
        const int64_t idx = rem / yst[d];
        rem %= yst[d];
        aoff += idx * ast[d];
        boff += idx * bst[d];
      }
      const T* A = pa + aoff * M * K;
      const T* B = pb + boff * K * N;
      T* Y = py + bi * M * N;
      for (int64_t m = 0; m < M; ++m) {
        T* yrow = Y + m * N;
        for (int64_t n = 0; n < N; ++n) yrow[n] = T(0);
        for (int64_t k = 0; k < K; ++k) {
          const T av = A[m * K + k];
          const T* brow = B + k * N;
          for (int64_t n = 0; n < N; ++n) yrow[n] += av * brow[n];
        }
      }
    }
  });
}

}  // namespace

void register_matmul_ops(OpRegistry& r) {
  r.add(make_schema("Gemm", 2, 3, 7, gemm_infer, gemm_ref));
  r.add(make_schema("MatMul", 2, 2, 1, matmul_infer, matmul_ref));
}

}  // namespace lapq::ops
