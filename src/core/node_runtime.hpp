// node_runtime.hpp: everything a node owns, and the glue between the scheduler and
// processes.
//
// The scheduler runs `schedulable`s; to the core each is a process_control, and
// run_process() is the step function: start or resume the process's coroutine, and
// when it suspends decide whether it waits (blocked on its inbox), yields (back to
// a run queue) or has ended (its frame destroyed). See docs/design/scheduler.md.
//
// Counting live processes without a shared counter: each worker counts the spawns
// and exits it performed (single writer, release stores), threads that are not
// workers count in shared atomics. live() reads every exit count first, then every
// spawn count: since a process's spawn happens before its exit, equal sums mean that
// no process was alive when the spawn counts were read, and none can appear after
// (only a live process or an outside thread spawns). A worker about to park checks
// this, which is how run() learns that every process has ended.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "beamline/detail/process_control.hpp"
#include "beamline/detail/thread_safety.hpp"
#include "beamline/node.hpp"
#include "core/dirty_pools.hpp"
#include "core/name_registry.hpp"
#include "core/process_stats.hpp"
#include "core/process_table.hpp"
#include "core/transport.hpp"
#include "sched/poller.hpp"
#include "sched/scheduler.hpp"

namespace beamline::detail {

// What deliver did: whether the addressee has the signal, and for a message, the
// reductions its sender owes for the backlog in front of it.
struct delivery {
  bool delivered = false;
  std::uint32_t penalty = 0;
  explicit operator bool() const noexcept { return delivered; }
};

enum class timer_kind : std::uint8_t { receive, send };

struct core_timer : sched::scheduled_timer {
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }

  timer_kind kind;
  explicit core_timer(timer_kind k) noexcept : kind(k) {}
};

// A process's receive timeout: fires a timeout signal carrying the wait epoch.
struct receive_timer : core_timer {
  receive_timer() noexcept : core_timer(timer_kind::receive) {}
  pid target;
  std::uint32_t epoch = 0;
};

// A send_after: owns its message until it fires or is cancelled.
struct send_timer : core_timer {
  send_timer() noexcept : core_timer(timer_kind::send) {}
  ref id;
  pid to;
  std::optional<atom> name;
  signal* message = nullptr;
  std::int64_t deadline_ns = 0;
};

struct expired_timer {
  send_timer* send;     // a send_after, or null for a receive timeout:
  pid target;           //   the waiting process
  std::uint32_t epoch;  //   and its wait epoch
};

// A node's state for one of its workers, written by the thread that runs the worker: a cache line
// of its own, so workers do not share one.
struct alignas(64) worker_state {
  std::uint32_t tag = 0;  // index + 1 (process_slot::worker_tag)
  // Flood affinity, for the process running now: its sends in this run queued
  // for processes of another worker (flood_tag's), and when the first was made.
  std::uint32_t flood_tag = 0;
  std::uint32_t flood_sends = 0;
  std::int64_t flood_since_ns = 0;
  std::atomic<std::uint64_t> migrations{0};  // owner-written
  slot_cache slots;
  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> exited{0};
  // Timers that expired under a wheel lock, delivered once it is released.
  std::vector<expired_timer> expired;
};

class node_runtime {
 public:
  explicit node_runtime(const node_options& options);
  ~node_runtime();
  node_runtime(const node_runtime&) = delete;
  node_runtime& operator=(const node_runtime&) = delete;

  const node_options& options() const noexcept { return options_; }
  process_table& table() noexcept { return table_; }
  sched::scheduler& scheduler() noexcept { return scheduler_; }
  name_registry& names() noexcept { return names_; }
  dirty_pools& dirty() noexcept { return dirty_; }
  io::poller& poller() noexcept { return poller_; }

  int run();
  void stop() noexcept { scheduler_.stop(); }
  // Destroys every remaining process (run() must not be active).
  void shut_down() noexcept;

