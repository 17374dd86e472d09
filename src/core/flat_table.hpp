// flat_table.hpp: a small open-addressing hash map for a process's own tables.
//
// Links and monitors are owner-only tables that are usually tiny (a handful of
// entries) but can be large (a supervisor monitoring 100,000 children): linear
// probing over one pooled array, with backward-shift deletion so there are no
// tombstones and lookups stay short after churn. Keys and values must be
// nothrow-movable. Not thread-safe: one process owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <utility>

#include "beamline/detail/allocation.hpp"

namespace beamline::detail {

template <class K, class V, class Hash = std::hash<K>>
class flat_table {
 public:
  flat_table() = default;
  flat_table(const flat_table&) = delete;
  flat_table& operator=(const flat_table&) = delete;
  ~flat_table() { clear(); }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  V* find(const K& key) noexcept {
    if (size_ == 0) return nullptr;
    for (std::size_t i = home(key);; i = (i + 1) & mask()) {
      if (!slots_[i].used) return nullptr;
      if (slots_[i].key == key) return &slots_[i].value;
    }
  }

  // Inserts key (which must be absent).
  V& insert(const K& key, V value) {
    // At most 3/4 full, except that a table of 2 slots may hold 1 entry.
    if ((size_ + 1) * 4 > capacity_ * 3 && !(capacity_ == 2 && size_ == 0)) grow();
    std::size_t i = home(key);
    while (slots_[i].used) i = (i + 1) & mask();
    ::new (&slots_[i]) slot{key, std::move(value), true};
    ++size_;
    return slots_[i].value;
  }

  bool erase(const K& key) noexcept {
    if (size_ == 0) return false;
    std::size_t i = home(key);
    for (;; i = (i + 1) & mask()) {
      if (!slots_[i].used) return false;
      if (slots_[i].key == key) break;
    }
    // Backward shift: move later entries of the probe run into the hole.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask(); slots_[j].used; j = (j + 1) & mask()) {
      std::size_t want = home(slots_[j].key);
      // j's entry may move back to the hole if the hole is no nearer to j than its
      // home is (cyclically), i.e. the hole lies on its probe path.
      if (((j - want) & mask()) >= ((j - hole) & mask())) {
        slots_[hole].key = std::move(slots_[j].key);
        slots_[hole].value = std::move(slots_[j].value);
        hole = j;
      }
    }
    slots_[hole].~slot();
    ::new (&slots_[hole]) slot{};
    --size_;
    return true;
  }

  template <class F>
  void for_each(F&& f) {
    for (std::size_t i = 0; i < capacity_; ++i)
      if (slots_[i].used) f(slots_[i].key, slots_[i].value);
  }

  void clear() noexcept {
    if (slots_ == nullptr) return;
    for (std::size_t i = 0; i < capacity_; ++i) slots_[i].~slot();
    pool_deallocate(slots_, capacity_ * sizeof(slot));
    slots_ = nullptr;
    capacity_ = size_ = 0;
  }

 private:
  struct slot {
    K key{};
    V value{};
    bool used = false;
  };

  std::size_t mask() const noexcept { return capacity_ - 1; }
  std::size_t home(const K& key) const noexcept {
    std::uint64_t h = static_cast<std::uint64_t>(Hash{}(key)) * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(h >> 20) & mask();
  }

  void grow() {
    std::size_t old_capacity = capacity_;
    slot* old = slots_;
    std::size_t capacity = old_capacity == 0 ? 2 : old_capacity * 2;
    auto* fresh = static_cast<slot*>(pool_allocate(capacity * sizeof(slot)));
    for (std::size_t i = 0; i < capacity; ++i) ::new (&fresh[i]) slot{};
    slots_ = fresh;
    capacity_ = capacity;
    size_ = 0;
    for (std::size_t i = 0; i < old_capacity; ++i) {
      if (old[i].used) insert(old[i].key, std::move(old[i].value));
      old[i].~slot();
    }
    if (old != nullptr) pool_deallocate(old, old_capacity * sizeof(slot));
  }

  slot* slots_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
};

}  // namespace beamline::detail
