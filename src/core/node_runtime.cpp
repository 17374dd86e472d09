// node_runtime.cpp: see node_runtime.hpp.
#include "core/node_runtime.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "beamline/detail/thread_state.hpp"
#include "beamline/errors.hpp"
#include "beamline/process.hpp"
#include "beamline/receive.hpp"
#include "beamline/send.hpp"
#include "beamline/spawn.hpp"
#include "core/idle_report.hpp"
#include "core/os_signals.hpp"
#include "core/relations.hpp"
#include "core/runtime_access.hpp"
#include "core/signals.hpp"

namespace beamline::detail {

namespace {

sched::scheduler_options scheduler_options_from(const node_options& o) {
  sched::scheduler_options s;
  s.workers = o.schedulers == 0 ? 1 : o.schedulers;
  s.reductions_per_slice = o.reductions_per_slice;
  s.spin = o.spin_before_park;
  s.deterministic = o.deterministic;
  s.seed = o.shuffle_seed;
  s.preemption = o.preemption;
  s.preempt_after = o.preempt_after;
  s.max_preempted_threads = o.max_preempted_threads;
  s.preemption_signal = o.preemption_signal;
  s.timeline_events = o.timeline_events;
  return s;
}

}  // namespace

node_runtime::node_runtime(const node_options& options)
    : options_(options),
      table_(options.max_processes),
      poller_(io::poller_hooks{this, &on_io_ready}),
      scheduler_(scheduler_options_from(options),
                 sched::scheduler_hooks{this, &run_process<false>, &on_idle, &on_timer_expired,
                                        &on_timers_fired, &on_worker_started, &on_worker_stopping}),
      names_(table_),
      dirty_(*this,
             options.dirty_cpu_threads != 0 ? options.dirty_cpu_threads : scheduler_.worker_count(),
             options.dirty_io_threads),
      started_ns_(sched::scheduler::now_ns()) {
  for (unsigned i = 0; i < scheduler_.worker_count(); ++i) {
    workers_.push_back(std::make_unique<worker_state>());
    workers_.back()->tag = i + 1;
  }
  scheduler_.set_poller(&poller_);
}

node_runtime::~node_runtime() {
  shut_down();
}

int node_runtime::run() {
  {
    std::optional<os_signal_scope> signals;
    if (options_.handle_os_signals) signals.emplace(*this);
    std::optional<idle_watch> idle;
    if (options_.idle_report.count() > 0) idle.emplace(*this, options_.idle_report);
    scheduler_.run();
  }
  // The last process may have ended on a preempted thread (one that runs a task
  // after its worker was handed to a spare): that thread wakes a worker, which finds
  // nothing left and stops the scheduler, before it stops counting itself as a
  // preempted thread. With no process alive, every such thread has only those few
  // instructions left: wait for them, so that run() returns with no thread of this
  // node still running and the node can be destroyed at once.
  if (live() == 0)
    while (scheduler_.preempted_threads() != 0) std::this_thread::yield();
  return 0;
}

void node_runtime::shut_down() noexcept {
  node_runtime* previous_node = this_thread.node;
  worker_state* previous_worker = this_thread.node_worker;
  this_thread.node = this;
  this_thread.node_worker = nullptr;
  // Kill every process still here: destroying its frame runs its destructors.
  for (std::uint32_t i = 1; i < table_.high_water(); ++i) {
    process_slot& slot = table_.at(i);
    if (slot.inbox.load(std::memory_order_acquire) == closed_tag() || slot.task == nullptr)
      continue;
    process_control& p = static_cast<process_control&>(*slot.task);
    p.begin_exit(atoms::shutdown);
    destroy_process(p);
  }
  scheduler_.discard_queued();
  // Timers still pending own their messages.
  lock_guard guard(timers_lock_);
  for (auto& [id, t] : send_timers_) {
    scheduler_.cancel_timer(*t);
    destroy(t->message);
    delete t;
  }
  send_timers_.clear();
  this_thread.node = previous_node;
  this_thread.node_worker = previous_worker;
}

// --- processes ------------------------------------------------------------------------

std::uint32_t node_runtime::allocate_slot() {
  critical_section in_runtime;  // the worker's slot cache must stay ours
  worker_state* w = this_worker_state();
  if (w != nullptr) return table_.allocate(&w->slots);
  lock_guard guard(outside_lock_);
  return table_.allocate(nullptr);
}

void node_runtime::release_slot(std::uint32_t index) noexcept {
  critical_section in_runtime;
  worker_state* w = this_worker_state();
  table_.release(index, w != nullptr ? &w->slots : nullptr);
}

void node_runtime::count_spawn() noexcept {
  critical_section in_runtime;
  if (worker_state* w = this_worker_state()) {
    w->spawned.store(w->spawned.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  } else {
    outside_spawned_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void node_runtime::count_exit() noexcept {
  critical_section in_runtime;
  if (worker_state* w = this_worker_state()) {
    w->exited.store(w->exited.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  } else {
    outside_exited_.fetch_add(1, std::memory_order_acq_rel);
  }
}

std::vector<pid> node_runtime::live_pids() const {
  std::vector<pid> pids;
  pids.reserve(static_cast<std::size_t>(live()));
  const std::uint32_t end = table_.high_water();
  for (std::uint32_t i = 1; i < end; ++i) {
    const process_slot& slot = table_.at(i);
    // A free slot's inbox is closed; an allocated one is open until its process ends.
    if (slot.inbox.load(std::memory_order_acquire) == closed_tag()) continue;
    pids.push_back(pid{i, slot.serial.load(std::memory_order_acquire), 0, 0});
  }
  std::sort(pids.begin(), pids.end());  // pid order (serial, then index)
  return pids;
}

bool node_runtime::alive(const pid& p) const noexcept {
  if (!p.is_local()) return false;
  const process_slot* slot = table_.find(p.id);
  return slot != nullptr && slot->serial.load(std::memory_order_acquire) == p.serial &&
         slot->inbox.load(std::memory_order_acquire) != closed_tag();
}

void node_runtime::note_root(const pid& p) {
  lock_guard guard(roots_lock_);
  // Ended ones are dropped from time to time, so that a program spawning many
  // processes from outside keeps a list as long as those alive.
  if (roots_.size() >= 64 && (roots_.size() & (roots_.size() - 1)) == 0)
    std::erase_if(roots_, [this](const pid& r) { return !alive(r); });
  roots_.push_back(p);
}

std::vector<pid> node_runtime::roots() const {
  lock_guard guard(roots_lock_);
  std::vector<pid> alive_roots;
  for (const pid& r : roots_)
    if (alive(r)) alive_roots.push_back(r);
  return alive_roots;
}

std::uint64_t node_runtime::live() const noexcept {
  std::uint64_t exited = outside_exited_.load(std::memory_order_acquire);
  for (const auto& w : workers_) exited += w->exited.load(std::memory_order_acquire);
  std::uint64_t spawned = outside_spawned_.load(std::memory_order_acquire);
  for (const auto& w : workers_) spawned += w->spawned.load(std::memory_order_acquire);
  return spawned - exited;
}

node_statistics node_runtime::statistics() const noexcept {
  std::uint64_t exited = outside_exited_.load(std::memory_order_acquire);
  for (const auto& w : workers_) exited += w->exited.load(std::memory_order_acquire);
  std::uint64_t spawned = outside_spawned_.load(std::memory_order_acquire);
  for (const auto& w : workers_) spawned += w->spawned.load(std::memory_order_acquire);
  sched::preemption_statistics p = scheduler_.preemption_stats();
  std::uint64_t migrations = 0;
  for (const auto& w : workers_) migrations += w->migrations.load(std::memory_order_relaxed);
  return {spawned,         exited,    spawned - exited, p.preemptions, p.preempted_threads,
          p.spare_threads, migrations};
}

delivery node_runtime::deliver(const pid& to, signal* s) noexcept {
  if (!to.is_local()) [[unlikely]]
    return {deliver_remote(to, s), 0};
  process_slot* slot = table_.find(to.id);
  if (slot == nullptr || slot->serial.load(std::memory_order_acquire) != to.serial) {
    destroy(s);
    return {};
  }
  s->target_serial = to.serial;
  // Read before the push: once queued, the node belongs to the addressee.
  const bool message = s->kind == signal_kind::message;
  switch (inbox_push(*slot, s)) {
    case push_result::queued: {
      if (!message) return {true, 0};
      // Counted in the backlog, and the sender owes reductions for it.
      std::uint32_t backlog = slot->backlog.load(std::memory_order_relaxed) + 1;
      slot->backlog.store(backlog, std::memory_order_relaxed);
      // One more reduction per 256 waiting signals: a flood into one process gives
      // its senders on the receiver's worker shorter and shorter slices, so the
      // receiver gets its turn there. Senders on other workers do not compete with
      // it for a slice: shortening theirs would only add switches.
      // (The worker state is only read here, and its tag never changes: if a
      // preemption took the worker away since, the answer is merely stale.)
      worker_state* w = this_worker_state();
      if (w == nullptr) {
        // No worker: a plain thread (no process, no slice to shorten), or a process
        // preempted away from its worker. That one runs on a thread of its own beside
        // every worker, competing with the receiver for a core: it pays the penalty
        // too, and once its slice is spent it yields and goes back to the run queues.
        return {true, this_thread.process != nullptr ? backlog >> 8 : 0};
      }
      std::uint32_t tag = slot->worker_tag.load(std::memory_order_relaxed);
      if (tag != w->tag) {
        if (tag != 0) note_remote_send(tag);
        return {true, 0};
      }
      std::uint32_t penalty = backlog >> 8;
      if (process_control* p = this_thread.process) p->local_send_cost_ += 1 + penalty;
      return {true, penalty};
    }
    case push_result::woke:
      make_runnable(*slot->task);
      return {true, 0};
    case push_result::closed:
      destroy(s);
      return {};
  }
  return {};
}

node_runtime::observation node_runtime::begin_observing() {
  lock_guard guard(observe_lock_);
  if (stats_owner_ == nullptr) {
    stats_owner_ = std::make_unique<stats_table>(table_.capacity());
    stats_.store(stats_owner_.get(), std::memory_order_release);
  }
  std::uint32_t epoch = observe_epoch_.load(std::memory_order_relaxed);
  if (publishing_.load(std::memory_order_relaxed)) return {epoch, false};
  observe_epoch_.store(++epoch, std::memory_order_release);
  publishing_.store(true, std::memory_order_release);
  scheduler_.set_run(&run_process<true>);
  return {epoch, true};
}

void node_runtime::end_observing() noexcept {
  lock_guard guard(observe_lock_);
  publishing_.store(false, std::memory_order_relaxed);
  scheduler_.set_run(&run_process<false>);
}

std::vector<pid> node_runtime::take_unpublished() {
  lock_guard guard(observe_lock_);
  return std::exchange(unpublished_, {});
}

void node_runtime::keep_unpublished(std::vector<pid> pids) {
  lock_guard guard(observe_lock_);
  unpublished_ = std::move(pids);
}

void node_runtime::wake(const pid& to, bool observe) noexcept {
  process_slot* slot = table_.find(to.id);
  if (slot == nullptr || slot->serial.load(std::memory_order_acquire) != to.serial) return;
  if (slot->wake_queued.exchange(true, std::memory_order_acq_rel)) return;  // one is pending
  signal& s = slot->wake_node;
  s.type = &slot_wake_type;
  s.kind = signal_kind::wake;
  s.flags = observe ? observe_wake_flag : 0;
  s.target_serial = to.serial;
  switch (inbox_push(*slot, &s)) {
    case push_result::queued:
      return;
    case push_result::woke:
      make_runnable(*slot->task);
      return;
    case push_result::closed:
      destroy(&s);
      return;
  }
}

// A signal for a process of another node: the transport's, if one is installed.
bool node_runtime::deliver_remote(const pid& to, signal* s) noexcept {
  signal_transport* transport = transport_.load(std::memory_order_acquire);
  if (transport == nullptr) {
    destroy(s);
    return false;
  }
  return transport->send(to, s);
}

// A message queued for a process on another worker (worker `tag`): counted for
// the running process's flood affinity, which yield_outcome judges. In a critical
// section: a preemption must not hand the worker, and its state, to another
// thread between the look-up and the writes.
void node_runtime::note_remote_send(std::uint32_t tag) noexcept {
  critical_section in_runtime;
  worker_state* w = this_worker_state();
  if (w == nullptr) return;
  if (w->flood_sends == 0 || w->flood_tag != tag) {
    w->flood_tag = tag;
    w->flood_sends = 0;
    w->flood_since_ns = sched::scheduler::now_ns();
  }
  ++w->flood_sends;
}

// Here rather than beside the rest of the process API: deliver, on every send's
// path, is inlined into it.
void send_signal(node_runtime& node, const pid& to, signal* s) noexcept {
  std::uint32_t penalty = node.deliver(to, s).penalty;
  if (process_control* p = this_thread.process) p->count_send(1 + penalty);
}

// --- the scheduler's hooks (run_process: run_loop.cpp) ------------------------------------

bool node_runtime::on_idle(void* self) {
  auto& node = *static_cast<node_runtime*>(self);
  const std::uint64_t live = node.live();
  return live == 0 || live == node.services_.load(std::memory_order_acquire);
}

void node_runtime::on_worker_started(void* self, unsigned index) {
  auto& node = *static_cast<node_runtime*>(self);
  this_thread.node = &node;
  this_thread.node_worker = node.workers_[index].get();
}

void node_runtime::on_worker_stopping(void* self, unsigned index) {
  auto& node = *static_cast<node_runtime*>(self);
  node.table_.flush(node.workers_[index]->slots);
  this_thread.node = nullptr;
  this_thread.node_worker = nullptr;
  this_thread.process = nullptr;
}

// --- IO -----------------------------------------------------------------------------------

void node_runtime::on_io_ready(void* self, std::uint64_t token) noexcept {
  // A token is the waiting process's pid (src/io/io_wait.cpp). The wake-up only makes
  // the process run its wait's check again. If the process has died meanwhile,
  // wake() drops it (serial mismatch).
  auto& node = *static_cast<node_runtime*>(self);
  pid waiter{static_cast<std::uint32_t>(token >> 32), static_cast<std::uint32_t>(token), 0, 0};
  node.wake(waiter);
}

// --- timers ---------------------------------------------------------------------------------

void node_runtime::on_timer_expired(void* self, sched::timer_node* timer) {
  // Under the wheel's lock. A receive timer belongs to its process, which may re-arm
  // or free it as soon as the lock is released: copy what the timeout needs now. A
  // send timer now belongs to this thread (cancel_timer will not find it armed).
  auto& node = *static_cast<node_runtime*>(self);
  worker_state* w = node.this_worker_state();
  if (w == nullptr) return;
  auto* t = static_cast<core_timer*>(timer);
  if (t->kind == timer_kind::receive) {
    auto* rt = static_cast<receive_timer*>(t);
    w->expired.push_back({nullptr, rt->target, rt->epoch});
  } else {
    w->expired.push_back({static_cast<send_timer*>(t), pid{}, 0});
  }
}

void node_runtime::on_timers_fired(void* self) {
  auto& node = *static_cast<node_runtime*>(self);
  worker_state* w = node.this_worker_state();
  if (w == nullptr) return;
  std::vector<expired_timer> fired;
  fired.swap(w->expired);
  for (const expired_timer& e : fired) {
    if (e.send != nullptr)
      node.fire_send_timer(*e.send);
    else
      node.deliver(e.target, make_control_signal(signal_kind::timeout, pid{}, {}, e.epoch));
  }
  fired.clear();
  if (w->expired.empty()) w->expired.swap(fired);  // keep the capacity
}

void node_runtime::fire_send_timer(send_timer& t) noexcept {
  {
    lock_guard guard(timers_lock_);
    send_timers_.erase(t.id);
  }
  pid to = t.to;
  if (t.name) {
    std::optional<pid> named = names_.whereis(*t.name);
    to = named ? *named : pid{};
  }
  deliver(to, t.message);
  delete &t;
}

ref node_runtime::start_timer(std::int64_t delay_ns, const pid& to, std::optional<atom> name,
                              signal* message) {
  auto* t = new send_timer();
  t->id = make_ref();
  t->to = to;
  t->name = name;
  t->message = message;
  t->deadline_ns = sched::scheduler::now_ns() + delay_ns;
  ref id = t->id;
  {
    lock_guard guard(timers_lock_);
    send_timers_.emplace(id, t);
    if (scheduler_.add_timer(*t, t->deadline_ns)) return id;
  }
  fire_send_timer(*t);  // already due
  return id;
}

std::optional<std::int64_t> node_runtime::cancel_timer(const ref& id) {
  send_timer* t = nullptr;
  {
    lock_guard guard(timers_lock_);
    auto it = send_timers_.find(id);
    if (it == send_timers_.end()) return std::nullopt;
    // If the wheel no longer holds it, it has expired and is being delivered.
    if (!scheduler_.cancel_timer(*it->second)) return std::nullopt;
    t = it->second;
    send_timers_.erase(it);
  }
  std::int64_t left = t->deadline_ns - sched::scheduler::now_ns();
  destroy(t->message);
  delete t;
  return left < 0 ? 0 : left;
}

// --- references ---------------------------------------------------------------------------

ref node_runtime::make_ref() noexcept {
  // Blocks of the counter per thread: unique without a shared atomic per reference.
  static std::atomic<std::uint64_t> counter{1};
  constexpr std::uint64_t block = 4096;
  thread_local std::uint64_t next = 0;
  thread_local std::uint64_t end = 0;
  if (next == end) {
    next = counter.fetch_add(block, std::memory_order_relaxed);
    end = next + block;
  }
  return ref::local(next++);
}

// --- runtime_access.hpp ---------------------------------------------------------------------

bool node_logs_crashes() noexcept {
  node_runtime* node = this_thread.node;
  return node != nullptr && node->options().log_crashes;
}

unsigned node_schedulers() noexcept {
  node_runtime* node = this_thread.node;
  return node != nullptr ? node->options().schedulers : 0;
}

io::poller& poller_of(process_control& p) noexcept {
  return p.node().poller();
}

std::int64_t runtime_now_ns() noexcept {
  return sched::scheduler::now_ns();
}

}  // namespace beamline::detail
