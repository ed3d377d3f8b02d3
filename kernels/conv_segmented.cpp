// Row-segment indirect GEMM driver (groups == 1, few input channels, e.g. the
// 3-channel stem): K is KH segments of KW*IC bytes, one input row run each.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"
#include "kernels/conv_scratch.h"
#include "kernels/rowsum.h"

namespace lapq {

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
    Scratch& s = thread_scratch();
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
