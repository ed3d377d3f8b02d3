// engine/memory: alignment, zero fill, pooled buffers that do not overlap,
// and the huge-page advice visible in the kernel's view of the mapping.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/memory.h"
#include "engine/tensor.h"

namespace lapq {
namespace {

uintptr_t address(const std::shared_ptr<std::byte[]>& p) { return reinterpret_cast<uintptr_t>(p.get()); }

bool all_zero(const std::byte* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != std::byte{0}) return false;
  return true;
}

// The VmFlags line of the /proc/self/smaps mapping that holds `addr` ("" when
// not found). "hg" in it means madvise(MADV_HUGEPAGE) reached that mapping.
std::string vm_flags_of(uintptr_t addr) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-' && line.find(':') > line.find(' ')) {
      inside = addr >= lo && addr < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

bool kernel_offers_huge_pages() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return !s.empty() && s.find("[never]") == std::string::npos;
}

TEST(Memory, BuffersAreAlignedAndZeroed) {
  for (size_t bytes : {size_t{1}, size_t{100}, kPooledMinBytes + 8, kHugePageBytes - 64, kHugePageBytes * 3 + 5}) {
    for (bool pooled : {false, true}) {
      auto p = pooled ? allocate_plan_buffer(bytes) : allocate_buffer(bytes);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(address(p) % 64, 0u) << bytes;
      EXPECT_TRUE(all_zero(p.get(), bytes)) << bytes;
      std::memset(p.get(), 0xab, bytes);  // the whole size is writable (ASan checks)
    }
  }
}

TEST(Memory, LargeBuffersStartAtAHugePageBoundary) {
  if (!huge_pages_enabled()) GTEST_SKIP() << "LAPQ_HUGE_PAGES=0";
  auto p = allocate_buffer(kHugePageBytes + 1);
  EXPECT_EQ(address(p) % kHugePageBytes, 0u);
}

TEST(Memory, PooledBuffersDoNotOverlapAndOutliveEachOther) {
  // Enough mid-sized buffers to fill more than one chunk.
  const size_t bytes = kPooledMinBytes * 5 + 64;
  std::vector<std::shared_ptr<std::byte[]>> buffers;
  for (size_t i = 0; i < 2 * kChunkBytes / bytes + 3; ++i) {
    buffers.push_back(allocate_plan_buffer(bytes));
    std::memset(buffers.back().get(), static_cast<int>(i & 0x7f) + 1, bytes);
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(buffers[i].get());
    EXPECT_EQ(p[0], (i & 0x7f) + 1) << i;
    EXPECT_EQ(p[bytes - 1], (i & 0x7f) + 1) << i;
  }
  // Dropping all but the last buffer of the first chunk keeps its memory alive.
  auto survivor = buffers[1];
  buffers.clear();
  auto fresh = allocate_plan_buffer(bytes);
  EXPECT_EQ(reinterpret_cast<const unsigned char*>(survivor.get())[bytes - 1], 2);
  EXPECT_TRUE(all_zero(fresh.get(), bytes));
}

TEST(Memory, HugePageAdviceReachesTheMapping) {
  if (!huge_pages_enabled()) GTEST_SKIP() << "LAPQ_HUGE_PAGES=0";
  if (!kernel_offers_huge_pages()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  auto big = allocate_buffer(4 * kHugePageBytes);
  auto pooled = allocate_plan_buffer(kPooledMinBytes * 2);
  EXPECT_NE(vm_flags_of(address(big)).find(" hg"), std::string::npos) << vm_flags_of(address(big));
  EXPECT_NE(vm_flags_of(address(pooled)).find(" hg"), std::string::npos) << vm_flags_of(address(pooled));
}

TEST(Memory, TheSwitchIsProcessWide) {
  const bool was = huge_pages_enabled();
  set_huge_pages_enabled(false);
  EXPECT_FALSE(huge_pages_enabled());
  auto p = allocate_plan_buffer(kPooledMinBytes * 2);  // an ordinary allocation now, still zeroed
  EXPECT_TRUE(all_zero(p.get(), kPooledMinBytes * 2));
  set_huge_pages_enabled(true);
  EXPECT_TRUE(huge_pages_enabled());
  set_huge_pages_enabled(was);
}

TEST(Memory, TensorsUseTheAllocator) {
  Tensor t(DType::kF32, {1, 3, 512, 512});  // 3 MiB: its own huge-page-aligned buffer
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data<float>()) % 64, 0u);
  if (huge_pages_enabled()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data<float>()) % kHugePageBytes, 0u);
  }
  EXPECT_TRUE(all_zero(reinterpret_cast<const std::byte*>(t.data<float>()), t.nbytes()));
}

}  // namespace
}  // namespace lapq
