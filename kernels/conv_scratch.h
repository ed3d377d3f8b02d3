// Per-thread scratch buffers shared by the convolution drivers
// (kernels/conv_*.cpp). Internal to kernels/.
#pragma once

#include <cstdint>
#include <vector>

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
};

// The calling thread's scratch.
Scratch& thread_scratch();

}  // namespace lapq
