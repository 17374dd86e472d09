// process_control.cpp: a process's signals, receive, exits and what its destructor
// frees (terminate(), the step before it, is in relations.cpp).
//
// Everything here runs on the thread that runs the process (or, for termination at
// node teardown, the thread destroying it): the control block is owner-only.
// Signals to other processes go through node_runtime::deliver; what links,
// monitors and exit signals do is relations.cpp's.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "beamline/detail/process_control.hpp"
#include "beamline/errors.hpp"
#include "beamline/messages.hpp"
#include "core/exceptions.hpp"
#include "core/node_runtime.hpp"
#include "core/relations.hpp"
#include "core/signals.hpp"

namespace beamline::detail {

namespace {

using exit_payload = std::tuple<exit_message>;
using down_payload = std::tuple<down_message>;

}  // namespace

// --- sending signals ------------------------------------------------------------

signal* make_exit_signal(const pid& from, const term& reason, bool link) {
  signal* s = make_signal<exit_payload>(signal_kind::exit, exit_message{from, reason});
  if (link) s->flags |= signal_flag_link;
  return s;
}

signal* make_down_signal(const ref& monitor, const pid& from, const term& reason) {
  return make_signal<down_payload>(signal_kind::down, down_message{monitor, from, reason});
}

signal* make_control_signal(signal_kind kind, const pid& from, const ref& monitor,
                            std::uint64_t id) {
  return make_signal<control_payload>(kind, control_payload{from, monitor, id});
}

// --- the message queue ------------------------------------------------------------

void process_control::drain_inbox() {
  signal* chain = inbox_take_all(*slot_);
  while (chain != nullptr) {
    signal* s = chain;
    chain = chain->next;
    s->next = nullptr;
    if (s->target_serial != self_serial_) {
      destroy(s);  // addressed to an earlier occupant of this slot
    } else if (s->kind == signal_kind::message) {
      ++messages_in_;
      messages_.append(s);
    } else if (exiting_) {
      // Once the process is exiting, later requests wait on the queue for the
      // termination, which answers them after the name is released.
      messages_.append(s);
    } else {
      handle_signal(s);
    }
  }
  slot_->backlog.store(messages_.length(), std::memory_order_relaxed);
}

void process_control::begin_exit(const term& reason) {
  if (exiting_) return;
  exiting_ = true;
  exit_reason_ = reason;
}

void process_control::handle_signal(signal* s) {
  switch (s->kind) {
    case signal_kind::message:
      return append_message(s);
    case signal_kind::timeout: {
      const control_payload& c = payload_of<control_payload>(s);
      if (waiter_ != nullptr && c.id == wait_epoch_) waiter_->timed_out = true;
      break;
    }
    case signal_kind::wake:
      // Taking it was the point: the run loop asks the wait again. The observer's
      // asks for the process's figures too (node_runtime::maybe_publish).
      if ((s->flags & observe_wake_flag) != 0) publish_requested_ = 1;
      break;
    case signal_kind::info:
      answer_info(s);
      break;
    case signal_kind::alias_message: {
      alias_envelope& e = payload_of<alias_envelope>(s);
      if (accept_alias_message(*this, e.alias)) {
        signal* message = std::exchange(e.message, nullptr);
        message->target_serial = s->target_serial;
        destroy(s);
        ++messages_in_;
        return append_message(message);
      }
      break;  // the alias is not active: the message is dropped
    }
    default:
      return handle_relation_signal(*this, s);  // links, monitors, exits: relations.cpp
  }
  destroy(s);
}

// --- receive ----------------------------------------------------------------------

bool process_control::receive_ready(wait_base& r) {
  if (exiting_) {
    state_ = run_state::exiting;
    return false;
  }
  --this_thread.budget;
  ++reductions_;
  messages_.start_scan(r.since_key);
  r.matched = nullptr;  // the same word as since_key, which the scan no longer needs
  if (this_thread.budget <= 0) {
    state_ = run_state::receive_yield;
    return false;
  }
  // Drain on every receive: under a flood this keeps each chain short, so its nodes
  // are still in cache when the receive reads them after the reversal (draining
  // only when the queue has no match was measured 3x slower on W5 with 2 workers:
  // long chains are walked twice from memory).
  if (inbox_nonempty()) drain_inbox();
  if (!exiting_ && r.satisfied(r, *this)) return true;
  if (exiting_) {
    state_ = run_state::exiting;
    return false;
  }
  if (r.deadline_ns == 0) {  // after(0): poll
    r.timed_out = true;
    return true;
  }
  state_ = run_state::waiting;
  return false;
}

void process_control::receive_suspend(wait_base& r, std::coroutine_handle<> h) noexcept {
  resume_ = h;
  waiter_ = &r;
  if (state_ == run_state::exiting || r.deadline_ns <= 0) return;
  if (timer_ == nullptr) timer_ = new receive_timer();
  timer_->target = self();
  timer_->epoch = ++wait_epoch_;
  if (!node_->scheduler().add_timer(*timer_, r.deadline_ns)) r.timed_out = true;
}

void process_control::wait_suspend(wait_base& r, std::coroutine_handle<> h) noexcept {
  resume_ = h;
  waiter_ = &r;
  state_ = run_state::waiting;
}

signal* process_control::receive_take(wait_base& r) noexcept {
  state_ = run_state::running;
  waiter_ = nullptr;
  ++wait_epoch_;  // a timeout still in flight for this receive is now stale
  if (timer_ != nullptr) node_->scheduler().cancel_timer(*timer_);
  signal* node = nullptr;
  if (r.matched != nullptr) {
    node = messages_.unlink(r.matched);
    r.matched = nullptr;
  }
  messages_.end_scan();
  return node;
}

// --- exits ------------------------------------------------------------------------

void process_control::record_exception(std::exception_ptr e) noexcept {
  if (exiting_) return;  // already killed by a signal: keep that reason, log nothing
  exiting_ = true;
  bool exited = false;  // exit(reason) rather than an exception
  try {
    exit_reason_ = exception_reason(e, exited);
  } catch (...) {
    exit_reason_ = atoms::exception;  // no memory for the reason's terms
  }
  if (node_ != nullptr && node_->options().log_crashes && !crash_reported_) log_crash(exited);
}

// One line per process that ends abnormally by its own doing (an exception, or
// exit(reason)), as Erlang's error logger reports a crashed process: who (pid,
// registered name, initial call) and why (the reason as a term).
void process_control::log_crash(bool exited) noexcept {
  try {
    if (exited && is_shutdown_reason(exit_reason_)) return;
    std::string line = "beamline: process " + self().to_string();
    if (std::optional<atom> name = registered_name()) line += " registered as " + name->to_string();
    line += exited ? " exited" : " crashed";
    line += " (initial call " + initial_call() + "): " + exit_reason_.to_string() + "\n";
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    std::fputs("beamline: a process crashed (no memory to say more)\n", stderr);
  }
}

void process_control::throw_exit() {
  throw exit_exception(exit_reason_);
}

// --- termination --------------------------------------------------------------------

// terminate(): relations.cpp, beside the exit notifications it ends with.

// What is left once the frame is gone: the memory the process owned, then its pid.
process_control::~process_control() {
  if (slot_ == nullptr) return;  // never spawned
  terminate();                   // a node destroying the frame directly
  node_runtime& node = *node_;
  delete timer_;
  delete relations_;
  if (closure_ != nullptr) closure_->destroy(closure_);

  // The pid last: once the serial moves on, the pid names no one, and once the exit
  // is counted the node may find no process left and stop.
  slot_->serial.fetch_add(1, std::memory_order_release);
  node.release_slot(self_id_);
  if (service_ != 0) node.unmark_service();  // before the exit counts (on_idle)
  node.count_exit();
}

}  // namespace beamline::detail
