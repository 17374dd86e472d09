// preemption.cpp: asynchronous preemption (docs/design/preemption.md): the monitor
// thread that finds tasks past their time slice, the signal handler that hands the
// worker of such a task to a spare thread, and the spare threads themselves.
//
// The handler runs on the thread being preempted and touches only that thread's
// state and lock-free atomics (async-signal-safe); monitor_lock_ is taken by the
// monitor and by threads that add or dismiss spares, never in the handler.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <thread>

#include "beamline/detail/thread_state.hpp"
#include "sched/memory_pool.hpp"
#include "sched/scheduler.hpp"
#include "sched/thread_signals.hpp"
#include "sched/worker.hpp"

namespace beamline::sched {

using detail::this_thread;

void scheduler::excuse_stall(std::int64_t ns) noexcept {
  auto* w = static_cast<worker*>(this_thread.worker);
  if (w == nullptr) return;
  w->excused_ns_.store(w->excused_ns_.load(std::memory_order_relaxed) + ns,
                       std::memory_order_relaxed);
  // A preemption requested during the stall was the stall's doing: the monitor
  // asks again if the task's own time still exceeds its slice.
  this_thread.handoff_pending.store(false, std::memory_order_relaxed);
}

namespace {

// The preemption signal's handler. It runs on the thread to preempt and only
// touches that thread's state and lock-free atomics (async-signal-safe).
std::atomic<int> installed_signal{0};
struct sigaction previous_action {};

void on_preemption_signal(int signal_number, siginfo_t* info, void* context) {
  int saved_errno = errno;
  auto* w = static_cast<worker*>(this_thread.worker);
  if (w != nullptr) {
    if (this_thread.critical_depth.load(std::memory_order_relaxed) != 0) {
      this_thread.handoff_pending.store(true, std::memory_order_relaxed);
      w->owner_.note_deferred_preemption();
    } else {
      w->owner_.hand_off_this_worker();
    }
  } else if ((previous_action.sa_flags & SA_SIGINFO) != 0 &&
             previous_action.sa_sigaction != nullptr) {
    previous_action.sa_sigaction(signal_number, info, context);  // not ours: chain
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN &&
             previous_action.sa_handler != nullptr) {
    previous_action.sa_handler(signal_number);
  }
  errno = saved_errno;
}

void install_preemption_handler(int signal_number) {
  int expected = 0;
  if (!installed_signal.compare_exchange_strong(expected, signal_number)) return;
  struct sigaction action {};
  action.sa_sigaction = &on_preemption_signal;
  action.sa_flags = SA_SIGINFO | SA_RESTART;  // interrupted system calls restart
  sigemptyset(&action.sa_mask);
  ::sigaction(signal_number, &action, &previous_action);
}

}  // namespace

void scheduler::start_preemption() {
  install_preemption_handler(options_.preemption_signal != 0 ? options_.preemption_signal : SIGURG);
  process_signals_blocked for_the_new_thread;
  monitor_ = std::thread([this] { monitor_main(); });
}

bool scheduler::hand_off_this_worker() noexcept {
  auto* w = static_cast<worker*>(this_thread.worker);
  this_thread.handoff_pending.store(false, std::memory_order_relaxed);
  if (w == nullptr || &w->owner_ != this) return false;
  if (w->runs_.load(std::memory_order_relaxed) !=
          w->request_runs_.load(std::memory_order_acquire) ||
      w->excused_ns_.load(std::memory_order_relaxed) !=
          w->request_excused_ns_.load(std::memory_order_relaxed))
    return false;  // stale: not the run the monitor found overdue
  spare* s = take_spare();
  if (s == nullptr) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (hooks_.handing_off) hooks_.handing_off(hooks_.context);
  // Read what we need of w before the spare owns it.
  const int nice = w->running_priority_ == priority::max    ? 5
                   : w->running_priority_ == priority::high ? 10
                                                            : 19;
  // From here on this thread is not w's: it keeps running its task as a plain
  // thread, at a lower OS priority, and the spare runs w's queues.
  this_thread.worker = nullptr;
  this_thread.node_worker = nullptr;
  this_thread.timeline = nullptr;
  w->tid_.store(0, std::memory_order_relaxed);
  hogs_running_.fetch_add(1, std::memory_order_acq_rel);
  counted_thread = false;
  threads_alive_.fetch_sub(1, std::memory_order_acq_rel);  // the spare is counted
  preemptions_.fetch_add(1, std::memory_order_relaxed);
  s->assigned.store(w, std::memory_order_release);
  s->word.store(1, std::memory_order_release);
  futex_wake(s->word);
  ::syscall(SYS_setpriority, PRIO_PROCESS, this_tid(), nice);
  return true;
}

bool scheduler::hand_off_to_block() noexcept {
  if (this_thread.critical_depth.load(std::memory_order_relaxed) != 0) return false;
  auto* w = static_cast<worker*>(this_thread.worker);
  if (w == nullptr) return true;  // a process's thread that owns no worker any more
  if (&w->owner_ != this) return false;
  // In a section of its own, as complete_deferred_handoff: a preemption signal that
  // comes meanwhile only sets handoff_pending, which the section's end settles.
  beamline::detail::critical_section handing_off;
  // As if the monitor had found this run overdue, which hand_off_this_worker checks.
  w->request_excused_ns_.store(w->excused_ns_.load(std::memory_order_relaxed),
                               std::memory_order_relaxed);
  w->request_runs_.store(w->runs_.load(std::memory_order_relaxed), std::memory_order_release);
  return hand_off_this_worker();
}

void scheduler::retire_preempted(schedulable* task, run_outcome outcome) noexcept {
  if (outcome == run_outcome::yield) push_global(task);
  memory_pool_flush_thread_cache();
  // Wake a worker even if nothing was queued: the task may have been the last
  // process, and only a worker about to park notices that none is left.
  wake_one();
  // Last: once no preempted thread is counted, the node may be destroyed, so this
  // thread touches nothing of the scheduler after this.
  hogs_running_.fetch_sub(1, std::memory_order_acq_rel);
}

scheduler::spare* scheduler::take_spare() noexcept {
  for (;;) {
    spare* top = spare_stack_.load(std::memory_order_acquire);
    if (top == nullptr) return nullptr;
    // Spares are never freed while the scheduler lives and each is pushed once,
    // so reading top->next is safe and there is no ABA.
    if (!spare_stack_.compare_exchange_weak(top, top->next, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
      continue;
    if (!top->claimed.exchange(true, std::memory_order_acq_rel)) {
      spares_ready_.fetch_sub(1, std::memory_order_relaxed);
      return top;
    }
  }
}

void scheduler::add_spare() {
  auto owned = std::make_unique<spare>();
  spare* s = owned.get();
  {
    detail::lock_guard guard(monitor_lock_);
    spares_.push_back(std::move(owned));
  }
  start_thread(
      [](scheduler& owner, void* arg) {
        auto& me = *static_cast<spare*>(arg);
        while (me.word.load(std::memory_order_acquire) == 0) futex_wait(me.word, 0, std::nullopt);
        if (worker* w = me.assigned.load(std::memory_order_acquire)) {
          if (w->trace_) w->trace_->mark(trace_kind::handoff, 0, now_ns());
          owner.worker_main(*w);
        }
      },
      s);
  spares_ready_.fetch_add(1, std::memory_order_relaxed);
  spare* top = spare_stack_.load(std::memory_order_relaxed);
  do {
    s->next = top;
  } while (!spare_stack_.compare_exchange_weak(top, s, std::memory_order_release,
                                               std::memory_order_relaxed));
}

void scheduler::dismiss_spares() noexcept {
  detail::lock_guard guard(monitor_lock_);
  for (auto& s : spares_) {
    if (s->claimed.exchange(true, std::memory_order_acq_rel)) continue;
    spares_ready_.fetch_sub(1, std::memory_order_relaxed);
    s->word.store(1, std::memory_order_release);
    futex_wake(s->word);
  }
  // Spares taken or dismissed are gone from use; keep the records (the handler
  // may still read a stale stack entry) but empty the stack.
  spare_stack_.store(nullptr, std::memory_order_release);
}

void scheduler::monitor_main() {
  const int signal_number = installed_signal.load(std::memory_order_relaxed);
  const auto interval = std::max<std::chrono::nanoseconds>(options_.preempt_after / 2,
                                                           std::chrono::microseconds(100));
  const std::int64_t slice_ns = std::chrono::nanoseconds(options_.preempt_after).count();
  detail::unique_lock lock(monitor_lock_);
  while (!stopping_.load(std::memory_order_acquire)) {
    // Every worker parked: nothing can be running long, so sleep until a worker
    // leaves its park (park() wakes us) instead of ticking: an idle node then
    // uses no CPU. Dekker with park(): we store monitor_idle_ then read
    // idle_count_; a worker leaving decrements idle_count_ then reads
    // monitor_idle_ (all seq_cst). The timeout is only a safety net.
    const int all = static_cast<int>(workers_.size());
    if (idle_count_.load(std::memory_order_seq_cst) == all) {
      monitor_idle_.store(true, std::memory_order_seq_cst);
      if (idle_count_.load(std::memory_order_seq_cst) == all) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (monitor_idle_.load(std::memory_order_seq_cst) &&
               !stopping_.load(std::memory_order_acquire))
          if (monitor_wake_.wait_until(lock, deadline) == std::cv_status::timeout) break;
      }
      monitor_idle_.store(false, std::memory_order_seq_cst);
      continue;
    }
    monitor_wake_.wait_for(lock, interval);
    if (stopping_.load(std::memory_order_acquire)) break;
    trace_tick_.fetch_add(1, std::memory_order_relaxed);
    // Keep a spare per worker, within the thread budget.
    while (spares_ready_.load(std::memory_order_relaxed) < workers_.size() &&
           hogs_running_.load(std::memory_order_relaxed) +
                   spares_ready_.load(std::memory_order_relaxed) <
               options_.max_preempted_threads) {
      lock.unlock();
      add_spare();
      lock.lock();
    }
    const std::int64_t now = now_ns();
    for (auto& wp : workers_) {
      worker& w = *wp;
      std::uint64_t runs = w.runs_.load(std::memory_order_relaxed);
      if (!w.running_.load(std::memory_order_relaxed) || runs != w.last_runs_) {
        // A new task (or none): its time starts now, give or take a sample.
        w.last_runs_ = runs;
        w.run_seen_ns_ = now;
        w.run_excused_ns_ = w.excused_ns_.load(std::memory_order_relaxed);
        continue;
      }
      // The same task as at the last sample: has its own time, the stalls the
      // runtime excused left out, reached the slice? (The first sample of a run
      // may come up to one interval after it began: a task is preempted after
      // preempt_after to preempt_after + interval of its own time.)
      const std::int64_t excused = w.excused_ns_.load(std::memory_order_relaxed);
      std::int64_t own = now - w.run_seen_ns_ - (excused - w.run_excused_ns_);
      if (own < slice_ns) continue;
      if (hogs_running_.load(std::memory_order_relaxed) >= options_.max_preempted_threads) {
        if (!budget_warned_.exchange(true))
          std::fprintf(stderr,
                       "beamline: %u threads already run preempted tasks "
                       "(max_preempted_threads): long tasks now keep their workers\n",
                       options_.max_preempted_threads);
        continue;
      }
      if (spares_ready_.load(std::memory_order_relaxed) == 0) continue;
      int tid = w.tid_.load(std::memory_order_acquire);
      if (tid == 0) continue;
      w.request_excused_ns_.store(excused, std::memory_order_relaxed);
      w.request_runs_.store(runs, std::memory_order_release);
      ::syscall(SYS_tgkill, ::getpid(), tid, signal_number);
    }
  }
}

preemption_statistics scheduler::preemption_stats() const noexcept {
  return {preemptions_.load(std::memory_order_relaxed),
          refused_.load(std::memory_order_relaxed),
          deferred_.load(std::memory_order_relaxed),
          hogs_running_.load(std::memory_order_relaxed),
          spares_ready_.load(std::memory_order_relaxed),
          budget_warned_.load(std::memory_order_relaxed)};
}

}  // namespace beamline::sched

namespace beamline::detail {

void complete_deferred_handoff() noexcept {
  auto* w = static_cast<sched::worker*>(this_thread.worker);
  if (w == nullptr) {
    this_thread.handoff_pending.store(false, std::memory_order_relaxed);
    return;
  }
  // The hand-off runs as a critical section of its own. Called at the end of the
  // outermost section, it would otherwise run at depth 0, where a second preemption
  // signal (the monitor asks again while the task stays overdue) enters
  // hand_off_this_worker from the handler in the middle of this call: the nested
  // call gives w to one spare and this one then gives it to another, and two
  // threads run the same worker. Inside the section the handler only sets
  // handoff_pending; if the hand-off succeeds this thread has no worker and the
  // flag is cleared at its next section's end, and if it was refused the flag
  // leaves the request to that section's end too.
  auto& depth = this_thread.critical_depth;
  depth.store(depth.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  w->owner_.hand_off_this_worker();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  depth.store(depth.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

}  // namespace beamline::detail
