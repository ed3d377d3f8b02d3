// The "lapq-simd" fast candidates of lapq.Quantize / lapq.Dequantize / lapq.QAdd:
// the contiguous arithmetic runs on kernels/elementwise.h for the active ISA (the
// same float operations as the references, so the codes are identical); the NCHW
// side of a layout change goes through a per-thread f32 tile transposed with the
// kernels' f32 transpose, so every pass over the codes is contiguous.
#include <omp.h>

#include <algorithm>
#include <memory>

#include "kernels/elementwise.h"
#include "quant/qops/qops_internal.h"

namespace lapq::quant::qops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor* const>;

constexpr int64_t kTileFloats = 4096;      // 16 KB per tile: stays in L1 between transpose and arithmetic
constexpr int64_t kParallelMin = 32768;    // elements below which one thread does the work
constexpr int64_t kChunk = 16384;          // contiguous elements per work item

QuantizeOut quantize_out(const QuantAttrs& a) {
  QuantizeOut o;
  o.scale = a.scale;
  o.lo = static_cast<float>(a.qmin - a.zero_point);
  o.hi = static_cast<float>(a.qmax - a.zero_point);
  o.zp = a.zero_point;
  return o;
}

// Tiles of (pixels x channels) for a transposed pass: channels in blocks of at
// most 512, as many pixels as fill a tile.
struct Blocking {
  int64_t N, C, HW;
  int64_t cb, pb, pblocks;
  Blocking(int64_t n, int64_t c, int64_t hw) : N(n), C(c), HW(hw) {
    cb = std::min<int64_t>(C, 512);
    pb = std::max<int64_t>(kTileFloats / cb, 1);
    pblocks = (HW + pb - 1) / pb;
  }
  int64_t items() const { return N * pblocks; }
};

// Runs f(i0, len) over [0, total) in chunks of about kChunk elements, OpenMP
// across chunks for large totals; the chunk count is a multiple of the thread
// count and chunks are equal (multiples of 64 elements), so threads finish together.
template <class F>
void for_chunks(int64_t total, F&& f) {
  const bool parallel = total > kParallelMin;
  const int64_t threads = parallel ? omp_get_max_threads() : 1;
  const int64_t chunks = ((total + kChunk - 1) / kChunk + threads - 1) / threads * threads;
  const int64_t len = ((total + chunks - 1) / chunks + 63) / 64 * 64;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t i0 = ch * len;
    if (i0 < total) f(i0, std::min(len, total - i0));
  }
}

// Runs f(n, p0, len, tile...) per (image, pixel block) with per-thread tiles.
// Small images (the 7x7 before global pooling) stay on one thread: their pixel
// blocks are a few floats per channel row, so threads would share cache lines.
template <class F>
void for_pixel_blocks(const Blocking& b, F&& f) {
#pragma omp parallel if (b.N * b.C * b.HW > kParallelMin && b.HW >= 256)
  {
    alignas(64) float tile[2][kTileFloats];
#pragma omp for schedule(static)
    for (int64_t item = 0; item < b.items(); ++item) {
      const int64_t n = item / b.pblocks, p0 = (item % b.pblocks) * b.pb, len = std::min(b.HW, p0 + b.pb) - p0;
      f(n, p0, len, tile[0], tile[1]);
    }
  }
}

// ---- Quantize: f32 NCHW -> u8 NHWC -------------------------------------------------

