#include "kernels/reference.h"

#include "kernels/epilogue.h"

namespace lapq {
namespace {

void conv_ref_impl(const ConvParams& p, const ConvWeights& w, const uint8_t* src, int N, int H, int W, void* dst,
                   const GemmEpilogue& ep) {
  const int OH = p.out_h(H), OW = p.out_w(W), icg = p.IC / p.groups, ocg = p.OC / p.groups;
  const int32_t za = w.src_zero_point;
  for (int n = 0; n < N; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow)
        for (int oc = 0; oc < p.OC; ++oc) {
          const int g = oc / ocg;
          int64_t acc = w.bias ? w.bias[oc] : 0, rowsum = 0;
          for (int kh = 0; kh < p.KH; ++kh)
            for (int kw = 0; kw < p.KW; ++kw) {
              const int ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
              const int iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
              const bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
              for (int c = 0; c < icg; ++c) {
                const int32_t a = inside ? src[((size_t(n) * H + ih) * W + iw) * p.IC + g * icg + c] : za;
                const int32_t wv = w.wei[((size_t(oc) * p.KH + kh) * p.KW + kw) * icg + c];
                acc += int64_t{a - za} * wv;
                rowsum += a - za;
              }
            }
          GemmEpilogue e = ep;
          e.wei_zp = w.wei_zero_point;
          const size_t idx = ((size_t(n) * OH + oh) * OW + ow) * p.OC + oc;
          epilogue_store(static_cast<int32_t>(acc), static_cast<int32_t>(rowsum), oc, e, dst, idx);
        }
}

}  // namespace

void conv_reference(const ConvParams& p, const ConvWeights& w, const uint8_t* src, int N, int H, int W, uint8_t* dst,
                    const RequantU8& out) {
  GemmEpilogue ep;
  ep.scale = out.scale;
  ep.bias = out.bias;
  ep.zp = out.zero_point;
  ep.lo = static_cast<float>(out.qmin - out.zero_point);
  ep.hi = static_cast<float>(out.qmax - out.zero_point);
  conv_ref_impl(p, w, src, N, H, W, dst, ep);
}

void conv_reference(const ConvParams& p, const ConvWeights& w, const uint8_t* src, int N, int H, int W, float* dst,
                    const DequantF32& out) {
  GemmEpilogue ep;
  ep.scale = out.scale;
  ep.bias = out.bias;
  ep.f32_out = true;
  conv_ref_impl(p, w, src, N, H, W, dst, ep);
}

}  // namespace lapq
