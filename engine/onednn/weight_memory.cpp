#include "engine/onednn/weight_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "engine/error.h"

namespace lapq::onednn {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
// New chunks hold at least this much: a network's weights share a few chunks
// (ResNet-50: ~100 MB in 4), so a small layer does not take a huge page of its own.
constexpr size_t kChunkBytes = size_t{32} << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

struct WeightBuffer::Chunk {
  std::byte* base = nullptr;
  size_t size = 0;
  size_t used = 0;     // bytes carved so far (guarded by the allocator's mutex)
  bool mapped = false;  // base from mmap (huge-page chunk) or aligned_alloc
  ~Chunk() {
    if (mapped) munmap(base, size);
    else std::free(base);
  }
};

namespace {

// A fresh anonymous mapping, 2 MiB-aligned, advised MADV_HUGEPAGE before any
// page is touched. (Not aligned_alloc: glibc may hand back heap memory whose
// pages were touched already, which stay 4 KiB pages.) nullptr on failure.
std::byte* map_huge(size_t size) {
  void* p = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* raw = static_cast<std::byte*>(p);
  const size_t lead = round_up(reinterpret_cast<uintptr_t>(raw), kHugePage) - reinterpret_cast<uintptr_t>(raw);
  if (lead) munmap(raw, lead);
  if (kHugePage - lead) munmap(raw + lead + size, kHugePage - lead);
  // A hint: without transparent huge pages the chunk keeps 4 KiB pages.
  (void)madvise(raw + lead, size, MADV_HUGEPAGE);
  return raw + lead;
}

}  // namespace

bool huge_weights_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("LAPQ_ONEDNN_HUGE_WEIGHTS");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

WeightBuffer WeightBuffer::allocate(size_t bytes) {
  bytes = round_up(bytes ? bytes : 1, 64);
  WeightBuffer b;
  if (!huge_weights_enabled()) {
    b.chunk_ = std::make_shared<Chunk>();
    b.chunk_->base = static_cast<std::byte*>(std::aligned_alloc(64, bytes));
    LAPQ_CHECK(b.chunk_->base, ErrorCode::kLimit, "oneDNN weights: cannot allocate ", bytes, " bytes");
    b.chunk_->size = b.chunk_->used = bytes;
    b.data_ = b.chunk_->base;
    return b;
  }
  static std::mutex mutex;
  static std::shared_ptr<Chunk> current;  // the chunk new buffers are carved from
  std::lock_guard<std::mutex> lock(mutex);
  // Every buffer of the current chunk released (its plans are gone): carve it
  // again from the start instead of leaving it half used.
  if (current && current.use_count() == 1) current->used = 0;
  if (!current || current->size - current->used < bytes) {
    auto c = std::make_shared<Chunk>();
    c->size = round_up(std::max(bytes, kChunkBytes), kHugePage);
    c->base = map_huge(c->size);
    LAPQ_CHECK(c->base, ErrorCode::kLimit, "oneDNN weights: cannot allocate ", c->size, " bytes");
    c->mapped = true;
    current = std::move(c);
  }
  b.chunk_ = current;
  b.data_ = current->base + current->used;
  current->used += bytes;
  return b;
}

}  // namespace lapq::onednn
