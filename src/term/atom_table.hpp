// atom_table.hpp: the process-wide atom table behind beamline::atom.
//
// Owns every atom name and the two maps between names and indices:
// - index -> name: a segmented array of entry pointers. Segment k holds
//   1024 * 2^(k-1) entries (segment 0 holds 1024), so the array grows without ever
//   moving an entry and a lookup is two acquire loads, no lock.
// - name -> index: an open-addressing hash index of 64-bit slots, each
//   (32-bit hash tag << 32 | index + 1), 0 meaning empty, load factor at most 1/2.
//   Readers probe it with acquire loads and no lock. The writer grows it by building
//   a bigger copy and publishing the pointer; the old copy is retired, never freed,
//   because a reader may still be probing it. A reader that misses on a stale copy
//   falls back to the locked path, which always sees the current one.
//
// Protocol: only intern() writes, under mutex_. It stores the new entry (release),
// then the new count (release), then its hash slot (release); a reader that finds
// the index by any of these acquires therefore sees the entry, and one that finds it
// in the hash index also sees a count that covers it (from_index accepts it). Built-in atoms have
// no entry (their names are compile-time constants in atom.hpp) but are in the hash
// index, inserted when the index is first built.
//
// Nothing is ever freed: names live as long as the process, like Erlang's. The
// table is constant-initialized, so it works before and during static construction
// and has no destructor to race with threads still running at exit.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "beamline/atom.hpp"
#include "beamline/detail/thread_safety.hpp"

namespace beamline::detail {

// The stored form of a dynamic atom's name.
struct atom_entry {
  std::uint64_t order_prefix;  // the first 8 bytes, big-endian, zero-padded
  const char* text;
  std::uint32_t length;
};

// The first eight bytes of a name as a big-endian number, zero-padded: comparing
// two prefixes orders names as a bytewise comparison of the names would, except that
// equal prefixes leave the order open.
constexpr std::uint64_t atom_order_prefix(std::string_view name) noexcept {
  std::uint64_t prefix = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    prefix <<= 8;
    if (i < name.size()) prefix |= static_cast<unsigned char>(name[i]);
  }
  return prefix;
}

class atom_table {
 public:
  constexpr atom_table() noexcept = default;
  atom_table(const atom_table&) = delete;
  atom_table& operator=(const atom_table&) = delete;

  static atom_table& global() noexcept;

  // The index of `name`, adding it if new. Throws std::invalid_argument for an invalid
  // name and std::length_error when the table is full.
  std::uint32_t intern(std::string_view name) BL_EXCLUDES(mutex_);

  // The index of `name` if it is in the table.
  std::optional<std::uint32_t> find(std::string_view name) BL_EXCLUDES(mutex_);

  // The name of a dynamic atom; `index` must be a dynamic atom's index.
  std::string_view name(std::uint32_t index) const noexcept;

  // The order prefix of any atom (built-in or dynamic).
  std::uint64_t order_prefix(std::uint32_t index) const noexcept;

  // The number of atoms, built-in ones included.
  std::uint32_t size() const noexcept { return count_.load(std::memory_order_acquire); }

 private:
  static constexpr std::uint32_t first_segment_size = 1024;
  static constexpr std::size_t segment_count = 11;  // enough for atom::max_count
  static constexpr std::size_t arena_chunk_size = 64 * 1024;

  struct hash_index {
    std::uint32_t capacity;    // a power of two
    std::uint32_t used;        // slots in use; written under the lock only
    hash_index* retired_next;  // the index this one replaced, kept for late readers
    std::atomic<std::uint64_t>* slots;
  };

  using entry_slot = std::atomic<const atom_entry*>;

  static std::optional<std::uint32_t> lookup(const hash_index* index, std::string_view name,
                                             std::uint32_t tag) noexcept;
  static std::string_view any_name(std::uint32_t index) noexcept;
  static hash_index* allocate_index(std::uint32_t capacity);
  static void insert_into(hash_index* index, std::uint32_t tag, std::uint32_t atom_index) noexcept;

  hash_index* initialize_locked() BL_REQUIRES(mutex_);
  std::uint32_t insert_locked(std::string_view name, std::uint32_t tag) BL_REQUIRES(mutex_);
  const atom_entry* store_name_locked(std::string_view name) BL_REQUIRES(mutex_);
  const atom_entry* entry(std::uint32_t index) const noexcept;

  // Held by the writer. index_, segments_ and count_ are atomics written under it
  // and read without it.
  mutex mutex_;
  std::atomic<hash_index*> index_{nullptr};
  std::atomic<entry_slot*> segments_[segment_count]{};
  std::atomic<std::uint32_t> count_{builtin_atom_count};
  // Arena for names and entries. Each chunk starts with a pointer to the previous
  // chunk, so every chunk stays reachable.
  char* arena_next_ BL_GUARDED_BY(mutex_) = nullptr;
  std::size_t arena_left_ BL_GUARDED_BY(mutex_) = 0;
  void* arena_last_chunk_ BL_GUARDED_BY(mutex_) = nullptr;
};

}  // namespace beamline::detail
