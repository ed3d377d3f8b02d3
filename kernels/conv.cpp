// PackedConv: parameter checks, weight packing, the entry points and the
// per-thread scratch. The drivers live in their own files:
//   kernels/conv_gemm.cpp       GEMM path (1x1 in place, indirect GEMM, im2col tiles)
//   kernels/conv_dw.cpp         depthwise path
//   kernels/conv_columns.cpp    column-window GEMM (few input channels: the stem)
#include "kernels/conv.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/error.h"
#include "kernels/conv_scratch.h"
#include "kernels/memory.h"
#include "kernels/rowsum.h"

namespace lapq {

std::string ConvParams::str() const {
  return detail::cat("IC=", IC, " OC=", OC, " K=", KH, "x", KW, " stride=", stride_h, "x", stride_w, " pad=", pad_top,
                     ",", pad_left, ",", pad_bottom, ",", pad_right, " dil=", dilation_h, "x", dilation_w,
                     " groups=", groups);
}

PackedConv::PackedConv(const ConvParams& p, const ConvWeights& w, Isa isa) : p_(p), isa_(isa) {
  const std::string where = " (PackedConv " + p.str() + ")";
  LAPQ_CHECK(p.IC > 0 && p.OC > 0 && p.KH > 0 && p.KW > 0 && p.groups > 0, ErrorCode::kInvalidArgument,
             "convolution sizes must be positive", where);
  LAPQ_CHECK(p.IC % p.groups == 0 && p.OC % p.groups == 0, ErrorCode::kInvalidArgument,
             "IC and OC must be multiples of groups", where);
  LAPQ_CHECK(p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0, ErrorCode::kInvalidArgument,
             "stride and dilation must be positive", where);
  LAPQ_CHECK(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0,
             ErrorCode::kInvalidArgument, "padding must be non-negative", where);
  LAPQ_CHECK(w.wei != nullptr, ErrorCode::kInvalidArgument, "weights are missing", where);
  LAPQ_CHECK(w.bits >= 2 && w.bits <= 8, ErrorCode::kInvalidArgument, "weight bit width ", w.bits,
             " is not in 2..8", where);
  LAPQ_CHECK(w.src_zero_point >= 0 && w.src_zero_point <= 255, ErrorCode::kInvalidArgument,
             "source zero point ", w.src_zero_point, " is not in [0, 255]", where);
  za_ = w.src_zero_point;
  icg_ = p.IC / p.groups;
  ocg_ = p.OC / p.groups;
  k_ = p.KH * p.KW * icg_;
  const int64_t lo = -(int64_t{1} << (w.bits - 1)), hi = (int64_t{1} << (w.bits - 1)) - 1;
  const size_t nw = size_t(p.OC) * k_;
  for (size_t i = 0; i < nw; ++i)
    LAPQ_CHECK(w.wei[i] >= lo && w.wei[i] <= hi, ErrorCode::kInvalidArgument, "weight ", int(w.wei[i]), " at index ",
               i, " does not fit ", w.bits, " bits", where);
  int4_ = w.bits <= 4 && !(w.rows_hint >= kPanelRows && gemm_config(isa, true).panel_unpack != nullptr);
  depthwise_ = icg_ == 1 && ocg_ == 1 && p.groups > 1 && p.KH <= 64;  // run_dw keeps KH row pointers
  // Overflow bound: |acc| <= K*255*128 + |bias| (x16 for the nibble kernels).
  int64_t max_bias = 0;
  if (w.bias)
    for (int oc = 0; oc < p.OC; ++oc) max_bias = std::max<int64_t>(max_bias, std::abs(int64_t{w.bias[oc]}));
  const int64_t bound = int64_t{k_} * 255 * 128 + max_bias * (int4_ ? 16 : 1);
  LAPQ_CHECK(bound <= std::numeric_limits<int32_t>::max(), ErrorCode::kLimit, "K=", k_, " and |bias|<=", max_bias,
             " could overflow the int32 accumulators", where);
  if (w.wei_zero_point) wei_zp_.assign(w.wei_zero_point, w.wei_zero_point + p.OC);
  zero_row_.assign(p.IC, static_cast<uint8_t>(za_));

  if (depthwise_) {
    dw_ = &dw_config(isa);
    packed_size_ = dw_packed_bytes(dw_->layout, p.OC, p.KH, p.KW);
  } else {
    gemm_ = &gemm_config(isa, int4_);
    rowsum_ = &rowsum_kernels(isa);
    column_window_ = gemm_->igemm != nullptr && p.groups == 1 && p.dilation_w == 1 && icg_ % gemm_->kr != 0 &&
                 p.KH * p.KW > 1;
    kp_ = static_cast<int>(gemm_padded_k(gemm_->layout, k_));
    block_bytes_ = gemm_block_bytes(gemm_->layout, k_);
    group_bytes_ = block_bytes_ * ((ocg_ + 15) / 16);
    packed_size_ = group_bytes_ * p.groups;
  }
  packed_ = allocate_plan_buffer(packed_size_ + 64);  // + 64: room for vector over-reads
  auto* dst = reinterpret_cast<uint8_t*>(packed_.get());
  if (depthwise_) {
    pack_dw_weights(dw_->layout, p.OC, p.KH, p.KW, w.wei, w.bias, za_, dst);
  } else if (column_window_) {
    std::vector<int8_t> wcol(size_t(p.OC) * k_);  // K order (kw, kh, c): see conv_columns.cpp
    for (int oc = 0; oc < p.OC; ++oc)
      for (int kh = 0; kh < p.KH; ++kh)
        for (int kw = 0; kw < p.KW; ++kw)
          std::memcpy(&wcol[size_t(oc) * k_ + size_t(kw * p.KH + kh) * icg_],
                      w.wei + size_t(oc) * k_ + size_t(kh * p.KW + kw) * icg_, icg_);
    pack_gemm_weights(gemm_->layout, p.OC, k_, wcol.data(), w.bias, za_, dst);
  } else {
    for (int g = 0; g < p.groups; ++g)
      pack_gemm_weights(gemm_->layout, ocg_, k_, w.wei + size_t(g) * ocg_ * k_, w.bias ? w.bias + g * ocg_ : nullptr,
                        za_, dst + g * group_bytes_);
  }
}

std::vector<int8_t> PackedConv::unpack(std::vector<int32_t>* bias) const {
  std::vector<int8_t> wei(size_t(p_.OC) * k_);
  std::vector<int32_t> b(p_.OC);
  if (depthwise_) {
    unpack_dw_weights(dw_->layout, p_.OC, p_.KH, p_.KW, packed(), za_, wei.data(), b.data());
  } else if (column_window_) {
    std::vector<int8_t> wcol(size_t(p_.OC) * k_);  // K order (kw, kh, c)
    unpack_gemm_weights(gemm_->layout, p_.OC, k_, packed(), za_, wcol.data(), b.data());
    for (int oc = 0; oc < p_.OC; ++oc)
      for (int kh = 0; kh < p_.KH; ++kh)
        for (int kw = 0; kw < p_.KW; ++kw)
          std::memcpy(wei.data() + size_t(oc) * k_ + size_t(kh * p_.KW + kw) * icg_,
                      &wcol[size_t(oc) * k_ + size_t(kw * p_.KH + kh) * icg_], icg_);
  } else {
    for (int g = 0; g < p_.groups; ++g)
      unpack_gemm_weights(gemm_->layout, ocg_, k_, packed() + g * group_bytes_, za_, wei.data() + size_t(g) * ocg_ * k_,
                          b.data() + g * ocg_);
  }
  if (bias) *bias = std::move(b);
  return wei;
}

void PackedConv::run(const uint8_t* src, int N, int H, int W, uint8_t* dst, const RequantU8& out) const {
  LAPQ_CHECK(out.scale != nullptr, ErrorCode::kInvalidArgument, "RequantU8.scale is missing (", p_.str(), ")");
  LAPQ_CHECK(out.zero_point >= 0 && out.zero_point <= 255 && out.qmin >= 0 && out.qmin <= out.qmax && out.qmax <= 255,
             ErrorCode::kInvalidArgument, "bad output quantization: zero_point=", out.zero_point, " qmin=", out.qmin,
             " qmax=", out.qmax, " (", p_.str(), ")");
  GemmEpilogue ep;
  ep.scale = out.scale;
  ep.bias = out.bias;
  ep.zp = out.zero_point;
  ep.lo = static_cast<float>(out.qmin - out.zero_point);
  ep.hi = static_cast<float>(out.qmax - out.zero_point);
  ep.f32_out = false;
  run_impl(src, N, H, W, dst, ep);
}

void PackedConv::run(const uint8_t* src, int N, int H, int W, float* dst, const DequantF32& out) const {
  LAPQ_CHECK(out.scale != nullptr, ErrorCode::kInvalidArgument, "DequantF32.scale is missing (", p_.str(), ")");
  GemmEpilogue ep;
  ep.scale = out.scale;
  ep.bias = out.bias;
  ep.f32_out = true;
  run_impl(src, N, H, W, dst, ep);
}

void PackedConv::run(const uint8_t* src, int N, int H, int W, uint8_t* dst, const DequantF32& conv,
                     const ResidualAddU8& add) const {
  LAPQ_CHECK(conv.scale != nullptr, ErrorCode::kInvalidArgument, "DequantF32.scale is missing (", p_.str(), ")");
  LAPQ_CHECK(add.residual != nullptr, ErrorCode::kInvalidArgument, "ResidualAddU8.residual is missing (", p_.str(),
             ")");
  LAPQ_CHECK(add.scale > 0.f && add.zero_point >= 0 && add.zero_point <= 255 && add.qmin >= 0 &&
                 add.qmin <= add.qmax && add.qmax <= 255,
             ErrorCode::kInvalidArgument, "bad residual add output quantization: scale=", add.scale,
             " zero_point=", add.zero_point, " qmin=", add.qmin, " qmax=", add.qmax, " (", p_.str(), ")");
  LAPQ_CHECK(!add.residual_u8 || (add.residual_scale > 0.f && add.residual_zero_point >= 0 &&
                                  add.residual_zero_point <= 255),
             ErrorCode::kInvalidArgument, "bad residual quantization: scale=", add.residual_scale,
             " zero_point=", add.residual_zero_point, " (", p_.str(), ")");
  GemmEpilogue ep;
  ep.scale = conv.scale;
  ep.bias = conv.bias;
  ep.f32_out = true;
  ResidualStore rs;
  rs.k = &elementwise_kernels(isa_);
  rs.residual.data = add.residual;
  rs.residual.u8 = add.residual_u8;
  rs.residual.scale = add.residual_scale;
  rs.residual.zp = add.residual_zero_point;
  // The QAdd's QuantizeOut with inv_scale 0: the kernel multiplies by the checked
  // reciprocal (quantize_reciprocal) and divides only near a rounding tie, as the QAdd does.
  rs.out.scale = add.scale;
  rs.out.lo = static_cast<float>(add.qmin - add.zero_point);
  rs.out.hi = static_cast<float>(add.qmax - add.zero_point);
  rs.out.zp = add.zero_point;
  rs.conv_first = add.conv_first;
  rs.ld = p_.OC;
  rs.dst = dst;
  run_impl(src, N, H, W, dst, ep, &rs);
}

void PackedConv::run_impl(const uint8_t* src, int N, int H, int W, void* dst, GemmEpilogue ep,
                          const ResidualStore* res) const {
  LAPQ_CHECK(src && dst, ErrorCode::kInvalidArgument, "null src/dst (", p_.str(), ")");
  LAPQ_CHECK(N > 0 && H > 0 && W > 0 && p_.out_h(H) > 0 && p_.out_w(W) > 0, ErrorCode::kShapeMismatch,
             "input N=", N, " H=", H, " W=", W, " gives an empty output (", p_.str(), ")");
  ep.wei_zp = wei_zp_.empty() ? nullptr : wei_zp_.data();
  if (depthwise_)
    run_dw(src, N, H, W, dst, ep, res);
  else if (column_window_)
    run_columns(src, N, H, W, dst, ep, res);
  else
    run_gemm(src, N, H, W, dst, ep, res);
}

void ResidualStore::store(const float* tile, int64_t m, int64_t oc0, int64_t rows, int64_t nc) const {
  const size_t esz = residual.u8 ? 1 : 4;
  QAddOperand y, r = residual;  // y: the conv's f32 values
  const auto run = [&](const float* t, int64_t off, int64_t n) {
    y.data = t;
    r.data = static_cast<const uint8_t*>(residual.data) + size_t(off) * esz;
    if (conv_first)
      k->qadd(y, r, dst + off, size_t(n), out);
    else
      k->qadd(r, y, dst + off, size_t(n), out);
  };
  if (nc == ld) {  // whole pixels: one contiguous run
    run(tile, m * ld, rows * nc);
    return;
  }
  for (int64_t i = 0; i < rows; ++i) run(tile + i * nc, (m + i) * ld + oc0, nc);
}

Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Unpacks nblocks int4 blocks at w into the thread's panel (n16c4_s8, plain weights);
// returns it and its block size.
const uint8_t* PackedConv::unpack_panel(const GemmConfig& cfg, Scratch& s, const uint8_t* w, size_t nblocks,
                                        size_t* block_bytes) const {
  const size_t bb = 64 + 16 * size_t(kp_);
  if (s.panel.size() < nblocks * bb + 64) s.panel.resize(nblocks * bb + 64);
  uint8_t* panel = s.panel.data() + (64 - reinterpret_cast<uintptr_t>(s.panel.data()) % 64) % 64;
  cfg.panel_unpack(w, nblocks, kp_, block_bytes_, panel);
  *block_bytes = bb;
  return panel;
}

}  // namespace lapq
