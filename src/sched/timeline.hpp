// timeline.hpp: each worker's ring of scheduling events, the observer's timeline
// (docs/design/timeline.md).
//
// The worker that owns a ring is its only writer; any thread may copy it (read).
// Every event is one 64-bit word, so a reader never sees half of one:
//
//   a run:    0 | serial (31 bits) | slot (32 bits)
//   a mark:   1 | kind (7 bits: tick, park, ...) | aux (8 bits) | time (low 48 bits, ns)
//
// Runs carry no time of their own, nor how they ended: a clock read for each would
// cost more than a tenth of the lightest runs (a W1 run is about 140 ns), and the
// timeline must cost 1 % at most. The worker writes a timed mark instead when it
// starts, when the scheduler's tick has moved on (the preemption monitor ticks
// every preempt_after / 2, 1 ms by default, while any worker is busy: checked
// every 16 tasks), every 256 tasks, and at each park, wake, steal and hand-off; a
// reader spreads the runs between two marks evenly over the time between them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace beamline::sched {

enum class trace_kind : std::uint8_t {
  run = 0,  // a process starts or resumes running
  // Marks, each with the time it was written.
  tick,     // the time, nothing else happened
  park,     // the worker went to sleep
  unpark,   // it woke
  steal,    // it took work from worker `aux`
  handoff,  // a new thread took this worker over: the run before it was preempted
            // (or made a blocking call) and goes on off the worker
};

constexpr std::uint64_t trace_time_mask = (std::uint64_t{1} << 48) - 1;

struct trace_event {
  std::uint64_t word;
  trace_kind kind() const noexcept {
    return (word >> 63) == 0 ? trace_kind::run : static_cast<trace_kind>((word >> 56) & 0x7f);
  }
  // A run's process: its slot, and its serial's low 31 bits.
  std::uint32_t slot() const noexcept { return static_cast<std::uint32_t>(word); }
  std::uint32_t serial() const noexcept { return (word >> 32) & 0x7fffffff; }
  std::uint8_t aux() const noexcept { return static_cast<std::uint8_t>(word >> 48); }
  // A mark's time, given a time within 2^47 ns (39 hours) of it: the 48 bits
  // unwrapped.
  std::int64_t time(std::int64_t now_ns) const noexcept {
    std::uint64_t ago = (static_cast<std::uint64_t>(now_ns) - word) & trace_time_mask;
    if (ago > trace_time_mask / 2) ago -= trace_time_mask + 1;  // after now_ns (wraps)
    return now_ns - static_cast<std::int64_t>(ago);
  }
};

class timeline_ring {
 public:
  // capacity: a power of two.
  explicit timeline_ring(std::size_t capacity)
      : slots_(std::make_unique_for_overwrite<std::uint64_t[]>(capacity)), mask_(capacity - 1) {}

  // ---- the owner
  // A process starts or resumes running: `process` is its slot in the low 32 bits
  // and its serial in the high ones. Nine instructions with the caller's, the only
  // cost a run pays; so the serial is not masked: one of 2^31 or more (a slot
  // reused two billion times) would read as a mark, misplacing a few runs.
  void run(std::uint64_t process) noexcept { push(process); }
  void mark(trace_kind kind, std::uint8_t aux, std::int64_t now_ns) noexcept {
    push(word_of(kind) | std::uint64_t{aux} << 48 |
         (static_cast<std::uint64_t>(now_ns) & trace_time_mask));
  }
  // A tick mark when the scheduler's tick has moved on since the last one.
  void mark_tick(std::uint32_t tick, std::int64_t (*now)()) noexcept {
    if (tick == seen_tick_) return;
    seen_tick_ = tick;
    mark(trace_kind::tick, 0, now());
  }

  // ---- any thread
  // The events the ring holds now, oldest first, but for those that may have been
  // written again while they were copied (so at most capacity - 1).
  std::vector<trace_event> copy() const {
    const std::uint64_t last = head_.load(std::memory_order_acquire);
    const std::uint64_t capacity = mask_ + 1;
    std::uint64_t first = last > capacity ? last - capacity : 0;
    std::vector<trace_event> out;
    out.reserve(static_cast<std::size_t>(last - first));
    for (std::uint64_t i = first; i < last; ++i)
      out.push_back({slot(i).load(std::memory_order_relaxed)});
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t now = head_.load(std::memory_order_relaxed);
    // Slot i is written again by event i + capacity, which may be under way once
    // head_ reaches i + capacity (push's fence): those up to now - capacity are lost.
    if (now + 1 > capacity && now + 1 - capacity > first) {
      const std::uint64_t lost = std::min(now + 1 - capacity - first, last - first);
      out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(lost));
    }
    return out;
  }

 private:
  static constexpr std::uint64_t word_of(trace_kind kind) noexcept {
    return (std::uint64_t{1} << 63) | std::uint64_t{static_cast<std::uint8_t>(kind)} << 56;
  }
  // The slots are plain words, left uninitialized (a large ring is then only mapped
  // as it fills) and read only once written; each access is atomic.
  std::atomic_ref<std::uint64_t> slot(std::uint64_t index) const noexcept {
    return std::atomic_ref<std::uint64_t>(slots_[index & mask_]);
  }
  void push(std::uint64_t word) noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);  // ours alone
    // A reader that sees this slot's new word also sees head_ at `head` at least
    // (the seqlock's rule; free on x86).
    std::atomic_thread_fence(std::memory_order_release);
    slot(head).store(word, std::memory_order_relaxed);
    head_.store(head + 1, std::memory_order_release);
  }

  std::unique_ptr<std::uint64_t[]> slots_;
  const std::uint64_t mask_;
  std::uint32_t seen_tick_ = 0;  // owner-only
  // The next event's index: written by the owner only, read by copies.
  std::atomic<std::uint64_t> head_{0};
};

}  // namespace beamline::sched