  // --- processes ---------------------------------------------------------------
  std::uint32_t allocate_slot();
  void release_slot(std::uint32_t index) noexcept;
  void count_spawn() noexcept;
  void count_exit() noexcept;
  std::uint64_t live() const noexcept;
  // Whether `p` is a process of this node that is alive (has not begun to end).
  bool alive(const pid& p) const noexcept;
  // The pids of the processes alive now (a snapshot, in pid order).
  std::vector<pid> live_pids() const;
  // The processes spawned from outside (node::spawn), oldest first, those that have
  // ended left out: what an orderly shutdown stops (os_signals.hpp).
  void note_root(const pid& p) BL_EXCLUDES(roots_lock_);
  std::vector<pid> roots() const BL_EXCLUDES(roots_lock_);
  node_statistics statistics() const noexcept;

  // Delivers a signal, of any kind, to any pid: into a local process's inbox (waking
  // it if it was blocked) or, for a pid of another node, to the transport. False
  // (the signal freed) if the addressee is not alive or its node cannot be reached.
  // A message queued behind others also tells the extra reductions its sender owes
  // for the addressee's backlog (see process_slot::backlog).
  delivery deliver(const pid& to, signal* s) noexcept;
  // Asks a waiting process of this node to check its wait again, without
  // allocating (the slot's own wake signal; a pending one is enough). With
  // `observe`, it also asks for its figures (a pending wake-up without the flag
  // leaves it unasked: the next snapshot asks again).
  void wake(const pid& to, bool observe = false) noexcept;
  // Blocked processes a snapshot found unpublished, to be asked by the next one.
  std::vector<pid> take_unpublished() BL_EXCLUDES(observe_lock_);
  void keep_unpublished(std::vector<pid> pids) BL_EXCLUDES(observe_lock_);
  // Installs the transport that takes signals for other nodes (null: none, and such
  // signals fail). It must outlive every delivery: distribution installs it for the
  // node's life.
  void set_transport(signal_transport* t) noexcept {
    transport_.store(t, std::memory_order_release);
  }
  void make_runnable(schedulable& task) noexcept { scheduler_.ready(&task); }

  // --- timers ------------------------------------------------------------------
  ref start_timer(std::int64_t delay_ns, const pid& to, std::optional<atom> name, signal* message);
  std::optional<std::int64_t> cancel_timer(const ref& id);

  // --- references ----------------------------------------------------------------
  static ref make_ref() noexcept;

  // --- services ------------------------------------------------------------------
  // Makes the calling process a service of the node (the observer's web server):
  // run() returns once every process left is a service, as it does once none is
  // left. A service is counted from this call until it ends; the idle check
  // (on_idle) reads the exits, then the spawns, then the services, and a service
  // is counted as one before it is counted spawned away (unmark_service, then the
  // exit), so a race only makes the check answer "not yet".
  void mark_service(process_control& p) noexcept {
    if (p.service_ != 0) return;
    p.service_ = 1;
    services_.fetch_add(1, std::memory_order_acq_rel);
  }
  void unmark_service() noexcept { services_.fetch_sub(1, std::memory_order_acq_rel); }

  // --- the observer (process_stats.hpp) ---------------------------------------------
  // Has processes publish their figures at each suspension from now on, making the
  // stats table on the first call; a call while they already do changes nothing.
  // The epoch: one more each time publishing starts (started: this call started it).
  struct observation {
    std::uint32_t epoch;
    bool started;
  };
  observation begin_observing() BL_EXCLUDES(observe_lock_);
  // Stops the publishing (nobody watches).
  void end_observing() noexcept BL_EXCLUDES(observe_lock_);
  // The table (null until the node is first observed).
  const stats_table* stats() const noexcept { return stats_.load(std::memory_order_acquire); }
  std::int64_t started_ns() const noexcept { return started_ns_; }
  // Each worker's share of the time since the previous call spent on the CPU
  // (running processes or looking for work), from its thread's CPU time; and the
  // whole program's CPU time over the same interval, in cores (its workers, the
  // threads running preempted processes, the blocking pools, every other thread).
  struct utilization {
    std::vector<double> workers;
    double program_cores = 0;
  };
  utilization worker_utilization() BL_EXCLUDES(observe_lock_);

  // Ends a process's coroutine frame (its destructor does the rest).
  void destroy_process(process_control& p) noexcept;

