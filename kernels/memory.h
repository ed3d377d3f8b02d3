// Buffers for weights and activations: 64-byte aligned, zero-filled, and
// backed by transparent huge pages where the kernel offers them.
//
// Why huge pages: a batch-1 forward pass streams every layer's weights once
// (ResNet-50: 100 MB in FP32) and walks activations of several MB; with 4 KiB
// pages that is ~25,000 pages per run, far beyond the TLB, and each miss is a
// page walk. Measured on this project's 2-core host (thread CPU time, 25 runs,
// 5 alternating rounds, glibc's huge-page malloc on vs off): FP32 ResNet-50
// and ResNet-18 0.95-0.96x. The kernel setting here is `madvise`, so memory
// gets huge pages only when asked for with madvise(MADV_HUGEPAGE) before it is
// first touched, at 2 MiB-aligned addresses.
//
// How: a buffer of at least kHugePageBytes gets its own 2 MiB-aligned
// allocation; for a plan's buffers, smaller ones of at least kPooledMinBytes
// are carved out of shared 2 MiB-aligned chunks of kChunkBytes (a chunk is
// released when its last buffer is), so the ~50 weight tensors of 0.1-2 MB
// each share huge pages too; anything smaller is an ordinary aligned
// allocation. LAPQ_HUGE_PAGES=0 turns
// the advice off (every buffer ordinary), for measuring.
#pragma once

#include <cstddef>
#include <memory>

namespace lapq {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;
inline constexpr size_t kChunkBytes = size_t{8} << 20;
inline constexpr size_t kPooledMinBytes = size_t{64} << 10;

// `bytes` zeroed bytes, 64-byte aligned (rounded up to a multiple of 64);
// huge pages from kHugePageBytes on. Throws Error(kLimit) when the memory
// cannot be had. For any tensor: nothing is pooled.
std::shared_ptr<std::byte[]> allocate_buffer(size_t bytes);
// The same, and buffers from kPooledMinBytes on share huge-page chunks. For
// buffers that live as long as a Plan and are allocated together with its
// others (activation slots, packed weights): a long-lived buffer keeps its
// whole chunk alive, so short-lived tensors must not come from here.
std::shared_ptr<std::byte[]> allocate_plan_buffer(size_t bytes);

// Whether new buffers ask for huge pages: true unless LAPQ_HUGE_PAGES=0 or
// set_huge_pages_enabled(false) (buffers already allocated keep theirs; an
// in-process A/B builds one plan with and one without).
bool huge_pages_enabled();
void set_huge_pages_enabled(bool enabled);

}  // namespace lapq
