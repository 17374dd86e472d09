// beamline/detail/allocation.hpp: the runtime's small-object allocator, as seen from
// templates in public headers (coroutine frames, message nodes).
//
// Objects up to max_pooled_size bytes come from per-thread caches of size classes
// that recycle memory (src/sched/memory_pool.cpp); larger ones from operator new.
// The caller passes the size back on deallocation, so blocks carry no header.
//
// The common case, a block taken from or given back to the calling thread's active
// list of its class, is inline below (a message send allocates one node and a
// receive frees it, so these few instructions are on every message's path); the
// rest (reserve lists, the central lists, fresh memory, thread start and end) is in
// memory_pool.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

// Under AddressSanitizer the pool is bypassed: every block comes from operator new,
// so the sanitizer sees each use after free and each leak.
#if defined(__SANITIZE_ADDRESS__)
#define BEAMLINE_POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BEAMLINE_POOL_BYPASS 1
#endif
#endif

namespace beamline::detail {

inline constexpr std::size_t max_pooled_size = 8192;

// Size classes: 16-byte steps to 512, 64-byte steps to 2048, 256-byte steps to 8192.
inline constexpr std::size_t pool_class_count = 32 + 24 + 24;

constexpr std::size_t pool_class_of(std::size_t size) noexcept {
  if (size <= 512) return size == 0 ? 0 : (size + 15) / 16 - 1;
  if (size <= 2048) return 32 + (size - 512 + 63) / 64 - 1;
  return 56 + (size - 2048 + 255) / 256 - 1;
}

constexpr std::size_t pool_class_size(std::size_t index) noexcept {
  if (index < 32) return (index + 1) * 16;
  if (index < 56) return 512 + (index - 32 + 1) * 64;
  return 2048 + (index - 56 + 1) * 256;
}

// Blocks a thread's list of a class holds before it moves them on as one batch
// (a table: the free path must not divide).
inline constexpr auto pool_batch_sizes = [] {
  std::array<std::uint32_t, pool_class_count> sizes{};
  for (std::size_t i = 0; i < pool_class_count; ++i) {
    std::size_t n = 16384 / pool_class_size(i);
    sizes[i] = static_cast<std::uint32_t>(n < 8 ? 8 : (n > 128 ? 128 : n));
  }
  return sizes;
}();

// One free list: blocks linked through their first word.
struct pool_free_list {
  void* head = nullptr;
  std::uint32_t count = 0;
};

// The calling thread's active lists, one per class; null before its first
// allocation, after it ended, and always under AddressSanitizer (which then sees
// every block through operator new and delete).
extern constinit thread_local pool_free_list* pool_active_lists;

// The slow paths (memory_pool.cpp). Allocation throws std::bad_alloc when memory
// is exhausted.
void* pool_allocate_slow(std::size_t size);
void pool_deallocate_slow(void* block, std::size_t size) noexcept;

#if defined(BEAMLINE_POOL_BYPASS)

inline void* pool_allocate(std::size_t size) {
  return pool_allocate_slow(size);
}
inline void pool_deallocate(void* block, std::size_t size) noexcept {
  pool_deallocate_slow(block, size);
}

#else

inline void* pool_allocate(std::size_t size) {
  if (size <= max_pooled_size) {
    if (pool_free_list* lists = pool_active_lists) {
      pool_free_list& l = lists[pool_class_of(size)];
      if (void* block = l.head) {
        l.head = *static_cast<void**>(block);
        --l.count;
        return block;
      }
    }
  }
  return pool_allocate_slow(size);
}

inline void pool_deallocate(void* block, std::size_t size) noexcept {
  if (size <= max_pooled_size) {
    if (pool_free_list* lists = pool_active_lists) {
      const std::size_t index = pool_class_of(size);
      pool_free_list& l = lists[index];
      if (l.count + 1 < pool_batch_sizes[index]) {
        *static_cast<void**>(block) = l.head;
        l.head = block;
        ++l.count;
        return;
      }
    }
  }
  pool_deallocate_slow(block, size);
}

#endif

}  // namespace beamline::detail

namespace beamline::detail {

// Coroutine frames (processes and tasks): pooled, and counted so that tests can
// assert that no frame outlives its process.
void* frame_allocate(std::size_t size);
void frame_deallocate(void* frame, std::size_t size) noexcept;
// Frames allocated and not yet freed, over all threads.
long long live_frames() noexcept;

}  // namespace beamline::detail
