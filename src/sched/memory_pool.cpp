// memory_pool.cpp: see memory_pool.hpp for the design and its invariants.
#include "sched/memory_pool.hpp"

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

#include "beamline/detail/allocation.hpp"
#include "beamline/detail/thread_safety.hpp"
#include "beamline/detail/thread_state.hpp"
#include "sched/scheduler.hpp"

namespace beamline::sched {
namespace {

using detail::pool_class_count;
using detail::pool_free_list;

constexpr std::size_t class_count = pool_class_count;

constexpr std::size_t class_of(std::size_t size) noexcept {
  return detail::pool_class_of(size);
}

constexpr std::size_t class_size(std::size_t index) noexcept {
  return detail::pool_class_size(index);
}

static_assert(class_of(16) == 0 && class_of(17) == 1 && class_of(512) == 31);
static_assert(class_of(513) == 32 && class_of(2048) == 55 && class_of(2049) == 56);
static_assert(class_of(detail::max_pooled_size) == class_count - 1);
static_assert(class_size(class_of(300)) >= 300 && class_size(class_of(5000)) >= 5000);

constexpr std::uint32_t batch_size(std::size_t index) noexcept {
  return detail::pool_batch_sizes[index];
}

struct free_block {
  free_block* next;
};

struct batch {
  free_block* head;
  std::uint32_t count;
};

// Fresh memory: 2 MiB chunks, carved by threads into regions.
constexpr std::size_t chunk_bytes = std::size_t{2} << 20;
constexpr std::size_t region_bytes = std::size_t{256} << 10;

// The central list of one size class: full batches given up by threads. Its lock and
// its list share a cache line, and no other class's.
struct alignas(64) central_list {
  detail::mutex lock;
  std::vector<batch> batches BL_GUARDED_BY(lock);
};

struct central_state {
  std::array<central_list, class_count> classes;

  detail::mutex chunk_lock;
  char* chunk_cursor BL_GUARDED_BY(chunk_lock) = nullptr;
  char* chunk_end BL_GUARDED_BY(chunk_lock) = nullptr;
  std::atomic<std::size_t> reserved{0};
  std::atomic<std::size_t> chunks{0};

  // Takes a region of fresh memory for a thread's bump allocator.
  std::pair<char*, char*> take_region() BL_EXCLUDES(chunk_lock) {
    detail::lock_guard guard(chunk_lock);
    if (chunk_cursor == chunk_end) {
      // Over-map so the chunk can be aligned to 2 MiB (huge pages need alignment).
      std::size_t map_bytes = chunk_bytes * 2;
      void* raw =
          ::mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (raw == MAP_FAILED) throw std::bad_alloc();
      auto start = reinterpret_cast<std::uintptr_t>(raw);
      auto aligned = (start + chunk_bytes - 1) & ~(chunk_bytes - 1);
      if (aligned > start) ::munmap(raw, aligned - start);
      std::uintptr_t tail = aligned + chunk_bytes;
      if (tail < start + map_bytes)
        ::munmap(reinterpret_cast<void*>(tail), start + map_bytes - tail);
      ::madvise(reinterpret_cast<void*>(aligned), chunk_bytes, MADV_HUGEPAGE);
      chunk_cursor = reinterpret_cast<char*>(aligned);
      chunk_end = chunk_cursor + chunk_bytes;
      chunks.fetch_add(1, std::memory_order_relaxed);
    }
    char* begin = chunk_cursor;
    chunk_cursor += region_bytes;
    return {begin, chunk_cursor};
  }
};

central_state& central() {
  // Never destroyed: blocks may be freed by thread-exit handlers after main returns.
  static central_state* state = new central_state();
  return *state;
}

// Runtime work that may stall in the kernel: inside a critical section (the thread
// keeps its worker), and excused from the running task's time slice when it took
// long enough to matter (a refill without faults takes about a microsecond).
class stall_section {
 public:
  stall_section() noexcept : start_(scheduler::now_ns()) {}
  ~stall_section() {
    std::int64_t spent = scheduler::now_ns() - start_;
    if (spent >= excused_from_ns) scheduler::excuse_stall(spent);
  }
  stall_section(const stall_section&) = delete;
  stall_section& operator=(const stall_section&) = delete;

