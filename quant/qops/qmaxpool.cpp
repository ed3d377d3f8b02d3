// lapq.MaxPool: 2-D max pooling on u8 NHWC codes, then the code-to-code map
// from the input grid to the output grid (see qops.h). Max commutes with the
// monotone map q -> quantize_out(dequantize_in(q)), so this equals the FP32
// island Dequantize -> MaxPool -> Quantize bit for bit; the map is a 256-entry
// table built with exactly the float operations of those two ops.
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "engine/ops/window.h"
#include "quant/grid.h"
#include "quant/qops/qops.h"
#include "quant/qops/qops_internal.h"

namespace lapq::quant::qops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

struct PoolGeometry {
  int64_t N, H, W, C, OH, OW;
  int64_t KH, KW, SH, SW, DH, DW, PT, PL;
};

ops::Window pool_window(const Node& node, int64_t H, int64_t W) {
  const std::vector<int64_t> kernel = node.attrs.get_ints("kernel_shape");
  LAPQ_CHECK(kernel.size() == 2, ErrorCode::kInvalidModel, where_of(node), ": kernel_shape must have 2 values");
  return ops::compute_window(node, {H, W}, kernel, node.attrs.get_int("ceil_mode", 0) != 0, true, where_of(node));
}

PoolGeometry geometry(const Node& node, const Shape& x) {
  const ops::Window w = pool_window(node, x[1], x[2]);
  return {x[0],          x[1],          x[2],          x[3],           w.out[0],       w.out[1],      w.kernel[0],
          w.kernel[1],   w.strides[0],  w.strides[1],  w.dilations[0], w.dilations[1], w.pads_begin[0],
          w.pads_begin[1]};
}

// Code map of the node: table[q] = Quantize(Dequantize(q)) with the ops' formulas;
// `empty` = Quantize(lowest float), the FP32 MaxPool's value of a window with no input.
struct CodeMap {
  std::array<uint8_t, 256> table;
  uint8_t empty;
  bool identity;
};

uint8_t quantize_code(float x, const QuantAttrs& o) {
  const float lo = float(o.qmin - o.zero_point), hi = float(o.qmax - o.zero_point);
  float v = x / o.scale;  // lapq.Quantize's formula (quant/qops/qops.cpp)
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return static_cast<uint8_t>(static_cast<int32_t>(detail::rne_small(v)) + o.zero_point);
}

CodeMap code_map(const Node& node) {
  const QuantAttrs out = quant_attrs(node);
  const float scale_in = node.attrs.get_float("scale_in", 1.f);
  const int64_t zp_in = node.attrs.get_int("zero_point_in", 0);
  LAPQ_CHECK(scale_in > 0.f && zp_in >= 0 && zp_in <= 255, ErrorCode::kInvalidModel, where_of(node),
             ": bad input grid scale_in=", scale_in, " zero_point_in=", zp_in);
  CodeMap m;
  m.identity = true;
  for (int q = 0; q < 256; ++q) {
    const float x = static_cast<float>(q - static_cast<int32_t>(zp_in)) * scale_in;  // lapq.Dequantize's formula
    m.table[q] = quantize_code(x, out);
    m.identity = m.identity && m.table[q] == q;
  }
  m.empty = quantize_code(std::numeric_limits<float>::lowest(), out);
  return m;
}

void qmaxpool_infer(InferContext& ctx) {
  const Value& x = *ctx.in.at(0);
  LAPQ_CHECK(x.dtype == DType::kU8 && x.shape.size() == 4, ErrorCode::kInvalidModel, ctx.where(),
             ": pools u8 [N,H,W,C], got ", dtype_name(x.dtype), " ", shape_str(x.shape));
  const ops::Window w = pool_window(ctx.node, x.shape[1], x.shape[2]);
  ctx.out.at(0)->dtype = DType::kU8;
  ctx.out[0]->shape = {x.shape[0], w.out[0], w.out[1], x.shape[3]};
  ctx.out[0]->has_shape = true;
}

// Reference: every output code on its own.
void qmaxpool_run(const Node& node, In in, Out out) {
  const PoolGeometry g = geometry(node, in[0]->shape());
  const CodeMap m = code_map(node);
  const uint8_t* src = in[0]->data<uint8_t>();
  uint8_t* dst = out[0]->data<uint8_t>();
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow)
        for (int64_t c = 0; c < g.C; ++c) {
          int best = -1;
          for (int64_t kh = 0; kh < g.KH; ++kh)
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              best = std::max<int>(best, src[((n * g.H + ih) * g.W + iw) * g.C + c]);
            }
          dst[((n * g.OH + oh) * g.OW + ow) * g.C + c] = best < 0 ? m.empty : m.table[best];
        }
}

// Fast: per output pixel, the max of whole channel rows (vectorized byte max),
// the table applied once per code; OpenMP over output rows.
class QMaxPoolKernel final : public OpKernel {
 public:
  QMaxPoolKernel(const Node& node, const Shape& x) : g_(geometry(node, x)), map_(code_map(node)) {}
  void run(In in, Out out) override {
    const PoolGeometry& g = g_;
    const uint8_t* src = in[0]->data<uint8_t>();
    uint8_t* dst = out[0]->data<uint8_t>();
    const int64_t C = g.C;
#pragma omp parallel for schedule(static) if (g.N * g.OH * g.OW * C > 32768)
    for (int64_t row = 0; row < g.N * g.OH; ++row) {
      const int64_t n = row / g.OH, oh = row % g.OH;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        uint8_t* d = dst + ((n * g.OH + oh) * g.OW + ow) * C;
        bool any = false;
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          const int64_t ih = oh * g.SH - g.PT + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const int64_t iw = ow * g.SW - g.PL + kw * g.DW;
            if (iw < 0 || iw >= g.W) continue;
            const uint8_t* s = src + ((n * g.H + ih) * g.W + iw) * C;
            if (!any) {
              std::memcpy(d, s, static_cast<size_t>(C));
              any = true;
            } else {
              for (int64_t c = 0; c < C; ++c) d[c] = std::max(d[c], s[c]);
            }
          }
        }
        if (!any) std::memset(d, map_.empty, static_cast<size_t>(C));
        else if (!map_.identity)
          for (int64_t c = 0; c < C; ++c) d[c] = map_.table[d[c]];
      }
    }
  }
  std::string impl_name() const override { return "lapq-int"; }

 private:
  PoolGeometry g_;  // for the plan's input shape
  CodeMap map_;
};

std::unique_ptr<OpKernel> qmaxpool_fast(const KernelRequest& r, std::string*) {
  return std::make_unique<QMaxPoolKernel>(r.node, r.in.at(0)->shape);
}

}  // namespace

OpSchema qmaxpool_schema() {
  OpSchema s;
  s.type = kQMaxPoolOp;
  s.min_inputs = 1;
  s.max_inputs = 1;
  s.infer = qmaxpool_infer;
  s.reference = qmaxpool_run;
  s.fast.push_back({"lapq-int", qmaxpool_fast});
  return s;
}

}  // namespace lapq::quant::qops
