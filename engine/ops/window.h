// Sliding-window geometry shared by Conv and the pooling ops: kernel,
// strides, dilations, explicit or auto_pad padding, ceil_mode, output sizes.
#pragma once

#include <string>
#include <vector>

#include "engine/graph.h"

namespace lapq::ops {

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end;
  std::vector<int64_t> out;  // output spatial sizes (-1 when the input size is unknown)
};

// `in` holds the input's spatial sizes (may be -1); `kernel` the kernel
// sizes. Reads strides, dilations, pads and auto_pad from the node
// (dilations only when `has_dilations`). Throws naming `where` when the
// attributes have the wrong length or the window does not fit.
Window compute_window(const Node& node, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                      bool ceil_mode, bool has_dilations, const std::string& where);

}  // namespace lapq::ops
