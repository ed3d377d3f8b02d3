// Quantized convolution / fully connected layers on the integer kernels.
//
//   PackedConv conv(params, weights);          // once per layer: checks + packs
//   conv.run(src, N, H, W, dst_u8, RequantU8{scale, bias, zp, qmin, qmax});
//   conv.run(src, N, H, W, dst_f32, DequantF32{scale, bias});
//   conv.run(src, N, H, W, dst_u8, DequantF32{scale, bias}, ResidualAddU8{...});  // + residual add
//
// Tensors are channels-last: src (N, H, W, IC) u8, dst (N, OH, OW, OC) u8 or f32,
// weights (OC, KH, KW, IC/groups) int8. A fully connected layer is a 1x1
// convolution on 1x1 images (H = W = 1, N = batch rows).
//
// Exact output for output pixel m, channel oc (see kernels/gemm.h):
//   acc = sum over the window (a - za) * w + bias_i32[oc]  (out-of-image taps read za)
//   rowsum = sum over the window (a - za)
//   t = (float)acc;  if wei_zero_point: t = t - wei_zero_point[oc] * (float)rowsum
//   y = t * scale[oc];  if bias_f32: y = y + bias_f32[oc]      (float32, no FMA)
//   u8 dst:  clamp(nearbyint(y) + zero_point, qmin, qmax)  (round half to even)
//   f32 dst: y
// Typical use: scale[oc] = src_scale * wei_scale[oc] / dst_scale for u8 output
// (and src_scale * wei_scale[oc] for f32 output), bias folded in bias_i32 as
// round(bias / (src_scale * wei_scale[oc])) or passed as bias_f32 in output units.
// The real-valued weight zero point models weights scale * (w - wei_zero_point).
//
// Threads: run() uses OpenMP (omp_get_max_threads(), set by the caller); the
// result is bit-identical for any thread count (integer accumulation is exact and
// each output is produced by exactly one kernel call).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dwconv.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"

namespace lapq {

struct RowSumKernels;  // kernels/rowsum.h
struct Scratch;  // per-thread buffers of the drivers (kernels/conv_scratch.h)
struct ResidualStore;  // the fused residual add's tile store (kernels/conv_scratch.h)

struct ConvParams {
  int IC = 0, OC = 0, KH = 1, KW = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;

  int out_h(int H) const { return (H + pad_top + pad_bottom - dilation_h * (KH - 1) - 1) / stride_h + 1; }
  int out_w(int W) const { return (W + pad_left + pad_right - dilation_w * (KW - 1) - 1) / stride_w + 1; }
  std::string str() const;  // for error messages and test names
};

struct ConvWeights {
  const int8_t* wei = nullptr;            // (OC, KH, KW, IC/groups), values in [-2^(bits-1), 2^(bits-1)-1]
  int bits = 8;                           // 2..8; bits <= 4 stores nibbles (int4 kernels)
  const int32_t* bias = nullptr;          // (OC) accumulator units, or nullptr
  const float* wei_zero_point = nullptr;  // (OC) real-valued weight zero points, or nullptr
  int32_t src_zero_point = 0;             // za in [0, 255]; pads read za
  // Output pixels per run (N*OH*OW) when the caller knows them, else 0. A 2-4-bit
  // layer with tall tiles (>= kPanelRows rows) on an ISA whose int4 path would
  // unpack its nibbles to an int8 panel on every run is packed in the int8
  // container instead: same results (the int4 kernels equal the int8 ones for
  // the same weight values), no per-run unpack, twice the packed bytes. Layers
  // with few rows (late 7x7 layers, FC) keep nibbles: half the weight traffic.
  int64_t rows_hint = 0;
};

struct RequantU8 {
  const float* scale = nullptr;  // (OC), required
  const float* bias = nullptr;   // (OC) output units, or nullptr
  int32_t zero_point = 0;        // [0, 255]
  int32_t qmin = 0, qmax = 255;  // fused ReLU / ReLU6 / clip: 0 <= qmin <= qmax <= 255
};

struct DequantF32 {
  const float* scale = nullptr;  // (OC), required
  const float* bias = nullptr;   // (OC) real units, or nullptr
};

// A residual add fused into the convolution (a lowered lapq.QConv with f32 output
// whose only reader is a lapq.QAdd, quant/qops/qops.h):
//   dst = qadd(y, residual)   (kernels/elementwise.h; operands in that order, or
//                              swapped when !conv_first)
// where y is the DequantF32 output. qadd(a, b) = quantize(x_a + x_b), x = (q - zp) *
// scale for u8 codes, the value for f32, quantize(v) = clamp(rne(v / scale) + zp,
// qmin, qmax) with a true division. Each output tile's y goes from the kernel to a
// small per-thread f32 buffer and through the elementwise kernels' qadd while in L1,
// so dst equals run(dst_f32, DequantF32) followed by qadd over the whole tensor bit
// for bit, for any thread count and ISA; the f32 output never reaches memory.
struct ResidualAddU8 {
  const void* residual = nullptr;  // (N, OH, OW, OC) channels-last like dst: u8 codes or f32
  bool residual_u8 = true;
  float residual_scale = 1.f;      // u8 residual: x = (q - residual_zero_point) * residual_scale
  int32_t residual_zero_point = 0;
  bool conv_first = true;          // y is qadd's first operand (the Add's input order)
  float scale = 1.f;               // output grid (> 0)
  int32_t zero_point = 0;          // [0, 255]
  int32_t qmin = 0, qmax = 255;    // fused ReLU / ReLU6 / clip: 0 <= qmin <= qmax <= 255
};

class PackedConv {
 public:
  // Checks the parameters and packs the weights for `isa` (default: the active
  // ISA). Throws lapq::Error: kInvalidArgument (bad sizes, weights outside the
  // bit width), kLimit (int32 accumulators could overflow), kUnsupported (ISA).
  PackedConv(const ConvParams& params, const ConvWeights& weights, Isa isa = active_isa());

