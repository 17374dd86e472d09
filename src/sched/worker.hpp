// worker.hpp: the scheduler's private per-worker state and the helpers its files
// share (scheduler.cpp: queues, stealing, parking, timers; preemption.cpp: the
// monitor thread, the signal handler and the spare threads).
//
// Who touches what is written beside each field: owner-only fields belong to the
// thread that runs the worker now (a spare thread after a hand-off); fields behind a
// lock are marked BL_GUARDED_BY and the compiler checks them (clang -Wthread-safety);
// the atomics shared with other threads say who writes them.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <vector>

#include "beamline/detail/thread_safety.hpp"
#include "sched/run_queue.hpp"
#include "sched/scheduler.hpp"
#include "sched/timeline.hpp"
#include "sched/timer_wheel.hpp"
#include "sched/timespec.hpp"

namespace beamline::sched {

// Sleeps while `word` holds `expected`, until futex_wake or the timeout (nullopt: none).
inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       std::optional<std::int64_t> timeout_ns) noexcept {
  timespec ts{};
  timespec* tsp = relative_timespec(timeout_ns, ts);
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, tsp,
            nullptr, 0);
}

// Holds a worker's timer lock and the role timer_wheels (scheduler.hpp) for its
// lifetime: the analysis then knows a wheel lock is held, whichever worker's it is.
class BL_SCOPED_CAPABILITY wheel_guard {
 public:
  explicit wheel_guard(detail::mutex& timer_lock) BL_ACQUIRE(timer_lock, timer_wheels)
      : lock_(timer_lock) {
    timer_lock.lock();
    timer_wheels.acquire();
  }
  ~wheel_guard() BL_RELEASE() {
    timer_wheels.release();
    lock_.unlock();
  }
  wheel_guard(const wheel_guard&) = delete;
  wheel_guard& operator=(const wheel_guard&) = delete;

 private:
  detail::mutex& lock_;
};

inline void futex_wake(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
}

inline int this_tid() noexcept {
  return static_cast<int>(::syscall(SYS_gettid));
}

// Whether this thread counts in threads_alive_: a thread stops counting when it is
// preempted away from its worker (the spare that takes over is counted instead).
extern constinit thread_local bool counted_thread;

// One worker: its queues, its timer wheel, and what the monitor thread reads of it.
class alignas(64) worker {
 public:
  worker(scheduler& owner, unsigned index, std::uint64_t seed)
      : owner_(owner), index_(index), random_(seed + index * 0x9E3779B97F4A7C15ull) {}

  scheduler& owner_;
  const unsigned index_;

  // Read by the monitor thread: the owner counts the tasks it runs and says
  // whether one is running now; tid_ is the thread that runs this worker.
  std::atomic<std::uint64_t> runs_{0};
  std::atomic<bool> running_{false};
  std::atomic<int> tid_{0};
  priority running_priority_ = priority::normal;  // owner-only
  // Owner-written (relaxed load and store): nanoseconds of runtime stalls not
  // charged to the running task (excuse_stall).
  std::atomic<std::int64_t> excused_ns_{0};
  // Written by the monitor before it signals, read by the handler: the run it
  // found overdue and excused_ns_ then. A signal that finds either changed (the
  // task ended, or a stall was excused since) is ignored; the monitor asks again.
  std::atomic<std::uint64_t> request_runs_{0};
  std::atomic<std::int64_t> request_excused_ns_{0};
  // Monitor-only: the run seen last, when it was first seen, and excused_ns_ then.
  std::uint64_t last_runs_ = 0;
  std::int64_t run_seen_ns_ = 0;
  std::int64_t run_excused_ns_ = 0;

  // Owner-only: pushes, the run-next slot, the tick and the random generator.
  run_queue<schedulable> queues_[3];  // max, high, normal and low
  schedulable* run_next_ = nullptr;
  std::uint32_t tick_ = 0;
  std::mt19937_64 random_;
  bool spinning_ = false;

  // Flood affinity: the owner's unstealable list of normal-priority tasks (it takes
  // turns with the normal queue), and tasks other workers moved here (inbound_,
  // under inbound_lock_; inbound_count_ lets the owner skip the lock).
  std::deque<schedulable*> affine_;
  bool affine_turn_ = false;
  detail::mutex inbound_lock_;
  std::vector<schedulable*> inbound_ BL_GUARDED_BY(inbound_lock_);
  std::atomic<std::uint32_t> inbound_count_{0};

  // The timer wheel; timer_count_ lets the owner skip the lock when it is empty.
  // A leaf lock: nothing else is taken while it is held (the timer_expired hook
  // runs under it and must not lock either). The node takes its timer table's lock
  // before it, never after. Taken through wheel_guard, with the role timer_wheels.
  detail::mutex timer_lock_;
  timer_wheel wheel_ BL_GUARDED_BY(timer_lock_){timer_wheel::tick_of(scheduler::now_ns())};
  std::atomic<std::size_t> timer_count_{0};

  // The timeline (null when off): written by the owner only.
  std::unique_ptr<timeline_ring> trace_;

  // Parking: 0 while parked, set to 1 by a waker (futex word). Whether the worker
  // is on the idle list is the scheduler's to say, under its idle_lock_
  // (scheduler::on_idle_list_, by index_).
  std::atomic<std::uint32_t> park_word_{0};
};

struct scheduler::spare {
  std::atomic<std::uint32_t> word{0};      // futex: set when assigned or dismissed
  std::atomic<worker*> assigned{nullptr};  // the worker to take over; null: dismissed
  std::atomic<bool> claimed{false};        // taken by a hand-off or by dismissal
  spare* next = nullptr;                   // in spare_stack_
};

}  // namespace beamline::sched
