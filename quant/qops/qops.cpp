// lapq.Quantize / lapq.Dequantize / lapq.QConv: shape inference, reference
// implementations and the PackedConv fast kernel (see qops.h).
#include "quant/qops/qops.h"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <span>

#include "engine/op_registry.h"
#include "kernels/conv.h"
#include "kernels/reference.h"
#include "quant/grid.h"
#include "quant/qops/qops_internal.h"

namespace lapq::quant {

qops::QuantAttrs qops::quant_attrs(const Node& n) {
  QuantAttrs a;
  a.scale = n.attrs.get_float("scale", 1.f);
  a.zero_point = static_cast<int32_t>(n.attrs.get_int("zero_point", 0));
  a.qmin = static_cast<int32_t>(n.attrs.get_int("qmin", 0));
  a.qmax = static_cast<int32_t>(n.attrs.get_int("qmax", 255));
  LAPQ_CHECK(a.scale > 0.f && a.zero_point >= 0 && a.zero_point <= 255 && a.qmin >= 0 && a.qmin <= a.qmax &&
                 a.qmax <= 255,
             ErrorCode::kInvalidModel, where_of(n), ": bad quantization attributes scale=", a.scale,
             " zero_point=", a.zero_point, " qmin=", a.qmin, " qmax=", a.qmax);
  return a;
}

qops::QAddInputAttrs qops::qadd_input_attrs(const Node& n, int i) {
  const std::string sfx = i == 0 ? "_a" : "_b";
  QAddInputAttrs x;
  x.layout = n.attrs.get_int("layout" + sfx, 0);
  x.scale = n.attrs.get_float("scale" + sfx, 1.f);
  x.zero_point = static_cast<int32_t>(n.attrs.get_int("zero_point" + sfx, 0));
  LAPQ_CHECK(x.layout >= 0 && x.layout <= 2 && x.scale > 0.f && x.zero_point >= 0 && x.zero_point <= 255,
             ErrorCode::kInvalidModel, where_of(n), ": input ", i, " has layout ", x.layout, ", scale ", x.scale,
             ", zero point ", x.zero_point);
  return x;
}

namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

using qops::QuantAttrs;
using qops::quant_attrs;
using qops::where_of;

// [N, C, H, W] or [N, K] -> (N, C, HW).
void nchw_dims(const Shape& s, int64_t* N, int64_t* C, int64_t* HW) {
  *N = s[0];
  *C = s[1];
  *HW = s.size() == 4 ? s[2] * s[3] : 1;
}

void quantize_infer(InferContext& ctx) {
  const Value& x = *ctx.in.at(0);
  LAPQ_CHECK(x.dtype == DType::kF32 && (x.shape.size() == 4 || x.shape.size() == 2), ErrorCode::kUnsupported,
             ctx.where(), ": quantizes f32 [N,C,H,W] or [N,K], got ", dtype_name(x.dtype), " ", shape_str(x.shape));
  const Shape& s = x.shape;
  ctx.out.at(0)->dtype = DType::kU8;
  ctx.out[0]->shape = s.size() == 4 ? Shape{s[0], s[2], s[3], s[1]} : Shape{s[0], 1, 1, s[1]};
  ctx.out[0]->has_shape = true;
}

void quantize_run(const Node& node, In in, Out out) {
  const QuantAttrs a = quant_attrs(node);
  int64_t N, C, HW;
  nchw_dims(in[0]->shape(), &N, &C, &HW);
  const float* src = in[0]->data<float>();
  uint8_t* dst = out[0]->data<uint8_t>();
  const float scale = a.scale, lo = float(a.qmin - a.zero_point), hi = float(a.qmax - a.zero_point);
  const int32_t zp = a.zero_point;
  constexpr int64_t kBlock = 64;  // pixels per work item: a block's codes stay in L1 for the transpose
  const int64_t blocks = (HW + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (N * C * HW > 32768)
  for (int64_t item = 0; item < N * blocks; ++item) {
    const int64_t n = item / blocks, p0 = (item % blocks) * kBlock, len = std::min(HW, p0 + kBlock) - p0;
    alignas(64) uint8_t tile[kBlock * 64];  // (channel, pixel) codes of up to 64 channels
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
      const int64_t cn = std::min<int64_t>(64, C - c0);
      for (int64_t c = 0; c < cn; ++c) {
        const float* sp = src + (n * C + c0 + c) * HW + p0;
        uint8_t* t = tile + c * kBlock;
        for (int64_t p = 0; p < len; ++p) {  // contiguous: vectorizes (divide, clamp, round)
          // The grid's formula (quant/grid.h detail::fake_quantize_affine): divide, clamp, round.
          float v = sp[p] / scale;
          v = v < lo ? lo : v;
          v = v > hi ? hi : v;
          t[p] = static_cast<uint8_t>(static_cast<int32_t>(detail::rne_small(v)) + zp);
        }
      }
      uint8_t* d = dst + (n * HW + p0) * C + c0;
      for (int64_t p = 0; p < len; ++p)
        for (int64_t c = 0; c < cn; ++c) d[p * C + c] = tile[c * kBlock + p];
    }
  }
}

void dequantize_infer(InferContext& ctx) {
  const Value& q = *ctx.in.at(0);
  LAPQ_CHECK(q.dtype == DType::kU8 && q.shape.size() == 4, ErrorCode::kUnsupported, ctx.where(),
             ": dequantizes u8 [N,H,W,C], got ", dtype_name(q.dtype), " ", shape_str(q.shape));
  const int64_t rank = ctx.node.attrs.get_int("rank", 4);
  const Shape& s = q.shape;
  LAPQ_CHECK(rank == 4 || (rank == 2 && s[1] == 1 && s[2] == 1), ErrorCode::kInvalidModel, ctx.where(),
             ": rank ", rank, " output from ", shape_str(s));
  ctx.out.at(0)->dtype = DType::kF32;
  ctx.out[0]->shape = rank == 4 ? Shape{s[0], s[3], s[1], s[2]} : Shape{s[0], s[3]};
  ctx.out[0]->has_shape = true;
}

void dequantize_run(const Node& node, In in, Out out) {
  const QuantAttrs a = quant_attrs(node);
  const Shape& s = in[0]->shape();
  const int64_t N = s[0], HW = s[1] * s[2], C = s[3];
  const uint8_t* src = in[0]->data<uint8_t>();
  float* dst = out[0]->data<float>();
  const float scale = a.scale;
  const int32_t zp = a.zero_point;
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (HW + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (N * C * HW > 32768)
  for (int64_t item = 0; item < N * blocks; ++item) {
    const int64_t n = item / blocks, p0 = (item % blocks) * kBlock, len = std::min(HW, p0 + kBlock) - p0;
    alignas(64) uint8_t tile[kBlock * 64];  // (channel, pixel) codes of up to 64 channels
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
      const int64_t cn = std::min<int64_t>(64, C - c0);
      const uint8_t* q = src + (n * HW + p0) * C + c0;
      for (int64_t p = 0; p < len; ++p)
        for (int64_t c = 0; c < cn; ++c) tile[c * kBlock + p] = q[p * C + c];
      for (int64_t c = 0; c < cn; ++c) {
        const uint8_t* t = tile + c * kBlock;
        float* d = dst + (n * C + c0 + c) * HW + p0;
        // (r * 1 + 0) * step with r = code - zp: grid.h's fake_quantize_affine.
        for (int64_t p = 0; p < len; ++p) d[p] = static_cast<float>(static_cast<int32_t>(t[p]) - zp) * scale;
      }
    }
  }
}

// ---- QAdd -------------------------------------------------------------------------

void qadd_infer(InferContext& ctx) {
  Shape nchw[2];
  for (int i = 0; i < 2; ++i) {
    const Value& x = *ctx.in.at(i);
    const int64_t layout = ctx.node.attrs.get_int(i == 0 ? "layout_a" : "layout_b", 0);
    const bool u8 = layout == 1, nhwc = layout != 0;
    LAPQ_CHECK(layout >= 0 && layout <= 2 && x.shape.size() == 4 && x.dtype == (u8 ? DType::kU8 : DType::kF32),
               ErrorCode::kInvalidModel, ctx.where(), ": input ", i, " (layout ", layout, ") is ", dtype_name(x.dtype),
               " ", shape_str(x.shape));
    nchw[i] = nhwc ? Shape{x.shape[0], x.shape[3], x.shape[1], x.shape[2]} : x.shape;
  }
  LAPQ_CHECK(nchw[0] == nchw[1], ErrorCode::kShapeMismatch, ctx.where(), ": inputs ", shape_str(nchw[0]), " and ",
             shape_str(nchw[1]), " differ");
  const Shape& s = nchw[0];
  ctx.out.at(0)->dtype = DType::kU8;
  ctx.out[0]->shape = {s[0], s[2], s[3], s[1]};
  ctx.out[0]->has_shape = true;
}

void qadd_run(const Node& node, In in, Out out) {
  const QuantAttrs o = quant_attrs(node);
  const Shape& ys = out[0]->shape();
  const int64_t N = ys[0], HW = ys[1] * ys[2], C = ys[3];
  struct Input {
    int64_t layout;
    const void* p;
    float scale;
    int32_t zp;
  } x[2];
  for (int i = 0; i < 2; ++i) {
    const qops::QAddInputAttrs ia = qops::qadd_input_attrs(node, i);
    x[i].layout = ia.layout;
    x[i].p = in[i]->raw();
    x[i].scale = ia.scale;
    x[i].zp = ia.zero_point;
  }
  uint8_t* dst = out[0]->data<uint8_t>();
  const float scale = o.scale, lo = float(o.qmin - o.zero_point), hi = float(o.qmax - o.zero_point);
  const int32_t zp = o.zero_point;
  constexpr int64_t kBlock = 64;
  if (x[0].layout != 0 && x[1].layout != 0) {  // both NHWC: one contiguous pass, no transpose
    const int64_t total = N * HW * C, chunks = (total + 4095) / 4096;
#pragma omp parallel for schedule(static) if (total > 32768)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const int64_t i0 = ch * 4096, len = std::min<int64_t>(4096, total - i0);
      alignas(64) float row[2][kBlock];
      for (int64_t b0 = 0; b0 < len; b0 += kBlock) {
        const int64_t bl = std::min<int64_t>(kBlock, len - b0), off = i0 + b0;
        for (int i = 0; i < 2; ++i) {
          if (x[i].layout == 1) {
            const uint8_t* q = static_cast<const uint8_t*>(x[i].p) + off;
            for (int64_t j = 0; j < bl; ++j)
              row[i][j] = static_cast<float>(static_cast<int32_t>(q[j]) - x[i].zp) * x[i].scale;
          } else {
            const float* f = static_cast<const float*>(x[i].p) + off;
            for (int64_t j = 0; j < bl; ++j) row[i][j] = f[j];
          }
        }
        uint8_t* d = dst + off;
        for (int64_t j = 0; j < bl; ++j) {
          float v = (row[0][j] + row[1][j]) / scale;
          v = v < lo ? lo : v;
          v = v > hi ? hi : v;
          d[j] = static_cast<uint8_t>(static_cast<int32_t>(detail::rne_small(v)) + zp);
        }
      }
    }
    return;
  }
  const int64_t blocks = (HW + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (N * C * HW > 32768)
  for (int64_t item = 0; item < N * blocks; ++item) {
    const int64_t n = item / blocks, p0 = (item % blocks) * kBlock, len = std::min(HW, p0 + kBlock) - p0;
    alignas(64) uint8_t tile[kBlock * 64];
    alignas(64) float row[2][kBlock];
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
      const int64_t cn = std::min<int64_t>(64, C - c0);
      for (int64_t c = 0; c < cn; ++c) {
        for (int i = 0; i < 2; ++i) {
          if (x[i].layout == 1) {
            const uint8_t* q = static_cast<const uint8_t*>(x[i].p) + (n * HW + p0) * C + c0 + c;
            for (int64_t p = 0; p < len; ++p)
              row[i][p] = static_cast<float>(static_cast<int32_t>(q[p * C]) - x[i].zp) * x[i].scale;
          } else if (x[i].layout == 2) {
            const float* f = static_cast<const float*>(x[i].p) + (n * HW + p0) * C + c0 + c;
            for (int64_t p = 0; p < len; ++p) row[i][p] = f[p * C];
          } else {
            const float* f = static_cast<const float*>(x[i].p) + (n * C + c0 + c) * HW + p0;
            for (int64_t p = 0; p < len; ++p) row[i][p] = f[p];
          }
        }
        uint8_t* t = tile + c * kBlock;
        for (int64_t p = 0; p < len; ++p) {
          float v = (row[0][p] + row[1][p]) / scale;  // Add, then the Quantize formula
          v = v < lo ? lo : v;
          v = v > hi ? hi : v;
          t[p] = static_cast<uint8_t>(static_cast<int32_t>(detail::rne_small(v)) + zp);
        }
      }
      uint8_t* d = dst + (n * HW + p0) * C + c0;
      for (int64_t p = 0; p < len; ++p)
        for (int64_t c = 0; c < cn; ++c) d[p * C + c] = tile[c * kBlock + p];
    }
  }
}

