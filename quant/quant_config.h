// What is quantized in a network and how: the contract between the quantizer
// (calibration, Lp init, LAPQ's Powell search, presets) and the quantized
// executor (quant/quantized_network.h) that runs the network on the integer
// kernels. Ids refer to the FP32 graph the config was made for (after
// lapq::optimize with the preset's PassOptions); names are kept so a saved
// config can be re-attached to a re-loaded graph and checked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quant/grid.h"

namespace lapq::quant {

// The weights of one Conv / Gemm / MatMul node with a constant weight.
struct WeightQuant {
  int node = -1;               // node id in the FP32 graph
  std::string node_name;
  int bits = 8;                // 2..8
  GridKind grid = GridKind::kSymmetric;  // kLapqMidRise (LAPQ), kSymmetric or kSymmetricFull
  bool per_channel = false;
  // Clipping values: 1 (per tensor) or OC (per output channel). The LAPQ
  // coordinate of a per-channel layer is a common factor on these.
  std::vector<float> alpha;
  bool bias_correction = false;  // LAPQ's -bcw: per-channel mean shift (real weight zero point)
};

// One activation tensor (a value of the FP32 graph) stored as u8 codes.
struct ActQuant {
  int value = -1;              // value id in the FP32 graph
  std::string value_name;
  int bits = 8;                // 2..8 (codes use 0..2^bits-1 of the u8 range)
  GridKind grid = GridKind::kUnsigned;  // kUnsigned (ReLU / ReLU6 outputs) or kAsymmetric
  float alpha = 0.f;           // kUnsigned: clip at alpha; kAsymmetric: hi
  float lo = 0.f;              // kAsymmetric: lo (<= 0)
};

struct QuantConfig {
  std::vector<WeightQuant> weights;  // in network (node) order
  std::vector<ActQuant> acts;        // in network (producer) order
  // The graph form the ids refer to: BN folded into convs or kept separate.
  bool batchnorm_folded = true;
  std::string preset;                // "deploy", "paper", or "custom"
};

}  // namespace lapq::quant
