#include "engine/onednn/window.h"

#include <algorithm>

namespace lapq::onednn {

namespace {

// ONNX auto_pad SAME_*: total padding so that out = ceil(in / stride).
void same_pads(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dil, bool upper, int64_t* begin,
               int64_t* end) {
  int64_t total = std::max<int64_t>(0, (out - 1) * stride + (k - 1) * dil + 1 - in);
  *begin = upper ? total / 2 : total - total / 2;
  *end = total - *begin;
}

int64_t window_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pb, int64_t pe) {
  return (in + pb + pe - ((k - 1) * dil + 1)) / stride + 1;
}

bool fail(std::string* why_not, const std::string& reason) {
  if (why_not) *why_not = reason;
  return false;
}

}  // namespace

bool resolve_window(const Attributes& a, int64_t H, int64_t W, int64_t OH, int64_t OW, bool has_dilations,
                    bool allow_extra_end_pad, Window2d* w, std::string* why_not) {
  auto strides = a.get_ints("strides", {1, 1});
  auto dil = has_dilations ? a.get_ints("dilations", {1, 1}) : std::vector<int64_t>{1, 1};
  if (strides.size() != 2 || dil.size() != 2) return fail(why_not, "strides / dilations are not 2-D");
  w->stride_h = strides[0];
  w->stride_w = strides[1];
  w->dil_h = dil[0];
  w->dil_w = dil[1];
  if (w->stride_h < 1 || w->stride_w < 1 || w->dil_h < 1 || w->dil_w < 1)
    return fail(why_not, "non-positive stride or dilation");
  const std::string auto_pad = a.get_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    auto pads = a.get_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) return fail(why_not, "pads is not 4 values");
    w->pad_t = pads[0];
    w->pad_l = pads[1];
    w->pad_b = pads[2];
    w->pad_r = pads[3];
  } else if (auto_pad == "VALID") {
    w->pad_t = w->pad_l = w->pad_b = w->pad_r = 0;
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const bool upper = auto_pad == "SAME_UPPER";
    same_pads(H, OH, w->KH, w->stride_h, w->dil_h, upper, &w->pad_t, &w->pad_b);
    same_pads(W, OW, w->KW, w->stride_w, w->dil_w, upper, &w->pad_l, &w->pad_r);
  } else {
    return fail(why_not, "unknown auto_pad '" + auto_pad + "'");
  }
  if (w->pad_t < 0 || w->pad_l < 0 || w->pad_b < 0 || w->pad_r < 0) return fail(why_not, "negative pads");
  if (allow_extra_end_pad) {
    // ceil_mode: the last window may hang over the end; pad the end enough.
    while (window_out(H, w->KH, w->stride_h, w->dil_h, w->pad_t, w->pad_b) < OH) ++w->pad_b;
    while (window_out(W, w->KW, w->stride_w, w->dil_w, w->pad_l, w->pad_r) < OW) ++w->pad_r;
  }
  if (window_out(H, w->KH, w->stride_h, w->dil_h, w->pad_t, w->pad_b) != OH ||
      window_out(W, w->KW, w->stride_w, w->dil_w, w->pad_l, w->pad_r) != OW)
    return fail(why_not, "output size does not follow from the window attributes");
  if (OH < 1 || OW < 1) return fail(why_not, "empty output");
  return true;
}

}  // namespace lapq::onednn
