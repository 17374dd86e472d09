// process_table.cpp: see process_table.hpp.
#include "core/process_table.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <new>
#include <string>
#include <typeinfo>

namespace beamline::detail {

// A slot's wake_node is part of the slot: "destroying" it marks it free to be
// pushed again (process_slot.hpp).
const signal_type slot_wake_type{
    [](signal* s) noexcept {
      auto* slot = reinterpret_cast<process_slot*>(reinterpret_cast<char*>(s) -
                                                   offsetof(process_slot, wake_node));
      slot->wake_queued.store(false, std::memory_order_release);
    },
    &typeid(void), sizeof(signal), [](const signal*) { return std::string("wake"); }};

namespace {
constexpr std::size_t cache_limit = 512;  // a cache holding more gives half back
}

process_table::process_table(std::uint32_t capacity) : capacity_(capacity < 2 ? 2 : capacity) {
  // Reserve the whole table; pages are touched (and so cost memory) only when the
  // slots in them are first used.
  std::size_t bytes = sizeof(process_slot) * capacity_;
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  slots_ = static_cast<process_slot*>(memory);
}

process_table::~process_table() {
  ::munmap(slots_, sizeof(process_slot) * capacity_);
}

std::uint32_t process_table::allocate(slot_cache* cache) {
  std::uint32_t index = 0;
  if (cache != nullptr && !cache->free.empty()) {
    index = cache->free.back();
    cache->free.pop_back();
  } else {
    lock_guard guard(lock_);
    if (!free_.empty()) {
      // Take a batch for the cache, so most allocations stay lock-free.
      std::size_t take = cache != nullptr ? std::min<std::size_t>(free_.size(), 64) : 1;
      index = free_.back();
      free_.pop_back();
      for (std::size_t i = 1; i < take; ++i) {
        cache->free.push_back(free_.back());
        free_.pop_back();
      }
    } else {
      // Fresh slots, a batch at a time for a cache. Until a slot is handed out its
      // inbox stays closed, so a forged pid cannot queue signals in it.
      std::uint32_t fresh = used_.load(std::memory_order_relaxed);
      if (fresh >= capacity_) return 0;
      std::uint32_t count = cache != nullptr ? std::min<std::uint32_t>(64, capacity_ - fresh) : 1;
      for (std::uint32_t i = 0; i < count; ++i) {
        process_slot* slot = ::new (&slots_[fresh + i]) process_slot();
        slot->inbox.store(closed_tag(), std::memory_order_relaxed);
      }
      used_.store(fresh + count, std::memory_order_release);
      index = fresh;
      for (std::uint32_t i = count; i-- > 1;) cache->free.push_back(fresh + i);
    }
  }
  // The slot's inbox is closed (fresh, or left by its last occupant): open it for
  // the next one. Stale pushes that land in it from now on are dropped by serial.
  slots_[index].inbox.store(nullptr, std::memory_order_release);
  return index;
}

void process_table::release(std::uint32_t index, slot_cache* cache) {
  if (cache != nullptr) {
    cache->free.push_back(index);
    if (cache->free.size() > cache_limit) {
      lock_guard guard(lock_);
      std::size_t keep = cache_limit / 2;
      free_.insert(free_.end(), cache->free.begin() + static_cast<std::ptrdiff_t>(keep),
                   cache->free.end());
      cache->free.resize(keep);
    }
    return;
  }
  lock_guard guard(lock_);
  free_.push_back(index);
}

void process_table::flush(slot_cache& cache) {
  lock_guard guard(lock_);
  free_.insert(free_.end(), cache.free.begin(), cache.free.end());
  cache.free.clear();
}

}  // namespace beamline::detail