class QuantizeKernel final : public OpKernel {
 public:
  QuantizeKernel(const Node& node, const ElementwiseKernels& k) : k_(k), o_(quantize_out(quant_attrs(node))) {}
  void run(In in, Out out) override {
    const Shape& s = in[0]->shape();
    const int64_t N = s[0], C = s[1], HW = s.size() == 4 ? s[2] * s[3] : 1;
    const float* src = in[0]->data<float>();
    uint8_t* dst = out[0]->data<uint8_t>();
    if (C == 1 || HW == 1) {  // NCHW and NHWC orders coincide
      for_chunks(N * C * HW, [&](int64_t i0, int64_t len) { k_.quantize(src + i0, dst + i0, len, o_); });
      return;
    }
    if (C == 3) {  // an RGB image: quantize the three planes and interleave their bytes in one pass
      for (int64_t n = 0; n < N; ++n)
        for_chunks(HW, [&](int64_t i0, int64_t len) {
          const float* planes[3] = {src + (n * 3 + 0) * HW + i0, src + (n * 3 + 1) * HW + i0, src + (n * 3 + 2) * HW + i0};
          k_.quantize_interleave3(planes, dst + (n * HW + i0) * 3, len, o_);
        });
      return;
    }
    const Blocking b(N, C, HW);
    for_pixel_blocks(b, [&](int64_t n, int64_t p0, int64_t len, float* tile, float*) {
      for (int64_t c0 = 0; c0 < C; c0 += b.cb) {
        const int64_t cn = std::min(b.cb, C - c0);
        k_.transpose_f32(src + (n * C + c0) * HW + p0, HW, tile, cn, cn, len);  // tile[p][c]
        uint8_t* d = dst + (n * HW + p0) * C + c0;
        if (cn == C) {
          k_.quantize(tile, d, len * C, o_);
        } else {
          for (int64_t p = 0; p < len; ++p) k_.quantize(tile + p * cn, d + p * C, cn, o_);
        }
      }
    });
  }
  std::string impl_name() const override { return std::string("lapq-simd:") + k_.name; }

 private:
  const ElementwiseKernels& k_;
  QuantizeOut o_;
};

// ---- Dequantize: u8 NHWC -> f32 NCHW (or [N, C]) ------------------------------------

class DequantizeKernel final : public OpKernel {
 public:
  DequantizeKernel(const Node& node, const ElementwiseKernels& k) : k_(k), a_(quant_attrs(node)) {}
  void run(In in, Out out) override {
    const Shape& s = in[0]->shape();
    const int64_t N = s[0], HW = s[1] * s[2], C = s[3];
    const uint8_t* src = in[0]->data<uint8_t>();
    float* dst = out[0]->data<float>();
    const float scale = a_.scale;
    const int32_t zp = a_.zero_point;
    if (C == 1 || HW == 1) {
      for_chunks(N * C * HW, [&](int64_t i0, int64_t len) { k_.dequantize(src + i0, dst + i0, len, scale, zp); });
      return;
    }
    const Blocking b(N, C, HW);
    for_pixel_blocks(b, [&](int64_t n, int64_t p0, int64_t len, float* tile, float*) {
      for (int64_t c0 = 0; c0 < C; c0 += b.cb) {
        const int64_t cn = std::min(b.cb, C - c0);
        const uint8_t* q = src + (n * HW + p0) * C + c0;
        if (cn == C) {
          k_.dequantize(q, tile, len * C, scale, zp);
        } else {
          for (int64_t p = 0; p < len; ++p) k_.dequantize(q + p * C, tile + p * cn, cn, scale, zp);
        }
        k_.transpose_f32(tile, cn, dst + (n * C + c0) * HW + p0, HW, len, cn);  // dst[c][p]
      }
    });
  }
  std::string impl_name() const override { return std::string("lapq-simd:") + k_.name; }

 private:
  const ElementwiseKernels& k_;
  QuantAttrs a_;
};

// ---- QAdd: (f32 NCHW | u8 NHWC | f32 NHWC) x 2 -> u8 NHWC ----------------------------