// ---- QConv ----------------------------------------------------------------------

struct QConvSpec {
  ConvParams p;
  int bits = 8;
  int32_t src_zp = 0;
  bool out_u8 = false;
  int32_t zero_point = 0, qmin = 0, qmax = 255;
  int out_rank = 4;
  bool out_nhwc = false;  // f32 output in NHWC (read by a lapq.QAdd): no transpose
  // Fused residual add (input 5 present): u8 output = QAdd(conv f32 NHWC, input 5).
  bool fused_add = false;
  int residual_input = 1;             // the Add input (0 = a, 1 = b) input 5 stands for
  qops::QAddInputAttrs residual;      // its layout (1 u8 codes, 2 f32 NHWC), scale, zero point
  qops::QuantAttrs add_out;           // the Add's output grid and clamp
};

int64_t attr_at(const std::vector<int64_t>& v, size_t i, int64_t fallback) { return i < v.size() ? v[i] : fallback; }

// `wei` is [OC, KH, KW, IC/group].
QConvSpec qconv_spec(const Node& n, const Shape& src, const Shape& wei) {
  const std::string where = where_of(n);
  LAPQ_CHECK(src.size() == 4 && wei.size() == 4, ErrorCode::kInvalidModel, where, ": src ", shape_str(src),
             " / weights ", shape_str(wei), " must be NHWC / [OC,KH,KW,IC/group]");
  QConvSpec s;
  const auto strides = n.attrs.get_ints("strides"), pads = n.attrs.get_ints("pads"),
             dil = n.attrs.get_ints("dilations");
  s.p.IC = static_cast<int>(src[3]);
  s.p.OC = static_cast<int>(wei[0]);
  s.p.KH = static_cast<int>(wei[1]);
  s.p.KW = static_cast<int>(wei[2]);
  s.p.stride_h = static_cast<int>(attr_at(strides, 0, 1));
  s.p.stride_w = static_cast<int>(attr_at(strides, 1, 1));
  s.p.pad_top = static_cast<int>(attr_at(pads, 0, 0));
  s.p.pad_left = static_cast<int>(attr_at(pads, 1, 0));
  s.p.pad_bottom = static_cast<int>(attr_at(pads, 2, 0));
  s.p.pad_right = static_cast<int>(attr_at(pads, 3, 0));
  s.p.dilation_h = static_cast<int>(attr_at(dil, 0, 1));
  s.p.dilation_w = static_cast<int>(attr_at(dil, 1, 1));
  s.p.groups = static_cast<int>(n.attrs.get_int("group", 1));
  LAPQ_CHECK(s.p.groups >= 1 && s.p.IC == wei[3] * s.p.groups && s.p.OC % s.p.groups == 0, ErrorCode::kInvalidModel,
             where, ": src ", shape_str(src), " does not fit weights ", shape_str(wei), " with group ", s.p.groups);
  s.bits = static_cast<int>(n.attrs.get_int("bits", 8));
  s.src_zp = static_cast<int32_t>(n.attrs.get_int("src_zero_point", 0));
  s.out_u8 = n.attrs.get_int("out_u8", 0) != 0;
  s.zero_point = static_cast<int32_t>(n.attrs.get_int("zero_point", 0));
  s.qmin = static_cast<int32_t>(n.attrs.get_int("qmin", 0));
  s.qmax = static_cast<int32_t>(n.attrs.get_int("qmax", 255));
  s.out_rank = static_cast<int>(n.attrs.get_int("out_rank", 4));
  s.out_nhwc = n.attrs.get_int("out_nhwc", 0) != 0;
  LAPQ_CHECK(s.out_rank == 4 || s.out_rank == 2, ErrorCode::kInvalidModel, where, ": out_rank must be 2 or 4");
  s.fused_add = n.has_input(5);
  if (s.fused_add) {
    s.residual_input = static_cast<int>(n.attrs.get_int("residual_input", 1));
    LAPQ_CHECK(s.residual_input == 0 || s.residual_input == 1, ErrorCode::kInvalidModel, where,
               ": residual_input must be 0 or 1");
    s.residual = qops::qadd_input_attrs(n, s.residual_input);
    const qops::QAddInputAttrs conv_in = qops::qadd_input_attrs(n, 1 - s.residual_input);
    LAPQ_CHECK(s.residual.layout != 0 && conv_in.layout == 2 && !s.out_u8, ErrorCode::kInvalidModel, where,
               ": a fused residual add reads the conv's f32 NHWC value (layout 2) and an NHWC residual (layout 1 or 2)");
    s.add_out = qops::quant_attrs(n);
  }
  return s;
}

