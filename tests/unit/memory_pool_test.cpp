// Unit tests of the pooled allocator: blocks are distinct, aligned, recycled, and
// survive being freed on another thread than the one that allocated them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "beamline/detail/allocation.hpp"
#include "sched/memory_pool.hpp"

namespace {

using beamline::detail::pool_allocate;
using beamline::detail::pool_deallocate;

constexpr std::size_t sizes[] = {1, 16, 24, 100, 512, 513, 3000, 8192, 9000};

TEST(memory_pool, blocks_are_distinct_aligned_and_writable) {
  // A hundred live blocks of each size at once: every one aligned, none sharing
  // a byte with another, each keeping what was written into it.
  struct live_block {
    unsigned char* bytes;
    std::size_t size;
    unsigned char fill;
  };
  std::vector<live_block> blocks;
  for (std::size_t size : sizes) {
    for (int i = 0; i < 100; ++i) {
      auto fill = static_cast<unsigned char>(blocks.size() * 7 + 1);
      // A block freed and taken again, then kept: the pool hands out each block
      // to one owner at a time, recycled or not.
      pool_deallocate(pool_allocate(size), size);
      auto* b = static_cast<unsigned char*>(pool_allocate(size));
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 16, 0u) << size;
      std::memset(b, fill, size);
      blocks.push_back({b, size, fill});
    }
  }
  // Distinct: no two live blocks overlap.
  std::vector<live_block> by_address = blocks;
  std::sort(by_address.begin(), by_address.end(),
            [](const live_block& a, const live_block& b) { return a.bytes < b.bytes; });
  for (std::size_t i = 1; i < by_address.size(); ++i)
    EXPECT_LE(by_address[i - 1].bytes + by_address[i - 1].size, by_address[i].bytes)
        << "blocks of " << by_address[i - 1].size << " and " << by_address[i].size
        << " bytes overlap";
  // Writable and kept: every byte still holds its block's fill.
  for (const live_block& b : blocks) {
    std::size_t wrong = 0;
    for (std::size_t k = 0; k < b.size; ++k) wrong += b.bytes[k] != b.fill;
    EXPECT_EQ(wrong, 0u) << "a block of " << b.size << " bytes was overwritten";
  }
  for (const live_block& b : blocks) pool_deallocate(b.bytes, b.size);
}

TEST(memory_pool, a_freed_block_is_reused_by_the_next_allocation_of_its_class) {
#if defined(BEAMLINE_POOL_BYPASS)
  GTEST_SKIP() << "AddressSanitizer build: the pool is bypassed (operator new), so that "
                  "the sanitizer sees every use after free";
#else
  for (std::size_t size : sizes) {
    if (size > beamline::detail::max_pooled_size) continue;  // from operator new
    void* first = pool_allocate(size);
    pool_deallocate(first, size);
    void* again = pool_allocate(size);
    EXPECT_EQ(again, first) << size;
    pool_deallocate(again, size);
  }
#endif
}

TEST(memory_pool, blocks_freed_on_other_threads_are_reused) {
#if defined(BEAMLINE_POOL_BYPASS)
  GTEST_SKIP() << "AddressSanitizer build: the pool is bypassed (operator new) and "
                  "reserves no memory of its own";
#else
  constexpr int n = 100000;
  std::vector<void*> blocks(n);
  auto start = beamline::sched::memory_pool_statistics().reserved_bytes;
  for (auto& b : blocks) b = pool_allocate(64);
  auto first_round = beamline::sched::memory_pool_statistics().reserved_bytes - start;
  // The premise: the first round needed fresh memory (at least a chunk's worth).
  EXPECT_GE(first_round, std::size_t{64} * n / 2);
  std::set<void*> freed(blocks.begin(), blocks.end());
  std::thread other([&] {
    for (auto* b : blocks) pool_deallocate(b, 64);
    beamline::sched::memory_pool_flush_thread_cache();
  });
  other.join();
  auto before = beamline::sched::memory_pool_statistics().reserved_bytes;
  std::size_t reused = 0;
  for (auto& b : blocks) {
    b = pool_allocate(64);
    reused += freed.count(b);
  }
  auto after = beamline::sched::memory_pool_statistics().reserved_bytes;
  // Reuse: at most a little fresh memory for this thread's cache refills, and
  // nearly every block one that the other thread freed.
  EXPECT_LT(after - before, std::size_t{64} * 4096);
  EXPECT_GE(reused, static_cast<std::size_t>(n) * 9 / 10);
  for (auto* b : blocks) pool_deallocate(b, 64);
#endif
}

}  // namespace
