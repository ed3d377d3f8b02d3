// GEMM convolution driver: M = N*OH*OW output pixels, K = KH*KW*IC/groups,
// N = OC/groups. 1x1 / stride 1 / no padding (with K already padded) reads src
// rows in place; K x K with whole K blocks per tap uses an indirection buffer
// (tap pointers; with groups = 1 and dilation_w = 1 one pointer per kernel row:
// its KW taps are KW*IC contiguous bytes); everything else builds im2col tiles of
// at most ~256 KiB per work item (never a full im2col copy). Work items = (group,
// M chunk, OC range); each chunk runs in balanced row tiles.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"
#include "kernels/conv_scratch.h"
#include "kernels/rowsum.h"

namespace lapq {

namespace {

struct WorkSplit {
  int64_t mc, mchunks, nsplit;  // rows per M chunk, M chunks, OC ranges per chunk
};

// Work items (group, M chunk, OC range) for `threads` threads: M chunks of at most
// mc_max rows and equal size; with several threads at least ~4 items per thread
// (more M chunks first, then OC ranges of equal size where nchunks allows) and an
// item count that is a multiple of the thread count, so no thread idles at the
// end of a layer (e.g. 56x56 with 7 chunks ran 4 + 3).
WorkSplit balanced_split(int64_t M, int64_t mr, int64_t mc_max, int64_t groups, int64_t nchunks, int threads) {
  const int64_t max_mchunks = (M + mr - 1) / mr;
  int64_t mchunks = (M + mc_max - 1) / mc_max, nsplit = 1;
  if (threads > 1) {
    // Split M first, down to chunks of 8 row tiles: with static scheduling each
    // thread then owns one contiguous range of output rows, which the next op
    // (residual add, next conv) reads with the same split from its own cache.
    // Split OC only when M is too short for that.
    const int64_t m_room = std::max<int64_t>(1, M / (8 * mr));
    if (groups * mchunks < 4 * threads)
      mchunks = std::max(mchunks, std::min(m_room, (4 * threads + groups - 1) / groups));
    const int64_t items_m = groups * mchunks;
    if (items_m < 4 * threads) {
      const int64_t want = std::min<int64_t>(nchunks, (4 * threads + items_m - 1) / items_m);
      nsplit = want;
      while (nsplit < nchunks && nchunks % nsplit != 0) ++nsplit;  // equal OC ranges
    }
    while ((groups * mchunks * nsplit) % threads != 0 && mchunks < max_mchunks) ++mchunks;
  }
  const int64_t mc = ((M + mchunks - 1) / mchunks + mr - 1) / mr * mr;  // equal chunks, whole row tiles
  return {mc, (M + mc - 1) / mc, nsplit};
}

}  // namespace

void PackedConv::run_gemm(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep,
                          const ResidualStore* res) const {
  const GemmConfig& cfg = *gemm_;
  const int OH = p_.out_h(H), OW = p_.out_w(W);
  const int64_t M = int64_t{N} * OH * OW;
  const size_t esz_a = cfg.a_u16 ? 2 : 1, esz_d = ep.f32_out ? 4 : 1;
  const bool direct = p_.KH == 1 && p_.KW == 1 && p_.stride_h == 1 && p_.stride_w == 1 && p_.pad_top == 0 &&
                      p_.pad_left == 0 && p_.pad_bottom == 0 && p_.pad_right == 0 && !cfg.a_u16 && kp_ == k_;
  // Indirect GEMM: tap pointers instead of an im2col copy (needs whole kr groups per tap).
  const bool indirect = !direct && cfg.igemm != nullptr && icg_ % cfg.kr == 0;
  // Long-K direct GEMM through the exact-row igemm (one pointer per row, taps = 1).
  const bool direct_rows = direct && cfg.igemm_exact_rows && kp_ >= kIgemmDirectMinK;
  // Kernel-row segments: with groups = 1 and dilation_w = 1 the KW taps of a kernel
  // row are one run of KW*IC bytes in src (K is packed (kh, kw, c)), so a row needs
  // KH pointers of KW*IC bytes instead of KH*KW of IC: a third of the pointer setup
  // and of the per-tap loop restarts for 3x3. A window that crosses the left or
  // right image edge gets its run assembled in scratch (za outside the image); a
  // kernel row outside the image points at a run of za. (Also the int4 layout: its
  // kernels take any segment length that is a multiple of 8.)
  constexpr int kMaxRunRows = 16;
  const bool rows_as_runs = indirect && p_.groups == 1 && p_.dilation_w == 1 && p_.KW > 1 &&
                            p_.KH <= kMaxRunRows &&
                            (cfg.layout == GemmLayout::n16c4_s8 || cfg.layout == GemmLayout::n16c8_s4);
  const size_t taps = rows_as_runs ? size_t(p_.KH) : size_t(p_.KH) * p_.KW;
  const size_t seg = rows_as_runs ? size_t(p_.KW) * icg_ : size_t(icg_);  // bytes per pointer
  const bool need_rowsum = ep.wei_zp != nullptr;
  // M chunk: a tile of at most ~256 KiB (stays in L2 while the OC loop reuses it).
  const int64_t mr = cfg.mr;
  int64_t mc_max = std::max<int64_t>(mr, (256 * 1024 / (int64_t(kp_) * esz_a)) / mr * mr);
  if (indirect) mc_max = std::max<int64_t>(mr, 512 / mr * mr);
  const int64_t nchunks = (ocg_ + cfg.nr - 1) / cfg.nr;
  const int threads = omp_get_max_threads();
  const WorkSplit split = balanced_split(M, mr, mc_max, p_.groups, nchunks, threads);
  const int64_t mc = split.mc, mchunks = split.mchunks, nsplit = split.nsplit;
  const int64_t items = int64_t{p_.groups} * mchunks * nsplit;
  const uint8_t* wpk = packed();
  std::vector<int64_t> tap_offset(taps);  // input offset of each tap (or kernel row) from the window origin
  for (int kh = 0; kh < p_.KH; ++kh)
    for (int kw = 0; kw < (rows_as_runs ? 1 : p_.KW); ++kw)
      tap_offset[rows_as_runs ? kh : kh * p_.KW + kw] =
          (int64_t{kh} * p_.dilation_h * W + int64_t{kw} * p_.dilation_w) * p_.IC;

#pragma omp parallel for schedule(static) if (threads > 1 && items > 1)  // contiguous rows per thread
  for (int64_t item = 0; item < items; ++item) {
    const int64_t split = item % nsplit, mi = (item / nsplit) % mchunks, g = item / nsplit / mchunks;
    const int64_t m0 = mi * mc, mcount = std::min(mc, M - m0);
    const int64_t nc0 = split * nchunks / nsplit, nc1 = (split + 1) * nchunks / nsplit;  // nr-chunk range
    Scratch& s = thread_scratch();
    // Fused residual add: each kernel call's f32 tile (<= mr x nr) goes here first.
    float* out_tile = res ? ResidualStore::tile(s, size_t(cfg.mr) * cfg.nr) : nullptr;
    const uint8_t* a = nullptr;
    size_t a_stride = 0;
    if (indirect) {
      if (s.ptrs.size() < size_t(mcount) * taps) s.ptrs.resize(size_t(mcount) * taps);
      if (need_rowsum && s.rowsum.size() < size_t(mcount)) s.rowsum.resize(mcount);
      int64_t n = m0 / (int64_t{OH} * OW), oh = (m0 / OW) % OH, ow = m0 % OW;  // advanced per row
      if (rows_as_runs) {
        // Output columns [ow_in0, ow_in1) read windows inside the image horizontally;
        // the others (edge pixels) get their runs assembled in scratch.
        const int64_t sw = p_.stride_w, pl = p_.pad_left;
        const int64_t ow_in0 = std::min<int64_t>(OW, (pl + sw - 1) / sw);
        const int64_t ow_in1 = std::max<int64_t>(ow_in0, std::min<int64_t>(OW, W - p_.KW + pl < 0 ? 0 : (W - p_.KW + pl) / sw + 1));
        const auto inside = [&](int64_t c0, int64_t c1) {  // columns of [c0, c1) in [ow_in0, ow_in1)
          return std::max<int64_t>(0, std::min(c1, ow_in1) - std::max(c0, ow_in0));
        };
        // Scratch: one run of za, then a run per (edge pixel, kernel row); sized first
        // (pointers into it must stay valid).
        size_t edge_rows = 0;
        for (int64_t r = 0, c = ow; r < mcount; c = 0) {
          const int64_t len = std::min<int64_t>(OW - c, mcount - r);
          edge_rows += size_t(len - inside(c, c + len));
          r += len;
        }
        const size_t need = (1 + edge_rows * size_t(p_.KH)) * seg;
        if (s.tile.size() < need) s.tile.resize(need);
        uint8_t* za_run = s.tile.data();
        std::memset(za_run, za_, seg);
        uint8_t* edge = za_run + seg;
        const size_t ic = size_t(p_.IC);
        // Per output row: the start of each input row it reads (null outside the
        // image); interior pixels then cost one add per run.
        const uint8_t* row_start[kMaxRunRows];
        const auto edge_pixel = [&](int64_t c, const uint8_t** pp) {
          const int64_t iw0 = c * sw - pl;
          const int64_t lo = std::clamp<int64_t>(-iw0, 0, p_.KW), hi = std::clamp<int64_t>(W - iw0, lo, p_.KW);
          for (int kh = 0; kh < p_.KH; ++kh) {
            if (!row_start[kh]) {
              pp[kh] = za_run;
              continue;
            }
            // taps [lo, hi) lie inside the image, the others read za
            std::memset(edge, za_, size_t(lo) * ic);
            if (hi > lo) std::memcpy(edge + lo * ic, row_start[kh] + (iw0 + lo) * p_.IC, size_t(hi - lo) * ic);
            std::memset(edge + hi * ic, za_, size_t(p_.KW - hi) * ic);
            pp[kh] = edge;
            edge += seg;
          }
        };
        for (int64_t r = 0; r < mcount; ow = 0, oh = oh + 1 < OH ? oh + 1 : (++n, 0)) {
          const int64_t len = std::min<int64_t>(OW - ow, mcount - r);  // this output row's pixels in the chunk
          const int64_t ih0 = oh * p_.stride_h - p_.pad_top;
          for (int kh = 0; kh < p_.KH; ++kh) {
            const int64_t ih = ih0 + int64_t{kh} * p_.dilation_h;
            row_start[kh] = ih < 0 || ih >= H ? nullptr : src + (n * H + ih) * W * p_.IC;
          }
          const auto col_ptrs = [&](int64_t c) { return s.ptrs.data() + (r + c - ow) * taps; };  // column c's KH
          const int64_t c_in0 = std::clamp(ow_in0, ow, ow + len), c_in1 = std::clamp(ow_in1, c_in0, ow + len);
          for (int64_t c = ow; c < c_in0; ++c) edge_pixel(c, col_ptrs(c));
          for (int kh = 0; kh < p_.KH; ++kh) {
            const uint8_t* q = row_start[kh] ? row_start[kh] + (c_in0 * sw - pl) * p_.IC : za_run;
            const int64_t step = row_start[kh] ? sw * p_.IC : 0;
            const uint8_t** pp = col_ptrs(c_in0) + kh;
            for (int64_t c = c_in0; c < c_in1; ++c, pp += taps, q += step) *pp = q;
          }
          for (int64_t c = c_in1; c < ow + len; ++c) edge_pixel(c, col_ptrs(c));
          r += len;
        }
      } else {
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
      }
      if (need_rowsum) rowsum_->u8_indirect(mcount, taps, s.ptrs.data(), seg, -k_ * za_, s.rowsum.data());
    } else if (direct) {
      a = src + m0 * p_.IC + g * icg_;
      a_stride = p_.IC;
      if (need_rowsum) {
        if (s.rowsum.size() < size_t(mcount)) s.rowsum.resize(mcount);
        rowsum_->u8(mcount, a, a_stride, k_, -k_ * za_, s.rowsum.data());
      }
      if (direct_rows) {
        if (s.ptrs.size() < size_t(mcount)) s.ptrs.resize(mcount);
        for (int64_t r = 0; r < mcount; ++r) s.ptrs[r] = a + r * a_stride;
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
      // The next chunk's packed weights, a slice per row tile (kernels prefetch a line
      // per K step): late layers have MBs of cold weights and few rows, so the first
      // row tile of each chunk would otherwise wait on memory.
      const uint8_t* next_w = nullptr;
      size_t next_bytes = 0, slice = 0;
      if (nci + 1 < nc1 && mcount > mr && !cfg.panel_unpack) {
        const int64_t next_n0 = n0 + cfg.nr, next_nc = std::min<int64_t>(cfg.nr, ocg_ - next_n0);
        next_w = wpk + g * group_bytes_ + (next_n0 / 16) * block_bytes_;
        next_bytes = size_t((next_nc + 15) / 16) * block_bytes_;
        slice = (next_bytes / size_t((mcount + mr - 1) / mr) + 64) / 64 * 64;
      }
      // Balanced register tiles (49 rows: 4 x 6 + 5 x 5, not 8 x 6 + 1) for an igemm
      // whose cost follows its rows (GemmConfig::igemm_exact_rows). Not for the 6x64
      // ukernel: its 1-row tile is a cheap special case (8 x 6 + 1 beats 9 tiles of
      // 5-6 rows), nor for the int4 VNNI kernel, which takes up to 60 rows per call
      // and groups them itself.
      const bool balanced = (indirect || direct_rows) && cfg.igemm_exact_rows;
      const int64_t ntiles = (mcount + mr - 1) / mr;
      const int64_t base_rows = balanced ? mcount / ntiles : mr, extra_rows = balanced ? mcount % ntiles : 0;
      for (int64_t ti = 0, r = 0; ti < ntiles; ++ti) {
        const int64_t rows = std::min(mcount - r, base_rows + (ti < extra_rows ? 1 : 0));
        e.prefetch = next_w;
        e.prefetch_bytes = std::min(slice, next_bytes);
        next_w += e.prefetch_bytes;
        next_bytes -= e.prefetch_bytes;
        e.rowsum = need_rowsum ? s.rowsum.data() + r : nullptr;
        void* d = res ? static_cast<void*>(out_tile) : static_cast<uint8_t*>(dst) + ((m0 + r) * p_.OC + oc0) * esz_d;
        const size_t ld = res ? size_t(nc) : size_t(p_.OC);
        if (indirect)
          igemm(rows, nc, taps, seg, s.ptrs.data() + r * taps, wblk, bb, d, ld, &e);
        else if (direct_rows && rows > 1)  // (one row: the ukernel's 4-chain FC path)
          igemm(rows, nc, 1, kp_, s.ptrs.data() + r, wblk, bb, d, ld, &e);
        else
          ukernel(rows, nc, kp_, a + r * a_stride, a_stride, wblk, bb, d, ld, &e);
        if (res) res->store(out_tile, m0 + r, oc0, rows, nc);
        r += rows;
      }
    }
  }
}

}  // namespace lapq
