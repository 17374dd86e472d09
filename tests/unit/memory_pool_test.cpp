// Unit tests of the pooled allocator: blocks are distinct, aligned, recycled, and
// survive being freed on another thread than the one that allocated them.
#include <gtest/gtest.h>

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

TEST(memory_pool, blocks_are_distinct_aligned_and_writable) {
  std::vector<void*> blocks;
  std::set<void*> unique;
  for (std::size_t size : {1u, 16u, 24u, 100u, 512u, 513u, 3000u, 8192u, 9000u}) {
    for (int i = 0; i < 100; ++i) {
      void* b = pool_allocate(size);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % 16, 0u);
      std::memset(b, 0xab, size);
      blocks.push_back(b);
      unique.insert(b);
      pool_deallocate(b, size);
      blocks.pop_back();
      b = pool_allocate(size);
      blocks.push_back(b);
    }
  }
  std::size_t i = 0;
  for (std::size_t size : {1u, 16u, 24u, 100u, 512u, 513u, 3000u, 8192u, 9000u})
    for (int k = 0; k < 100; ++k) pool_deallocate(blocks[i++], size);
}

TEST(memory_pool, blocks_freed_on_other_threads_are_reused) {
  constexpr int n = 100000;
  std::vector<void*> blocks(n);
  for (auto& b : blocks) b = pool_allocate(64);
  std::thread other([&] {
    for (auto* b : blocks) pool_deallocate(b, 64);
    beamline::sched::memory_pool_flush_thread_cache();
  });
  other.join();
  auto before = beamline::sched::memory_pool_statistics().reserved_bytes;
  for (auto& b : blocks) b = pool_allocate(64);
  auto after = beamline::sched::memory_pool_statistics().reserved_bytes;
  // Reuse: at most a little fresh memory for this thread's cache refills.
  EXPECT_LT(after - before, std::size_t{64} * 4096);
  for (auto* b : blocks) pool_deallocate(b, 64);
}

}  // namespace