void qconv_infer(InferContext& ctx) {
  LAPQ_CHECK(ctx.in.size() >= 3 && ctx.in[0] && ctx.in[1] && ctx.in[2], ErrorCode::kInvalidModel, ctx.where(),
             ": needs src, weights and scale");
  const Value& src = *ctx.in[0];
  const Value& wei = *ctx.in[1];
  LAPQ_CHECK(src.dtype == DType::kU8 && wei.dtype == DType::kI8, ErrorCode::kInvalidModel, ctx.where(),
             ": src must be u8 and weights int8");
  const QConvSpec s = qconv_spec(ctx.node, src.shape, wei.shape);
  for (size_t i = 2; i < ctx.in.size() && i < 5; ++i)
    if (ctx.in[i])
      LAPQ_CHECK(ctx.in[i]->dtype == DType::kF32 && ctx.in[i]->shape == Shape{s.p.OC}, ErrorCode::kInvalidModel,
                 ctx.where(), ": input ", i, " must be f32 [", s.p.OC, "]");
  const int64_t N = src.shape[0], OH = s.p.out_h(static_cast<int>(src.shape[1])),
                OW = s.p.out_w(static_cast<int>(src.shape[2]));
  LAPQ_CHECK(OH > 0 && OW > 0, ErrorCode::kShapeMismatch, ctx.where(), ": empty output for input ",
             shape_str(src.shape));
  Value& y = *ctx.out.at(0);
  y.has_shape = true;
  if (s.fused_add) {
    const Value& r = *ctx.in[5];
    const bool u8 = s.residual.layout == 1;
    LAPQ_CHECK(r.dtype == (u8 ? DType::kU8 : DType::kF32) && r.shape == (Shape{N, OH, OW, s.p.OC}),
               ErrorCode::kInvalidModel, ctx.where(), ": the residual (input 5) is ", dtype_name(r.dtype), " ",
               shape_str(r.shape), ", expected ", u8 ? "u8" : "f32", " [", N, ",", OH, ",", OW, ",", s.p.OC, "]");
    y.dtype = DType::kU8;
    y.shape = {N, OH, OW, s.p.OC};
  } else if (s.out_u8) {
    y.dtype = DType::kU8;
    y.shape = {N, OH, OW, s.p.OC};
  } else {
    y.dtype = DType::kF32;
    LAPQ_CHECK(s.out_rank == 4 || (OH == 1 && OW == 1), ErrorCode::kInvalidModel, ctx.where(),
               ": a rank-2 output needs a 1x1 output image");
    y.shape = s.out_nhwc ? Shape{N, OH, OW, s.p.OC} : s.out_rank == 4 ? Shape{N, s.p.OC, OH, OW} : Shape{N, s.p.OC};
  }
  if (ctx.out.size() > 1 && ctx.out[1]) {
    ctx.out[1]->dtype = DType::kF32;
    ctx.out[1]->shape = {N, OH, OW, s.p.OC};
    ctx.out[1]->has_shape = true;
  }
}

