// Depthwise convolution driver: one output row per item; the row kernel gets the
// window's input rows, the pixel kernel an indirection buffer of tap pointers.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/conv.h"
#include "kernels/conv_scratch.h"
#include "kernels/rowsum.h"

namespace lapq {

void PackedConv::run_dw(const uint8_t* src, int N, int H, int W, void* dst, const GemmEpilogue& ep) const {
  const DwConfig& cfg = *dw_;
  const int OH = p_.out_h(H), OW = p_.out_w(W);
  const size_t taps = size_t(p_.KH) * p_.KW;
  const size_t esz_d = ep.f32_out ? 4 : 1;
  const int64_t rows = int64_t{N} * OH;
  const int threads = omp_get_max_threads();
  const uint8_t* wpk = packed();
  const uint8_t* zero = zero_row_.data();
  const size_t khp = (size_t(p_.KH) + 3) / 4 * 4;  // row kernel: kernel rows padded to 4

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
    uint8_t* d = static_cast<uint8_t*>(dst) + row * OW * p_.OC * esz_d;
    if (cfg.row_ukernel) {
      const uint8_t* win_rows[68];  // KHp <= 64 + 3 input rows of the window, nullptr = za
      for (size_t kh = 0; kh < khp; ++kh) win_rows[kh] = kh < size_t(KH) ? in_rows[kh] : nullptr;
      const size_t xbytes = dw_row_scratch_bytes(OW, p_.KH, p_.KW, p_.stride_w, p_.dilation_w);
      if (s.tile.size() < xbytes + 64) s.tile.resize(xbytes + 64);
      uint8_t* x = s.tile.data() + (64 - reinterpret_cast<uintptr_t>(s.tile.data()) % 64) % 64;
      cfg.row_ukernel(p_.OC, OW, p_.KH, p_.KW, p_.stride_w, p_.dilation_w, win_rows, W, p_.pad_left, zero, wpk, za_,
                      x, d, p_.OC, &ep);
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

}  // namespace lapq
