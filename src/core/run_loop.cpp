// run_loop.cpp: running a process, the step function the scheduler calls.
//
// run_process() starts or resumes a process's coroutine on the calling worker and,
// when the coroutine suspends, reads the process's run_state to decide what the
// worker does with it: it waits (its inbox tagged blocked, in no queue), it yields
// (back to a run queue, or moved beside the process it floods), or it has ended (its
// frame destroyed). A process that suspended in a wait is advanced here too: its
// pending signals are taken, its wait's check is asked again, and it blocks only if
// nothing it waits for has happened. See docs/design/process.md and
// docs/design/scheduler.md.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "beamline/detail/thread_state.hpp"
#include "core/node_runtime.hpp"
#include "core/relations.hpp"
#include "sched/timeline.hpp"

namespace beamline::detail {

namespace {

// Flood affinity (yield_outcome). A sender that made at least flood_min_sends
// sends to processes of one other worker in one run, at most
// node_options::flood_send_cost apart on average, moves there. That cost (128 ns
// by default) is about what one send takes when the receiver's worker is reading
// the same mailbox (a cross-core transfer of its line, 60-100 ns here): a sender
// that spends longer per message on work of its own is better left running in
// parallel. A moved process stays while it spends at least a quarter of each run
// on sends to its new neighbours; a receiver whose queue holds flood_backlog
// messages stays where it is.
constexpr std::uint32_t flood_backlog = 1024;
constexpr std::uint32_t flood_min_sends = 256;

}  // namespace

// Where a process that yields goes (docs/design/scheduler.md, "Flood affinity").
// A process that spent its run streaming messages to one process on another
// worker, and doing little else, moves to that worker: there the messages are
// read from the cache they were written to, and the penalty on sends into a
// backlog gives the receiver its turn. A process with a large backlog of its own
// stays where it is. Either way it stays on its worker, out of thieves' reach,
// while it keeps streaming to a neighbour or being flooded, and at the latest
// until it next waits.
template <bool Observed>
sched::run_outcome node_runtime::yield_outcome(process_control& p,
                                               std::int32_t start_budget) noexcept {
  maybe_publish<Observed>(p);
  if (p.priority != priority::normal || workers_.size() < 2 || !options_.flood_affinity)
    return sched::run_outcome::yield;
  worker_state* w = this_worker_state();
  if (w == nullptr) return sched::run_outcome::yield;  // preempted: no worker of its own
  const bool flooded = p.messages_.length() >= flood_backlog;
  if (!flooded && w->flood_sends >= flood_min_sends &&
      sched::scheduler::now_ns() - w->flood_since_ns <
          static_cast<std::int64_t>(w->flood_sends) * options_.flood_send_cost.count()) {
    w->migrations.store(w->migrations.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    scheduler_.move_to(&p, w->flood_tag - 1);  // p may run there at once
    return sched::run_outcome::moved;
  }
  const std::int64_t spent =
      std::max<std::int64_t>(1, std::int64_t{start_budget} - this_thread.budget);
  const bool streaming = std::int64_t{p.local_send_cost_} * 4 >= spent;
  p.affine = flooded || (p.affine != 0 && streaming) ? 1 : 0;
  return sched::run_outcome::yield;
}

// A run of p was preempted while the node is observed: counted in its entry (which
// it publishes first if it has not yet), from p's own thread, the entry's only writer.
void node_runtime::note_preemption(process_control& p) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  const stats_table* table = stats_.load(std::memory_order_acquire);
  if (table == nullptr) return;
  process_stats& s = table->at(p.self_id_);
  if (s.serial.load(relaxed) != p.self_serial_ + 1) publish_stats(p);
  s.preemptions.store(s.preemptions.load(relaxed) + 1, relaxed);
  s.preempted_ns.store(sched::scheduler::now_ns(), relaxed);
}

// The figures the observer reads (process_stats.hpp), from p's own thread as it
// suspends: waiting (waiter_ set, state waiting) or runnable.
void node_runtime::publish_stats(process_control& p) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  const stats_table* table = stats_.load(std::memory_order_acquire);
  if (table == nullptr) return;
  p.published_ = 1;
  p.publish_requested_ = 0;
  process_stats& s = table->at(p.self_id_);
  const std::uint32_t tag = p.self_serial_ + 1;  // 0 means "being written"
  const bool first = s.serial.load(relaxed) != tag;
  if (first) {
    s.serial.store(0, relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    s.initial_function.store(p.initial_function_, relaxed);
    s.initial_site.store(wait_site(p.initial_file_, p.initial_line_).bits(), relaxed);
    s.seen_ns.store(0, relaxed);  // no snapshot has seen it yet (observe.cpp's rate_of)
    s.preemptions.store(0, relaxed);
    s.preempted_ns.store(0, relaxed);
  }
  s.epoch.store(observe_epoch_.load(relaxed), relaxed);
  s.reductions.store(p.reductions_, relaxed);
  s.messages_in.store(p.messages_in_, relaxed);
  s.messages_out.store(p.messages_out_, relaxed);
  const bool waiting = p.state_ == run_state::waiting && p.waiter_ != nullptr;
  s.wait_site.store(waiting ? p.waiter_->where.bits() : 0, relaxed);
  s.queue_len.store(p.messages_.length(), relaxed);
  const std::size_t bytes = p.frame_bytes_ + p.messages_.bytes_estimate(1);
  s.memory.store(bytes > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(bytes), relaxed);
  std::uint32_t links = 0;
  std::uint32_t monitors = 0;
  if (p.relations_ != nullptr) {
    links = static_cast<std::uint32_t>(std::min<std::size_t>(p.relations_->links.size(), 0xffff));
    monitors =
        static_cast<std::uint32_t>(std::min<std::size_t>(p.relations_->monitors.size(), 0xffff));
  }
  s.relations.store(links << 16 | monitors, relaxed);
  std::uint32_t flags = waiting ? static_cast<std::uint32_t>(published_state::waiting)
                                : static_cast<std::uint32_t>(published_state::runnable);
  if (waiting) {
    flags |= static_cast<std::uint32_t>(p.waiter_->reason) << 2;
    flags |= std::uint32_t{p.waiter_->io_side} << 9;
  }
  flags |= static_cast<std::uint32_t>(p.priority) << 6;
  flags |= std::uint32_t{p.trap_exit_} << 8;
  s.flags.store(flags, relaxed);
  if (first) s.serial.store(tag, std::memory_order_release);
}

// Ends a process: first what other processes observe (terminate), then its frame.
// Here, beside its callers on the run loop's path, so that it is inlined there.
void node_runtime::destroy_process(process_control& p) noexcept {
  process_control* previous = this_thread.process;
  this_thread.process = &p;
  p.terminate();
  p.body_.destroy();  // ~process_control frees the rest
  this_thread.process = previous == &p ? nullptr : previous;
}

template <bool Observed>
node_runtime::receive_step node_runtime::advance_receive(process_control& p) noexcept {
  for (;;) {
    if (p.inbox_nonempty()) p.drain_inbox();
    if (p.exiting_) {
      destroy_process(p);
      return receive_step::ended;
    }
    p.state_ = run_state::waiting;
    bool matched = false;
    try {
      matched = p.waiter_->satisfied(*p.waiter_, p);
    } catch (...) {
      p.record_exception(std::current_exception());  // a guard threw
      destroy_process(p);
      return receive_step::ended;
    }
    if (!matched && p.waiter_->deadline_ns == 0) p.waiter_->timed_out = true;  // after(0)
    if (matched || p.waiter_->timed_out) {
      p.state_ = run_state::running;
      return receive_step::resume;
    }
    if (this_thread.budget <= 0) return receive_step::yield;
    --this_thread.budget;
    p.affine = 0;  // a process that waits is woken wherever its waker runs
    maybe_publish<Observed>(p);
    // On success another thread may wake and run p at once: do not touch it again.
    if (inbox_try_block(*p.slot_)) return receive_step::wait;
  }
}

template <bool Observed>
sched::run_outcome node_runtime::run_process(void* self, sched::schedulable* task) {
  auto& node = *static_cast<node_runtime*>(self);
  auto& p = static_cast<process_control&>(*task);
  this_thread.node = &node;
  this_thread.process = &p;
  using sched::run_outcome;
  {
    worker_state* w = this_thread.node_worker;
    std::uint32_t tag = 0;
    if (w != nullptr) {
      tag = w->tag;
      if (w->flood_sends != 0) w->flood_sends = 0;
    }
    if (p.slot_->worker_tag.load(std::memory_order_relaxed) != tag)
      p.slot_->worker_tag.store(tag, std::memory_order_relaxed);
    p.local_send_cost_ = 0;
  }
  const std::int32_t start_budget = this_thread.budget;
  if (sched::timeline_ring* timeline = this_thread.timeline) timeline->run(p.self_word());

  auto outcome_of = [&node, &p, start_budget](receive_step step) {
    switch (step) {
      case receive_step::wait:
        return run_outcome::wait;
      case receive_step::yield:
        return node.template yield_outcome<Observed>(p, start_budget);
      default:
        return run_outcome::done;
    }
  };

  switch (p.state_) {
    case run_state::created:
      p.state_ = run_state::running;
      p.resume_ = p.body_;
      break;
    case run_state::yielded:
      if (p.inbox_nonempty()) p.drain_inbox();
      if (p.exiting_) {
        node.destroy_process(p);
        return run_outcome::done;
      }
      p.state_ = run_state::running;
      break;
    case run_state::waiting:
    case run_state::receive_yield: {
      receive_step step = node.template advance_receive<Observed>(p);
      if (step != receive_step::resume) return outcome_of(step);
      break;
    }
    case run_state::exiting:
      node.destroy_process(p);
      return run_outcome::done;
    case run_state::running:
      std::fputs("beamline: internal error: a running process was scheduled\n", stderr);
      std::abort();
  }

  // Observed: whether this run started on a worker, which a preemption takes away.
  [[maybe_unused]] bool on_worker = Observed && this_thread.node_worker != nullptr;
  for (;;) {
    // The process's own code runs outside any critical section: there, and only
    // there, a preemption signal hands this thread's worker to a spare.
    this_thread.handoff_pending.store(false, std::memory_order_relaxed);
    this_thread.critical_depth.store(0, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    p.resume_.resume();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    this_thread.critical_depth.store(1, std::memory_order_relaxed);
    if constexpr (Observed) {
      if (on_worker && this_thread.node_worker == nullptr) {
        node.note_preemption(p);
        on_worker = false;
      }
    }
    if (p.body_.done()) {
      node.destroy_process(p);
      return run_outcome::done;
    }
    switch (p.state_) {
      case run_state::exiting:
        node.destroy_process(p);
        return run_outcome::done;
      case run_state::yielded:
      case run_state::receive_yield:
        return node.template yield_outcome<Observed>(p, start_budget);
      case run_state::waiting: {
        receive_step step = node.template advance_receive<Observed>(p);
        if (step != receive_step::resume) return outcome_of(step);
        continue;
      }
      default:
        std::fputs(
            "beamline: a process suspended in a co_await that is not beamline's "
            "(only receive, sleep, check, yield, blocking and beamline::task may be awaited)\n",
            stderr);
        std::abort();
    }
  }
}

// The plain run loop, and the one the scheduler runs while the node is observed
// (node_runtime::begin_observing).
template sched::run_outcome node_runtime::run_process<false>(void*, sched::schedulable*);
template sched::run_outcome node_runtime::run_process<true>(void*, sched::schedulable*);

}  // namespace beamline::detail
