// scheduler.hpp: worker threads that run tasks, one per core.
//
// The scheduler runs `schedulable` tasks through a hook without knowing what they
// are (the core makes them processes). Design (docs/design/scheduler.md):
//
// - Each worker has a bounded run queue per priority level (max, high, and one for
//   normal and low, where low tasks are skipped seven turns in eight), plus a
//   run-next slot: a task made runnable by the running task (a process woken by a
//   message, a fresh child) runs next on the same worker, inheriting what is left
//   of the time slice, so ping-pong stays in one cache and spawn trees unfold depth
//   first. The slot's previous occupant goes to the queue, where thieves see it.
// - Tasks made runnable from outside the workers go to a global injection queue,
//   which workers poll every 61 schedules and whenever their own queues are empty.
// - An idle worker steals half of another worker's queue, spinning for a bounded
//   time (options.spin) before it parks on a futex: waking a parked thread costs
//   tens of microseconds here, so a short spin pays for itself. At most one wake-up
//   is in flight (`spinning_`), so a burst of work does not stampede the workers.
// - Each worker has a timing wheel under its own lock; a parked worker sleeps until
//   its next deadline.
// - Flood affinity: a task the hook marks `affine` goes, when it yields, to its
//   worker's affine list instead of the run queue; thieves never take from that
//   list, and the worker takes turns between it and the normal queue. move_to()
//   hands such a task to another worker through that worker's inbound list (a
//   mutex; a migration is rare), waking it if it is parked.
//
// Locks (each a leaf: no code path holds two of them; clang's -Wthread-safety checks
// every access to the state they guard):
// - global_lock_: the global injection queue.
// - idle_lock_: the idle list and each worker's membership in it.
// - threads_lock_: only orders threads_done_'s wait with the last thread's exit.
// - monitor_lock_: the records of spare threads, and the monitor's sleep.
// - per worker (worker.hpp): inbound_lock_ (tasks moved to it), timer_lock_ (its wheel).
//   The timer locks form the role timer_wheels: the timer_expired hook runs with one
//   held (BL_REQUIRES(timer_wheels)), so a lock that the hook's owner takes around
//   add_timer or cancel_timer is declared BL_ACQUIRED_BEFORE(sched::timer_wheels)
//   and the analysis rejects taking it inside the hook.
//
// Code: scheduler.cpp (queues, stealing, parking, timers), preemption.cpp (the
// monitor thread, the signal handler and the spare threads), worker.hpp (the
// per-worker state both share).
//
// Invariants:
// - A task is in at most one place: one run queue slot, one run-next slot, the
//   global queue, or running on one worker (the hook's protocol guarantees a task
//   is made ready once per wait).
// - Only a worker's own thread touches its run-next slot and pushes to its queues.
// - spinning_ counts workers looking for work outside their own queues, including
//   one just woken; idle_count_ counts parked workers (on idle_).
//
// Rejected: one shared queue (every schedule contends for one cache line); waking
// a worker for every runnable task (a futex wake per message in ping-pong).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "beamline/detail/schedulable.hpp"
#include "beamline/detail/thread_safety.hpp"
#include "sched/run_queue.hpp"
#include "sched/timeline.hpp"
#include "sched/timer_wheel.hpp"

