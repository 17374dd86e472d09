// beamline/detail/process_control.hpp: the process control block (PCB).
//
// A process is a coroutine whose promise *is* its control block, so spawning makes
// one pooled allocation (the coroutine frame) plus a slot in the process table. The
// slot (src/core/process_table.hpp) holds what other threads may touch: the inbox
// and the serial. Everything here is owned by the process: only the thread running
// it reads or writes these fields, and other processes reach it only through
// signals pushed onto the inbox (ARCHITECTURE.md decision 3; a process changes only
// its own link and monitor tables).
//
// Where a process sits, by state:
//   created        spawned, in a run queue, its body not started
//   running        executing on a worker thread
//   waiting        suspended in receive; blocked (its inbox tagged BLOCKED, in no
//                  queue) or, once woken by a signal, in a run queue
//   receive_yield  reached a receive with its time slice spent; in a run queue
//   yielded        suspended in check()/yield(); in a run queue
//   exiting        an exit signal ended it; its frame is about to be destroyed
//
// A process ends when its frame is destroyed: the destructor of this class then
// releases its name, closes its inbox, sends its link exits and DOWNs, and frees
// its slot (src/core/process_control.cpp, "termination").
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>

#include "beamline/detail/process_slot.hpp"
#include "beamline/detail/schedulable.hpp"
#include "beamline/detail/signal.hpp"
#include "beamline/detail/thread_state.hpp"
#include "beamline/pid.hpp"
#include "beamline/term.hpp"

namespace beamline::detail {

class node_runtime;
class process_control;
struct receive_timer;
struct relations;

enum class run_state : std::uint8_t { created, running, waiting, receive_yield, yielded, exiting };

// The type-erased side of a receive expression, kept in the awaiting coroutine's
// frame while the process waits (receive.hpp holds the typed side).
struct receive_base {
  // Scans the message queue from the process's save point for a message some
  // handler accepts; on success sets `matched` (the link to it) and `matched_index`.
  bool (*try_match)(receive_base&, process_control&) = nullptr;
  signal** matched = nullptr;
  std::int64_t deadline_ns = -1;  // steady-clock deadline; -1 without an after clause
  std::uint64_t since_key = 0;    // the mark to start scanning from; 0: the first message
  std::int32_t matched_index = -1;
  bool timed_out = false;
  bool at_head = false;  // matched the queue's first message without suspending
};

// Storage for a stateful callable and its arguments, owned by the process it spawned.
struct spawn_closure {
  void (*destroy)(spawn_closure*) noexcept;
};

class process_control : public schedulable {
 public:
  process_control() noexcept = default;
  process_control(const process_control&) = delete;
  process_control& operator=(const process_control&) = delete;
  ~process_control();

  pid self() const noexcept { return pid{self_id_, self_serial_, 0, 0}; }
  bool spawned() const noexcept { return slot_ != nullptr; }

  // --- the message queue (owner only) -------------------------------------------
  // Moves every signal in the inbox into this process: messages are appended to the
  // queue, other signals are acted upon (which may end the process: see exiting_).
  void drain_inbox();
  bool inbox_nonempty() const noexcept {
    return slot_->inbox.load(std::memory_order_relaxed) != nullptr;
  }
  // Removes the message *link points to from the queue, keeping the save point, the
  // tail and the marks valid. The caller owns the removed node.
  signal* unlink_message(signal** link) noexcept;
  signal** scan_start(std::uint64_t since_key) noexcept;

