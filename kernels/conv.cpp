// PackedConv: parameter checks, weight packing and the convolution drivers.
//   GEMM path: M = N*OH*OW output pixels, K = KH*KW*IC/groups, N = OC/groups.
//     1x1 / stride 1 / no padding (with K already padded) reads src rows in
//     place; everything else builds im2col tiles of at most ~256 KiB per work
//     item (never a full im2col copy). Work items = (group, M chunk, OC range).
//   Depthwise path: an indirection buffer of tap pointers per output row.
#include "kernels/conv.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/error.h"
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
  int4_ = w.bits <= 4;
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
    segmented_ = gemm_->igemm != nullptr && p.groups == 1 && p.dilation_w == 1 && icg_ % gemm_->kr != 0 &&
                 p.KH * p.KW > 1;
    seg_ = p.KW * icg_;
    segp_ = static_cast<int>(gemm_padded_k(gemm_->layout, seg_));
    const int kpack = segmented_ ? p.KH * segp_ : k_;  // K as packed
    kp_ = static_cast<int>(gemm_padded_k(gemm_->layout, kpack));
    block_bytes_ = gemm_block_bytes(gemm_->layout, kpack);
    group_bytes_ = block_bytes_ * ((ocg_ + 15) / 16);
    packed_size_ = group_bytes_ * p.groups;
  }
  packed_.assign(packed_size_ + 64, 0);
  packed_offset_ = (64 - reinterpret_cast<uintptr_t>(packed_.data()) % 64) % 64;
  uint8_t* dst = packed_.data() + packed_offset_;
  if (depthwise_) {
    pack_dw_weights(dw_->layout, p.OC, p.KH, p.KW, w.wei, w.bias, za_, dst);
  } else if (segmented_) {
    std::vector<int8_t> wseg(size_t(p.OC) * kp_, 0);  // (OC, KH, segp) with zero padding
    for (int oc = 0; oc < p.OC; ++oc)
      for (int kh = 0; kh < p.KH; ++kh)
        std::memcpy(&wseg[size_t(oc) * kp_ + size_t(kh) * segp_], w.wei + size_t(oc) * k_ + size_t(kh) * seg_, seg_);
    pack_gemm_weights(gemm_->layout, p.OC, kp_, wseg.data(), w.bias, za_, dst);
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
  } else if (segmented_) {
    std::vector<int8_t> wseg(size_t(p_.OC) * kp_);
    unpack_gemm_weights(gemm_->layout, p_.OC, kp_, packed(), za_, wseg.data(), b.data());
    for (int oc = 0; oc < p_.OC; ++oc)
      for (int kh = 0; kh < p_.KH; ++kh)
        std::memcpy(wei.data() + size_t(oc) * k_ + size_t(kh) * seg_, &wseg[size_t(oc) * kp_ + size_t(kh) * segp_], seg_);
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

void PackedConv::run_impl(const uint8_t* src, int N, int H, int W, void* dst, GemmEpilogue ep) const {
  LAPQ_CHECK(src && dst, ErrorCode::kInvalidArgument, "null src/dst (", p_.str(), ")");
  LAPQ_CHECK(N > 0 && H > 0 && W > 0 && p_.out_h(H) > 0 && p_.out_w(W) > 0, ErrorCode::kShapeMismatch,
             "input N=", N, " H=", H, " W=", W, " gives an empty output (", p_.str(), ")");
  ep.wei_zp = wei_zp_.empty() ? nullptr : wei_zp_.data();
  if (depthwise_)
    run_dw(src, N, H, W, dst, ep);
  else if (segmented_)
    run_segmented(src, N, H, W, dst, ep);
  else
    run_gemm(src, N, H, W, dst, ep);
}

// int4 on VNNI: tiles of at least this many rows unpack the weight panel to int8
// once (cheap: 3 ops per 64 bytes) and run the int8 kernel; shorter ones (batch-1
// late layers, FC) keep the nibble kernel, where weight traffic matters more.
constexpr int64_t kPanelRows = 96;

// Per-thread scratch that only grows (no allocation once warm).
struct Scratch {
  std::vector<uint8_t> panel;  // int4 weights unpacked for tall tiles
  std::vector<uint8_t> tile;
  std::vector<int32_t> rowsum;
  std::vector<const uint8_t*> ptrs;
};

namespace {
thread_local Scratch t_scratch;
}  // namespace

// Unpacks nblocks int4 blocks at w into the thread's panel (n16c4_s8, 16*w);
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

void PackedConv::run_gemm(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep) const {
  const GemmConfig& cfg = *gemm_;
  const int OH = p_.out_h(H), OW = p_.out_w(W);
  const int64_t M = int64_t{N} * OH * OW;
  const size_t esz_a = cfg.a_u16 ? 2 : 1, esz_d = ep.f32_out ? 4 : 1;
  const bool direct = p_.KH == 1 && p_.KW == 1 && p_.stride_h == 1 && p_.stride_w == 1 && p_.pad_top == 0 &&
                      p_.pad_left == 0 && p_.pad_bottom == 0 && p_.pad_right == 0 && !cfg.a_u16 && kp_ == k_;
  // Indirect GEMM: tap pointers instead of an im2col copy (needs whole kr groups per tap).
  const bool indirect = !direct && cfg.igemm != nullptr && icg_ % cfg.kr == 0;
  const size_t taps = size_t(p_.KH) * p_.KW;
  const bool need_rowsum = ep.wei_zp != nullptr;
  // M chunk: a tile of at most ~256 KiB (stays in L2 while the OC loop reuses it).
  const int64_t mr = cfg.mr;
  int64_t mc = std::max<int64_t>(mr, (256 * 1024 / (int64_t(kp_) * esz_a)) / mr * mr);
  if (indirect) mc = std::max<int64_t>(mr, 512 / mr * mr);
  mc = std::min<int64_t>(mc, (M + mr - 1) / mr * mr);
  const int64_t mchunks = (M + mc - 1) / mc;
  const int64_t nchunks = (ocg_ + cfg.nr - 1) / cfg.nr;
  const int threads = omp_get_max_threads();
  const int64_t items_m = int64_t{p_.groups} * mchunks;
  int64_t nsplit = 1;
  if (threads > 1 && items_m < 4 * threads) nsplit = std::min<int64_t>(nchunks, (4 * threads + items_m - 1) / items_m);
  const int64_t items = items_m * nsplit;
  const uint8_t* wpk = packed();
  std::vector<int64_t> tap_offset(taps);  // input offset of each tap from the window origin
  for (int kh = 0; kh < p_.KH; ++kh)
    for (int kw = 0; kw < p_.KW; ++kw)
      tap_offset[kh * p_.KW + kw] = (int64_t{kh} * p_.dilation_h * W + int64_t{kw} * p_.dilation_w) * p_.IC;

#pragma omp parallel for schedule(dynamic, 1) if (threads > 1 && items > 1)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t split = item % nsplit, mi = (item / nsplit) % mchunks, g = item / nsplit / mchunks;
    const int64_t m0 = mi * mc, mcount = std::min(mc, M - m0);
    const int64_t nc0 = split * nchunks / nsplit, nc1 = (split + 1) * nchunks / nsplit;  // nr-chunk range
    Scratch& s = t_scratch;
    const uint8_t* a = nullptr;
    size_t a_stride = 0;
    if (indirect) {
      if (s.ptrs.size() < size_t(mcount) * taps) s.ptrs.resize(size_t(mcount) * taps);
      if (need_rowsum && s.rowsum.size() < size_t(mcount)) s.rowsum.resize(mcount);
      int64_t n = m0 / (int64_t{OH} * OW), oh = (m0 / OW) % OH, ow = m0 % OW;  // advanced per row
      for (int64_t r = 0; r < mcount; ++r, ow = ow + 1 < OW ? ow + 1 : (oh = oh + 1 < OH ? oh + 1 : (++n, 0), 0)) {
        const uint8_t** pp = s.ptrs.data() + r * taps;  // (mcount, taps)
        const int64_t ih0 = oh * p_.stride_h - p_.pad_top, iw0 = ow * p_.stride_w - p_.pad_left;
        if (ih0 >= 0 && ih0 + (p_.KH - 1) * p_.dilation_h < H && iw0 >= 0 && iw0 + (p_.KW - 1) * p_.dilation_w < W) {
          const uint8_t* base = src + ((n * H + ih0) * W + iw0) * p_.IC + g * icg_;  // interior: no padding
          for (size_t t = 0; t < taps; ++t) pp[t] = base + tap_offset[t];
        } else {
          for (int kh = 0, t = 0; kh < p_.KH; ++kh) {
            const int64_t ih = ih0 + kh * p_.dilation_h;
            for (int kw = 0; kw < p_.KW; ++kw, ++t) {
              const int64_t iw = iw0 + kw * p_.dilation_w;
              pp[t] = (ih < 0 || ih >= H || iw < 0 || iw >= W) ? zero_row_.data() : src + ((n * H + ih) * W + iw) * p_.IC + g * icg_;
            }
          }
        }
      }
      if (need_rowsum) rowsum_->u8_indirect(mcount, taps, s.ptrs.data(), icg_, -k_ * za_, s.rowsum.data());
    } else if (direct) {
      a = src + m0 * p_.IC + g * icg_;
      a_stride = p_.IC;
      if (need_rowsum) {
        if (s.rowsum.size() < size_t(mcount)) s.rowsum.resize(mcount);
        rowsum_->u8(mcount, a, a_stride, k_, -k_ * za_, s.rowsum.data());
      }
    } else {
      a_stride = size_t(kp_) * esz_a;
      if (s.tile.size() < size_t(mcount) * a_stride + 64) s.tile.resize(size_t(mcount) * a_stride + 64);
      if (need_rowsum && s.rowsum.size() < size_t(mcount)) s.rowsum.resize(mcount);
      uint8_t* tile = s.tile.data();  // (mcount, Kp) u8 or u16
      int64_t n = m0 / (int64_t{OH} * OW), oh = (m0 / OW) % OH, ow = m0 % OW;  // advanced per row
      for (int64_t r = 0; r < mcount; ++r, ow = ow + 1 < OW ? ow + 1 : (oh = oh + 1 < OH ? oh + 1 : (++n, 0), 0)) {
        uint8_t* row8 = tile + r * a_stride;
        int kpos = 0;
        const int64_t iw0 = ow * p_.stride_w - p_.pad_left;
        // A whole kernel row is one contiguous run of KW*IC bytes (groups == 1,
        // dilation 1, inside the image): one copy instead of KW (the 3-channel stem).
        const bool row_run = p_.groups == 1 && p_.dilation_w == 1 && iw0 >= 0 && iw0 + p_.KW <= W && !cfg.a_u16;
        for (int kh = 0; kh < p_.KH; ++kh) {
          const int64_t ih = oh * p_.stride_h - p_.pad_top + kh * p_.dilation_h;
          if (row_run && ih >= 0 && ih < H) {
            std::memcpy(row8 + kpos, src + ((n * H + ih) * W + iw0) * p_.IC, size_t(p_.KW) * icg_);
            kpos += p_.KW * icg_;
            continue;
          }
          for (int kw = 0; kw < p_.KW; ++kw, kpos += icg_) {
            const int64_t iw = ow * p_.stride_w - p_.pad_left + kw * p_.dilation_w;
            const uint8_t* px = (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    ? zero_row_.data()
                                    : src + ((n * H + ih) * W + iw) * p_.IC + g * icg_;
            if (cfg.a_u16) {
              uint16_t* row16 = reinterpret_cast<uint16_t*>(row8) + kpos;
              for (int c = 0; c < icg_; ++c) row16[c] = px[c];
            } else {
              std::memcpy(row8 + kpos, px, icg_);
            }
          }
        }
        std::memset(row8 + size_t(k_) * esz_a, 0, size_t(kp_ - k_) * esz_a);  // K padding (zero weights)
      }
      if (need_rowsum && cfg.a_u16)
        rowsum_->u16(mcount, reinterpret_cast<const uint16_t*>(tile), kp_, k_, -k_ * za_, s.rowsum.data());
      else if (need_rowsum)
        rowsum_->u8(mcount, tile, a_stride, k_, -k_ * za_, s.rowsum.data());
      a = tile;
    }
    for (int64_t nci = nc0; nci < nc1; ++nci) {
      const int64_t n0 = nci * cfg.nr, nc = std::min<int64_t>(cfg.nr, ocg_ - n0);
      const int64_t oc0 = g * ocg_ + n0;
      GemmEpilogue e = ep;
      e.scale += oc0;
      if (e.bias) e.bias += oc0;
      if (e.wei_zp) e.wei_zp += oc0;
      const uint8_t* wblk = wpk + g * group_bytes_ + (n0 / 16) * block_bytes_;
      size_t bb = block_bytes_;
      GemmUkernel ukernel = cfg.ukernel;
      IgemmUkernel igemm = cfg.igemm;
      if (cfg.panel_unpack && mcount >= kPanelRows) {  // int4: unpack once, run the int8 kernel
        wblk = unpack_panel(cfg, s, wblk, (nc + 15) / 16, &bb);
        ukernel = cfg.panel_ukernel;
        igemm = cfg.panel_igemm;
      }
      for (int64_t r = 0; r < mcount; r += mr) {
        e.rowsum = need_rowsum ? s.rowsum.data() + r : nullptr;
        uint8_t* d = static_cast<uint8_t*>(dst) + ((m0 + r) * p_.OC + oc0) * esz_d;
        if (indirect)
          igemm(std::min(mr, mcount - r), nc, taps, icg_, s.ptrs.data() + r * taps, wblk, bb, d, p_.OC, &e);
        else
          ukernel(std::min(mr, mcount - r), nc, kp_, a + r * a_stride, a_stride, wblk, bb, d, p_.OC, &e);
      }
    }
  }
}

void PackedConv::run_dw(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep) const {
  const DwConfig& cfg = *dw_;
  const int OH = p_.out_h(H), OW = p_.out_w(W);
  const size_t taps = size_t(p_.KH) * p_.KW;
  const size_t esz_d = ep.f32_out ? 4 : 1;
  const int64_t rows = int64_t{N} * OH;
  const int threads = omp_get_max_threads();
  const uint8_t* wpk = packed();
  const uint8_t* zero = zero_row_.data();
  // Row kernel: input columns of the padded window row, KHp pointers each.
  const size_t khp = (size_t(p_.KH) + 3) / 4 * 4;
  const size_t iwp = size_t(OW - 1) * p_.stride_w + size_t(p_.KW - 1) * p_.dilation_w + 1;

#pragma omp parallel for schedule(dynamic, 1) if (threads > 1 && rows > 1)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / OH, oh = row % OH;
    Scratch& s = t_scratch;
    const uint8_t* in_rows[64];  // input row of each kh, nullptr when outside the image
    const int KH = p_.KH;
    for (int kh = 0; kh < KH; ++kh) {
      const int64_t ih = oh * p_.stride_h - p_.pad_top + kh * p_.dilation_h;
      in_rows[kh] = (ih < 0 || ih >= H) ? nullptr : src + (n * H + ih) * int64_t{W} * p_.IC;
    }
    uint8_t* d = static_cast<uint8_t*>(dst) + row * OW * p_.OC * esz_d;
    if (cfg.row_ukernel) {
      if (s.ptrs.size() < iwp * khp) s.ptrs.resize(iwp * khp);
      const uint8_t** cp = s.ptrs.data();  // (KHp, iwp)
      const int64_t c_lo = std::min<int64_t>(iwp, p_.pad_left), c_hi = std::min<int64_t>(iwp, int64_t{p_.pad_left} + W);
      for (size_t kh = 0; kh < khp; ++kh) {
        const uint8_t** row = cp + kh * iwp;
        const uint8_t* base = kh < size_t(KH) ? in_rows[kh] : nullptr;
        if (!base) {
          std::fill(row, row + iwp, zero);
          continue;
        }
        std::fill(row, row + c_lo, zero);
        for (int64_t c = c_lo; c < c_hi; ++c) row[c] = base + (c - p_.pad_left) * p_.IC;
        std::fill(row + c_hi, row + iwp, zero);
      }
      const size_t xbytes = iwp * khp * 64;
      if (s.tile.size() < xbytes + 64) s.tile.resize(xbytes + 64);
      uint8_t* x = s.tile.data() + (64 - reinterpret_cast<uintptr_t>(s.tile.data()) % 64) % 64;
      cfg.row_ukernel(p_.OC, OW, p_.KH, p_.KW, p_.stride_w, p_.dilation_w, cp, iwp, wpk, za_, x, d, p_.OC, &ep);
      continue;
    }
    if (s.ptrs.size() < size_t(OW) * taps) s.ptrs.resize(size_t(OW) * taps);
    const uint8_t** ptrs = s.ptrs.data();  // (OW, taps) input pixels
    for (int ow = 0; ow < OW; ++ow) {
      const uint8_t** pp = ptrs + size_t(ow) * taps;
      const int64_t iw0 = int64_t{ow} * p_.stride_w - p_.pad_left;
      for (int kw = 0; kw < p_.KW; ++kw) {
        const int64_t iw = iw0 + kw * p_.dilation_w;
        const bool inside_w = iw >= 0 && iw < W;
        for (int kh = 0; kh < KH; ++kh) pp[kh * p_.KW + kw] = (inside_w && in_rows[kh]) ? in_rows[kh] + iw * p_.IC : zero;
      }
    }
    cfg.ukernel(p_.OC, OW, taps, ptrs, wpk, za_, d, p_.OC, &ep);
  }
}

