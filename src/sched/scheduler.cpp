// scheduler.cpp: see scheduler.hpp for the design and its invariants.
#include "sched/scheduler.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <utility>

#include "beamline/detail/thread_state.hpp"
#include "sched/memory_pool.hpp"

namespace beamline::detail {
constinit thread_local thread_state this_thread;
}

namespace beamline::sched {

namespace {

using detail::this_thread;

constexpr int queue_index(priority p) noexcept {
  switch (p) {
    case priority::max:
      return 0;
    case priority::high:
      return 1;
    default:
      return 2;
  }
}

// Turns a low-priority task gives up to normal ones when they compete (Erlang's
// RESCHEDULE_LOW is 8: one turn in eight).
constexpr std::uint8_t low_priority_skips = 7;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::int64_t> timeout_ns) noexcept {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout_ns) {
    std::int64_t ns = *timeout_ns < 0 ? 0 : *timeout_ns;
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    tsp = &ts;
  }
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, tsp,
            nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
}

}  // namespace

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
  std::mutex inbound_lock_;
  std::vector<schedulable*> inbound_;
  std::atomic<std::uint32_t> inbound_count_{0};

  // The timer wheel; timer_count_ lets the owner skip the lock when it is empty.
  std::mutex timer_lock_;
  timer_wheel wheel_{timer_wheel::tick_of(scheduler::now_ns())};
  std::atomic<std::size_t> timer_count_{0};

  // Parking: 0 while parked, set to 1 by a waker (futex word).
  std::atomic<std::uint32_t> park_word_{0};
  bool on_idle_list_ = false;  // guarded by scheduler::idle_lock_
};

void scheduler::excuse_stall(std::int64_t ns) noexcept {
  auto* w = static_cast<worker*>(this_thread.worker);
  if (w == nullptr) return;
  w->excused_ns_.store(w->excused_ns_.load(std::memory_order_relaxed) + ns,
                       std::memory_order_relaxed);
  // A preemption requested during the stall was the stall's doing: the monitor
  // asks again if the task's own time still exceeds its slice.
  this_thread.handoff_pending.store(false, std::memory_order_relaxed);
}

std::int64_t scheduler::now_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

scheduler::scheduler(const scheduler_options& options, const scheduler_hooks& hooks)
    : options_(options), hooks_(hooks) {
  if (options_.deterministic) options_.workers = 1;
  if (options_.workers == 0) options_.workers = 1;
  workers_.reserve(options_.workers);
  for (unsigned i = 0; i < options_.workers; ++i)
    workers_.push_back(std::make_unique<worker>(*this, i, options_.seed));
  idle_.reserve(options_.workers);
}

scheduler::~scheduler() {
  stop();
}

worker* scheduler::this_worker() const noexcept {
  auto* w = static_cast<worker*>(this_thread.worker);
  return (w != nullptr && &w->owner_ == this) ? w : nullptr;
}

std::optional<unsigned> scheduler::current_worker() const noexcept {
  worker* w = this_worker();
  if (w == nullptr) return std::nullopt;
  return w->index_;
}

struct scheduler::spare {
  std::atomic<std::uint32_t> word{0};      // futex: set when assigned or dismissed
  std::atomic<worker*> assigned{nullptr};  // the worker to take over; null: dismissed
  std::atomic<bool> claimed{false};        // taken by a hand-off or by dismissal
  spare* next = nullptr;                   // in spare_stack_
};

namespace {

struct thread_start {
  scheduler* owner;
  void (*body)(scheduler&, void*);
  void* argument;
};

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

int this_tid() noexcept {
  return static_cast<int>(::syscall(SYS_gettid));
}

// Whether this thread counts in threads_alive_: a thread stops counting when it is
// preempted away from its worker (the spare that takes over is counted instead).
constinit thread_local bool counted_thread = true;

}  // namespace

void scheduler::start_thread(void (*body)(scheduler&, void*), void* argument) {
  threads_alive_.fetch_add(1, std::memory_order_acq_rel);
  auto* start = new thread_start{this, body, argument};
  std::thread([start] {
    thread_start s = *start;
    delete start;
    s.body(*s.owner, s.argument);
    if (counted_thread) s.owner->thread_done();
  }).detach();
}

