// atom_table.cpp: the process-wide atom table (protocol in atom_table.hpp).
#include "term/atom_table.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "term/hash.hpp"
#include "term/utf8.hpp"

namespace beamline::detail {

namespace {

constinit atom_table global_table;

constexpr auto builtin_order_prefixes = [] {
  std::array<std::uint64_t, builtin_atom_count> prefixes{};
  for (std::uint32_t i = 0; i < builtin_atom_count; ++i)
    prefixes[i] = atom_order_prefix(builtin_atom_names[i]);
  return prefixes;
}();

std::uint32_t hash_tag(std::string_view name) noexcept {
  return static_cast<std::uint32_t>(hash_bytes(name));
}

void validate_name(std::string_view name) {
  const auto characters = utf8::count_code_points(name);
  if (!characters) throw std::invalid_argument("atom name is not valid UTF-8");
  if (*characters > 255) {
    throw std::invalid_argument("atom name too long: " + std::to_string(*characters) +
                                " characters, at most 255 allowed");
  }
}

// Where a dynamic atom's entry lives: (segment, offset within it).
struct segment_position {
  std::size_t segment;
  std::uint32_t offset;
};

constexpr std::uint32_t segment_size(std::size_t segment, std::uint32_t first) noexcept {
  return segment == 0 ? first : first << (segment - 1);
}

// Segment k >= 1 starts at first * 2^(k-1), so k is the bit width of dynamic / first.
constexpr segment_position locate(std::uint32_t dynamic, std::uint32_t first) noexcept {
  if (dynamic < first) return {0, dynamic};
  const auto segment = static_cast<std::size_t>(std::bit_width(dynamic / first));
  return {segment, dynamic - segment_size(segment, first)};
}

}  // namespace

atom_table& atom_table::global() noexcept {
  return global_table;
}

std::string_view dynamic_atom_name(std::uint32_t index) noexcept {
  return global_table.name(index);
}

std::string_view atom_table::any_name(std::uint32_t index) noexcept {
  if (index < builtin_atom_count) return builtin_atom_names[index];
  return global_table.name(index);
}

const atom_entry* atom_table::entry(std::uint32_t index) const noexcept {
  const segment_position position = locate(index - builtin_atom_count, first_segment_size);
  // Acquire pairs with the release stores in insert_locked(): the entry is complete.
  const entry_slot* segment = segments_[position.segment].load(std::memory_order_acquire);
  return segment[position.offset].load(std::memory_order_acquire);
}

std::string_view atom_table::name(std::uint32_t index) const noexcept {
  const atom_entry* e = entry(index);
  return {e->text, e->length};
}

std::uint64_t atom_table::order_prefix(std::uint32_t index) const noexcept {
  if (index < builtin_atom_count) return builtin_order_prefixes[index];
  return entry(index)->order_prefix;
}

std::optional<std::uint32_t> atom_table::lookup(const hash_index* index, std::string_view name,
                                                std::uint32_t tag) noexcept {
  if (index == nullptr) return std::nullopt;
  const std::uint32_t mask = index->capacity - 1;
  for (std::uint32_t i = tag & mask;; i = (i + 1) & mask) {
    // Acquire pairs with the release in insert_into(): the atom's entry is visible.
    const std::uint64_t slot = index->slots[i].load(std::memory_order_acquire);
    if (slot == 0) return std::nullopt;  // load factor <= 1/2: an empty slot ends the probe
    if (static_cast<std::uint32_t>(slot >> 32) == tag) {
      const auto atom_index = static_cast<std::uint32_t>(slot) - 1;
      if (any_name(atom_index) == name) return atom_index;
    }
  }
}

atom_table::hash_index* atom_table::allocate_index(std::uint32_t capacity) {
  auto* index = new hash_index{capacity, 0, nullptr, nullptr};
  index->slots = new std::atomic<std::uint64_t>[capacity];
  for (std::uint32_t i = 0; i < capacity; ++i) index->slots[i].store(0, std::memory_order_relaxed);
  return index;
}

void atom_table::insert_into(hash_index* index, std::uint32_t tag,
                             std::uint32_t atom_index) noexcept {
  const std::uint32_t mask = index->capacity - 1;
  std::uint32_t i = tag & mask;
  while (index->slots[i].load(std::memory_order_relaxed) != 0) i = (i + 1) & mask;
  // Release: a reader that sees this slot sees the entry stored before it.
  index->slots[i].store((std::uint64_t{tag} << 32) | (atom_index + 1), std::memory_order_release);
  ++index->used;
}

atom_table::hash_index* atom_table::initialize_locked() {
  hash_index* index = allocate_index(256);
  for (std::uint32_t i = 0; i < builtin_atom_count; ++i)
    insert_into(index, hash_tag(builtin_atom_names[i]), i);
  index_.store(index, std::memory_order_release);
  return index;
}

std::uint32_t atom_table::intern(std::string_view name) {
  const std::uint32_t tag = hash_tag(name);
  if (auto found = lookup(index_.load(std::memory_order_acquire), name, tag)) return *found;
  validate_name(name);
  lock_guard lock(mutex_);
  hash_index* index = index_.load(std::memory_order_relaxed);  // we are the only writer
  if (index == nullptr) index = initialize_locked();
  if (auto found = lookup(index, name, tag)) return *found;
  return insert_locked(name, tag);
}

std::optional<std::uint32_t> atom_table::find(std::string_view name) {
  const std::uint32_t tag = hash_tag(name);
  const hash_index* index = index_.load(std::memory_order_acquire);
  if (index == nullptr) {
    lock_guard lock(mutex_);
    index = index_.load(std::memory_order_relaxed);
    if (index == nullptr) index = initialize_locked();
  }
  return lookup(index, name, tag);
}

const atom_entry* atom_table::store_name_locked(std::string_view name) {
  const std::size_t needed = sizeof(atom_entry) + ((name.size() + 7) & ~std::size_t{7});
  if (needed > arena_left_) {
    // A fresh chunk; its first word links to the previous chunk.
    char* chunk = static_cast<char*>(::operator new(arena_chunk_size));
    std::memcpy(chunk, &arena_last_chunk_, sizeof(void*));
    arena_last_chunk_ = chunk;
    arena_next_ = chunk + sizeof(atom_entry);  // keeps entries aligned like atom_entry
    arena_left_ = arena_chunk_size - sizeof(atom_entry);
  }
  auto* e = new (arena_next_) atom_entry{};
  char* text = arena_next_ + sizeof(atom_entry);
  if (!name.empty()) std::memcpy(text, name.data(), name.size());
  e->order_prefix = atom_order_prefix(name);
  e->text = text;
  e->length = static_cast<std::uint32_t>(name.size());
  arena_next_ += needed;
  arena_left_ -= needed;
  return e;
}

std::uint32_t atom_table::insert_locked(std::string_view name, std::uint32_t tag) {
  const std::uint32_t atom_index = count_.load(std::memory_order_relaxed);
  if (atom_index >= atom::max_count) {
    throw std::length_error("atom table full (system_limit): " + std::to_string(atom::max_count) +
                            " atoms");
  }
  const segment_position position = locate(atom_index - builtin_atom_count, first_segment_size);
  entry_slot* slots = segments_[position.segment].load(std::memory_order_relaxed);
  if (slots == nullptr) {
    const std::uint32_t size = segment_size(position.segment, first_segment_size);
    slots = new entry_slot[size];
    for (std::uint32_t i = 0; i < size; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
    // Release: a reader that loads the segment pointer sees its initialized slots.
    segments_[position.segment].store(slots, std::memory_order_release);
  }
  const atom_entry* stored = store_name_locked(name);

  // What can throw comes before anything is published: a bigger hash index holds the
  // same atoms as the old one, so it may be published at once.
  hash_index* index = index_.load(std::memory_order_relaxed);
  if ((index->used + 1) * 2 > index->capacity) {
    hash_index* bigger = allocate_index(index->capacity * 2);
    for (std::uint32_t i = 0; i < index->capacity; ++i) {
      const std::uint64_t slot = index->slots[i].load(std::memory_order_relaxed);
      if (slot != 0) {
        insert_into(bigger, static_cast<std::uint32_t>(slot >> 32),
                    static_cast<std::uint32_t>(slot) - 1);
      }
    }
    bigger->retired_next = index;
    index_.store(bigger, std::memory_order_release);
    index = bigger;
  }
  // The entry, then the count, then the hash index: a thread that finds the name in the
  // index (acquire, in lookup) also sees the count that makes from_index accept it.
  // With the count last, intern() on another thread could return an index that
  // from_index() then refused ("no atom has index", seen under ThreadSanitizer).
  slots[position.offset].store(stored, std::memory_order_release);
  count_.store(atom_index + 1, std::memory_order_release);
  insert_into(index, tag, atom_index);
  return atom_index;
}

}  // namespace beamline::detail
