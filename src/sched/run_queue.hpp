// run_queue.hpp: a worker's bounded queue of runnable tasks.
//
// Owner side: push_back and pop_front, called only by the worker thread that owns
// the queue. Stealer side: steal_half, called by any other worker. This is the
// classic bounded ring of Go's scheduler: the owner alone writes tail_, and every
// consumer (owner or thief) claims entries by advancing head_ with a CAS, so an
// entry is handed out exactly once.
//
// Invariants:
// - 0 <= tail_ - head_ <= capacity (unsigned arithmetic, indices wrap).
// - Slots in [head_, tail_) hold tasks; a consumer reads a slot *before* its CAS on
//   head_ and the owner only overwrites a slot after head_ has moved past it, so a
//   successful CAS validates what was read. Slots are relaxed atomics so that the
//   benign read of a slot the owner may be about to reuse is not a data race.
//
// Memory orders: tail_ is published with release after the slot store, and read
// with acquire by thieves; head_'s CAS is acq_rel so a thief's reads of the slots
// are ordered before the owner's reuse of them.
#pragma once

#include <atomic>
#include <cstdint>
#include <random>

namespace beamline::sched {

template <class T, std::uint32_t Capacity = 256>
class run_queue {
  static_assert((Capacity & (Capacity - 1)) == 0, "capacity must be a power of two");

 public:
  static constexpr std::uint32_t capacity = Capacity;

  // Owner: appends t; false if the queue is full.
  bool push_back(T* t) noexcept {
    std::uint32_t head = head_.load(std::memory_order_acquire);
    std::uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head >= Capacity) return false;
    slots_[tail & mask].store(t, std::memory_order_relaxed);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Owner: removes the oldest task, or returns nullptr.
  T* pop_front() noexcept {
    std::uint32_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      std::uint32_t tail = tail_.load(std::memory_order_relaxed);
      if (head == tail) return nullptr;
      T* t = slots_[head & mask].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(head, head + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
        return t;
    }
  }

  // Owner, single-worker deterministic mode only (no thieves): removes a task
  // chosen by rng among those queued, to expose hidden ordering assumptions.
  template <class Rng>
  T* pop_random(Rng& rng) noexcept {
    std::uint32_t head = head_.load(std::memory_order_relaxed);
    std::uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (head == tail) return nullptr;
    std::uint32_t pick = head + static_cast<std::uint32_t>(rng() % (tail - head));
    T* chosen = slots_[pick & mask].load(std::memory_order_relaxed);
    slots_[pick & mask].store(slots_[head & mask].load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
    head_.store(head + 1, std::memory_order_release);
    return chosen;
  }

  // Owner: removes up to half of the queued tasks (the oldest) into out, for when the
  // queue is full and the overflow goes to the global queue. Returns the count.
  std::uint32_t take_half(T** out) noexcept { return grab(out, Capacity / 2); }

  // Thief: moves about half of this queue's tasks into `into` (which must be the
  // thief's own, empty queue) and returns one of them to run, or nullptr.
  T* steal_half_into(run_queue& into) noexcept {
    T* batch[Capacity / 2];
    std::uint32_t n = grab(batch, Capacity / 2);
    if (n == 0) return nullptr;
    for (std::uint32_t i = 1; i < n; ++i) into.push_back(batch[i]);
    return batch[0];
  }

  // Any thread; exact only when called by the owner with no thieves running.
  std::uint32_t size() const noexcept {
    std::uint32_t head = head_.load(std::memory_order_acquire);
    std::uint32_t tail = tail_.load(std::memory_order_acquire);
    return tail - head <= Capacity ? tail - head : 0;
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  static constexpr std::uint32_t mask = Capacity - 1;

  // Claims up to `limit`, and about half, of the queued tasks.
  std::uint32_t grab(T** out, std::uint32_t limit) noexcept {
    for (;;) {
      std::uint32_t head = head_.load(std::memory_order_acquire);
      std::uint32_t tail = tail_.load(std::memory_order_acquire);
      std::uint32_t n = tail - head;
      if (n > Capacity) continue;  // read head and tail at different times: retry
      n -= n / 2;
      if (n > limit) n = limit;
      if (n == 0) return 0;
      for (std::uint32_t i = 0; i < n; ++i)
        out[i] = slots_[(head + i) & mask].load(std::memory_order_relaxed);
      if (head_.compare_exchange_strong(head, head + n, std::memory_order_acq_rel,
                                        std::memory_order_acquire))
        return n;
    }
  }

  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<T*> slots_[Capacity]{};
};

}  // namespace beamline::sched