 private:
  static constexpr std::int64_t excused_from_ns = 20'000;
  detail::critical_section critical_;  // constructed first, destroyed last
  std::int64_t start_;
};

// Full batches a thread keeps per class before it gives them to the central list:
// about this many bytes' worth.
constexpr std::size_t stash_bytes = std::size_t{256} << 10;

// A thread's free lists. Per class: the active list, one full batch in reserve,
// and a stash of full batches up to stash_bytes. Freeing fills the active list up
// to a batch; a full active list becomes the reserve, and a previous reserve goes
// to the stash, or to the central list when the stash is full. Allocating takes
// from the active list, then the reserve, then the stash, then the central list.
// Lists move whole, never split. The reserve gives a batch of hysteresis so a
// thread that frees and allocates around a boundary does not take the central
// lock each time; the stash keeps a worker's blocks on its worker when its
// receivers free thousands of messages in one slice that its senders allocate in
// the next (through the central list they would be taken by whichever thread asks
// first, and every message would then be a cross-core miss).
class thread_cache {
 public:
  pool_free_list* active_lists() noexcept { return active_.data(); }

  void* allocate(std::size_t index) {
    pool_free_list& l = active_[index];
    if (l.head == nullptr) {
      if (reserve_[index].head != nullptr) {
        l = reserve_[index];
        reserve_[index] = {};
      } else if (!stash_[index].empty()) {
        l = stash_[index].back();
        stash_[index].pop_back();
      } else {
        refill(index);
      }
    }
    auto* b = static_cast<free_block*>(l.head);
    l.head = b->next;
    --l.count;
    return b;
  }

  void deallocate(void* block, std::size_t index) noexcept {
    pool_free_list& l = active_[index];
    auto* b = static_cast<free_block*>(block);
    b->next = static_cast<free_block*>(l.head);
    l.head = b;
    if (++l.count < batch_size(index)) return;
    if (reserve_[index].head != nullptr) stash(index, reserve_[index]);
    reserve_[index] = l;
    l = {};
  }

  void flush() noexcept {
    for (std::size_t i = 0; i < class_count; ++i) {
      if (active_[i].count != 0) give_to_central(i, active_[i]);
      if (reserve_[i].count != 0) give_to_central(i, reserve_[i]);
      for (const pool_free_list& b : stash_[i]) give_to_central(i, b);
      stash_[i].clear();
      active_[i] = reserve_[i] = {};
    }
  }

 private:
  static std::size_t stash_limit(std::size_t index) noexcept {
    return stash_bytes / (class_size(index) * batch_size(index));
  }

  void stash(std::size_t index, const pool_free_list& l) noexcept {
    std::vector<pool_free_list>& s = stash_[index];
    if (s.size() < stash_limit(index)) {
      try {
        s.push_back(l);
        return;
      } catch (const std::bad_alloc&) {
        // no room for the record: the batch goes to the central list
      }
    }
    give_to_central(index, l);
  }

  static void give_to_central(std::size_t index, const pool_free_list& l) noexcept {
    central_list& c = central().classes[index];
    detail::lock_guard guard(c.lock);
    c.batches.push_back({static_cast<free_block*>(l.head), l.count});
  }

  void refill(std::size_t index) {
    central_state& c = central();
    {
      central_list& list = c.classes[index];
      detail::lock_guard guard(list.lock);
      auto& v = list.batches;
      if (!v.empty()) {
        active_[index] = {v.back().head, v.back().count};
        v.pop_back();
        return;
      }
    }
    // Carve a batch of fresh blocks from this thread's region. This is where fresh
    // memory is first touched: a fault can zero a 2 MiB huge page (and on a virtual
    // machine the host may have to fault it in too), at times for milliseconds. That
    // time is the runtime's, not the running process's: it is excused from the
    // process's time slice, so the preemption monitor does not take a page fault
    // for a loop (docs/design/preemption.md).
    stall_section stall;
    std::size_t size = class_size(index);
    std::uint32_t n = batch_size(index);
    free_block* head = nullptr;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (static_cast<std::size_t>(region_end_ - region_cursor_) < size) {
        auto [begin, end] = c.take_region();
        region_cursor_ = begin;
        region_end_ = end;
      }
      auto* b = reinterpret_cast<free_block*>(region_cursor_);
      region_cursor_ += size;
      b->next = head;
      head = b;
    }
    c.reserved.fetch_add(size * n, std::memory_order_relaxed);
    active_[index] = {head, n};
  }

