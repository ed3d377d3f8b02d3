// Conv (1-D and 2-D, groups / depthwise, dilation, explicit pads or auto_pad,
// optional bias). float32 NCHW.
#include "engine/ops/op_util.h"
#include "engine/ops/window.h"

namespace lapq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

// x: [N, C, spatial...], w: [M, C/group, kernel...].
Window conv_window(const Node& node, const Shape& x, const Shape& w, const std::string& where) {
  std::vector<int64_t> in(x.begin() + 2, x.end());
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  return compute_window(node, in, kernel, false, true, where);
}

void conv_infer(InferContext& ctx) {
  check_arity(ctx);
  const Value& x = req_in(ctx, 0);
  const Value& w = req_in(ctx, 1);
  require_dtype(ctx, 0, {DType::kF32});
  require_dtype(ctx, 1, {DType::kF32});
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  LAPQ_CHECK(rank == 3 || rank == 4, rank >= 5 ? ErrorCode::kUnsupported : ErrorCode::kShapeMismatch, ctx.where(),
             ": input must be [N,C,W] or [N,C,H,W], got ", shape_str(x.shape));
  LAPQ_CHECK(static_cast<int64_t>(w.shape.size()) == rank, ErrorCode::kShapeMismatch, ctx.where(), ": weight shape ",
             shape_str(w.shape), " has rank ", w.shape.size(), " but the input has rank ", rank);
  const int64_t group = ctx.node.attrs.get_int("group", 1);
  const int64_t OC = w.shape[0];
  LAPQ_CHECK(group >= 1 && OC >= 0 && OC % group == 0, ErrorCode::kInvalidModel, ctx.where(), ": ", OC,
             " output channels are not divisible by group ", group);
  if (x.shape[1] >= 0 && w.shape[1] >= 0)
    LAPQ_CHECK(x.shape[1] == checked_mul(w.shape[1], group, ctx.where()), ErrorCode::kShapeMismatch, ctx.where(),
               ": input has ", x.shape[1], " channels but weight expects ", w.shape[1] * group, " (", w.shape[1],
               " per group x ", group, " groups)");
  std::vector<int64_t> ks = ctx.node.attrs.get_ints("kernel_shape");
  if (!ks.empty())
    LAPQ_CHECK(ks == std::vector<int64_t>(w.shape.begin() + 2, w.shape.end()), ErrorCode::kInvalidModel, ctx.where(),
               ": kernel_shape attribute does not match the weight shape ", shape_str(w.shape));
  if (has_in(ctx, 2)) {
    const Value& b = req_in(ctx, 2);
    require_dtype(ctx, 2, {DType::kF32});
    LAPQ_CHECK(b.shape.size() == 1 && (b.shape[0] == OC || b.shape[0] < 0), ErrorCode::kShapeMismatch, ctx.where(),
               ": bias shape ", shape_str(b.shape), " does not match ", OC, " output channels");
  }
  Window win = conv_window(ctx.node, x.shape, w.shape, ctx.where());
  Shape out{x.shape[0], OC};
  out.insert(out.end(), win.out.begin(), win.out.end());
  set_out(ctx, 0, DType::kF32, out);
}

// Direct convolution. Loop order: per (image, output channel) plane, add one
// input channel x one kernel tap at a time over contiguous output rows, so the
// inner loop is a strided axpy the compiler vectorizes for stride 1.
void conv_ref(const Node& node, In in, Out out) {
  const Tensor& x = *in[0];
  const Tensor& w = *in[1];
  const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
  Tensor& y = *out[0];
  const bool is1d = x.rank() == 3;
  // A 1-D conv is a 2-D conv with H = KH = 1.
  const Shape xs = is1d ? Shape{x.dim(0), x.dim(1), 1, x.dim(2)} : x.shape();
  const Shape ws = is1d ? Shape{w.dim(0), w.dim(1), 1, w.dim(2)} : w.shape();
  Window win = conv_window(node, x.shape(), w.shape(), node_where(node));
  if (is1d) {
    for (auto* v : {&win.kernel, &win.strides, &win.dilations, &win.out}) v->insert(v->begin(), 1);
    for (auto* v : {&win.pads_begin, &win.pads_end}) v->insert(v->begin(), 0);
  }
  const int64_t N = xs[0], IC = xs[1], H = xs[2], W = xs[3];
  const int64_t OC = ws[0], ICg = ws[1], KH = ws[2], KW = ws[3];
  const int64_t OH = win.out[0], OW = win.out[1];
  const int64_t SH = win.strides[0], SW = win.strides[1], DH = win.dilations[0], DW = win.dilations[1];
  const int64_t PH = win.pads_begin[0], PW = win.pads_begin[1];
  const int64_t group = node.attrs.get_int("group", 1);
  const int64_t OCg = OC / group;
  const float* src = x.data<float>();
  const float* wei = w.data<float>();
  const float* b = bias ? bias->data<float>() : nullptr;
  float* dst = y.data<float>();

  // Output columns [ow_lo[kw], ow_hi[kw]) read inside the input for tap kw.
  std::vector<int64_t> ow_lo(KW), ow_hi(KW);
  for (int64_t kw = 0; kw < KW; ++kw) {
    const int64_t off = kw * DW - PW;  // iw = ow * SW + off
    int64_t lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
    int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / SW + 1;
    ow_lo[kw] = std::min(lo, OW);
    ow_hi[kw] = std::min(hi, OW);
  }

#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < N * OC; ++plane) {
    const int64_t n = plane / OC, oc = plane % OC, g = oc / OCg;
    float* yp = dst + plane * OH * OW;
    const float init = b ? b[oc] : 0.f;
    for (int64_t i = 0; i < OH * OW; ++i) yp[i] = init;
    for (int64_t icg = 0; icg < ICg; ++icg) {
      const float* xp = src + (n * IC + g * ICg + icg) * H * W;
      const float* wp = wei + (oc * ICg + icg) * KH * KW;
      for (int64_t kh = 0; kh < KH; ++kh) {
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * SH - PH + kh * DH;
          if (ih < 0 || ih >= H) continue;
          const float* xrow = xp + ih * W;
          float* yrow = yp + oh * OW;
          for (int64_t kw = 0; kw < KW; ++kw) {
            const float wv = wp[kh * KW + kw];
            const int64_t off = kw * DW - PW;
            for (int64_t ow = ow_lo[kw]; ow < ow_hi[kw]; ++ow) yrow[ow] += wv * xrow[ow * SW + off];
          }
        }
      }
    }
  }
}

}  // namespace

void register_conv_ops(OpRegistry& r) { r.add(make_schema("Conv", 2, 3, 1, conv_infer, conv_ref)); }

}  // namespace lapq::ops
