// MaxPool, AveragePool (1-D to 3-D: pads, strides, dilations for MaxPool,
// ceil_mode, auto_pad, count_include_pad) and the global pools.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/op_util.h"
#include "engine/ops/window.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

bool is_max(const Node& node) { return node.op == "MaxPool"; }

constexpr int64_t kMaxPoolWorkPerPlane = int64_t{1} << 32;

Window pool_window(const Node& node, const Shape& x, const std::string& where) {
  std::vector<int64_t> kernel = node.attrs.get_ints("kernel_shape");
  LAPQ_CHECK(!kernel.empty(), ErrorCode::kInvalidModel, where, ": missing kernel_shape");
  std::vector<int64_t> in(x.begin() + 2, x.end());
  return compute_window(node, in, kernel, node.attrs.get_int("ceil_mode", 0) != 0, is_max(node), where);
}

void pool_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  if (is_max(ctx.node)) {
    require_dtype(ctx, 0, {DType::kF32, DType::kF64, DType::kI8, DType::kU8});
    max_outputs(ctx, 1, "MaxPool's Indices output");
  } else {
    require_dtype(ctx, 0, {DType::kF32, DType::kF64});
  }
  LAPQ_CHECK(x.shape.size() >= 3 && x.shape.size() <= 5, ErrorCode::kShapeMismatch, ctx.where(),
             ": input must be [N,C,spatial...] with 1 to 3 spatial dims, got ", shape_str(x.shape));
  Window w = pool_window(ctx.node, x.shape, ctx.where());
  // The kernel comes from an attribute, not from data: a tiny file can ask
  // for a 10^6-wide window over a padded 1x1 input. Bound the work per (n, c)
  // plane (output positions x window positions; ResNet's stem pool: 1.1e5).
  __int128 work = 1;
  for (size_t i = 0; i < w.out.size() && work <= kMaxPoolWorkPerPlane; ++i) {
    work *= std::max<int64_t>(w.out[i], 1);  // each factor < 2^63, work <= 2^32 before: fits
    if (work <= kMaxPoolWorkPerPlane) work *= w.kernel[i];
  }
  LAPQ_CHECK(work <= kMaxPoolWorkPerPlane, ErrorCode::kLimit, ctx.where(), ": kernel ", shape_str(w.kernel),
             " over output ", shape_str(w.out), " exceeds lapq's limit of ", kMaxPoolWorkPerPlane,
             " window positions per channel");
  Shape out{x.shape[0], x.shape[1]};
  out.insert(out.end(), w.out.begin(), w.out.end());
  set_out(ctx, 0, x.dtype, out);
}

// Pools each (n, c) plane; spatial dims are padded to 3 (leading 1s) so one
// loop nest serves 1-D, 2-D and 3-D.
void pool_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  Tensor& y = *out[0];
  Window w = pool_window(node, x.shape(), node_where(node));
  const size_t nd = w.kernel.size();
  auto pad3 = [&](std::vector<int64_t> v, int64_t fill) {
    v.insert(v.begin(), 3 - nd, fill);
    return v;
  };
  std::vector<int64_t> in_sp(x.shape().begin() + 2, x.shape().end());
  const auto I = pad3(in_sp, 1), O = pad3(w.out, 1), K = pad3(w.kernel, 1), S = pad3(w.strides, 1),
             D = pad3(w.dilations, 1), PB = pad3(w.pads_begin, 0), PE = pad3(w.pads_end, 0);
  const bool max = is_max(node);
  const bool include_pad = node.attrs.get_int("count_include_pad", 0) != 0;
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t in_plane = I[0] * I[1] * I[2], out_plane = O[0] * O[1] * O[2];
  dispatch_numeric(x.dtype(), node_where(node), [&]<class T>() {
    const T* src = x.data<T>();
    T* dst = y.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      const T* xp = src + p * in_plane;
      T* yp = dst + p * out_plane;
      for (int64_t od = 0; od < O[0]; ++od)
        for (int64_t oh = 0; oh < O[1]; ++oh)
          for (int64_t ow = 0; ow < O[2]; ++ow) {
            const int64_t d0 = od * S[0] - PB[0], h0 = oh * S[1] - PB[1], w0 = ow * S[2] - PB[2];
            T best = std::numeric_limits<T>::lowest();
            double sum = 0.0;
            int64_t valid = 0, padded = 0;
            for (int64_t kd = 0; kd < K[0]; ++kd) {
              const int64_t id = d0 + kd * D[0];
              if (id >= I[0] + PE[0]) break;
              for (int64_t kh = 0; kh < K[1]; ++kh) {
                const int64_t ih = h0 + kh * D[1];
                if (ih >= I[1] + PE[1]) break;
                for (int64_t kw = 0; kw < K[2]; ++kw) {
                  const int64_t iw = w0 + kw * D[2];
                  if (iw >= I[2] + PE[2]) break;
                  ++padded;  // inside the padded input (ceil_mode windows may reach past it)
                  if (id < 0 || ih < 0 || iw < 0 || id >= I[0] || ih >= I[1] || iw >= I[2]) continue;
                  const T v = xp[(id * I[1] + ih) * I[2] + iw];
                  ++valid;
                  if (max) best = std::max(best, v);
                  else sum += static_cast<double>(v);
                }
              }
            }
            T& dstv = yp[(od * O[1] + oh) * O[2] + ow];
            if (max) dstv = best;
            else dstv = static_cast<T>(sum / static_cast<double>(include_pad ? padded : std::max<int64_t>(valid, 1)));
          }
    }
  });
}

// ---- global pools -------------------------------------------------------------

void global_pool_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  require_dtype(ctx, 0, {DType::kF32, DType::kF64});
  LAPQ_CHECK(x.shape.size() >= 3, ErrorCode::kShapeMismatch, ctx.where(), ": input must be [N,C,spatial...], got ",
             shape_str(x.shape));
  Shape out = x.shape;
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  set_out(ctx, 0, x.dtype, out);
}

void global_pool_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t size = prod(x.shape(), 2, x.shape().size());
  const bool max = node.op == "GlobalMaxPool";
  dispatch_numeric(x.dtype(), node_where(node), [&]<class T>() {
    const T* src = x.data<T>();
    T* dst = out[0]->data<T>();
    for (int64_t p = 0; p < planes; ++p) {
      const T* xp = src + p * size;
      if (max) {
        T best = std::numeric_limits<T>::lowest();
        for (int64_t i = 0; i < size; ++i) best = std::max(best, xp[i]);
        dst[p] = best;
      } else {
        double sum = 0.0;
        for (int64_t i = 0; i < size; ++i) sum += xp[i];
        dst[p] = static_cast<T>(sum / static_cast<double>(size));
      }
    }
  });
}

}  // namespace

void register_pool_ops(OpRegistry& r) {
  r.add(make_schema("MaxPool", 1, 1, 1, pool_infer, pool_ref));
  r.add(make_schema("AveragePool", 1, 1, 1, pool_infer, pool_ref));
  r.add(make_schema("GlobalAveragePool", 1, 1, 1, global_pool_infer, global_pool_ref));
  r.add(make_schema("GlobalMaxPool", 1, 1, 1, global_pool_infer, global_pool_ref));
}

}  // namespace lapq::ops
