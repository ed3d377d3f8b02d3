// Depthwise convolution driver: the row kernel gets groups of output rows (their
// windows' input rows), the pixel kernel one output row per item with an
// indirection buffer of tap pointers.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"
#include "kernels/conv_scratch.h"
#include "kernels/rowsum.h"

namespace lapq {

void PackedConv::run_dw(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep,
                        const ResidualStore* res) const {
  const DwConfig& cfg = *dw_;
  const int OH = p_.out_h(H), OW = p_.out_w(W);
  const size_t taps = size_t(p_.KH) * p_.KW;
  const size_t esz_d = ep.f32_out ? 4 : 1;
  const int64_t rows = int64_t{N} * OH;
  const int threads = omp_get_max_threads();
  const uint8_t* wpk = packed();
  const uint8_t* zero = zero_row_.data();
  const size_t khp = (size_t(p_.KH) + 3) / 4 * 4;  // row kernel: kernel rows padded to 4

  if (cfg.row_ukernel) {
    // Groups of output rows per call (the kernel sets up each channel block once per
    // call): all rows with one thread, about four groups per thread otherwise. Every
    // output comes from the same integer arithmetic whatever the grouping, so the
    // result does not depend on the thread count.
    int64_t per = threads > 1 ? std::max<int64_t>(1, rows / (int64_t{threads} * 4)) : rows;
    // Fused residual add: the group's f32 rows go through a per-thread buffer of
    // about 32 KB (at least one row), so fewer rows per call.
    constexpr int64_t kFusedTileFloats = 8192;
    if (res) per = std::min(per, std::max<int64_t>(1, kFusedTileFloats / (int64_t{OW} * p_.OC)));
    const int64_t items = (rows + per - 1) / per;
#pragma omp parallel for schedule(dynamic, 1) if (threads > 1 && items > 1)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t r0 = it * per, nr = std::min(per, rows - r0);
      Scratch& s = thread_scratch();
      if (s.ptrs.size() < size_t(nr) * khp) s.ptrs.resize(size_t(nr) * khp);
      const uint8_t** win = s.ptrs.data();  // (nr, KHp) window rows, nullptr = za
      for (int64_t j = 0; j < nr; ++j) {
        const int64_t n = (r0 + j) / OH, oh = (r0 + j) % OH;
        for (size_t kh = 0; kh < khp; ++kh) {
          const int64_t ih = oh * p_.stride_h - p_.pad_top + int64_t(kh) * p_.dilation_h;
          const bool outside = kh >= size_t(p_.KH) || ih < 0 || ih >= H;
          win[j * khp + kh] = outside ? nullptr : src + (n * H + ih) * int64_t{W} * p_.IC;
        }
      }
      const size_t xbytes = dw_row_scratch_bytes(OW, p_.KH, p_.KW, p_.stride_w, p_.dilation_w);
      if (s.tile.size() < xbytes + 64) s.tile.resize(xbytes + 64);
      uint8_t* x = s.tile.data() + (64 - reinterpret_cast<uintptr_t>(s.tile.data()) % 64) % 64;
      float* out_tile = res ? ResidualStore::tile(s, size_t(nr) * OW * p_.OC) : nullptr;
      void* d = res ? static_cast<void*>(out_tile) : static_cast<uint8_t*>(dst) + r0 * OW * p_.OC * esz_d;
      cfg.row_ukernel(p_.OC, OW, p_.KH, p_.KW, p_.stride_w, p_.dilation_w, size_t(nr), win, W, p_.pad_left, zero, wpk,
                      za_, x, d, size_t(OW) * p_.OC, p_.OC, &ep);
      if (res) res->store(out_tile, r0 * OW, 0, nr * OW, p_.OC);
    }
    return;
  }

#pragma omp parallel for schedule(dynamic, 1) if (threads > 1 && rows > 1)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t n = row / OH, oh = row % OH;
    Scratch& s = thread_scratch();
    const uint8_t* in_rows[64];  // input row of each kh, nullptr when outside the image
    const int KH = p_.KH;
    for (int kh = 0; kh < KH; ++kh) {
      const int64_t ih = oh * p_.stride_h - p_.pad_top + kh * p_.dilation_h;
      in_rows[kh] = (ih < 0 || ih >= H) ? nullptr : src + (n * H + ih) * int64_t{W} * p_.IC;
    }
    float* out_tile = res ? ResidualStore::tile(s, size_t(OW) * p_.OC) : nullptr;  // fused residual add
    void* d = res ? static_cast<void*>(out_tile) : static_cast<uint8_t*>(dst) + row * OW * p_.OC * esz_d;
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
    if (res) res->store(out_tile, row * OW, 0, OW, p_.OC);
  }
}

}  // namespace lapq
