// timer_wheel.hpp: a hierarchical timing wheel (one per worker).
//
// Time is counted in ticks of tick_ns (65.5 us). Six levels of 64 slots cover 2^36
// ticks (about 52 days, beyond Erlang's longest timeout of 2^32 ms). A timer sits at
// the lowest level whose slot range separates its expiry from the current tick:
// level L holds timers whose expiry agrees with now_ on every bit above 6(L+1) and
// differs in bits [6L, 6L+6). When now_ reaches the start of a slot of level L > 0,
// that slot's timers cascade to lower levels; level-0 timers fire when now_ reaches
// their tick. Insert, remove and the "next expiry" query are O(1) (a 64-bit
// occupancy mask per level); advancing visits only occupied slots.
//
// Invariants:
// - A node is in at most one slot list; node.level/slot say which.
// - Every timer in level L is in a slot strictly after now_'s slot of level L
//   (L > 0) or at or after it (L = 0); so the lowest occupied level holds the
//   earliest timers. A timer whose expiry lies past the end of the current top-level
//   rotation waits in a far list until now_ enters the next rotation.
// - Expiry ticks are rounded up, so a timer never fires before its deadline; it
//   fires at most one tick late plus the time until its worker looks.
//
// Not thread-safe: the owner (a worker's timer service) locks around it.
#pragma once

#include <bit>
#include <cassert>
#include <cstdint>
#include <optional>

namespace beamline::sched {

struct timer_node {
  timer_node* prev = nullptr;
  timer_node* next = nullptr;
  std::uint64_t expiry_tick = 0;
  std::uint8_t level = 0;
  std::uint8_t slot = 0;
  bool linked = false;
};

class timer_wheel {
 public:
  static constexpr std::int64_t tick_ns = std::int64_t{1} << 16;
  static constexpr unsigned level_bits = 6;
  static constexpr unsigned slots_per_level = 1u << level_bits;
  static constexpr unsigned levels = 6;
  static constexpr std::uint64_t max_delay_ticks = (std::uint64_t{1} << (level_bits * levels)) - 1;

  explicit timer_wheel(std::uint64_t now_tick = 0) noexcept : now_(now_tick) {}

  static constexpr std::uint64_t tick_at_or_after(std::int64_t ns) noexcept {
    return ns <= 0 ? 0 : static_cast<std::uint64_t>((ns + tick_ns - 1) / tick_ns);
  }
  static constexpr std::uint64_t tick_of(std::int64_t ns) noexcept {
    return ns <= 0 ? 0 : static_cast<std::uint64_t>(ns / tick_ns);
  }

  std::uint64_t now() const noexcept { return now_; }
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }

  // Adds n to expire at tick `expiry` (clamped into [now_, now_ + max_delay_ticks]).
  // Returns false, and does not add it, if it is already due (expiry <= now_).
  bool insert(timer_node& n, std::uint64_t expiry) noexcept {
    assert(!n.linked);
    if (expiry <= now_) return false;
    if (expiry - now_ > max_delay_ticks) expiry = now_ + max_delay_ticks;
    n.expiry_tick = expiry;
    place(n);
    ++count_;
    return true;
  }

  void remove(timer_node& n) noexcept {
    assert(n.linked);
    unlink(n);
    --count_;
  }

  // The tick of the earliest occupied slot (a lower bound of the next expiry).
  std::optional<std::uint64_t> next_expiry() const noexcept {
    for (unsigned level = 0; level < levels; ++level) {
      if (occupied_[level] == 0) continue;
      return slot_start(level, first_occupied_slot(level));
    }
    if (occupied_[levels] != 0) return top_rotation_end();
    return std::nullopt;
  }

  // Moves time to `target`, calling on_expired(node&) for every timer due by then
  // (the node is unlinked before the call, and may be reused or freed by it).
  template <class F>
  void advance(std::uint64_t target, F&& on_expired) {
    while (count_ != 0) {
      unsigned level = 0;
      while (level < levels && occupied_[level] == 0) ++level;
      unsigned slot = 0;
      std::uint64_t start = 0;
      if (level < levels) {
        slot = first_occupied_slot(level);
        start = slot_start(level, slot);
      } else {
        // Only timers beyond the top level's rotation are left: they become
        // placeable when now_ enters the next rotation.
        start = top_rotation_end();
      }
      if (start > target) break;
      if (start > now_) now_ = start;
      timer_node* list = heads_[level][slot];
      heads_[level][slot] = nullptr;
      occupied_[level] &= ~(std::uint64_t{1} << slot);
      while (list != nullptr) {
        timer_node* n = list;
        list = n->next;
        n->prev = n->next = nullptr;
        n->linked = false;
        if (n->expiry_tick <= now_) {
          --count_;
          on_expired(*n);
        } else {
          place(*n);  // cascade to a lower level
        }
      }
    }
    if (target > now_) now_ = target;
  }

 private:
  std::uint64_t top_rotation_end() const noexcept {
    return (now_ | ((std::uint64_t{1} << (levels * level_bits)) - 1)) + 1;
  }

  unsigned first_occupied_slot(unsigned level) const noexcept {
    unsigned current =
        static_cast<unsigned>((now_ >> (level * level_bits)) & (slots_per_level - 1));
    std::uint64_t at_or_after = occupied_[level] & (~std::uint64_t{0} << current);
    // Every timer is at or after now_'s slot (class invariant), so this is not empty.
    assert(at_or_after != 0);
    return static_cast<unsigned>(std::countr_zero(at_or_after));
  }

  std::uint64_t slot_start(unsigned level, unsigned slot) const noexcept {
    unsigned shift = level * level_bits;
    std::uint64_t rotation = now_ & ~((std::uint64_t{1} << (shift + level_bits)) - 1);
    std::uint64_t start = rotation + (std::uint64_t{slot} << shift);
    return start < now_ ? now_ : start;
  }

  void place(timer_node& n) noexcept {
    std::uint64_t differ = (n.expiry_tick ^ now_) | (slots_per_level - 1);
    unsigned level = (63u - static_cast<unsigned>(std::countl_zero(differ))) / level_bits;
    unsigned slot = 0;
    if (level >= levels) {
      level = levels;  // the far list: expiry lies in the next top-level rotation
    } else {
      slot = static_cast<unsigned>((n.expiry_tick >> (level * level_bits)) & (slots_per_level - 1));
    }
    n.level = static_cast<std::uint8_t>(level);
    n.slot = static_cast<std::uint8_t>(slot);
    n.prev = nullptr;
    n.next = heads_[level][slot];
    if (n.next != nullptr) n.next->prev = &n;
    heads_[level][slot] = &n;
    occupied_[level] |= std::uint64_t{1} << slot;
    n.linked = true;
  }

  void unlink(timer_node& n) noexcept {
    if (n.prev != nullptr) {
      n.prev->next = n.next;
    } else {
      heads_[n.level][n.slot] = n.next;
      if (n.next == nullptr) occupied_[n.level] &= ~(std::uint64_t{1} << n.slot);
    }
    if (n.next != nullptr) n.next->prev = n.prev;
    n.prev = n.next = nullptr;
    n.linked = false;
  }

  std::uint64_t now_;
  std::size_t count_ = 0;
  // Level `levels` is the far list (slot 0 only).
  std::uint64_t occupied_[levels + 1] = {};
  timer_node* heads_[levels + 1][slots_per_level] = {};
};

}  // namespace beamline::sched
