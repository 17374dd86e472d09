// process_control.cpp: signals, receive and termination of a process.
//
// Everything here runs on the thread that runs the process (or, for termination at
// node teardown, the thread destroying it): the control block is owner-only.
// Signals to other processes go through node_runtime::deliver.
//
// Exit signal rules (shared/reference/erlang-process-semantics.md section 2.2):
//   from exit/2:  kill -> end with `killed` (untrappable); trapping -> exit_message;
//                 normal -> ignored, unless sent by the process to itself;
//                 anything else -> end with that reason.
//   from a link:  dropped unless the link is active; the link is then removed;
//                 trapping -> exit_message; normal -> ignored; anything else
//                 (`kill` included, which stays `kill`) -> end with that reason.
#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "beamline/detail/process_control.hpp"
#include "beamline/errors.hpp"
#include "beamline/messages.hpp"
#include "core/node_runtime.hpp"
#include "core/relations.hpp"
#include "core/signals.hpp"

namespace beamline::detail {

namespace {

using exit_payload = std::tuple<exit_message>;
using down_payload = std::tuple<down_message>;

struct control_payload {
  pid from;
  ref monitor;
  std::uint64_t id = 0;
};

std::string demangled(const std::type_info* type) {
  if (type == nullptr) return "unknown";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), &std::free);
  std::string s = status == 0 && name ? name.get() : type->name();
  if (s.size() > 255) s.resize(255);
  return s;
}

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
    } else if (s->kind == signal_kind::message || exiting_) {
      // Once the process is exiting, later requests wait on the queue for the
      // termination, which answers them after the name is released.
      *queue_tail_ = s;
      queue_tail_ = &s->next;
      ++queue_length_;
    } else {
      handle_signal(s);
    }
  }
  slot_->backlog.store(queue_length_, std::memory_order_relaxed);
}

void process_control::append_message(signal* s) noexcept {
  s->kind = signal_kind::message;
  s->next = nullptr;
  *queue_tail_ = s;
  queue_tail_ = &s->next;
  ++queue_length_;
}

void process_control::begin_exit(const term& reason) {
  if (exiting_) return;
  exiting_ = true;
  exit_reason_ = reason;
}

void process_control::handle_signal(signal* s) {
  switch (s->kind) {
    case signal_kind::message:
      append_message(s);
      return;

    case signal_kind::exit: {
      const exit_message& m = std::get<0>(payload_of<exit_payload>(s));
      if ((s->flags & signal_flag_link) != 0) {
        link_state* l = relations_ != nullptr ? relations_->links.find(m.from) : nullptr;
        if (l == nullptr || !l->active) break;  // the link is gone or going
        relations_->links.erase(m.from);
        if (trap_exit_) return append_message(s);
        if (m.reason == term(atoms::normal)) break;
        begin_exit(m.reason);
        break;
      }
      if (m.reason == term(atoms::kill)) {
        begin_exit(atoms::killed);
        break;
      }
      if (trap_exit_) return append_message(s);
      if (m.reason == term(atoms::normal)) {
        if (m.from == self()) begin_exit(atoms::normal);
        break;
      }
      begin_exit(m.reason);
      break;
    }

    case signal_kind::link: {
      const control_payload& c = payload_of<control_payload>(s);
      relations& r = relations_of(*this);
      if (r.links.find(c.from) == nullptr) r.links.insert(c.from, link_state{true, 0});
      break;
    }

    case signal_kind::unlink: {
      const control_payload& c = payload_of<control_payload>(s);
      if (relations_ != nullptr) {
        link_state* l = relations_->links.find(c.from);
        if (l != nullptr && l->active) relations_->links.erase(c.from);
      }
      // Acknowledge before anything else goes to the unlinker (protocol rule).
      node_->deliver(c.from, make_control_signal(signal_kind::unlink_ack, self(), {}, c.id));
      break;
    }

    case signal_kind::unlink_ack: {
      const control_payload& c = payload_of<control_payload>(s);
      if (relations_ != nullptr) {
        link_state* l = relations_->links.find(c.from);
        if (l != nullptr && !l->active && l->unlink_id == c.id) relations_->links.erase(c.from);
      }
      break;
    }

    case signal_kind::monitor: {
      const control_payload& c = payload_of<control_payload>(s);
      relations_of(*this).monitored_by.insert(c.monitor, c.from);
      break;
    }

    case signal_kind::demonitor: {
      const control_payload& c = payload_of<control_payload>(s);
      if (spawn_watcher_id_ != 0 && c.monitor == ref::local(spawn_monitor_key_))
        spawn_watcher_id_ = 0;
      else if (relations_ != nullptr)
        relations_->monitored_by.erase(c.monitor);
      break;
    }

    case signal_kind::down: {
      const down_message& m = std::get<0>(payload_of<down_payload>(s));
      // Delivered only while the monitor is active (demonitor may have won).
      if (relations_ != nullptr && relations_->monitors.erase(m.monitor)) return append_message(s);
      break;
    }

    case signal_kind::timeout: {
      const control_payload& c = payload_of<control_payload>(s);
      if (waiter_ != nullptr && c.id == wait_epoch_) waiter_->timed_out = true;
      break;
    }
  }
  destroy(s);
}