namespace beamline::sched {

using detail::schedulable;

// Every worker's timer-wheel lock, as one name for the thread-safety analysis
// (worker.hpp's wheel_guard takes it with the lock; no state, no code).
inline detail::lock_role timer_wheels;

enum class run_outcome : std::uint8_t {
  wait,   // the task is parked elsewhere; someone will call ready() for it
  yield,  // the task wants to run again later (queue tail)
  done,   // the task is gone
  moved,  // the hook gave the task to another worker (scheduler::move_to)
};

struct scheduler_hooks {
  void* context = nullptr;
  run_outcome (*run)(void* context, schedulable* task) = nullptr;
  // Called by a worker about to park: true if nothing is left to run (the scheduler
  // then stops, as when every process has ended).
  bool (*idle)(void* context) = nullptr;
  // Called under a wheel's lock for each expired timer, while the timer still counts
  // as armed (so its owner cannot free it during the call), then once after the lock
  // is released (so deliveries happen outside it). Write the hook BL_REQUIRES(timer_wheels).
  void (*timer_expired)(void* context, timer_node* timer) = nullptr;
  void (*timers_fired)(void* context) = nullptr;
  void (*worker_started)(void* context, unsigned index) = nullptr;
  void (*worker_stopping)(void* context, unsigned index) = nullptr;
  // Called on the thread being preempted once a spare thread is taken for its worker,
  // before the worker is handed over; async-signal-safe code only (tests use it to
  // send a second preemption signal at that point).
  void (*handing_off)(void* context) = nullptr;
};

struct scheduler_options {
  unsigned workers = 1;
  std::int32_t reductions_per_slice = 4000;
  std::chrono::nanoseconds spin{50'000};
  bool deterministic = false;
  std::uint64_t seed = 0;
  // Asynchronous preemption (docs/design/preemption.md): a task that runs longer
  // than `preempt_after` without returning to the scheduler loses its worker.
  bool preemption = true;
  std::chrono::nanoseconds preempt_after{2'000'000};
  unsigned max_preempted_threads = 256;
  int preemption_signal = 0;  // 0: SIGURG
  // Events each worker's timeline ring holds (timeline.hpp; a power of two, 0: no
  // timeline).
  std::size_t timeline_events = 65536;
};

struct preemption_statistics {
  std::uint64_t preemptions;        // workers handed to a spare thread
  std::uint64_t refused;            // signals that found no spare thread
  std::uint64_t deferred;           // signals that arrived in a critical section
  std::uint32_t preempted_threads;  // threads now running a preempted task
  std::uint32_t spare_threads;      // threads ready to take a worker over
  bool budget_exhausted;            // max_preempted_threads reached: no more preemption
};

class worker;

// An event source that idle workers wait on instead of their futex (the IO poller,
// src/io). The contract: poll_now() and wait() make the tasks whose events are
// ready runnable (through scheduler::ready) and return; wait() blocks until an
// event, a wake(), or the timeout (nullopt: none); wake() may be called from any
// thread at any time and makes the current or the next wait() return promptly.
// At most one worker waits in the poller at a time (the designated poller).
class idle_poller {
 public:
  virtual ~idle_poller() = default;
  virtual bool poll_now() = 0;
  virtual void wait(std::optional<std::int64_t> timeout_ns) = 0;
  virtual void wake() noexcept = 0;
};

// A timer that a worker's wheel can hold.
struct scheduled_timer : timer_node {
  std::atomic<worker*> owner{nullptr};  // the worker whose wheel holds it; null if none
};

class scheduler {
 public:
  scheduler(const scheduler_options& options, const scheduler_hooks& hooks);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Starts the workers and blocks until stop(). Not reentrant.
  void run();
  // Makes run() return (any thread, any time).
  void stop() noexcept;
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  // A task became runnable (see the class comment for where it goes).
  void ready(schedulable* task) noexcept;
  // From the run hook, as its last act before returning run_outcome::moved: the
  // task (which yielded) continues on worker `index`, in its unstealable list, and
  // sets its `affine` flag so that it stays there (flood affinity).
  void move_to(schedulable* task, unsigned index) noexcept;

  // Arms `timer` for `deadline_ns` (steady clock) in the calling worker's wheel (or
  // worker 0's off the workers). False if the deadline has already passed: the
  // caller then fires it itself.
  bool add_timer(scheduled_timer& timer, std::int64_t deadline_ns) noexcept;
  // Disarms `timer`; false if it was not armed (never, or it has expired).
  bool cancel_timer(scheduled_timer& timer) noexcept;

  // The calling thread's worker index if it is a worker of this scheduler.
  std::optional<unsigned> current_worker() const noexcept;
  unsigned worker_count() const noexcept { return static_cast<unsigned>(workers_.size()); }
  // A copy of a worker's timeline ring (timeline.hpp), oldest event first; empty
  // when the timeline is off.
  std::vector<trace_event> timeline(unsigned index) const;
  const scheduler_options& options() const noexcept { return options_; }
  // Replaces the hooks' run function (the node's observed and plain run loops);
  // each worker takes the new one for the next task it runs.
  void set_run(run_outcome (*step)(void* context, schedulable* task)) noexcept {
    run_.store(step, std::memory_order_release);
  }

  // Forgets every queued task (teardown, when the tasks are being destroyed).
  void discard_queued() noexcept;

  // Installs the poller idle workers wait on (before run(); null: none).
  void set_poller(idle_poller* poller) noexcept { poller_ = poller; }

  static std::int64_t now_ns() noexcept;

  // Tells the preemption monitor that the calling worker thread just spent `ns` in
  // runtime work that is not its task's own time (faulting in fresh memory for the
  // allocator): the monitor does not count it toward the task's time slice. Call
  // inside a critical section. No effect on threads that own no worker.
  static void excuse_stall(std::int64_t ns) noexcept;

  preemption_statistics preemption_stats() const noexcept;

  // Whether every worker is parked, with nothing queued and no preempted task
  // running: no process can run until something wakes one (node_options::idle_report).
  bool all_parked() const noexcept {
    return idle_count_.load(std::memory_order_seq_cst) == static_cast<int>(workers_.size()) &&
           global_size_.load(std::memory_order_seq_cst) == 0 &&
           hogs_running_.load(std::memory_order_seq_cst) == 0;
  }
  // How many tasks the workers have run: with all_parked(), tells a watcher whether
  // anything ran between two looks.
  std::uint64_t runs() const noexcept;
  // One worker's: its runs, and the OS thread that runs it now (0: not started).
  std::uint64_t worker_runs(unsigned index) const noexcept;
  int worker_thread(unsigned index) const noexcept;
  // Tasks waiting in one worker's run queues (its stealable queues and what other
  // workers moved to it; not its flood-affinity list, which only it may read), and
  // in the global queue: a moment's figure, for the observer.
  std::uint32_t worker_queue_length(unsigned index) const noexcept;
  std::size_t global_queue_length() const noexcept {
    return global_size_.load(std::memory_order_relaxed);
  }
  // Threads still running a task that was preempted (they own no worker).
  std::uint32_t preempted_threads() const noexcept {
    return hogs_running_.load(std::memory_order_acquire);
  }

