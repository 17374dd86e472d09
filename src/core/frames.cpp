// frames.cpp: allocation of coroutine frames, counted per thread.
//
// Tests assert that no frame outlives its process. A shared counter would put one
// contended cache line on every spawn; instead each thread counts in its own block
// (single writer, relaxed), and live_frames() sums the blocks of every thread that
// ever allocated or freed a frame.
#include <atomic>
#include <memory>
#include <vector>

#include "beamline/detail/allocation.hpp"
#include "beamline/detail/thread_safety.hpp"

namespace beamline::detail {

namespace {

struct alignas(64) frame_counts {
  std::atomic<long long> allocated{0};
  std::atomic<long long> freed{0};
};

struct frame_count_registry {
  mutex lock;
  std::vector<frame_counts*> all BL_GUARDED_BY(lock);  // never freed: threads may end at any time
};

frame_count_registry& registry() {
  static frame_count_registry* r = new frame_count_registry();
  return *r;
}

frame_counts& this_thread_counts() {
  thread_local frame_counts* counts = [] {
    auto* c = new frame_counts();
    frame_count_registry& r = registry();
    lock_guard guard(r.lock);
    r.all.push_back(c);
    return c;
  }();
  return *counts;
}

}  // namespace

void* frame_allocate(std::size_t size) {
  void* frame = pool_allocate(size);
  frame_counts& c = this_thread_counts();
  c.allocated.store(c.allocated.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return frame;
}

void frame_deallocate(void* frame, std::size_t size) noexcept {
  pool_deallocate(frame, size);
  frame_counts& c = this_thread_counts();
  c.freed.store(c.freed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

long long live_frames() noexcept {
  frame_count_registry& r = registry();
  lock_guard guard(r.lock);
  long long live = 0;
  for (frame_counts* c : r.all)
    live += c->allocated.load(std::memory_order_acquire) - c->freed.load(std::memory_order_acquire);
  return live;
}

}  // namespace beamline::detail
