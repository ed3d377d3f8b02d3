// 2-D sliding-window geometry shared by the oneDNN Conv and pooling kernels:
// ONNX strides / dilations / pads / auto_pad resolved against the known input
// and output sizes (the output comes from shape inference, so ceil_mode and
// SAME_* need no rules of their own here beyond the pads they imply).
#pragma once

#include <cstdint>
#include <string>

#include "engine/graph.h"

namespace lapq::onednn {

struct Window2d {
  int64_t KH = 1, KW = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;  // ONNX convention: 1 = dense
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
};

// Reads strides, dilations (when `has_dilations`), pads and auto_pad for a
// window of KH x KW from H x W to OH x OW. With `allow_extra_end_pad` (pooling
// with ceil_mode) the end pads grow until the output size is met. Returns
// false with the reason in *why_not when the attributes are malformed or do
// not produce OH x OW.
bool resolve_window(const Attributes& a, int64_t H, int64_t W, int64_t OH, int64_t OW, bool has_dilations,
                    bool allow_extra_end_pad, Window2d* w, std::string* why_not);

}  // namespace lapq::onednn