  // --- receive (called by receive.hpp's awaiter) ---------------------------------
  // The fast path, for a receive without a mark: true if the slice allows one more
  // receive, pending signals have been drained and the process is not exiting; the
  // caller may then take the queue's first message with take_first() if a handler
  // accepts it, and otherwise goes the slow way (receive_ready).
  bool receive_fast_ready() {
    if (this_thread.budget <= 1) return false;  // the slow path yields
    if (inbox_nonempty()) drain_inbox();
    return !exiting_;
  }
  // Removes the queue's first message (the fast path matched it) and charges the
  // receive's reduction. The receive never suspended: no timer is armed for it.
  signal* take_first() noexcept {
    --this_thread.budget;
    ++reductions_;
    ++messages_scanned_;
    signal* s = queue_head_;
    queue_head_ = s->next;
    if (queue_tail_ == &s->next) queue_tail_ = &queue_head_;
    for (mark& m : marks_)
      if (m.link == &s->next) m.link = &queue_head_;
    --queue_length_;
    save_ = &queue_head_;
    s->next = nullptr;
    return s;
  }
  bool receive_ready(receive_base& r);
  void receive_suspend(receive_base& r, std::coroutine_handle<> h) noexcept;
  signal* receive_take(receive_base& r) noexcept;  // the matched node, unlinked; or null
  // Suspends in a wait that is not a receive (blocking calls): r.try_match says
  // when it is over; a signal wakes the process to ask it again.
  void wait_suspend(receive_base& r, std::coroutine_handle<> h) noexcept;

  // --- marks for receive(since(ref), ...) ---------------------------------------
  void set_mark(std::uint64_t key) noexcept;

  // --- exits ---------------------------------------------------------------------
  // Records why an exception ended the body (unhandled_exception).
  void record_exception(std::exception_ptr e) noexcept;
  [[noreturn]] void throw_exit();
  // Decides that the process ends with `reason` (the first decision wins).
  void begin_exit(const term& reason);

  // --- internals of signal handling (process_control.cpp) -------------------------
  void handle_signal(signal* s);
  void append_message(signal* s) noexcept;
  void answer_after_exit(signal* s) noexcept;

  // Identity, set at spawn.
  std::uint32_t self_id_ = 0;
  std::uint32_t self_serial_ = 0;
  process_slot* slot_ = nullptr;
  node_runtime* node_ = nullptr;

  // Coroutines: the body (outermost frame) and the innermost suspended coroutine.
  std::coroutine_handle<> body_{};
  std::coroutine_handle<> resume_{};

  run_state state_ = run_state::created;
  bool trap_exit_ = false;
  bool exiting_ = false;   // an exit has been decided; exit_reason_ holds why
  bool has_name_ = false;  // registered under a name (registry owns the mapping)
  // Reductions the current run spent on messages queued for processes on this
  // worker (flood affinity keeps a process that streams to a neighbour beside it).
  std::uint32_t local_send_cost_ = 0;

  // The message queue: a singly linked FIFO of message signals.
  signal* queue_head_ = nullptr;
  signal** queue_tail_ = &queue_head_;  // the link to append at
  signal** save_ = &queue_head_;        // first link not yet scanned by this receive
  std::uint32_t queue_length_ = 0;

  // Receive marks (the BEAM's trick for replies): a reference made in this process
  // records the queue's tail; a receive that only accepts messages carrying that
  // reference starts scanning there.
  struct mark {
    std::uint64_t key = 0;
    signal** link = nullptr;
  };
  mark marks_[2];
  std::uint8_t next_mark_ = 0;

  receive_base* waiter_ = nullptr;  // the receive this process waits in
  std::uint32_t wait_epoch_ = 0;    // tells a live receive timeout from a stale one
  receive_timer* timer_ = nullptr;  // this process's receive timer, made on first use

  relations* relations_ = nullptr;  // links and monitors, made on first use
  // The monitor that spawn_monitor set on this process, kept here rather than in
  // relations_ (most such processes have no other link or monitor, and W7 spawns a
  // million of them): its reference is ref::local(spawn_monitor_key_), its watcher
  // the local process (spawn_watcher_id_, spawn_watcher_serial_); id 0: none.
  std::uint64_t spawn_monitor_key_ = 0;
  std::uint32_t spawn_watcher_id_ = 0;
  std::uint32_t spawn_watcher_serial_ = 0;
  spawn_closure* closure_ = nullptr;  // the callable and arguments it was spawned with

  term exit_reason_{atoms::normal};

  // Statistics (for the observer and for tests).
  std::uint64_t reductions_ = 0;
  std::uint64_t messages_scanned_ = 0;
};

}  // namespace beamline::detail
