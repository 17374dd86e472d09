// scheduler.cpp: see scheduler.hpp for the design and its invariants. Preemption
// (the monitor thread, the signal handler, spare threads) is in preemption.cpp.
#include "sched/scheduler.hpp"

#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <thread>
#include <utility>

#include "beamline/detail/thread_state.hpp"
#include "sched/memory_pool.hpp"
#include "sched/thread_signals.hpp"
#include "sched/worker.hpp"

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

}  // namespace

// Whether this thread counts in threads_alive_: a thread stops counting when it is
// preempted away from its worker (the spare that takes over is counted instead).
constinit thread_local bool counted_thread = true;

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
  const std::size_t events =
      options_.timeline_events == 0 ? 0 : std::bit_ceil(options_.timeline_events);
  for (unsigned i = 0; i < options_.workers; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, i, options_.seed));
    if (events != 0) workers_.back()->trace_ = std::make_unique<timeline_ring>(events);
  }
  idle_.reserve(options_.workers);
  on_idle_list_.assign(options_.workers, false);
}

scheduler::~scheduler() {
  stop();
}

std::vector<trace_event> scheduler::timeline(unsigned index) const {
  const worker& w = *workers_[index];
  return w.trace_ ? w.trace_->copy() : std::vector<trace_event>{};
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

namespace {

struct thread_start {
  scheduler* owner;
  void (*body)(scheduler&, void*);
  void* argument;
};

}  // namespace

void scheduler::start_thread(void (*body)(scheduler&, void*), void* argument) {
  threads_alive_.fetch_add(1, std::memory_order_acq_rel);
  auto* start = new thread_start{this, body, argument};
  process_signals_blocked for_the_new_thread;
  std::thread([start] {
    thread_start s = *start;
    delete start;
    s.body(*s.owner, s.argument);
    if (counted_thread) s.owner->thread_done();
  }).detach();
}

void scheduler::thread_done() noexcept {
  detail::lock_guard guard(threads_lock_);
  if (threads_alive_.fetch_sub(1, std::memory_order_acq_rel) == 1) threads_done_.notify_all();
}

void scheduler::run() {
  stopping_.store(false, std::memory_order_release);
  spinning_.store(0, std::memory_order_relaxed);
  for (auto& w : workers_)
    start_thread([](scheduler& s, void* arg) { s.worker_main(*static_cast<worker*>(arg)); },
                 w.get());
  bool preempting = options_.preemption && !options_.deterministic;
  if (preempting) start_preemption();
  {
    detail::unique_lock lock(threads_lock_);
    while (!stopping_.load(std::memory_order_acquire) &&
           threads_alive_.load(std::memory_order_acquire) != 0)
      threads_done_.wait(lock);
  }
  if (preempting) {
    monitor_wake_.notify_all();
    monitor_.join();
  }
  dismiss_spares();
  {
    detail::unique_lock lock(threads_lock_);
    while (threads_alive_.load(std::memory_order_acquire) != 0) threads_done_.wait(lock);
  }
  detail::lock_guard guard(idle_lock_);
  on_idle_list_.assign(workers_.size(), false);
  idle_.clear();
  idle_count_.store(0, std::memory_order_relaxed);
}

void scheduler::stop() noexcept {
  stopping_.store(true, std::memory_order_seq_cst);
  for (auto& w : workers_) wake(*w);
  {
    detail::lock_guard guard(threads_lock_);
    threads_done_.notify_all();
  }
  {
    detail::lock_guard guard(monitor_lock_);
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
  this_thread.timeline = w.trace_.get();
  if (w.trace_) w.trace_->mark(trace_kind::tick, 0, now_ns());  // the first runs' time
  while (schedulable* task = next_task(w)) {
    w.runs_.store(w.runs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    w.running_priority_ = task->priority;
    w.running_.store(true, std::memory_order_relaxed);
    run_outcome outcome = run_.load(std::memory_order_acquire)(hooks_.context, task);
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
  this_thread.timeline = nullptr;
  if (hooks_.worker_stopping) hooks_.worker_stopping(hooks_.context, w.index_);
  memory_pool_flush_thread_cache();
  this_thread.worker = nullptr;
}

std::uint64_t scheduler::runs() const noexcept {
  std::uint64_t total = 0;
  for (const auto& w : workers_) total += w->runs_.load(std::memory_order_relaxed);
  return total;
}

std::uint64_t scheduler::worker_runs(unsigned index) const noexcept {
  return workers_[index]->runs_.load(std::memory_order_relaxed);
}

std::uint32_t scheduler::worker_queue_length(unsigned index) const noexcept {
  const worker& w = *workers_[index];
  std::uint32_t n = w.inbound_count_.load(std::memory_order_relaxed);
  for (const auto& q : w.queues_) n += q.size();
  return n;
}

int scheduler::worker_thread(unsigned index) const noexcept {
  return workers_[index]->tid_.load(std::memory_order_relaxed);
}

schedulable* scheduler::next_task(worker& w) {
  if (stopping_.load(std::memory_order_relaxed)) return nullptr;
  ++w.tick_;
  if ((w.tick_ & 15) == 0) {
    if (w.timer_count_.load(std::memory_order_relaxed) != 0) expire_timers(w);
    if (w.trace_) {
      if ((w.tick_ & 255) == 0)
        w.trace_->mark(trace_kind::tick, 0, now_ns());
      else
        w.trace_->mark_tick(trace_tick_.load(std::memory_order_relaxed), &now_ns);
    }
  }

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
  detail::lock_guard guard(global_lock_);
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
      if (schedulable* t = victim.queues_[q].steal_half_into(w.queues_[q])) {
        if (w.trace_)
          w.trace_->mark(trace_kind::steal, static_cast<std::uint8_t>(victim.index_), now_ns());
        return t;
      }
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
    detail::lock_guard guard(idle_lock_);
    w.park_word_.store(0, std::memory_order_relaxed);
    on_idle_list_[w.index_] = true;
    idle_.push_back(&w);
    idle_count_.fetch_add(1, std::memory_order_seq_cst);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Re-check after registering as idle: a producer that pushed work before reading
  // idle_count_ may have seen no idle worker to wake. The idle hook too: a task that
  // ended on a preempted thread after the check above wakes a worker only if one is
  // registered (retire_preempted), and it may have been the last one.
  bool recheck = work_visible(w) || stopping_.load(std::memory_order_seq_cst);
  bool idle_now = false;
  if (!recheck && hooks_.idle != nullptr && hooks_.idle(hooks_.context)) recheck = idle_now = true;
  if (!recheck) {
    std::optional<std::int64_t> timeout;
    if (w.timer_count_.load(std::memory_order_acquire) != 0) {
      wheel_guard guard(w.timer_lock_);
      if (auto next = w.wheel_.next_expiry())
        timeout = static_cast<std::int64_t>(*next) * timer_wheel::tick_ns - now_ns();
    }
    if (!timeout || *timeout > 0) {
      if (w.trace_) w.trace_->mark(trace_kind::park, 0, now_ns());
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
      if (w.trace_) w.trace_->mark(trace_kind::unpark, 0, now_ns());
    }
  }
  {
    detail::lock_guard guard(idle_lock_);
    if (on_idle_list_[w.index_]) {
      // Timed out, rechecked or woken spuriously: leave the idle list ourselves.
      on_idle_list_[w.index_] = false;
      idle_.erase(std::find(idle_.begin(), idle_.end(), &w));
      idle_count_.fetch_sub(1, std::memory_order_seq_cst);
    } else {
      // A waker took us off the list and counted us as spinning.
      w.spinning_ = true;
    }
  }
  if (idle_now) {
    if (w.spinning_) {
      w.spinning_ = false;
      spinning_.fetch_sub(1, std::memory_order_seq_cst);
    }
    stop();
    return false;
  }
  // The preemption monitor sleeps while every worker is parked: we are not now.
  if (monitor_idle_.load(std::memory_order_seq_cst)) {
    detail::lock_guard guard(monitor_lock_);
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
    detail::lock_guard guard(idle_lock_);
    if (idle_.empty()) return;
    w = idle_.back();
    idle_.pop_back();
    on_idle_list_[w->index_] = false;
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
    detail::lock_guard guard(idle_lock_);
    if (!on_idle_list_[w.index_]) return;
    on_idle_list_[w.index_] = false;
    idle_.erase(std::find(idle_.begin(), idle_.end(), &w));
    idle_count_.fetch_sub(1, std::memory_order_seq_cst);
    spinning_.fetch_add(1, std::memory_order_seq_cst);
  }
  wake(w);
}

void scheduler::take_inbound(worker& w) noexcept {
  detail::lock_guard guard(w.inbound_lock_);
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
    detail::lock_guard guard(target.inbound_lock_);
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
  detail::lock_guard guard(global_lock_);
  auto& dq = global_[queue_index(task->priority)];
  dq.insert(dq.end(), batch, batch + n);
  dq.push_back(task);
  global_size_.fetch_add(n + 1, std::memory_order_release);
}

void scheduler::push_global(schedulable* task) noexcept {
  {
    detail::lock_guard guard(global_lock_);
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
    wheel_guard guard(w.timer_lock_);
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
  wheel_guard guard(w->timer_lock_);
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
    wheel_guard guard(w.timer_lock_);
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
      detail::lock_guard guard(w->inbound_lock_);
      w->inbound_.clear();
      w->inbound_count_.store(0, std::memory_order_relaxed);
    }
    for (auto& q : w->queues_)
      while (q.pop_front() != nullptr) {
      }
  }
  detail::lock_guard guard(global_lock_);
  for (auto& dq : global_) dq.clear();
  global_size_.store(0, std::memory_order_relaxed);
}

}  // namespace beamline::sched
