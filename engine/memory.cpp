#include "engine/memory.h"

#include <sys/mman.h>

#include <atomic>
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

// aligned_alloc with madvise(MADV_HUGEPAGE) before the first touch; the
// advice is a hint (the kernel may still give 4 KiB pages), so its failure
// is ignored.
std::byte* allocate_huge(size_t bytes) {
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kHugePageBytes, bytes));
  if (p) madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

std::byte* allocate_plain(size_t bytes) { return static_cast<std::byte*>(std::aligned_alloc(64, bytes)); }

void free_bytes(std::byte* p) { std::free(p); }

// The chunk pool for mid-sized buffers: a bump pointer in the current chunk.
// Every buffer carved from a chunk holds a reference to it, so the chunk is
// freed when the pool has moved on and its last buffer is gone. Space of dead
// buffers inside a live chunk is not reused: at most one chunk per long-lived
// buffer is kept, which bounds the waste.
class ChunkPool {
 public:
  std::shared_ptr<std::byte[]> allocate(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!chunk_ || used_ + bytes > kChunkBytes) {
      std::byte* p = allocate_huge(kChunkBytes);
      if (!p) return nullptr;
      chunk_ = std::shared_ptr<std::byte[]>(p, free_bytes);
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
    if (std::byte* p = allocate_huge(round_up(bytes, kHugePageBytes))) out = std::shared_ptr<std::byte[]>(p, free_bytes);
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