class QAddKernel final : public OpKernel {
 public:
  QAddKernel(const Node& node, const ElementwiseKernels& k)
      : k_(k), o_(quantize_out(quant_attrs(node))), x_{qadd_input_attrs(node, 0), qadd_input_attrs(node, 1)} {
    if (x_[0].layout == 1 && x_[1].layout == 1)  // two u8 operands: multiply by 1/scale where exact
      o_.inv_scale = qadd_verified_reciprocal(k_, operand_grid(0), operand_grid(1), o_);
  }
  void run(In in, Out out) override {
    const Shape& ys = out[0]->shape();
    const int64_t N = ys[0], HW = ys[1] * ys[2], C = ys[3];
    uint8_t* dst = out[0]->data<uint8_t>();
    // Operand i at NHWC element offset `off` (NHWC layouts only).
    auto operand = [&](int i, int64_t off) {
      QAddOperand x = operand_grid(i);
      x.data = x.u8 ? static_cast<const void*>(in[i]->data<uint8_t>() + off)
                    : static_cast<const void*>(in[i]->data<float>() + off);
      return x;
    };
    const bool nchw[2] = {x_[0].layout == 0, x_[1].layout == 0};
    if ((!nchw[0] && !nchw[1]) || C == 1 || HW == 1) {  // one order for all: contiguous
      for_chunks(N * HW * C, [&](int64_t i0, int64_t len) {
        k_.qadd(operand(0, i0), operand(1, i0), dst + i0, len, o_);
      });
      return;
    }
    const Blocking b(N, C, HW);
    for_pixel_blocks(b, [&](int64_t n, int64_t p0, int64_t len, float* tile0, float* tile1) {
      float* tiles[2] = {tile0, tile1};
      for (int64_t c0 = 0; c0 < C; c0 += b.cb) {
        const int64_t cn = std::min(b.cb, C - c0);
        const int64_t off = (n * HW + p0) * C + c0;  // NHWC offset of the block
        QAddOperand x[2];
        int64_t stride[2];  // elements between pixels
        for (int i = 0; i < 2; ++i) {
          if (nchw[i]) {
            k_.transpose_f32(in[i]->data<float>() + (n * C + c0) * HW + p0, HW, tiles[i], cn, cn, len);
            x[i].data = tiles[i];
            stride[i] = cn;
          } else {
            x[i] = operand(i, off);
            stride[i] = C;
          }
        }
        if (cn == C) {
          k_.qadd(x[0], x[1], dst + off, len * C, o_);
          continue;
        }
        for (int64_t p = 0; p < len; ++p) {
          QAddOperand xp[2] = {x[0], x[1]};
          for (int i = 0; i < 2; ++i)
            xp[i].data = xp[i].u8 ? static_cast<const void*>(static_cast<const uint8_t*>(x[i].data) + p * stride[i])
                                  : static_cast<const void*>(static_cast<const float*>(x[i].data) + p * stride[i]);
          k_.qadd(xp[0], xp[1], dst + off + p * C, cn, o_);
        }
      }
    });
  }
  std::string impl_name() const override { return std::string("lapq-simd:") + k_.name; }

 private:
  // Operand i's kind, scale and zero point (no data yet).
  QAddOperand operand_grid(int i) const {
    QAddOperand x;
    x.u8 = x_[i].layout == 1;
    x.scale = x_[i].scale;
    x.zp = x_[i].zero_point;
    return x;
  }

  const ElementwiseKernels& k_;
  QuantizeOut o_;
  QAddInputAttrs x_[2];
};

}  // namespace

std::unique_ptr<OpKernel> quantize_fast(const KernelRequest& r, std::string*) {
  return std::make_unique<QuantizeKernel>(r.node, elementwise_kernels(active_isa()));
}

std::unique_ptr<OpKernel> dequantize_fast(const KernelRequest& r, std::string*) {
  return std::make_unique<DequantizeKernel>(r.node, elementwise_kernels(active_isa()));
}

std::unique_ptr<OpKernel> qadd_fast(const KernelRequest& r, std::string*) {
  return std::make_unique<QAddKernel>(r.node, elementwise_kernels(active_isa()));
}

}  // namespace lapq::quant::qops
