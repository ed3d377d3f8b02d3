// Presets: which tensors of a network are quantized, on which grid, with how
// many bits (lapq-method.md "What is quantized in the reference setting").
//
//  paper   the LAPQ reference setting. BN stays unfolded (the graph must be
//          optimized with preset_pass_options(kPaper)); every Conv except the
//          first and the last (node order) gets a per-tensor mid-rise weight
//          grid; every ReLU / ReLU6 output except the first and the last gets
//          an unsigned grid; FC, adds, pooling and the input stay FP32; weight
//          bias correction on.
//  deploy  (default) every Conv / Gemm / MatMul with a constant weight is
//          quantized (symmetric grid, per tensor or per channel); ReLU outputs
//          are unsigned, every other tensor an integer layer reads (network
//          input, residual sums, LeakyReLU outputs, pooled features) is
//          asymmetric; BN folded; the first and the last quantized layer (their
//          weights and their input activations) use first_last_bits.
//
// Bits: "w4a4" = 4-bit weights, 4-bit activations. Per-layer overrides
// NAME=wXaY: NAME is a weight node (its weight gets X bits and its quantized
// input activation Y bits) or an activation value (Y bits).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/passes/passes.h"
#include "quant/quant_config.h"

namespace lapq::quant {

struct Bits {
  int w = 8;
  int a = 8;
};
// "w4a4", "W8A8", "w4" (a = 8), "a4" (w = 8). Error kInvalidArgument otherwise.
Bits parse_bits(const std::string& text);
std::string bits_name(Bits b);

enum class Preset { kDeploy, kPaper };
Preset parse_preset(const std::string& name);  // "deploy" | "paper"
const char* preset_name(Preset p);
PassOptions preset_pass_options(Preset p);

struct PresetOptions {
  Preset preset = Preset::kDeploy;
  Bits bits;
  bool per_channel = false;            // deploy only (paper is per tensor)
  int first_last_bits = 8;             // deploy: bits of the first/last layer; 0 = like the others
  std::optional<bool> bias_correction; // unset: paper on, deploy off
  std::map<std::string, Bits> layer_bits;  // NAME -> bits (see above)
};
// Parses "NAME=w8a8" into opts.layer_bits (Error kInvalidArgument on a bad form).
void add_layer_bits(PresetOptions& opts, const std::string& spec);

// The config skeleton for `graph` (already optimized with the preset's pass
// options): tensors, grids, bits, names; every alpha is 1 (unfitted).
// Throws kInvalidArgument when the graph has nothing to quantize or when an
// override names nothing in the graph.
QuantConfig make_preset_config(const Graph& graph, const PresetOptions& opts);

}  // namespace lapq::quant
