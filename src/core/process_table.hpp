// process_table.hpp: pids to processes, and each process's inbox.
//
// A local pid is (index, serial): the index names a slot of this table, the serial
// the generation of its occupant. A slot holds only what other threads touch: the
// inbox, the serial, the registered name and the occupant's control block. Slots
// live in one reserved address range that is never freed or moved while the node
// exists, so a sender may read any slot it has an index for; the serial tells a
// live addressee from a dead one. Lookup is an index and a load: O(1), lock-free.
//
// The inbox is a lock-free LIFO of signals (one CAS per push) whose head doubles as
// the process's wait state, as in CAF:
//   nullptr        empty; the owner is running or runnable
//   a signal*      pending signals, newest first
//   blocked_tag()  empty, and the owner is suspended waiting for a signal: the
//                  sender that replaces it must make the owner runnable
//   closed_tag()   the owner has ended: pushes fail and the sender drops the signal
// The owner takes the whole chain with one exchange and reverses it, which yields
// the signals in push order, so every sender's signals arrive in the order sent.
//
// Slot reuse: a dying process closes its inbox, then increments the serial, then
// frees the index. A sender that read the old serial just before may still push
// into the slot's next occupant; every signal carries its addressee's serial and the
// occupant drops those that are not its own, and a wake-up it causes is spurious and
// harmless (the woken process finds nothing and waits again).
//
// Rejected: a Vyukov MPSC queue plus a separate state word (two atomics per send
// and a Dekker-style handshake to block); reference-counted control blocks (an
// atomic increment and decrement per send on a shared line).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "beamline/detail/process_slot.hpp"
#include "beamline/detail/signal.hpp"

namespace beamline::detail {

enum class push_result : std::uint8_t { queued, woke, closed };

// Any thread: appends s (release). `woke`: the owner was blocked and the caller
// must make it runnable.
inline push_result inbox_push(process_slot& slot, signal* s) noexcept {
  signal* head = slot.inbox.load(std::memory_order_relaxed);
  for (;;) {
    if (head == closed_tag()) return push_result::closed;
    s->next = head == blocked_tag() ? nullptr : head;
    // acq_rel: release publishes the signal; acquire pairs with the owner's
    // release when it blocked, so its control block is visible to the waker.
    if (slot.inbox.compare_exchange_weak(head, s, std::memory_order_acq_rel,
                                         std::memory_order_relaxed))
      return head == blocked_tag() ? push_result::woke : push_result::queued;
  }
}

inline signal* reverse_chain(signal* s) noexcept {
  signal* fifo = nullptr;
  while (s != nullptr) {
    signal* next = s->next;
    s->next = fifo;
    fifo = s;
    s = next;
  }
  return fifo;
}

// Owner: takes every pending signal, oldest first.
inline signal* inbox_take_all(process_slot& slot) noexcept {
  if (slot.inbox.load(std::memory_order_relaxed) == nullptr) return nullptr;
  return reverse_chain(slot.inbox.exchange(nullptr, std::memory_order_acquire));
}

// Owner: marks itself blocked if the inbox is empty. On success the process may be
// made runnable by another thread at once: the caller must not touch it again.
inline bool inbox_try_block(process_slot& slot) noexcept {
  signal* expected = nullptr;
  return slot.inbox.compare_exchange_strong(expected, blocked_tag(), std::memory_order_acq_rel,
                                            std::memory_order_relaxed);
}

// Owner, ending: closes the inbox and returns what was left in it, oldest first.
inline signal* inbox_close(process_slot& slot) noexcept {
  signal* s = slot.inbox.exchange(closed_tag(), std::memory_order_acq_rel);
  if (s == blocked_tag() || s == closed_tag()) return nullptr;
  return reverse_chain(s);
}

// A thread's private stack of free slot indices (a worker's, or the table's own
// for threads that are not workers).
struct slot_cache {
  std::vector<std::uint32_t> free;
};

class process_table {
 public:
  explicit process_table(std::uint32_t capacity);
  ~process_table();
  process_table(const process_table&) = delete;
  process_table& operator=(const process_table&) = delete;

  // The slot for `index`, or null if no process ever had that index.
  process_slot* find(std::uint32_t index) const noexcept {
    if (index == 0 || index >= used_.load(std::memory_order_acquire)) return nullptr;
    return &slots_[index];
  }
  process_slot& at(std::uint32_t index) const noexcept { return slots_[index]; }

  // A free index (its slot's inbox reset), or 0 if the table is full.
  std::uint32_t allocate(slot_cache* cache);
  // Returns an index whose occupant has fully ended (serial already advanced).
  void release(std::uint32_t index, slot_cache* cache);
  // Gives a cache's indices back to the shared free list.
  void flush(slot_cache& cache);

  // One past the highest index ever handed out (for teardown scans).
  std::uint32_t high_water() const noexcept { return used_.load(std::memory_order_acquire); }
  std::uint32_t capacity() const noexcept { return capacity_; }

 private:
  process_slot* slots_;
  std::uint32_t capacity_;
  std::atomic<std::uint32_t> used_{1};  // index 0 is never used: pid{} is null
  std::mutex lock_;
  std::vector<std::uint32_t> free_;
};

}  // namespace beamline::detail
