// Column-window GEMM driver (groups == 1, dilation_w == 1, IC not a multiple of
// the K block: the 3-channel stem). For one output row, the KH input rows its
// windows read are rearranged once into columns, col[x] = the KH*IC bytes
// (kh, c) of padded input column x (za outside the image). The packer orders K
// as (kw, kh, c), so output pixel ow's whole window is the KW*KH*IC contiguous
// bytes starting at col[ow * stride_w]: a plain GEMM row (stride stride_w*KH*IC
// bytes) with K padded once (stem: 147 -> 148, where one pointer per kernel row
// padded every 21-byte row run to 24: 168) and no pointer set-up per pixel.
// The rearrangement writes stride_w*KH*IC bytes per output pixel (42 for the
// stem, vs 147*64 MACs).
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/columns.h"
#include "kernels/conv.h"
#include "kernels/conv_scratch.h"
#include "kernels/rowsum.h"

namespace lapq {

namespace {

constexpr size_t kColumnSlack = 64;  // zero bytes after the columns: K padding reads up to kr-1 of them

// col[x * KH*IC + kh*IC + c] for x < xs: rows[kh] is input row ih(kh) at column 0 (a row
// of za where ih is outside the image), columns x < pad_left or >= pad_left + W read za.
// avx512: the host runs AVX-512 BW (u8_columns_c3__avx512 for IC = 3, KH <= 7).
void build_columns(const uint8_t* const* rows, int KH, int IC, int W, int pad_left, int64_t xs, uint8_t za,
                   bool avx512, uint8_t* col) {
  const size_t colb = size_t(KH) * IC;
  const int64_t x0 = std::min<int64_t>(pad_left, xs), x1 = std::min<int64_t>(pad_left + W, xs);  // image columns
  std::memset(col, za, size_t(x0) * colb);
  std::memset(col + size_t(x1) * colb, za, size_t(xs - x1) * colb);
  int64_t x = x0;
  if (IC == 3 && avx512 && KH <= 7 && x1 > x0)  // x0 = pad_left here: image pixel 0
    x += static_cast<int64_t>(u8_columns_c3__avx512(rows, KH, size_t(x1 - x0), size_t(W) * 3, col + size_t(x0) * colb));
  if (IC == 3) {
    // 4-byte moves: each also writes the next slot's first byte, which the next
    // move (next kh, or kh = 0 of the next column) overwrites. The image's last
    // column would read past the row, so it takes the generic copy below.
    const int64_t xfast = std::min<int64_t>(x1, pad_left + W - 1);
    for (; x < xfast; ++x) {
      uint8_t* d = col + size_t(x) * colb;
      const size_t o = size_t(x - pad_left) * 3;
      for (int kh = 0; kh < KH; ++kh) std::memcpy(d + kh * 3, rows[kh] + o, 4);
    }
  }
  for (; x < x1; ++x) {
    uint8_t* d = col + size_t(x) * colb;
    const size_t o = size_t(x - pad_left) * IC;
    for (int kh = 0; kh < KH; ++kh) std::memcpy(d + size_t(kh) * IC, rows[kh] + o, IC);
  }
}

}  // namespace

void PackedConv::run_columns(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep,
                             const ResidualStore* res) const {
  const GemmConfig& cfg = *gemm_;
  const int OH = p_.out_h(H), OW = p_.out_w(W);
  const size_t esz_d = ep.f32_out ? 4 : 1;
  const bool need_rowsum = ep.wei_zp != nullptr;
  const int KH = p_.KH, IC = p_.IC;
  const size_t colb = size_t(KH) * IC, a_stride = size_t(p_.stride_w) * colb;
  const int64_t xs = int64_t(OW - 1) * p_.stride_w + p_.KW;  // padded input columns read
  const size_t col_bytes = size_t(xs) * colb + kColumnSlack;
  const size_t za_row_bytes = size_t(W) * IC;
  const int64_t rows = int64_t{N} * OH, mr = cfg.mr;
  const int64_t nchunks = (p_.OC + cfg.nr - 1) / cfg.nr;
  const int threads = omp_get_max_threads();
  int64_t nsplit = 1;  // OC ranges per output row when there are few rows for the threads
  if (threads > 1 && rows < 4 * threads) nsplit = std::min<int64_t>(nchunks, (4 * threads + rows - 1) / rows);
  const int64_t items = rows * nsplit;
  const uint8_t* wpk = packed();
  const bool avx512 = isa_ == Isa::avx512 || isa_ == Isa::avx512vnni;

#pragma omp parallel for schedule(dynamic, 1) if (threads > 1 && items > 1)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t split = item % nsplit, row = item / nsplit, n = row / OH, oh = row % OH;
    const int64_t nc0 = split * nchunks / nsplit, nc1 = (split + 1) * nchunks / nsplit;
    Scratch& s = thread_scratch();
    if (s.tile.size() < col_bytes + za_row_bytes) s.tile.resize(col_bytes + za_row_bytes);
    if (s.ptrs.size() < size_t(KH)) s.ptrs.resize(KH);
    if (need_rowsum && s.rowsum.size() < size_t(OW)) s.rowsum.resize(OW);
    float* out_tile = res ? ResidualStore::tile(s, size_t(mr) * cfg.nr) : nullptr;  // fused residual add
    uint8_t* col = s.tile.data();
    uint8_t* za_row = col + col_bytes;
    bool za_row_ready = false;
    const uint8_t** rp = s.ptrs.data();
    for (int kh = 0; kh < KH; ++kh) {
      const int64_t ih = oh * p_.stride_h - p_.pad_top + int64_t{kh} * p_.dilation_h;
      if (ih >= 0 && ih < H) {
        rp[kh] = src + (n * H + ih) * int64_t{W} * IC;
      } else {
        if (!za_row_ready) std::memset(za_row, za_, za_row_bytes), za_row_ready = true;
        rp[kh] = za_row;
      }
    }
    build_columns(rp, KH, IC, W, p_.pad_left, xs, static_cast<uint8_t>(za_), avx512, col);
    std::memset(col + col_bytes - kColumnSlack, 0, kColumnSlack);
    if (need_rowsum) rowsum_->u8(OW, col, a_stride, k_, -k_ * za_, s.rowsum.data());
    const int64_t m0 = row * OW;  // first output pixel of the row
    for (int64_t nci = nc0; nci < nc1; ++nci) {
      const int64_t oc0 = nci * cfg.nr, nc = std::min<int64_t>(cfg.nr, p_.OC - oc0);
      GemmEpilogue e = ep;
      e.scale += oc0;
      if (e.bias) e.bias += oc0;
      if (e.wei_zp) e.wei_zp += oc0;
      const uint8_t* wblk = wpk + (oc0 / 16) * block_bytes_;
      size_t bb = block_bytes_;
      GemmUkernel ukernel = cfg.ukernel;
      if (cfg.panel_unpack && OW >= kPanelRows) {  // int4: unpack once, run the int8 kernel
        wblk = unpack_panel(cfg, s, wblk, (nc + 15) / 16, &bb);
        ukernel = cfg.panel_ukernel;
      }
      for (int64_t r = 0; r < OW; r += mr) {
        e.rowsum = need_rowsum ? s.rowsum.data() + r : nullptr;
        const int64_t rows = std::min<int64_t>(mr, OW - r);
        void* d = res ? static_cast<void*>(out_tile) : static_cast<uint8_t*>(dst) + ((m0 + r) * p_.OC + oc0) * esz_d;
        ukernel(rows, nc, kp_, col + size_t(r) * a_stride, a_stride, wblk, bb, d, res ? size_t(nc) : size_t(p_.OC), &e);
        if (res) res->store(out_tile, m0 + r, oc0, rows, nc);
      }
    }
  }
}

}  // namespace lapq
