#include "engine/ops/window.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/tensor.h"

namespace lapq::ops {

Window compute_window(const Node& node, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                      bool ceil_mode, bool has_dilations, const std::string& where) {
  const size_t nd = in.size();
  Window w;
  w.kernel = kernel;
  LAPQ_CHECK(kernel.size() == nd, ErrorCode::kInvalidModel, where, ": kernel has ", kernel.size(),
             " spatial dims but the input has ", nd);
  w.strides = node.attrs.get_ints("strides", std::vector<int64_t>(nd, 1));
  w.dilations = has_dilations ? node.attrs.get_ints("dilations", std::vector<int64_t>(nd, 1))
                              : std::vector<int64_t>(nd, 1);
  std::vector<int64_t> pads = node.attrs.get_ints("pads", std::vector<int64_t>(2 * nd, 0));
  LAPQ_CHECK(w.strides.size() == nd, ErrorCode::kInvalidModel, where, ": strides has ", w.strides.size(),
             " values, expected ", nd);
  LAPQ_CHECK(w.dilations.size() == nd, ErrorCode::kInvalidModel, where, ": dilations has ", w.dilations.size(),
             " values, expected ", nd);
  LAPQ_CHECK(pads.size() == 2 * nd, ErrorCode::kInvalidModel, where, ": pads has ", pads.size(),
             " values, expected ", 2 * nd);
  const std::string auto_pad = node.attrs.get_string("auto_pad", "NOTSET");
  LAPQ_CHECK(auto_pad == "NOTSET" || auto_pad == "VALID" || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER",
             ErrorCode::kInvalidModel, where, ": unknown auto_pad '", auto_pad, "'");
  w.pads_begin.resize(nd);
  w.pads_end.resize(nd);
  w.out.resize(nd);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t s = w.strides[i], d = w.dilations[i], k = kernel[i];
    LAPQ_CHECK(s >= 1 && d >= 1 && k >= 1, ErrorCode::kInvalidModel, where, ": kernel ", k, ", stride ", s,
               " and dilation ", d, " must be positive");
    // Every size below comes from the model file: checked arithmetic, so a
    // kernel, dilation, pad or stride near INT64_MAX is a kLimit error.
    const int64_t ek = checked_add(checked_mul(k - 1, d, where), 1, where);  // extent of the dilated kernel
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      // Output = ceil(in / stride); the total padding that needs is split,
      // the odd pixel going to the end (UPPER) or the beginning (LOWER).
      if (in[i] < 0) { w.out[i] = -1; continue; }
      w.out[i] = in[i] / s + (in[i] % s != 0);
      const int64_t covered = checked_add(checked_mul(w.out[i] - 1, s, where), ek, where);
      const int64_t total = std::max<int64_t>(0, covered - in[i]);
      w.pads_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pads_end[i] = total - w.pads_begin[i];
      continue;
    }
    if (auto_pad == "NOTSET") {
      w.pads_begin[i] = pads[i];
      w.pads_end[i] = pads[i + nd];
      LAPQ_CHECK(w.pads_begin[i] >= 0 && w.pads_end[i] >= 0, ErrorCode::kInvalidModel, where,
                 ": negative pads are not supported");
    }
    if (in[i] < 0) { w.out[i] = -1; continue; }
    const int64_t padded = checked_add(checked_add(in[i], w.pads_begin[i], where), w.pads_end[i], where);
    const int64_t span = padded - ek;
    LAPQ_CHECK(span >= 0, ErrorCode::kShapeMismatch, where, ": input size ", in[i], " (padded ", padded,
               ") is smaller than the kernel extent ", ek, " in spatial dim ", i);
    // span / s rounded up without forming span + s - 1 (s may be huge).
    int64_t out = (ceil_mode ? span / s + (span % s != 0) : span / s) + 1;
    // With ceil_mode the last window must start inside the input or the
    // leading padding (as PyTorch and onnxruntime do). (out - 1) * s may pass
    // INT64_MAX when s is huge: compared in 128 bits.
    if (ceil_mode && static_cast<__int128>(out - 1) * s >= in[i] + w.pads_begin[i]) --out;
    w.out[i] = out;
  }
  return w;
}

}  // namespace lapq::ops
