// Unit tests of preemption around runtime code, on a bare scheduler: a preemption
// signal that arrives while the thread is inside a critical section is deferred to
// the section's end, and a stall the runtime excuses (the allocator faulting in
// fresh memory) does not count toward the task's time slice
// (docs/design/preemption.md).
#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "beamline/detail/thread_state.hpp"
#include "sched/scheduler.hpp"

namespace {

namespace sched = beamline::sched;
using beamline::detail::critical_section;
using beamline::detail::this_thread;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

enum class body {
  plain_loop,          // the task's own code, far past its slice
  loop_in_section,     // the same inside a runtime critical section
  excused_in_section,  // the same, then excused as a runtime stall
};

struct harness {
  body what;
  clock_type::duration slice;
  std::atomic<bool> ran{false};
  bool worker_kept_in_section = false;
  bool worker_kept_after = false;
  // Send a second preemption signal from inside the hand-off (scheduler_hooks::
  // handing_off), as the monitor does when it asks again while the task is overdue.
  bool signal_during_hand_off = false;
  std::atomic<int> hand_offs_begun{0};
  const sched::scheduler* owner = nullptr;
};

void loop_for(clock_type::duration d) {
  auto until = clock_type::now() + d;
  while (clock_type::now() < until) {
  }
}

// Loops until `done()` or for at most 10 s: long enough for the monitor to act on
// any loaded machine; the limit is reached only when the test is failing.
template <class Predicate>
void loop_until(Predicate done) {
  auto until = clock_type::now() + 10s;
  while (clock_type::now() < until) {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // see the handler's writes
    if (done()) return;
  }
}

sched::run_outcome run_probe(void* context, beamline::detail::schedulable*) {
  auto& h = *static_cast<harness*>(context);
  void* mine = this_thread.worker;
  // A task's own code runs at critical depth 0, as a process's does (run_process).
  this_thread.critical_depth.store(0, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const auto overdue = h.slice * 3;
  switch (h.what) {
    case body::plain_loop:
      // Until the monitor hands the worker to another thread.
      loop_until([&] { return this_thread.worker != mine; });
      break;
    case body::loop_in_section: {
      critical_section section;
      // Until the monitor's signal arrives and is deferred to the section's end
      // (and, for the second signal, until a second spare thread is ready: one for
      // each hand-off it could start).
      loop_until([&] {
        return this_thread.handoff_pending.load(std::memory_order_relaxed) &&
               (!h.signal_during_hand_off || h.owner->preemption_stats().spare_threads >= 2);
      });
      h.worker_kept_in_section = this_thread.worker == mine;
      break;
    }
    case body::excused_in_section: {
      critical_section section;
      auto start = sched::scheduler::now_ns();
      loop_for(overdue);
      sched::scheduler::excuse_stall(sched::scheduler::now_ns() - start);
      h.worker_kept_in_section = this_thread.worker == mine;
      break;
    }
  }
  if (h.what == body::excused_in_section) {
    // Own code again, for less than a slice but more than the monitor's sample
    // period (half a slice): the monitor sees the task's time without the stall
    // and lets it be.
    loop_for(h.slice * 6 / 10);
  }
  h.worker_kept_after = this_thread.worker == mine;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  this_thread.critical_depth.store(1, std::memory_order_relaxed);
  h.ran.store(true);
  return sched::run_outcome::done;
}

// Runs one probe task on a scheduler of `workers` workers and returns its statistics.
sched::preemption_statistics run_one(harness& h, unsigned workers = 1) {
  sched::scheduler_options options;
  options.workers = workers;
  options.preempt_after = h.slice;
  sched::scheduler_hooks hooks;
  hooks.context = &h;
  hooks.run = &run_probe;
  hooks.idle = [](void* context) { return static_cast<harness*>(context)->ran.load(); };
  hooks.handing_off = [](void* context) {
    auto& probe = *static_cast<harness*>(context);
    if (probe.hand_offs_begun.fetch_add(1, std::memory_order_relaxed) == 0 &&
        probe.signal_during_hand_off)
      ::pthread_kill(::pthread_self(), SIGURG);  // delivered before pthread_kill returns
  };
  sched::scheduler scheduler(options, hooks);
  h.owner = &scheduler;
  beamline::detail::schedulable task;
  scheduler.ready(&task);
  scheduler.run();
  // A preempted thread may still be finishing its task: the scheduler must outlive
  // it. Bounded, so that a miscounted hand-off fails the test instead of hanging it.
  auto until = clock_type::now() + 10s;
  while (scheduler.preempted_threads() != 0 && clock_type::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(scheduler.preempted_threads(), 0u) << "a preempted thread never retired";
  return scheduler.preemption_stats();
}

TEST(preemption_sections, a_task_past_its_slice_loses_its_worker) {
  harness h{body::plain_loop, 2ms};
  auto stats = run_one(h);
  EXPECT_TRUE(h.ran.load());
  EXPECT_FALSE(h.worker_kept_after);
  EXPECT_EQ(stats.preemptions, 1u);
}

TEST(preemption_sections, a_signal_inside_a_critical_section_waits_for_its_end) {
  harness h{body::loop_in_section, 2ms};
  auto stats = run_one(h);
  EXPECT_TRUE(h.worker_kept_in_section) << "handed off inside a critical section";
  EXPECT_FALSE(h.worker_kept_after) << "the deferred hand-off did not happen at its end";
  EXPECT_GE(stats.deferred, 1u);
  EXPECT_EQ(stats.preemptions, 1u);
}

TEST(preemption_sections, a_signal_during_a_deferred_hand_off_does_not_hand_the_worker_off_twice) {
  // The deferred hand-off runs at the end of the outermost critical section. A
  // second signal arriving while it runs must be deferred too: handled there and
  // then, it would give the same worker to a second spare thread, and two threads
  // would run one worker (found by TSan as a race on the worker's running
  // priority). Two workers, so that two spare threads are ready.
  harness h{body::loop_in_section, 2ms};
  h.signal_during_hand_off = true;
  auto stats = run_one(h, 2);
  EXPECT_TRUE(h.ran.load());
  EXPECT_TRUE(h.worker_kept_in_section);
  EXPECT_FALSE(h.worker_kept_after);
  EXPECT_EQ(stats.preemptions, 1u) << "one overdue task, one worker handed off";
  EXPECT_GE(stats.deferred, 2u) << "the signal inside the section and the one inside the hand-off";
  EXPECT_EQ(h.hand_offs_begun.load(), 1);
}

TEST(preemption_sections, an_excused_stall_does_not_count_toward_the_slice) {
  // A slice far longer than the default: the task's own 30 ms must stay under it
  // even when a busy machine deschedules this thread. With a 10 ms slice (own
  // time 6 ms), 4 runs in 40 failed beside two spinning loads on a 2-core
  // machine; with 50 ms (own time 30 ms), none in 60.
  harness h{body::excused_in_section, 50ms};
  auto stats = run_one(h);
  EXPECT_TRUE(h.worker_kept_in_section);
  EXPECT_TRUE(h.worker_kept_after) << "preempted for time the runtime excused";
  EXPECT_GE(stats.deferred, 1u);
  EXPECT_EQ(stats.preemptions, 0u);
}

}  // namespace
