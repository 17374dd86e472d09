// process_table.hpp: pids to processes, and each process's inbox.
//
// A local pid is (index, serial): the index names a slot of this table, the serial
// the generation of its occupant. A slot holds only what other threads touch: the
// inbox, the serial, the registered name and the occupant's control block. Slots
// live in one reserved address range that is never freed or moved while the node
// exists, so a sender may read any slot it has an index for; the serial tells a
// live addressee from a dead one. Lookup is an index and a load: O(1), lock-free.
//
// The inbox, the slot's atomic head of pending signals, is the mailbox's shared half
// (beamline/detail/mailbox.hpp documents its protocol).
//
// Slot reuse: a dying process closes its inbox, then increments the serial, then
// frees the index. A sender that read the old serial just before may still push
// into the slot's next occupant; every signal carries its addressee's serial and the
// occupant drops those that are not its own, and a wake-up it causes is spurious and
// harmless (the woken process finds nothing and waits again).
//
// Rejected: reference-counted control blocks (an atomic increment and decrement per
// send on a shared line).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "beamline/detail/mailbox.hpp"
#include "beamline/detail/process_slot.hpp"
#include "beamline/detail/signal.hpp"
#include "beamline/detail/thread_safety.hpp"

namespace beamline::detail {

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
  std::uint32_t allocate(slot_cache* cache) BL_EXCLUDES(lock_);
  // Returns an index whose occupant has fully ended (serial already advanced).
  void release(std::uint32_t index, slot_cache* cache) BL_EXCLUDES(lock_);
  // Gives a cache's indices back to the shared free list.
  void flush(slot_cache& cache) BL_EXCLUDES(lock_);

  // One past the highest index ever handed out (for teardown scans).
  std::uint32_t high_water() const noexcept { return used_.load(std::memory_order_acquire); }
  std::uint32_t capacity() const noexcept { return capacity_; }

 private:
  process_slot* slots_;
  std::uint32_t capacity_;
  std::atomic<std::uint32_t> used_{1};  // index 0 is never used: pid{} is null
  detail::mutex lock_;
  std::vector<std::uint32_t> free_ BL_GUARDED_BY(lock_);  // shared free indices
};

}  // namespace beamline::detail