void scheduler::thread_done() noexcept {
  std::lock_guard guard(threads_lock_);
  if (threads_alive_.fetch_sub(1, std::memory_order_acq_rel) == 1) threads_done_.notify_all();
}

void scheduler::run() {
  stopping_.store(false, std::memory_order_release);
  spinning_.store(0, std::memory_order_relaxed);
  for (auto& w : workers_)
    start_thread([](scheduler& s, void* arg) { s.worker_main(*static_cast<worker*>(arg)); },
                 w.get());
  bool preempting = options_.preemption && !options_.deterministic;
  if (preempting) {
    install_preemption_handler(options_.preemption_signal != 0 ? options_.preemption_signal
                                                               : SIGURG);
    monitor_ = std::thread([this] { monitor_main(); });
  }
  {
    std::unique_lock lock(threads_lock_);
    threads_done_.wait(lock, [&] {
      return stopping_.load(std::memory_order_acquire) ||
             threads_alive_.load(std::memory_order_acquire) == 0;
    });
  }
  if (preempting) {
    monitor_wake_.notify_all();
    monitor_.join();
  }
  dismiss_spares();
  {
    std::unique_lock lock(threads_lock_);
    threads_done_.wait(lock, [&] { return threads_alive_.load(std::memory_order_acquire) == 0; });
  }
  std::lock_guard guard(idle_lock_);
  for (auto& w : workers_) w->on_idle_list_ = false;
  idle_.clear();
  idle_count_.store(0, std::memory_order_relaxed);
}

void scheduler::stop() noexcept {
  stopping_.store(true, std::memory_order_seq_cst);
  for (auto& w : workers_) wake(*w);
  {
    std::lock_guard guard(threads_lock_);
    threads_done_.notify_all();
  }
  {
    std::lock_guard guard(monitor_lock_);
    monitor_wake_.notify_all();
  }
}

