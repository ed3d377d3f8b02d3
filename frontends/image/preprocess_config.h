// PreprocessConfig from a model's sidecar JSON (model.onnx.json next to
// model.onnx) and from "key=value" command-line overrides. The keys and their
// meaning are in docs/preprocessing.md:
//
//   {"input_size": [3,224,224], "resize": 256, "crop": 224,
//    "mean": [0.485,0.456,0.406], "std": [0.229,0.224,0.225],
//    "color": "rgb", "scale": 255, "labels": "labels.txt",
//    "resize_backend": "pil", "interpolation": "bilinear"}
//
// Unknown keys are errors (a typo must not silently fall back to a default);
// keys starting with '_' are ignored (comments). Every error is a
// lapq::Error(kInvalidArgument) naming the file (or override) and the key.
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.h"
#include "frontends/image/preprocess.h"

namespace lapq {

// "dir/model.onnx" -> "dir/model.onnx.json".
std::string sidecar_path_for_model(const std::string& model_path);

// Applies the keys of the JSON object `json_text` on top of `base`.
// `sidecar_path` names the source in errors and anchors a relative "labels".
PreprocessConfig parse_preprocess_sidecar(const std::string& json_text, const std::string& sidecar_path,
                                          PreprocessConfig base = {});
// Reads and parses a sidecar file (kIo when it cannot be read).
PreprocessConfig load_preprocess_sidecar(const std::string& sidecar_path, PreprocessConfig base = {});
// Defaults for a model whose input is `input_shape` ([N, C, H, W] when
// `has_shape`): ImageNet conventions at the model's size (gray for one
// channel), then the sidecar of `model_path` when it exists (none for "").
PreprocessConfig preprocess_for_model_input(const Shape& input_shape, bool has_shape, const std::string& model_path);
// ImageNet defaults, then the model's sidecar when it exists; validated.
PreprocessConfig load_preprocess_config_for_model(const std::string& model_path);

// Overrides such as "resize=none", "crop=32", "mean=0.5,0.5,0.5",
// "input_size=1,28,28", "color=bgr", "resize_backend=tensor" (values are
// JSON, or comma lists, or bare words). Applied in order, then validated.
// A relative "labels" is taken relative to the current directory.
void apply_preprocess_overrides(PreprocessConfig& cfg, const std::vector<std::string>& overrides);

}  // namespace lapq
