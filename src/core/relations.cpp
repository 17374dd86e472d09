// relations.cpp: the link, monitor and exit protocol (see relations.hpp).
//
// Exit signal rules (shared/reference/erlang-process-semantics.md section 2.2):
//   from exit/2:  kill -> end with `killed` (untrappable); trapping -> exit_message;
//                 normal -> ignored, unless sent by the process to itself;
//                 anything else -> end with that reason.
//   from a link:  dropped unless the link is active; the link is then removed;
//                 trapping -> exit_message; normal -> ignored; anything else
//                 (`kill` included, which stays `kill`) -> end with that reason.
// Link protocol (section 3.2): a link is set on both sides by a link signal; unlink
// marks the requester's entry inactive with an id, and the entry goes when the
// partner's acknowledgement of that id arrives, so an exit signal that crossed the
// unlink is not taken for a live link's.
#include "core/relations.hpp"

#include <atomic>
#include <cstdio>
#include <new>
#include <optional>
#include <string>

#include "beamline/errors.hpp"
#include "beamline/messages.hpp"
#include "beamline/receive.hpp"
#include "core/node_runtime.hpp"
#include "core/signals.hpp"

namespace beamline::detail {

namespace {

using exit_payload = std::tuple<exit_message>;
using down_payload = std::tuple<down_message>;

// Why a request to a process that cannot be reached fails: Erlang's noproc for a
// local process that is not alive, noconnection for a remote one.
atom unreachable_reason(const pid& target) {
  return target.is_local() ? atoms::noproc : atoms::noconnection;
}

}  // namespace

// --- the requester's half ----------------------------------------------------------

void request_link(process_control& p, const pid& target) {
  const pid me = p.self();
  if (target == me) return;
  p.charge(1);
  relations& r = relations_of(p);
  if (link_state* l = r.links.find(target)) {
    if (l->active) return;
    *l = link_state{true, 0};  // a pending unlink's acknowledgement is now ignored
  } else {
    r.links.insert(target, link_state{true, 0});
  }
  node_runtime& node = *p.node_;
  if (node.deliver(target, make_control_signal(signal_kind::link, me, {}, 0))) return;
  // Not alive. Erlang checks this at once for a local process: an error for a
  // caller that does not trap exits, an exit signal `noproc` for one that does.
  const atom reason = unreachable_reason(target);
  if (!p.trap_exit_) {
    r.links.erase(target);
    throw error(reason, "link: " + target.to_string() +
                            (target.is_local() ? " is not alive" : " cannot be reached"));
  }
  node.deliver(me, make_exit_signal(target, reason, true));
}

void request_unlink(process_control& p, const pid& target) {
  p.charge(1);
  if (p.relations_ == nullptr) return;
  link_state* l = p.relations_->links.find(target);
  if (l == nullptr || !l->active) return;
  std::uint64_t id = p.relations_->next_unlink_id++;
  *l = link_state{false, id};
  if (!p.node_->deliver(target, make_control_signal(signal_kind::unlink, p.self(), {}, id)))
    p.relations_->links.erase(target);
}

namespace {

// monitor/2, and monitor/3 with an alias when `kind` is set: the reference (then
// also an alias of p), the monitor recorded and its request sent; a DOWN at once if
// the target cannot be reached.
ref start_monitor(process_control& p, const pid& target, std::optional<alias_kind> kind) {
  p.charge(1);
  const pid me = p.self();
  const ref m = kind ? alias_ref(node_runtime::make_ref(), me) : node_runtime::make_ref();
  p.set_mark(mark_key(m));
  // Monitoring oneself creates nothing observable (Erlang's rule): no monitor, and
  // so no alias that would go with one.
  if (kind && (target != me || *kind == alias_kind::explicit_unalias))
    relations_of(p).aliases.insert(m, *kind);
  if (target == me) return m;
  relations_of(p).monitors.insert(m, target);
  node_runtime& node = p.node();
  if (!node.deliver(target, make_control_signal(signal_kind::monitor, me, m, 0)))
    node.deliver(me, make_down_signal(m, target, unreachable_reason(target)));
  return m;
}

}  // namespace

ref request_monitor(process_control& p, const pid& target) {
  return start_monitor(p, target, std::nullopt);
}

ref request_monitor(process_control& p, const pid& target, alias_kind kind) {
  return start_monitor(p, target, kind);
}

ref make_alias(process_control& p, alias_kind kind) {
  p.charge(1);
  ref a = alias_ref(node_runtime::make_ref(), p.self());
  p.set_mark(mark_key(a));
  relations_of(p).aliases.insert(a, kind);
  return a;
}

bool remove_alias(process_control& p, const ref& alias) {
  p.charge(1);
  return p.relations_ != nullptr && p.relations_->aliases.erase(alias);
}

namespace {

// The monitor `m` has gone (demonitor, or its DOWN delivered): so has its alias, if
// it was made to go with it.
void monitor_gone(relations& r, const ref& m) noexcept {
  if (m.length != 5) return;
  alias_kind* kind = r.aliases.find(m);
  if (kind != nullptr && (*kind == alias_kind::demonitor || *kind == alias_kind::reply_demonitor))
    r.aliases.erase(m);
}

}  // namespace

bool accept_alias_message(process_control& p, const ref& alias) {
  if (p.relations_ == nullptr) return false;
  alias_kind* kind = p.relations_->aliases.find(alias);
  if (kind == nullptr) return false;
  switch (*kind) {
    case alias_kind::explicit_unalias:
    case alias_kind::demonitor:
      break;
    case alias_kind::reply:
      p.relations_->aliases.erase(alias);
      break;
    case alias_kind::reply_demonitor:
      p.relations_->aliases.erase(alias);
      request_demonitor(p, alias);
      break;
  }
  return true;
}

void send_to_alias(node_runtime& node, const ref& alias, signal* message) noexcept {
  pid to;
  if (is_local_alias(alias))
    to = alias_owner(alias);
  else if (alias.node != 0)
    to = pid{0, 0, alias.node, alias.creation};  // routed by its node; the alias says who
  if (to.is_null()) {
    destroy(message);  // not an alias: dropped, as Erlang does
    return;
  }
  signal* s;
  try {
    s = make_alias_message(alias, message);
  } catch (...) {
    return;  // out of memory: lost, as a message to a process that cannot take it
  }
  node.deliver(to, s);
}

void expect_down(process_control& p, const ref& m, const pid& target) {
  relations_of(p).monitors.insert(m, target);
}

bool request_demonitor(process_control& p, const ref& m) {
  p.charge(1);
  if (p.relations_ == nullptr) return false;
  pid* target = p.relations_->monitors.find(m);
  if (target == nullptr) return false;
  pid t = *target;
  p.relations_->monitors.erase(m);
  monitor_gone(*p.relations_, m);
  p.node_->deliver(t, make_control_signal(signal_kind::demonitor, p.self(), m, 0));
  return true;
}

void request_exit(node_runtime& node, process_control* p, const pid& target, const term& reason) {
  pid from = p != nullptr ? p->self() : pid{};
  if (p != nullptr) p->charge(1);
  node.deliver(target, make_exit_signal(from, reason, false));
  // A signal to oneself is acted upon at once, as on BEAM.
  if (p != nullptr && target == from) {
    p->drain_inbox();
    if (p->exiting()) p->throw_exit();
  }
}

// --- the owner's half --------------------------------------------------------------

void handle_relation_signal(process_control& p, signal* s) {
  switch (s->kind) {
    case signal_kind::exit: {
      const exit_message& m = std::get<0>(payload_of<exit_payload>(s));
      if ((s->flags & signal_flag_link) != 0) {
        link_state* l = p.relations_ != nullptr ? p.relations_->links.find(m.from) : nullptr;
        if (l == nullptr || !l->active) break;  // the link is gone or going
        p.relations_->links.erase(m.from);
        if (p.trap_exit_) return p.append_message(s);
        if (m.reason == term(atoms::normal)) break;
        p.begin_exit(m.reason);
        break;
      }
      if (m.reason == term(atoms::kill)) {
        p.begin_exit(atoms::killed);
        break;
      }
      if (p.trap_exit_) return p.append_message(s);
      if (m.reason == term(atoms::normal)) {
        if (m.from == p.self()) p.begin_exit(atoms::normal);
        break;
      }
      p.begin_exit(m.reason);
      break;
    }

    case signal_kind::link: {
      const control_payload& c = payload_of<control_payload>(s);
      relations& r = relations_of(p);
      if (r.links.find(c.from) == nullptr) r.links.insert(c.from, link_state{true, 0});
      break;
    }

    case signal_kind::unlink: {
      const control_payload& c = payload_of<control_payload>(s);
      if (p.relations_ != nullptr) {
        link_state* l = p.relations_->links.find(c.from);
        if (l != nullptr && l->active) p.relations_->links.erase(c.from);
      }
      // Acknowledge before anything else goes to the unlinker (protocol rule).
      p.node_->deliver(c.from, make_control_signal(signal_kind::unlink_ack, p.self(), {}, c.id));
      break;
    }

    case signal_kind::unlink_ack: {
      const control_payload& c = payload_of<control_payload>(s);
      if (p.relations_ != nullptr) {
        link_state* l = p.relations_->links.find(c.from);
        if (l != nullptr && !l->active && l->unlink_id == c.id) p.relations_->links.erase(c.from);
      }
      break;
    }

    case signal_kind::monitor: {
      const control_payload& c = payload_of<control_payload>(s);
      relations_of(p).monitored_by.insert(c.monitor, c.from);
      break;
    }

    case signal_kind::demonitor: {
      const control_payload& c = payload_of<control_payload>(s);
      if (p.spawn_watcher_id_ != 0 && c.monitor == ref::local(p.spawn_monitor_key_))
        p.spawn_watcher_id_ = 0;
      else if (p.relations_ != nullptr)
        p.relations_->monitored_by.erase(c.monitor);
      break;
    }

    case signal_kind::down: {
      const down_message& m = std::get<0>(payload_of<down_payload>(s));
      // Delivered only while the monitor is active (demonitor may have won).
      if (p.relations_ != nullptr && p.relations_->monitors.erase(m.monitor)) {
        monitor_gone(*p.relations_, m.monitor);
        return p.append_message(s);
      }
      break;
    }

    default:
      break;
  }
  destroy(s);
}

void answer_after_exit(process_control& p, signal* s) noexcept {
  const pid me = p.self();
  try {
    if (s->kind == signal_kind::link) {
      const control_payload& c = payload_of<control_payload>(s);
      p.node_->deliver(c.from, make_exit_signal(me, p.exit_reason_, true));
    } else if (s->kind == signal_kind::monitor) {
      const control_payload& c = payload_of<control_payload>(s);
      p.node_->deliver(c.from, make_down_signal(c.monitor, me, p.exit_reason_));
    } else if (s->kind == signal_kind::unlink) {
      const control_payload& c = payload_of<control_payload>(s);
      p.node_->deliver(c.from, make_control_signal(signal_kind::unlink_ack, me, {}, c.id));
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "beamline: out of memory: %s could not answer a late request\n",
                 me.to_string().c_str());
  }
  destroy(s);
}

// --- termination ---------------------------------------------------------------------

namespace {

std::atomic<int> failing_allocations{0};

// Says that a termination signal could not be made (out of memory). Cold and out of
// line: the exit path keeps a small frame.
[[gnu::cold, gnu::noinline]] void log_lost_signal(const pid& me, const pid& to,
                                                  const char* what) noexcept {
  try {
    std::string line = "beamline: out of memory: " + me.to_string() + " ended without sending " +
                       what + " to " + to.to_string() + "\n";
    std::fputs(line.c_str(), stderr);
  } catch (...) {
    std::fputs("beamline: out of memory: an exit signal or DOWN was not sent\n", stderr);
  }
}

[[gnu::cold, gnu::noinline]] bool fail_this_allocation() noexcept {
  int n = failing_allocations.load(std::memory_order_relaxed);
  if (n <= 0) return false;
  failing_allocations.store(n - 1, std::memory_order_relaxed);
  return true;
}

// Makes a termination signal and delivers it, or logs that it could not be made.
template <class Make>
void send_or_log(node_runtime& node, const pid& me, const pid& to, const char* what,
                 Make make) noexcept {
  signal* s = nullptr;
  try {
    if (failing_allocations.load(std::memory_order_relaxed) > 0 && fail_this_allocation())
      throw std::bad_alloc();
    s = make();
  } catch (...) {
    log_lost_signal(me, to, what);
    return;
  }
  node.deliver(to, s);
}

}  // namespace

void fail_exit_signal_allocations(int n) noexcept {
  failing_allocations.store(n, std::memory_order_relaxed);
}

// The DOWN of the monitor spawn_monitor set (kept in the control block, not in the
// relations tables: process_control.hpp).
void notify_spawn_watcher(process_control& p) noexcept {
  const pid me = p.self();
  const pid watcher{p.spawn_watcher_id_, p.spawn_watcher_serial_, 0, 0};
  const ref monitor = ref::local(p.spawn_monitor_key_);
  send_or_log(*p.node_, me, watcher, "a DOWN",
              [&] { return make_down_signal(monitor, me, p.exit_reason_); });
}

void notify_exit(process_control& p) noexcept {
  node_runtime& node = *p.node_;
  const pid me = p.self();
  const term& reason = p.exit_reason_;
  relations* r = p.relations_;
  if (r != nullptr) {
    r->links.for_each([&](const pid& partner, const link_state& l) {
      if (l.active)
        send_or_log(node, me, partner, "its exit signal",
                    [&] { return make_exit_signal(me, reason, true); });
    });
  }
  if (p.spawn_watcher_id_ != 0) notify_spawn_watcher(p);
  if (r == nullptr) return;
  r->monitored_by.for_each([&](const ref& monitor, const pid& watcher) {
    send_or_log(node, me, watcher, "a DOWN", [&] { return make_down_signal(monitor, me, reason); });
  });
  r->monitors.for_each([&](const ref& monitor, const pid& target) {
    send_or_log(node, me, target, "a demonitor",
                [&] { return make_control_signal(signal_kind::demonitor, me, monitor, 0); });
  });
}

// The process has ended (its body returned or threw, or an exit signal killed it):
// everything other processes can observe, in Erlang's order. The node calls it
// before destroying the frame; nothing here throws (an allocation that fails is
// logged and its signal not sent: relations.hpp).
void process_control::terminate() noexcept {
  if (terminated_ || slot_ == nullptr) return;
  terminated_ = true;
  if (slot_->name.load(std::memory_order_acquire) != 0 || timer_ != nullptr || !messages_.empty() ||
      relations_ != nullptr)
    return terminate_in_full();
  // Most processes end with no name, no timer, nothing queued and no link or monitor
  // but, from spawn_monitor, their spawner's (W1, W2, W7): the inbox to close and
  // perhaps that DOWN to send.
  close_inbox_after_exit();
  if (spawn_watcher_id_ != 0) notify_spawn_watcher(*this);
}

// Every step, in one frame: the notifications above are inlined (W7, a million
// short-lived monitored processes, counts the calls).
[[gnu::flatten, gnu::noinline]] void process_control::terminate_in_full() noexcept {
  node_runtime& node = *node_;

  // 1. Directly visible resources first: the name.
  if (slot_->name.load(std::memory_order_acquire) != 0) node.names().release(self());

  // 2. The wait timer.
  if (timer_ != nullptr) node.scheduler().cancel_timer(*timer_);

  // 3. Close the inbox. Queued messages are dropped; link and monitor requests that
  //    arrived too late are answered with the exit reason.
  for (signal* s = messages_.take_all(); s != nullptr;) {
    signal* next = s->next;
    answer_after_exit(*this, s);
    s = next;
  }
  close_inbox_after_exit();

  // 4. Links, monitors on this process, and monitors it holds.
  notify_exit(*this);
}

void process_control::close_inbox_after_exit() noexcept {
  for (signal* s = inbox_close(*slot_); s != nullptr;) {
    signal* next = s->next;
    if (s->target_serial != self_serial_)
      destroy(s);
    else
      answer_after_exit(*this, s);
    s = next;
  }
}

}  // namespace beamline::detail