  // Preemption entry points, on the thread to preempt (signal handler, or the end
  // of a critical section that deferred it). Async-signal-safe.
  bool hand_off_this_worker() noexcept;
  // For a process's own code about to block its thread (a send that waits for a
  // distribution connection to drain): this thread gives its worker to a spare, as a
  // preemption does, and keeps the process; the worker goes on with the others. True
  // when the thread may block: it has just given its worker away, or had none left
  // (an earlier hand-off or preemption). False in runtime code (a critical section)
  // or when no spare is free: the caller must not block then.
  bool hand_off_to_block() noexcept;
  void note_deferred_preemption() noexcept { deferred_.fetch_add(1, std::memory_order_relaxed); }

 private:
  friend class worker;
  struct spare;

  worker* this_worker() const noexcept;
  void worker_main(worker& w);
  schedulable* next_task(worker& w);
  schedulable* find_work_slow(worker& w);
  schedulable* pop_local(worker& w);
  schedulable* take_global(worker& w) BL_EXCLUDES(global_lock_);
  schedulable* steal(worker& w);
  void push_local(worker& w, schedulable* task) noexcept BL_EXCLUDES(global_lock_);
  void push_global(schedulable* task) noexcept BL_EXCLUDES(global_lock_);
  void expire_timers(worker& w);
  bool work_visible(const worker& w) const noexcept;
  bool park(worker& w) BL_EXCLUDES(idle_lock_, monitor_lock_);
  void wake_one() noexcept BL_EXCLUDES(idle_lock_);
  void wake(worker& w) noexcept;
  void wake_if_parked(worker& w) noexcept BL_EXCLUDES(idle_lock_);
  void take_inbound(worker& w) noexcept;
  void stop_spinning(worker& w) noexcept;

  void start_thread(void (*body)(scheduler&, void*), void* argument);
  void thread_done() noexcept BL_EXCLUDES(threads_lock_);
  void retire_preempted(schedulable* task, run_outcome outcome) noexcept;
  // Installs the signal handler and starts the monitor thread (preemption.cpp).
  void start_preemption();
  void monitor_main() BL_EXCLUDES(monitor_lock_);
  void add_spare() BL_EXCLUDES(monitor_lock_);
  spare* take_spare() noexcept;
  void dismiss_spares() noexcept BL_EXCLUDES(monitor_lock_);

  scheduler_options options_;
  scheduler_hooks hooks_;
  std::atomic<run_outcome (*)(void*, schedulable*)> run_{hooks_.run};  // set_run
  std::vector<std::unique_ptr<worker>> workers_;

  std::atomic<bool> stopping_{false};

  // Global injection queue, by priority (max, high, normal/low).
  detail::mutex global_lock_;
  std::deque<schedulable*> global_[3] BL_GUARDED_BY(global_lock_);
  std::atomic<std::size_t> global_size_{0};

  // Parked workers (idle_, and on_idle_list_ by worker index) and spinning workers.
  detail::mutex idle_lock_;
  std::vector<worker*> idle_ BL_GUARDED_BY(idle_lock_);
  std::vector<bool> on_idle_list_ BL_GUARDED_BY(idle_lock_);
  std::atomic<int> idle_count_{0};
  std::atomic<int> spinning_{0};

  // Runtime threads: workers, and spares waiting to take a worker over. run()
  // returns when all have ended. Threads running preempted tasks are not counted.
  detail::mutex threads_lock_;
  detail::condition_variable threads_done_;
  std::atomic<int> threads_alive_{0};

  // Preemption: the monitor thread, spare threads (a stack popped lock-free by the
  // signal handler; a spare is pushed once and taken at most once), statistics.
  std::thread monitor_;
  detail::mutex monitor_lock_;
  detail::condition_variable monitor_wake_;
  std::vector<std::unique_ptr<spare>> spares_ BL_GUARDED_BY(monitor_lock_);  // every spare made
  std::atomic<spare*> spare_stack_{nullptr};
  std::atomic<std::uint32_t> spares_ready_{0};
  std::atomic<std::uint32_t> hogs_running_{0};
  std::atomic<std::uint64_t> preemptions_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> deferred_{0};
  std::atomic<bool> budget_warned_{false};
  std::atomic<std::uint32_t> trace_tick_{0};  // moved on by the monitor (timeline.hpp)
  std::atomic<bool> monitor_idle_{false};     // the monitor sleeps until a worker unparks

  // The poller, and the worker waiting in it (null: none).
  idle_poller* poller_ = nullptr;
  std::atomic<worker*> poller_owner_{nullptr};
};

}  // namespace beamline::sched