  std::array<pool_free_list, class_count> active_{};  // pool_active_lists: inline paths
  std::array<pool_free_list, class_count> reserve_{};
  std::array<std::vector<pool_free_list>, class_count> stash_{};
  char* region_cursor_ = nullptr;
  char* region_end_ = nullptr;
};

// The inline fast paths (allocation.hpp) read one constinit thread-local pointer,
// pool_active_lists. The cache is made on a thread's first allocation; `cache_owner`
// flushes it when the thread ends, after which the thread's allocations go to the
// central lists directly.
constinit thread_local thread_cache* current_cache = nullptr;
constinit thread_local bool cache_gone = false;

struct cache_owner {
  thread_cache* cache = nullptr;
  ~cache_owner() {
    if (cache == nullptr) return;
    detail::pool_active_lists = nullptr;
    cache->flush();
    delete cache;
    current_cache = nullptr;
    cache_gone = true;
  }
};
thread_local cache_owner owner;

[[maybe_unused]] thread_cache* this_thread_cache() {
  if (current_cache != nullptr) return current_cache;
  if (cache_gone) return nullptr;
  owner.cache = new thread_cache();
  current_cache = owner.cache;
#if !defined(BEAMLINE_POOL_BYPASS)
  detail::pool_active_lists = current_cache->active_lists();
#endif
  return current_cache;
}

// Without a cache (the thread is ending): straight to and from the central lists.
[[maybe_unused]] void* allocate_uncached(std::size_t index) {
  central_list& c = central().classes[index];
  {
    detail::lock_guard guard(c.lock);
    auto& v = c.batches;
    if (!v.empty() && v.back().count > 0) {
      free_block* b = v.back().head;
      v.back().head = b->next;
      if (--v.back().count == 0) v.pop_back();
      return b;
    }
  }
  return ::operator new(class_size(index));
}

[[maybe_unused]] void deallocate_uncached(void* block, std::size_t index) noexcept {
  central_list& c = central().classes[index];
  auto* b = static_cast<free_block*>(block);
  b->next = nullptr;
  detail::lock_guard guard(c.lock);
  c.batches.push_back({b, 1});
}

}  // namespace

memory_pool_stats memory_pool_statistics() noexcept {
  central_state& c = central();
  return {c.reserved.load(std::memory_order_relaxed), c.chunks.load(std::memory_order_relaxed)};
}

void memory_pool_flush_thread_cache() noexcept {
  if (current_cache != nullptr) current_cache->flush();
}

}  // namespace beamline::sched

namespace beamline::detail {

constinit thread_local pool_free_list* pool_active_lists = nullptr;

#if defined(BEAMLINE_POOL_BYPASS)

void* pool_allocate_slow(std::size_t size) {
  return ::operator new(size);
}
void pool_deallocate_slow(void* block, std::size_t) noexcept {
  ::operator delete(block);
}

#else

void* pool_allocate_slow(std::size_t size) {
  if (size > max_pooled_size) return ::operator new(size);
  std::size_t index = sched::class_of(size);
  if (sched::thread_cache* cache = sched::this_thread_cache()) return cache->allocate(index);
  return sched::allocate_uncached(index);
}

void pool_deallocate_slow(void* block, std::size_t size) noexcept {
  if (size > max_pooled_size) return ::operator delete(block);
  std::size_t index = sched::class_of(size);
  if (sched::current_cache != nullptr) return sched::current_cache->deallocate(block, index);
  if (!sched::cache_gone) {
    // A thread that frees before it ever allocated: make its cache.
    if (sched::thread_cache* cache = sched::this_thread_cache())
      return cache->deallocate(block, index);
  }
  sched::deallocate_uncached(block, index);
}

#endif

}  // namespace beamline::detail