void scheduler::worker_main(worker& w) {
  this_thread.worker = &w;
  this_thread.critical_depth.store(1, std::memory_order_relaxed);
  this_thread.handoff_pending.store(false, std::memory_order_relaxed);
  w.tid_.store(this_tid(), std::memory_order_release);
  ::prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // wake from timed parks within ~1 us
  if (hooks_.worker_started) hooks_.worker_started(hooks_.context, w.index_);
  while (schedulable* task = next_task(w)) {
    w.runs_.store(w.runs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    w.running_priority_ = task->priority;
    w.running_.store(true, std::memory_order_relaxed);
    run_outcome outcome = hooks_.run(hooks_.context, task);
    if (this_thread.worker != &w) {
      // Preempted: a spare thread runs this worker now. This thread finished the
      // task it kept, and ends.
      retire_preempted(task, outcome);
      return;
    }
    w.running_.store(false, std::memory_order_relaxed);
    if (outcome == run_outcome::yield) {
      if (task->affine != 0 && task->priority == priority::normal)
        w.affine_.push_back(task);
      else
        push_local(w, task);
    }
  }
  w.running_.store(false, std::memory_order_relaxed);
  if (hooks_.worker_stopping) hooks_.worker_stopping(hooks_.context, w.index_);
  memory_pool_flush_thread_cache();
  this_thread.worker = nullptr;
}

// --- preemption ---------------------------------------------------------------------

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
    std::lock_guard guard(monitor_lock_);
    spares_.push_back(std::move(owned));
  }
  start_thread(
      [](scheduler& owner, void* arg) {
        auto& me = *static_cast<spare*>(arg);
        while (me.word.load(std::memory_order_acquire) == 0) futex_wait(me.word, 0, std::nullopt);
        if (worker* w = me.assigned.load(std::memory_order_acquire)) owner.worker_main(*w);
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
  std::lock_guard guard(monitor_lock_);
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
  std::unique_lock lock(monitor_lock_);
  while (!stopping_.load(std::memory_order_acquire)) {
    // Every worker parked: nothing can be running long, so sleep until a worker
    // leaves its park (park() wakes us) instead of ticking: an idle node then
    // uses no CPU. Dekker with park(): we store monitor_idle_ then read
    // idle_count_; a worker leaving decrements idle_count_ then reads
    // monitor_idle_ (all seq_cst). The timeout is only a safety net.
    const int all = static_cast<int>(workers_.size());
    if (idle_count_.load(std::memory_order_seq_cst) == all) {
      monitor_idle_.store(true, std::memory_order_seq_cst);
      if (idle_count_.load(std::memory_order_seq_cst) == all)
        monitor_wake_.wait_for(lock, std::chrono::seconds(1), [&] {
          return !monitor_idle_.load(std::memory_order_seq_cst) ||
                 stopping_.load(std::memory_order_acquire);
        });
      monitor_idle_.store(false, std::memory_order_seq_cst);
      continue;
    }
    monitor_wake_.wait_for(lock, interval);
    if (stopping_.load(std::memory_order_acquire)) break;
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

schedulable* scheduler::next_task(worker& w) {
  if (stopping_.load(std::memory_order_relaxed)) return nullptr;
  ++w.tick_;
  if ((w.tick_ & 15) == 0 && w.timer_count_.load(std::memory_order_relaxed) != 0) expire_timers(w);

  // Fairness: now and then the global queue goes first, so injected tasks are not
  // starved by a worker that always has local work.
  // Busy workers look at ready IO now and then, so that sockets are served even
  // when no worker goes idle.
  if (poller_ != nullptr && (w.tick_ & 255) == 0 &&
      poller_owner_.load(std::memory_order_relaxed) == nullptr)
    poller_->poll_now();
  if (w.tick_ % 61 == 0 && global_size_.load(std::memory_order_relaxed) != 0) {
    if (schedulable* t = take_global(w)) {
      this_thread.budget = options_.reductions_per_slice;
      return t;
    }
  }
  if (schedulable* t = pop_local(w)) return t;
  return find_work_slow(w);
}

// Max, then high, then the run-next slot (inheriting the slice), then normal/low.
schedulable* scheduler::pop_local(worker& w) {
  for (int q = 0; q < 2; ++q) {
    schedulable* t =
        options_.deterministic ? w.queues_[q].pop_random(w.random_) : w.queues_[q].pop_front();
    if (t != nullptr) {
      this_thread.budget = options_.reductions_per_slice;
      return t;
    }
  }
  if (w.run_next_ != nullptr) {
    schedulable* t = std::exchange(w.run_next_, nullptr);
    if (this_thread.budget > 0) return t;
    // The slice is spent: the chain of run-next tasks gives way to the queue.
    push_local(w, t);
  }
  run_queue<schedulable>& normal = w.queues_[2];
  if (w.inbound_count_.load(std::memory_order_relaxed) != 0) take_inbound(w);
  if (!w.affine_.empty() && ((w.affine_turn_ = !w.affine_turn_) || normal.empty())) {
    schedulable* t = w.affine_.front();
    w.affine_.pop_front();
    this_thread.budget = options_.reductions_per_slice;
    return t;
  }
  for (;;) {
    schedulable* t = options_.deterministic ? normal.pop_random(w.random_) : normal.pop_front();
    if (t == nullptr) return nullptr;
    if (t->priority == priority::low && !normal.empty()) {
      if (t->low_skip > 0) {
        --t->low_skip;
        normal.push_back(t);
        continue;
      }
      t->low_skip = low_priority_skips;
    }
    this_thread.budget = options_.reductions_per_slice;
    return t;
  }
}

schedulable* scheduler::take_global(worker& w) {
  if (global_size_.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard guard(global_lock_);
  for (int q = 0; q < 3; ++q) {
    auto& dq = global_[q];
    if (dq.empty()) continue;
    schedulable* first = dq.front();
    dq.pop_front();
    // Take a fair share into the local queue.
    std::size_t share = std::min<std::size_t>(dq.size() / workers_.size() + 1,
                                              run_queue<schedulable>::capacity / 2);
    std::size_t moved = 1;
    while (moved < share && !dq.empty() && w.queues_[q].push_back(dq.front())) {
      dq.pop_front();
      ++moved;
    }
    global_size_.fetch_sub(moved, std::memory_order_relaxed);
    return first;
  }
  return nullptr;
}

schedulable* scheduler::steal(worker& w) {
  std::size_t n = workers_.size();
  if (n < 2) return nullptr;
  std::size_t start = w.random_() % n;
  for (std::size_t i = 0; i < n; ++i) {
    worker& victim = *workers_[(start + i) % n];
    if (&victim == &w) continue;
    for (int q = 0; q < 3; ++q) {
      if (!w.queues_[q].empty()) continue;  // thieves steal into an empty queue
      if (schedulable* t = victim.queues_[q].steal_half_into(w.queues_[q])) return t;
    }
  }
  return nullptr;
}

void scheduler::stop_spinning(worker& w) noexcept {
  if (!w.spinning_) return;
  w.spinning_ = false;
  // The last spinner to find work wakes another one, which keeps looking: work
  // may have arrived faster than one worker can take it (Go's rule).
  if (spinning_.fetch_sub(1, std::memory_order_seq_cst) == 1) wake_one();
}

schedulable* scheduler::find_work_slow(worker& w) {
  for (;;) {
    if (stopping_.load(std::memory_order_acquire)) return nullptr;
    if (w.timer_count_.load(std::memory_order_relaxed) != 0) {
      expire_timers(w);
      if (schedulable* t = pop_local(w)) {
        stop_spinning(w);
        return t;
      }
    }
    if (!w.spinning_) {
      w.spinning_ = true;
      spinning_.fetch_add(1, std::memory_order_seq_cst);
    }
    auto spin_until = now_ns() + options_.spin.count();
    for (unsigned round = 0;; ++round) {
      // Ready IO first (unless a parked worker is already waiting on it).
      if (poller_ != nullptr && poller_owner_.load(std::memory_order_relaxed) == nullptr &&
          poller_->poll_now()) {
        if (schedulable* t = pop_local(w)) {
          stop_spinning(w);
          return t;
        }
      }
      schedulable* t = take_global(w);
      if (t == nullptr) t = steal(w);
      if (t == nullptr) t = pop_local(w);  // timers fired by a waker, or yields
      if (t != nullptr) {
        this_thread.budget = options_.reductions_per_slice;
        stop_spinning(w);
        return t;
      }
      if (stopping_.load(std::memory_order_acquire)) return nullptr;
      if ((round & 7) == 7 && now_ns() >= spin_until) break;
      if (hogs_running_.load(std::memory_order_relaxed) != 0) {
        // Preempted tasks run on their own low-priority threads: keep looking,
        // but give them the CPU between looks (a spinning worker would starve
        // them, and parking at once would cost a futex wake per task they ready).
        ::sched_yield();
      } else {
        for (int i = 0; i < 32; ++i) cpu_relax();
      }
    }
    if (!park(w)) return nullptr;
  }
}

bool scheduler::work_visible(const worker& w) const noexcept {
  if (global_size_.load(std::memory_order_seq_cst) != 0) return true;
  if (!w.affine_.empty() || w.inbound_count_.load(std::memory_order_seq_cst) != 0) return true;
  for (const auto& other : workers_)
    for (const auto& q : other->queues_)
      if (!q.empty()) return true;
  if (w.run_next_ != nullptr) return true;
  return false;
}

// Parks w until woken or its next timer is due. Returns false if stopping.
bool scheduler::park(worker& w) {
  if (w.spinning_) {
    w.spinning_ = false;
    spinning_.fetch_sub(1, std::memory_order_seq_cst);
  }
  if (hooks_.idle != nullptr && hooks_.idle(hooks_.context)) {
    stop();
    return false;
  }
  {
    std::lock_guard guard(idle_lock_);
    w.park_word_.store(0, std::memory_order_relaxed);
    w.on_idle_list_ = true;
    idle_.push_back(&w);
    idle_count_.fetch_add(1, std::memory_order_seq_cst);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Re-check after registering as idle: a producer that pushed work before reading
  // idle_count_ may have seen no idle worker to wake.
  bool recheck = work_visible(w) || stopping_.load(std::memory_order_seq_cst);
  if (!recheck) {
    std::optional<std::int64_t> timeout;
    if (w.timer_count_.load(std::memory_order_acquire) != 0) {
      std::lock_guard guard(w.timer_lock_);
      if (auto next = w.wheel_.next_expiry())
        timeout = static_cast<std::int64_t>(*next) * timer_wheel::tick_ns - now_ns();
    }
    if (!timeout || *timeout > 0) {
      worker* no_owner = nullptr;
      if (poller_ != nullptr &&
          poller_owner_.compare_exchange_strong(no_owner, &w, std::memory_order_seq_cst)) {
        // Dekker with wake(): it stores park_word_ then reads poller_owner_; we
        // stored poller_owner_ and now read park_word_. One of us sees the other.
        if (w.park_word_.load(std::memory_order_seq_cst) == 0) poller_->wait(timeout);
        poller_owner_.store(nullptr, std::memory_order_seq_cst);
      } else {
        futex_wait(w.park_word_, 0, timeout);
      }
    }
  }
  {
    std::lock_guard guard(idle_lock_);
    if (w.on_idle_list_) {
      // Timed out, rechecked or woken spuriously: leave the idle list ourselves.
      w.on_idle_list_ = false;
      idle_.erase(std::find(idle_.begin(), idle_.end(), &w));
      idle_count_.fetch_sub(1, std::memory_order_seq_cst);
    } else {
      // A waker took us off the list and counted us as spinning.
      w.spinning_ = true;
    }
  }
  // The preemption monitor sleeps while every worker is parked: we are not now.
  if (monitor_idle_.load(std::memory_order_seq_cst)) {
    std::lock_guard guard(monitor_lock_);
    monitor_idle_.store(false, std::memory_order_seq_cst);
    monitor_wake_.notify_all();
  }
  return !stopping_.load(std::memory_order_acquire);
}

void scheduler::wake(worker& w) noexcept {
  w.park_word_.store(1, std::memory_order_seq_cst);
  if (poller_ != nullptr && poller_owner_.load(std::memory_order_seq_cst) == &w)
    poller_->wake();
  else
    futex_wake(w.park_word_);
}

void scheduler::wake_one() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (idle_count_.load(std::memory_order_seq_cst) == 0) return;
  if (spinning_.load(std::memory_order_seq_cst) != 0) return;
  worker* w = nullptr;
  {
    std::lock_guard guard(idle_lock_);
    if (idle_.empty()) return;
    w = idle_.back();
    idle_.pop_back();
    w->on_idle_list_ = false;
    idle_count_.fetch_sub(1, std::memory_order_seq_cst);
    spinning_.fetch_add(1, std::memory_order_seq_cst);
  }
  wake(*w);
}

void scheduler::wake_if_parked(worker& w) noexcept {
  // Dekker with park(): it registers on idle_ and then reads what is visible to it;
  // the caller published the work and now reads whether it is registered.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (idle_count_.load(std::memory_order_seq_cst) == 0) return;
  {
    std::lock_guard guard(idle_lock_);
    if (!w.on_idle_list_) return;
    w.on_idle_list_ = false;
    idle_.erase(std::find(idle_.begin(), idle_.end(), &w));
    idle_count_.fetch_sub(1, std::memory_order_seq_cst);
    spinning_.fetch_add(1, std::memory_order_seq_cst);
  }
  wake(w);
}

void scheduler::take_inbound(worker& w) noexcept {
  std::lock_guard guard(w.inbound_lock_);
  w.affine_.insert(w.affine_.end(), w.inbound_.begin(), w.inbound_.end());
  w.inbound_.clear();
  w.inbound_count_.store(0, std::memory_order_relaxed);
}

void scheduler::move_to(schedulable* task, unsigned index) noexcept {
  detail::critical_section in_runtime;  // this thread's worker must stay ours
  task->affine = 1;
  worker& target = *workers_[index];
  if (this_worker() == &target) {
    target.affine_.push_back(task);
    return;
  }
  {
    std::lock_guard guard(target.inbound_lock_);
    target.inbound_.push_back(task);
    target.inbound_count_.store(static_cast<std::uint32_t>(target.inbound_.size()),
                                std::memory_order_seq_cst);
  }
  wake_if_parked(target);
}

void scheduler::push_local(worker& w, schedulable* task) noexcept {
  run_queue<schedulable>& q = w.queues_[queue_index(task->priority)];
  if (q.push_back(task)) return;
  // Full: move half of it, and the task, to the global queue.
  schedulable* batch[run_queue<schedulable>::capacity / 2];
  std::uint32_t n = q.take_half(batch);
  std::lock_guard guard(global_lock_);
  auto& dq = global_[queue_index(task->priority)];
  dq.insert(dq.end(), batch, batch + n);
  dq.push_back(task);
  global_size_.fetch_add(n + 1, std::memory_order_release);
}

void scheduler::push_global(schedulable* task) noexcept {
  {
    std::lock_guard guard(global_lock_);
    global_[queue_index(task->priority)].push_back(task);
    global_size_.fetch_add(1, std::memory_order_release);
  }
}

void scheduler::ready(schedulable* task) noexcept {
  detail::critical_section in_runtime;  // w must stay this thread's while in use
  worker* w = this_worker();
  if (w == nullptr) {
    push_global(task);
    wake_one();
    return;
  }
  if (!options_.deterministic && task->priority <= priority::normal) {
    schedulable* previous = std::exchange(w->run_next_, task);
    if (previous == nullptr) return;
    push_local(*w, previous);
  } else {
    push_local(*w, task);
  }
  wake_one();  // there is stealable work now
}

bool scheduler::add_timer(scheduled_timer& timer, std::int64_t deadline_ns) noexcept {
  detail::critical_section in_runtime;
  worker* here = this_worker();
  worker& w = here != nullptr ? *here : *workers_[0];
  {
    std::lock_guard guard(w.timer_lock_);
    if (!w.wheel_.insert(timer, timer_wheel::tick_at_or_after(deadline_ns))) return false;
    timer.owner.store(&w, std::memory_order_release);
    w.timer_count_.fetch_add(1, std::memory_order_release);
  }
  // A parked worker sleeps until its earliest timer: make it look again.
  if (here == nullptr) wake(w);
  return true;
}

bool scheduler::cancel_timer(scheduled_timer& timer) noexcept {
  worker* w = timer.owner.load(std::memory_order_acquire);
  if (w == nullptr) return false;
  std::lock_guard guard(w->timer_lock_);
  if (timer.owner.load(std::memory_order_relaxed) != w || !timer.linked) return false;
  w->wheel_.remove(timer);
  timer.owner.store(nullptr, std::memory_order_relaxed);
  w->timer_count_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void scheduler::expire_timers(worker& w) {
  std::uint64_t now_tick = timer_wheel::tick_of(now_ns());
  bool fired = false;
  {
    std::lock_guard guard(w.timer_lock_);
    w.wheel_.advance(now_tick, [&](timer_node& node) {
      auto& timer = static_cast<scheduled_timer&>(node);
      // The hook reads the timer first; only then is it disarmed. Release: whoever
      // sees the timer disarmed (cancel_timer's acquire load, which then skips the
      // lock) also sees the wheel and the hook done with it, and may free or re-arm
      // it at once.
      hooks_.timer_expired(hooks_.context, &timer);
      timer.owner.store(nullptr, std::memory_order_release);
      w.timer_count_.fetch_sub(1, std::memory_order_relaxed);
      fired = true;
    });
  }
  if (fired) hooks_.timers_fired(hooks_.context);
}

void scheduler::discard_queued() noexcept {
  for (auto& w : workers_) {
    w->run_next_ = nullptr;
    w->affine_.clear();
    {
      std::lock_guard guard(w->inbound_lock_);
      w->inbound_.clear();
      w->inbound_count_.store(0, std::memory_order_relaxed);
    }
    for (auto& q : w->queues_)
      while (q.pop_front() != nullptr) {
      }
  }
  std::lock_guard guard(global_lock_);
  for (auto& dq : global_) dq.clear();
  global_size_.store(0, std::memory_order_relaxed);
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