// The residual add of a fused QConv as kernels/conv.h describes it.
ResidualAddU8 residual_add(const QConvSpec& s, const Tensor& residual) {
  ResidualAddU8 a;
  a.residual = residual.raw();
  a.residual_u8 = s.residual.layout == 1;
  a.residual_scale = s.residual.scale;
  a.residual_zero_point = s.residual.zero_point;
  a.conv_first = s.residual_input == 1;
  a.scale = s.add_out.scale;
  a.zero_point = s.add_out.zero_point;
  a.qmin = s.add_out.qmin;
  a.qmax = s.add_out.qmax;
  return a;
}

// Runs `conv(src, dst_u8 or dst_f32, epilogue)` and, for f32 output, the
// NHWC -> NCHW transpose through the scratch output; with a fused residual add
// run_add(src, N, H, W, dst_u8, DequantF32, ResidualAddU8).
template <class RunU8, class RunF32, class RunAdd>
void qconv_execute(const QConvSpec& s, In in, Out out, RunU8&& run_u8, RunF32&& run_f32, RunAdd&& run_add) {
  const Shape& xs = in[0]->shape();
  const int N = static_cast<int>(xs[0]), H = static_cast<int>(xs[1]), W = static_cast<int>(xs[2]);
  const uint8_t* src = in[0]->data<uint8_t>();
  const float* scale = in[2]->data<float>();
  const float* bias = in.size() > 3 && in[3] ? in[3]->data<float>() : nullptr;
  if (s.fused_add) {
    run_add(src, N, H, W, out[0]->data<uint8_t>(), DequantF32{scale, bias}, residual_add(s, *in[5]));
    return;
  }
  if (s.out_u8) {
    run_u8(src, N, H, W, out[0]->data<uint8_t>(), RequantU8{scale, bias, s.zero_point, s.qmin, s.qmax});
    return;
  }
  const int64_t OH = s.p.out_h(H), OW = s.p.out_w(W), OC = s.p.OC, HW = OH * OW;
  float* y = out[0]->data<float>();
  if (HW == 1 || s.out_nhwc) {  // NHWC wanted, or NHWC == NCHW
    run_f32(src, N, H, W, y, DequantF32{scale, bias});
    return;
  }
  LAPQ_CHECK(out.size() > 1 && out[1], ErrorCode::kInternal, "lapq.QConv: f32 output needs the scratch output");
  float* t = out[1]->data<float>();
  run_f32(src, N, H, W, t, DequantF32{scale, bias});
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (HW + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (int64_t{N} * HW * OC > 32768)
  for (int64_t item = 0; item < N * blocks; ++item) {
    const int64_t n = item / blocks, p0 = (item % blocks) * kBlock, p1 = std::min(HW, p0 + kBlock);
    for (int64_t c = 0; c < OC; ++c) {
      const float* sp = t + n * HW * OC + c;
      float* d = y + (n * OC + c) * HW;
      for (int64_t p = p0; p < p1; ++p) d[p] = sp[p * OC];
    }
  }
}

ConvWeights conv_weights(const QConvSpec& s, In in) {
  ConvWeights w;
  w.wei = in[1]->data<int8_t>();
  w.bits = s.bits;
  w.wei_zero_point = in.size() > 4 && in[4] ? in[4]->data<float>() : nullptr;
  w.src_zero_point = s.src_zp;
  return w;
}

void qconv_reference(const Node& node, In in, Out out) {
  const QConvSpec s = qconv_spec(node, in[0]->shape(), in[1]->shape());
  const ConvWeights w = conv_weights(s, in);
  qconv_execute(
      s, in, out,
      [&](const uint8_t* src, int N, int H, int W, uint8_t* dst, const RequantU8& o) {
        conv_reference(s.p, w, src, N, H, W, dst, o);
      },
      [&](const uint8_t* src, int N, int H, int W, float* dst, const DequantF32& o) {
        conv_reference(s.p, w, src, N, H, W, dst, o);
      },
      [&](const uint8_t* src, int N, int H, int W, uint8_t* dst, const DequantF32& o, const ResidualAddU8& a) {
        // The unfused pair: the conv's f32 NHWC output, then lapq.QAdd's reference formula.
        const size_t total = size_t(N) * s.p.out_h(H) * s.p.out_w(W) * s.p.OC;
        std::vector<float> y(total);
        conv_reference(s.p, w, src, N, H, W, y.data(), o);
        const float lo = float(a.qmin - a.zero_point), hi = float(a.qmax - a.zero_point);
        for (size_t i = 0; i < total; ++i) {
          const float r = a.residual_u8 ? static_cast<float>(static_cast<int32_t>(static_cast<const uint8_t*>(
                                                                 a.residual)[i]) - a.residual_zero_point) *
                                              a.residual_scale
                                        : static_cast<const float*>(a.residual)[i];
          float v = (a.conv_first ? y[i] + r : r + y[i]) / a.scale;
          v = v < lo ? lo : v;
          v = v > hi ? hi : v;
          dst[i] = static_cast<uint8_t>(static_cast<int32_t>(detail::rne_small(v)) + a.zero_point);
        }
      });
}

class QConvKernel final : public OpKernel {
 public:
  QConvKernel(const QConvSpec& spec, const ConvWeights& w) : spec_(spec), conv_(spec.p, w, active_isa()) {}
  void run(In in, Out out) override {
    qconv_execute(
        spec_, in, out,
        [&](const uint8_t* src, int N, int H, int W, uint8_t* dst, const RequantU8& o) { conv_.run(src, N, H, W, dst, o); },
        [&](const uint8_t* src, int N, int H, int W, float* dst, const DequantF32& o) { conv_.run(src, N, H, W, dst, o); },
        [&](const uint8_t* src, int N, int H, int W, uint8_t* dst, const DequantF32& o, const ResidualAddU8& a) {
          conv_.run(src, N, H, W, dst, o, a);
        });
  }
  std::string impl_name() const override {
    return std::string("lapq-int:") + conv_.kernel_name() + (spec_.fused_add ? "+qadd" : "");
  }

 private:
  QConvSpec spec_;
  PackedConv conv_;
};

std::unique_ptr<OpKernel> qconv_fast(const KernelRequest& r, std::string* why_not) {
  for (size_t i = 1; i < r.in.size() && i < 5; ++i)  // (input 5: a fused add's residual activation)
    if (r.in[i] && !r.in[i]->is_constant()) {
      *why_not = "weights / epilogue parameters are not constant";
      return nullptr;
    }
  const QConvSpec s = qconv_spec(r.node, r.in[0]->shape, r.in[1]->shape);
  std::vector<const Tensor*> in;
  for (const Value* v : r.in) in.push_back(v ? &v->constant : nullptr);
  ConvWeights w = conv_weights(s, in);
  const Shape& xs = r.in[0]->shape;  // NHWC
  if (xs.size() == 4 && xs[0] > 0 && xs[1] > 0 && xs[2] > 0)
    w.rows_hint = xs[0] * s.p.out_h(static_cast<int>(xs[1])) * s.p.out_w(static_cast<int>(xs[2]));
  try {
    return std::make_unique<QConvKernel>(s, w);
  } catch (const Error& e) {  // e.g. int32 accumulators could overflow: the int64 reference takes it
    *why_not = e.what();
    return nullptr;
  }
}

OpSchema schema(const char* type, int min_in, int max_in, InferFn infer, ReferenceFn ref) {
  OpSchema s;
  s.type = type;
  s.min_inputs = min_in;
  s.max_inputs = max_in;
  s.infer = infer;
  s.reference = ref;
  return s;
}

}  // namespace

void register_quant_ops() {
  static std::once_flag once;
  std::call_once(once, [] {
    OpSchema quantize = schema(kQuantizeOp, 1, 1, quantize_infer, quantize_run);
    quantize.fast.push_back({"lapq-simd", qops::quantize_fast});
    OpRegistry::register_extension(std::move(quantize));
    OpSchema dequantize = schema(kDequantizeOp, 1, 1, dequantize_infer, dequantize_run);
    dequantize.fast.push_back({"lapq-simd", qops::dequantize_fast});
    OpRegistry::register_extension(std::move(dequantize));
    OpSchema qadd = schema(kQAddOp, 2, 2, qadd_infer, qadd_run);
    qadd.fast.push_back({"lapq-simd", qops::qadd_fast});
    OpRegistry::register_extension(std::move(qadd));
    OpRegistry::register_extension(qops::qmaxpool_schema());
    OpSchema qconv = schema(kQConvOp, 3, 6, qconv_infer, qconv_reference);
    qconv.fast.push_back({"lapq-int", qconv_fast});
    OpRegistry::register_extension(std::move(qconv));
  });
}

}  // namespace lapq::quant
