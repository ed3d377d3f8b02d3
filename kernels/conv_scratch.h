// Per-thread scratch buffers shared by the convolution drivers
// (kernels/conv_*.cpp). Internal to kernels/.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/elementwise.h"

namespace lapq {

// int4 on VNNI: tiles of at least this many rows unpack the weight panel to int8
// once (cheap: 3 ops per 64 bytes) and run the int8 kernel; shorter ones (batch-1
// late layers, FC) keep the nibble kernel, where weight traffic matters more.
constexpr int64_t kPanelRows = 96;

// Per-thread scratch that only grows (no allocation once warm).
struct Scratch {
  std::vector<uint8_t> panel;  // int4 weights unpacked for tall tiles
  std::vector<uint8_t> tile;
  std::vector<int32_t> rowsum;
  std::vector<const uint8_t*> ptrs;
  std::vector<float> out_tile;  // fused residual add: the kernel's f32 output tile
};

// The fused residual add of PackedConv::run(..., ResidualAddU8): the drivers let
// the kernel write each output tile as f32 (the DequantF32 epilogue) into the
// thread's out_tile, then store() adds the residual and quantizes it into dst
// with the elementwise kernels' qadd while the tile is still in L1.
struct ResidualStore {
  const ElementwiseKernels* k = nullptr;
  QAddOperand residual;  // data: element 0 of the (N, OH, OW, OC) residual
  QuantizeOut out;
  bool conv_first = true;  // the conv value is qadd's operand a
  int64_t ld = 0;          // OC: elements between output pixels of dst and residual
  uint8_t* dst = nullptr;

  // dst[m + i][oc0 + j] = qadd(tile[i * nc + j], residual[m + i][oc0 + j]) for
  // i < rows, j < nc (m: output pixel index, N*OH*OW order).
  void store(const float* tile, int64_t m, int64_t oc0, int64_t rows, int64_t nc) const;
  // The thread's f32 tile of at least `floats` elements.
  static float* tile(Scratch& s, size_t floats) {
    if (s.out_tile.size() < floats) s.out_tile.resize(floats);
    return s.out_tile.data();
  }
};

// The calling thread's scratch.
Scratch& thread_scratch();

}  // namespace lapq