 private:
  // On this node's workers, node_worker is set for the thread's life.
  worker_state* this_worker_state() noexcept {
    return this_thread.node == this ? this_thread.node_worker : nullptr;
  }
  void note_remote_send(std::uint32_t tag) noexcept;
  bool deliver_remote(const pid& to, signal* s) noexcept;
  template <bool Observed>
  sched::run_outcome yield_outcome(process_control& p, std::int32_t start_budget) noexcept;
  // At each suspension while the node is observed (the run loop's Observed
  // instance, which the scheduler runs only then: the plain one has no trace of
  // this): publishes p's figures once it is no longer young (young_reductions
  // spent), has published before, or a snapshot has asked it to. Short-lived processes (a tree of
  // workers spawned for one computation) then never touch the stats table, whose entries would be
  // cold lines for them; a snapshot wakes the blocked processes it has seen unpublished before
  // (they have lived a snapshot interval) and asks them (observe.cpp).
  static constexpr std::uint64_t young_reductions = 1000;
  template <bool Observed>
  void maybe_publish(process_control& p) noexcept {
    if constexpr (Observed) {
      if (p.published_ != 0 || p.publish_requested_ != 0 || p.reductions_ >= young_reductions)
        publish_stats(p);
    }
  }
  [[gnu::noinline, gnu::cold]] void publish_stats(process_control& p) noexcept;
  [[gnu::noinline, gnu::cold]] void note_preemption(process_control& p) noexcept;

  template <bool Observed>
  static sched::run_outcome run_process(void* self, sched::schedulable* task);
  static bool on_idle(void* self);
  static void on_timer_expired(void* self, sched::timer_node* timer)
      BL_REQUIRES(sched::timer_wheels);
  static void on_timers_fired(void* self);
  static void on_worker_started(void* self, unsigned index);
  static void on_worker_stopping(void* self, unsigned index);
  static void on_io_ready(void* self, std::uint64_t token) noexcept;

  enum class receive_step : std::uint8_t { resume, wait, yield, ended };
  template <bool Observed>
  receive_step advance_receive(process_control& p) noexcept;
  void fire_send_timer(send_timer& t) noexcept;

  node_options options_;
  process_table table_;
  // Before the scheduler, which may call it until it is destroyed.
  io::poller poller_;
  sched::scheduler scheduler_;
  name_registry names_;
  dirty_pools dirty_;
  std::vector<std::unique_ptr<worker_state>> workers_;
  std::atomic<std::uint64_t> outside_spawned_{0};
  std::atomic<std::uint64_t> outside_exited_{0};
  std::atomic<std::uint64_t> services_{0};
  // Serialises threads that are not workers on the table's shared slot cache.
  mutex outside_lock_;

  std::atomic<signal_transport*> transport_{nullptr};

  // The observer: whether processes publish, the epoch and the stats table.
  const std::int64_t started_ns_;
  mutex observe_lock_;
  std::unique_ptr<stats_table> stats_owner_ BL_GUARDED_BY(observe_lock_);
  struct worker_sample {
    int tid = 0;
    std::int64_t cpu_ns = -1;
    std::int64_t wall_ns = 0;
  };
  std::vector<worker_sample> worker_samples_ BL_GUARDED_BY(observe_lock_);
  worker_sample program_sample_ BL_GUARDED_BY(observe_lock_);
  std::vector<pid> unpublished_ BL_GUARDED_BY(observe_lock_);
  std::atomic<stats_table*> stats_{nullptr};
  std::atomic<std::uint32_t> observe_epoch_{0};
  std::atomic<bool> publishing_{false};

  mutable mutex roots_lock_;
  std::vector<pid> roots_ BL_GUARDED_BY(roots_lock_);

  mutex timers_lock_ BL_ACQUIRED_BEFORE(sched::timer_wheels);
  std::unordered_map<ref, send_timer*> send_timers_ BL_GUARDED_BY(timers_lock_);
};

// The node of the calling thread, or null.
inline node_runtime* current_node() noexcept {
  return this_thread.node;
}

}  // namespace beamline::detail
