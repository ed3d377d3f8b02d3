#include "kernels/memory.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "engine/error.h"

namespace lapq {
namespace {

std::atomic<bool>& huge_pages_flag() {
  static std::atomic<bool> enabled = [] {
    const char* v = std::getenv("LAPQ_HUGE_PAGES");
    return !(v && std::string(v) == "0");
  }();
  return enabled;
}

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// A fresh anonymous mapping of `bytes` (a multiple of kHugePageBytes),
// 2 MiB-aligned, advised MADV_HUGEPAGE before any page is touched. Not
// aligned_alloc: glibc may hand back heap memory whose pages were touched
// already, and those stay 4 KiB pages. The advice is a hint (without
// transparent huge pages the mapping keeps 4 KiB pages), so its failure is
// ignored. nullptr when the mapping fails.
std::byte* map_huge(size_t bytes) {
  void* p = mmap(nullptr, bytes + kHugePageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* raw = static_cast<std::byte*>(p);
  const size_t lead = round_up(reinterpret_cast<uintptr_t>(raw), kHugePageBytes) - reinterpret_cast<uintptr_t>(raw);
  if (lead) munmap(raw, lead);
  if (kHugePageBytes - lead) munmap(raw + lead + bytes, kHugePageBytes - lead);
  (void)madvise(raw + lead, bytes, MADV_HUGEPAGE);
  return raw + lead;
}

std::shared_ptr<std::byte[]> mapped_buffer(size_t bytes) {
  std::byte* p = map_huge(bytes);
  if (!p) return nullptr;
  return std::shared_ptr<std::byte[]>(p, [bytes](std::byte* q) { munmap(q, bytes); });
}

std::byte* allocate_plain(size_t bytes) { return static_cast<std::byte*>(std::aligned_alloc(64, bytes)); }

void free_bytes(std::byte* p) { std::free(p); }

// The chunk pool for mid-sized buffers: a bump pointer in the current chunk,
// so buffers allocated one after the other (a plan's weights in build order)
// are contiguous too. Every buffer carved from a chunk holds a reference to
// it: a chunk the pool has moved on from is freed with its last buffer, and
// the current chunk is carved again from the start once all its buffers are
// gone (the plans that used it were destroyed). Space of dead buffers in a
// chunk that still has live ones is not reused, which bounds the waste to
// one chunk per long-lived buffer.
class ChunkPool {
 public:
  std::shared_ptr<std::byte[]> allocate(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (chunk_ && chunk_.use_count() == 1) used_ = 0;
    if (!chunk_ || used_ + bytes > kChunkBytes) {
      chunk_ = mapped_buffer(kChunkBytes);
      if (!chunk_) return nullptr;
      used_ = 0;
    }
    std::byte* p = chunk_.get() + used_;
    used_ += bytes;
    // Aliasing constructor: owns the chunk, points into it.
    return std::shared_ptr<std::byte[]>(chunk_, p);
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<std::byte[]> chunk_;
  size_t used_ = 0;
};

ChunkPool& chunk_pool() {
  static ChunkPool pool;
  return pool;
}

std::shared_ptr<std::byte[]> allocate(size_t bytes, bool pooled) {
  bytes = round_up(bytes == 0 ? 64 : bytes, 64);
  std::shared_ptr<std::byte[]> out;
  const bool huge = huge_pages_enabled();
  if (huge && bytes >= kHugePageBytes) {
    out = mapped_buffer(round_up(bytes, kHugePageBytes));
  } else if (pooled && huge && bytes >= kPooledMinBytes) {
    out = chunk_pool().allocate(bytes);
  } else if (std::byte* p = allocate_plain(bytes)) {
    out = std::shared_ptr<std::byte[]>(p, free_bytes);
  }
  if (!out) throw Error(ErrorCode::kLimit, "out of memory allocating a buffer of " + std::to_string(bytes) + " bytes");
  std::memset(out.get(), 0, bytes);
  return out;
}

}  // namespace

bool huge_pages_enabled() { return huge_pages_flag().load(std::memory_order_relaxed); }
void set_huge_pages_enabled(bool enabled) { huge_pages_flag().store(enabled, std::memory_order_relaxed); }

std::shared_ptr<std::byte[]> allocate_buffer(size_t bytes) { return allocate(bytes, false); }
std::shared_ptr<std::byte[]> allocate_plan_buffer(size_t bytes) { return allocate(bytes, true); }

}  // namespace lapq