signal* process_control::unlink_message(signal** link) noexcept {
  signal* s = *link;
  *link = s->next;
  if (queue_tail_ == &s->next) queue_tail_ = link;
  if (save_ == &s->next) save_ = link;
  for (mark& m : marks_)
    if (m.link == &s->next) m.link = link;
  --queue_length_;
  s->next = nullptr;
  return s;
}

void process_control::set_mark(std::uint64_t key) noexcept {
  marks_[next_mark_] = mark{key, queue_tail_};
  next_mark_ = static_cast<std::uint8_t>((next_mark_ + 1) % 2);
}

signal** process_control::scan_start(std::uint64_t since_key) noexcept {
  if (since_key != 0)
    for (const mark& m : marks_)
      if (m.key == since_key && m.link != nullptr) return m.link;
  return &queue_head_;
}

// --- receive ----------------------------------------------------------------------

bool process_control::receive_ready(receive_base& r) {
  if (exiting_) {
    state_ = run_state::exiting;
    return false;
  }
  --this_thread.budget;
  ++reductions_;
  save_ = scan_start(r.since_key);
  if (this_thread.budget <= 0) {
    state_ = run_state::receive_yield;
    return false;
  }
  // Drain on every receive: under a flood this keeps each chain short, so its nodes
  // are still in cache when the receive reads them after the reversal (draining
  // only when the queue has no match was measured 3x slower on W5 with 2 workers:
  // long chains are walked twice from memory).
  if (inbox_nonempty()) drain_inbox();
  if (!exiting_ && r.try_match(r, *this)) return true;
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

void process_control::receive_suspend(receive_base& r, std::coroutine_handle<> h) noexcept {
  resume_ = h;
  waiter_ = &r;
  if (state_ == run_state::exiting || r.deadline_ns <= 0) return;
  if (timer_ == nullptr) timer_ = new receive_timer();
  timer_->target = self();
  timer_->epoch = ++wait_epoch_;
  if (!node_->scheduler().add_timer(*timer_, r.deadline_ns)) r.timed_out = true;
}

void process_control::wait_suspend(receive_base& r, std::coroutine_handle<> h) noexcept {
  resume_ = h;
  waiter_ = &r;
  state_ = run_state::waiting;
}

signal* process_control::receive_take(receive_base& r) noexcept {
  state_ = run_state::running;
  waiter_ = nullptr;
  ++wait_epoch_;  // a timeout still in flight for this receive is now stale
  if (timer_ != nullptr) node_->scheduler().cancel_timer(*timer_);
  signal* node = nullptr;
  if (r.matched != nullptr) {
    node = unlink_message(r.matched);
    r.matched = nullptr;
  }
  save_ = &queue_head_;
  return node;
}

// --- exits ------------------------------------------------------------------------

void process_control::record_exception(std::exception_ptr e) noexcept {
  if (exiting_) return;  // already killed: keep that reason
  exiting_ = true;
  bool log = false;
  try {
    std::rethrow_exception(e);
  } catch (const exit_exception& x) {
    exit_reason_ = x.reason();
  } catch (const error& x) {
    exit_reason_ = x.reason();
    log = true;
  } catch (const std::exception& x) {
    exit_reason_ = term::tuple(
        {atoms::exception, term::tuple({atom(demangled(abi::__cxa_current_exception_type())),
                                        term::binary(x.what())})});
    log = true;
  } catch (...) {
    exit_reason_ = term::tuple(
        {atoms::exception,
         term::tuple({atom(demangled(abi::__cxa_current_exception_type())), atoms::undefined})});
    log = true;
  }
  if (log && node_ != nullptr && node_->options().log_crashes) {
    std::string line = "beamline: process " + self().to_string() + " crashed with reason " +
                       exit_reason_.to_string() + "\n";
    std::fputs(line.c_str(), stderr);
  }
}

void process_control::throw_exit() {
  throw exit_exception(exit_reason_);
}

// --- termination --------------------------------------------------------------------

// Answers a request that reached this process after it started exiting.
void process_control::answer_after_exit(signal* s) noexcept {
  if (s->kind == signal_kind::link) {
    const control_payload& c = payload_of<control_payload>(s);
    node_->deliver(c.from, make_exit_signal(self(), exit_reason_, true));
  } else if (s->kind == signal_kind::monitor) {
    const control_payload& c = payload_of<control_payload>(s);
    node_->deliver(c.from, make_down_signal(c.monitor, self(), exit_reason_));
  } else if (s->kind == signal_kind::unlink) {
    const control_payload& c = payload_of<control_payload>(s);
    node_->deliver(c.from, make_control_signal(signal_kind::unlink_ack, self(), {}, c.id));
  }
  destroy(s);
}

process_control::~process_control() {
  if (slot_ == nullptr) return;  // never spawned
  node_runtime& node = *node_;
  const pid me = self();

  // 1. Directly visible resources first: the name.
  if (slot_->name.load(std::memory_order_acquire) != 0) node.names().release(me);

  // 2. The receive timer.
  if (timer_ != nullptr) {
    node.scheduler().cancel_timer(*timer_);
    delete timer_;
  }

  // 3. Close the inbox. Queued messages are dropped; link and monitor requests that
  //    arrived too late are answered with the exit reason.
  for (signal* s = queue_head_; s != nullptr;) {
    signal* next = s->next;
    answer_after_exit(s);
    s = next;
  }
  queue_head_ = nullptr;
  for (signal* s = inbox_close(*slot_); s != nullptr;) {
    signal* next = s->next;
    if (s->target_serial != self_serial_)
      destroy(s);
    else
      answer_after_exit(s);
    s = next;
  }

  // 4. Links, monitors on this process, and monitors it holds.
  if (relations_ != nullptr) {
    relations_->links.for_each([&](const pid& partner, const link_state& l) {
      if (l.active) node.deliver(partner, make_exit_signal(me, exit_reason_, true));
    });
  }
  if (spawn_watcher_id_ != 0)
    node.deliver(pid{spawn_watcher_id_, spawn_watcher_serial_, 0, 0},
                 make_down_signal(ref::local(spawn_monitor_key_), me, exit_reason_));
  if (relations_ != nullptr) {
    relations_->monitored_by.for_each([&](const ref& monitor, const pid& watcher) {
      node.deliver(watcher, make_down_signal(monitor, me, exit_reason_));
    });
    relations_->monitors.for_each([&](const ref& monitor, const pid& target) {
      node.deliver(target, make_control_signal(signal_kind::demonitor, me, monitor, 0));
    });
    delete relations_;
  }

  if (closure_ != nullptr) closure_->destroy(closure_);

  // 5. The pid last: once the serial moves on, the pid names no one.
  slot_->serial.fetch_add(1, std::memory_order_release);
  node.release_slot(self_id_);
  node.count_exit();
}

}  // namespace beamline::detail