void PackedConv::run_segmented(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep) const {
  const GemmConfig& cfg = *gemm_;
  const int OH = p_.out_h(H), OW = p_.out_w(W);
  const int64_t M = int64_t{N} * OH * OW;
  const size_t esz_d = ep.f32_out ? 4 : 1, KH = p_.KH;
  const bool need_rowsum = ep.wei_zp != nullptr;
  const int64_t mr = cfg.mr, mc = std::max<int64_t>(mr, 384 / mr * mr);
  const int64_t mchunks = (M + mc - 1) / mc, nchunks = (p_.OC + cfg.nr - 1) / cfg.nr;
  const int threads = omp_get_max_threads();
  int64_t nsplit = 1;
  if (threads > 1 && mchunks < 4 * threads) nsplit = std::min<int64_t>(nchunks, (4 * threads + mchunks - 1) / mchunks);
  const int64_t items = mchunks * nsplit;
  const int64_t src_size = int64_t{N} * H * W * p_.IC;
  const int64_t kh_step = int64_t{p_.dilation_h} * W * p_.IC;  // between kernel rows
  const uint8_t* wpk = packed();

#pragma omp parallel for schedule(dynamic, 1) if (threads > 1 && items > 1)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t split = item % nsplit, m0 = (item / nsplit) * mc, mcount = std::min(mc, M - m0);
    const int64_t nc0 = split * nchunks / nsplit, nc1 = (split + 1) * nchunks / nsplit;
    Scratch& s = t_scratch;
    if (s.ptrs.size() < size_t(mcount) * KH) s.ptrs.resize(size_t(mcount) * KH);
    if (s.tile.size() < size_t(mcount) * KH * segp_) s.tile.resize(size_t(mcount) * KH * segp_);
    if (need_rowsum && s.rowsum.size() < size_t(mcount)) s.rowsum.resize(mcount);
    int64_t n = m0 / (int64_t{OH} * OW), oh = (m0 / OW) % OH, ow = m0 % OW;  // advanced per row
    for (int64_t r = 0; r < mcount; ++r, ow = ow + 1 < OW ? ow + 1 : (oh = oh + 1 < OH ? oh + 1 : (++n, 0), 0)) {
      const uint8_t** pp = s.ptrs.data() + r * KH;  // (mcount, KH) segment pointers
      const int64_t iw0 = ow * p_.stride_w - p_.pad_left, ih0 = oh * p_.stride_h - p_.pad_top;
      const int64_t off0 = ((n * H + ih0) * W + iw0) * p_.IC;
      if (ih0 >= 0 && ih0 + int64_t(KH - 1) * p_.dilation_h < H && iw0 >= 0 && iw0 + p_.KW <= W &&
          off0 + kh_step * int64_t(KH - 1) + segp_ <= src_size) {
        for (size_t kh = 0; kh < KH; ++kh) pp[kh] = src + off0 + kh_step * int64_t(kh);  // interior
        continue;
      }
      for (size_t kh = 0; kh < KH; ++kh) {
        const int64_t ih = oh * p_.stride_h - p_.pad_top + int64_t(kh) * p_.dilation_h;
        const bool row_in = ih >= 0 && ih < H;
        const int64_t off = ((n * H + ih) * W + iw0) * p_.IC;  // window row start
        if (row_in && iw0 >= 0 && iw0 + p_.KW <= W && off + segp_ <= src_size) {
          pp[kh] = src + off;  // the segment reads segp - seg bytes past the window: zero weights
        } else {
          uint8_t* seg = s.tile.data() + (size_t(r) * KH + kh) * segp_;  // border: build it
          for (int kw = 0; kw < p_.KW; ++kw) {
            const int64_t iw = iw0 + kw;
            const uint8_t* px = (row_in && iw >= 0 && iw < W) ? src + ((n * H + ih) * W + iw) * p_.IC : zero_row_.data();
            std::memcpy(seg + size_t(kw) * p_.IC, px, p_.IC);
          }
          std::memset(seg + seg_, 0, segp_ - seg_);
          pp[kh] = seg;
        }
      }
    }
    // Each segment's first seg_ bytes are the window row (the rest meets zero weights).
    if (need_rowsum) rowsum_->u8_indirect(mcount, KH, s.ptrs.data(), seg_, -k_ * za_, s.rowsum.data());
    for (int64_t nci = nc0; nci < nc1; ++nci) {
      const int64_t oc0 = nci * cfg.nr, nc = std::min<int64_t>(cfg.nr, p_.OC - oc0);
      GemmEpilogue e = ep;
      e.scale += oc0;
      if (e.bias) e.bias += oc0;
      if (e.wei_zp) e.wei_zp += oc0;
      const uint8_t* wblk = wpk + (oc0 / 16) * block_bytes_;
      size_t bb = block_bytes_;
      IgemmUkernel igemm = cfg.igemm;
      if (cfg.panel_unpack && mcount >= kPanelRows) {  // int4: unpack once, run the int8 kernel
        wblk = unpack_panel(cfg, s, wblk, (nc + 15) / 16, &bb);
        igemm = cfg.panel_igemm;
      }
      for (int64_t r = 0; r < mcount; r += mr) {
        e.rowsum = need_rowsum ? s.rowsum.data() + r : nullptr;
        uint8_t* d = static_cast<uint8_t*>(dst) + ((m0 + r) * p_.OC + oc0) * esz_d;
        igemm(std::min(mr, mcount - r), nc, KH, segp_, s.ptrs.data() + r * KH, wblk, bb, d, p_.OC, &e);
      }
    }
  }
}

}  // namespace lapq