  void run(const uint8_t* src, int N, int H, int W, uint8_t* dst, const RequantU8& out) const;
  void run(const uint8_t* src, int N, int H, int W, float* dst, const DequantF32& out) const;
  void run(const uint8_t* src, int N, int H, int W, uint8_t* dst, const DequantF32& conv,
           const ResidualAddU8& add) const;

  const ConvParams& params() const { return p_; }
  Isa isa() const { return isa_; }
  bool int4() const { return int4_; }
  bool depthwise() const { return depthwise_; }
  int32_t src_zero_point() const { return za_; }
  const char* kernel_name() const { return depthwise_ ? dw_->name : gemm_->name; }
  size_t packed_bytes() const { return packed_size_; }
  // The weights (OC, KH, KW, IC/groups) and int32 bias recovered from the packed
  // buffer (round-trip tests).
  std::vector<int8_t> unpack(std::vector<int32_t>* bias) const;

 private:
  // res: the fused residual add (dst is then its u8 output and ep an f32 epilogue), or nullptr.
  void run_impl(const uint8_t* src, int N, int H, int W, void* dst, GemmEpilogue ep,
                const ResidualStore* res = nullptr) const;
  void run_gemm(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep,
                const ResidualStore* res) const;
  void run_dw(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep,
              const ResidualStore* res) const;
  void run_columns(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep,
                   const ResidualStore* res) const;
  const uint8_t* unpack_panel(const GemmConfig& cfg, Scratch& s, const uint8_t* w, size_t nblocks,
                              size_t* block_bytes) const;

  ConvParams p_;
  Isa isa_;
  bool int4_ = false, depthwise_ = false;
  int32_t za_ = 0;
  int icg_ = 0, ocg_ = 0, k_ = 0, kp_ = 0;  // per group: IC, OC, K = KH*KW*ICg, padded K
  // Column-window GEMM (groups == 1, dilation_w == 1, IC not a multiple of the K
  // block, e.g. the 3-channel stem; kernels/conv_columns.cpp): weights packed
  // with K ordered (kw, kh, c), run on per-output-row columns of KH*IC bytes.
  bool column_window_ = false;
  size_t block_bytes_ = 0, group_bytes_ = 0;
  const GemmConfig* gemm_ = nullptr;
  const DwConfig* dw_ = nullptr;
  const RowSumKernels* rowsum_ = nullptr;  // GEMM paths: activation row sums (weight zero points)
  std::vector<float> wei_zp_;            // (OC) or empty
  std::vector<uint8_t> zero_row_;        // (IC) filled with za: the out-of-image pixel
  std::shared_ptr<std::byte[]> packed_;  // packed weights (64-byte aligned, on huge pages: kernels/memory.h)
  size_t packed_size_ = 0;
  const uint8_t* packed() const { return reinterpret_cast<const uint8_t*>(packed_.get()); }
};

}  // namespace lapq
