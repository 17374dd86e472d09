// relations.hpp: links, monitors and exit signals: the tables and the protocol.
//
// Everything about how processes watch each other is here and in relations.cpp:
// the requester's half (link, unlink, monitor, demonitor, exit/2: what the calling
// process records and which signal it sends), the owner's half (what a process does
// with such a signal when it takes it from its inbox), the answers a process that
// is already exiting gives to late requests, and the exit signals and DOWNs a
// process sends when it ends. Signals leave through node_runtime::deliver, the one
// place that tells a local partner from a remote one (a remote one's signals go to
// the transport, transport.hpp; with none, it is unreachable: noconnection).
//
// Made on a process's first link or monitor and reachable only from its control
// block, which only the thread running the process touches: another process
// changes these tables only by sending a signal (link, unlink, monitor, ...) that
// the owner acts upon (Erlang's rule, erl_monitor_link.h).
//
// links: the partner's pid -> {active, unlink_id}, the state of the link protocol
//   (shared/reference/erlang-process-semantics.md section 3.2): an entry is a link
//   only while active; an inactive entry is an unlink awaiting its acknowledgement.
// monitors: the monitors this process holds: reference -> monitored pid.
// monitored_by: monitors on this process: reference -> watcher pid.
// aliases: the process's active aliases -> how each is deactivated (alias_kind).
//   A message sent to an alias travels as an alias_message signal and is kept only
//   if its alias is in this table when the owner takes it from its inbox, so after
//   unalias() no message sent through the alias can still arrive (as on BEAM, where
//   the check is also the receiver's, erl_proc_sig_queue.c).
#pragma once

#include <cstdint>

#include "beamline/detail/process_control.hpp"
#include "beamline/pid.hpp"
#include "beamline/ref.hpp"
#include "core/flat_table.hpp"

namespace beamline::detail {

struct link_state {
  bool active = false;
  std::uint64_t unlink_id = 0;
};

enum class alias_kind : std::uint8_t {
  explicit_unalias,  // until unalias()
  reply,             // also by the first message received through it
  demonitor,         // a monitor's alias: also when the monitor goes (demonitor, DOWN)
  reply_demonitor,   // both: a reply also removes the monitor
};

struct relations {
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }

  flat_table<pid, link_state> links;
  flat_table<ref, pid> monitors;
  flat_table<ref, pid> monitored_by;
  flat_table<ref, alias_kind> aliases;
  std::uint64_t next_unlink_id = 1;
};

}  // namespace beamline::detail

namespace beamline::detail {

// The process's tables, made on first use (owner only).
inline relations& relations_of(process_control& p) {
  if (p.relations_ == nullptr) p.relations_ = new relations();
  return *p.relations_;
}

// --- the requester's half (the calling process p) -----------------------------------
void request_link(process_control& p, const pid& target);
void request_unlink(process_control& p, const pid& target);
ref request_monitor(process_control& p, const pid& target);
// A monitor whose reference is also an alias of p, deactivated as `kind` says.
ref request_monitor(process_control& p, const pid& target, alias_kind kind);
// A new alias of p (a reference that names p: alias_owner), active until `kind` ends it.
ref make_alias(process_control& p, alias_kind kind);
// Deactivates one of p's aliases; false if it was not active.
bool remove_alias(process_control& p, const ref& alias);
bool request_demonitor(process_control& p, const ref& monitor);
// Records in p's table a monitor whose request travels another way (distribution's
// spawn requests, which monitor the new process with the request's reference): a
// DOWN addressed with `monitor` is then delivered like any other. `target` is what
// a demonitor is sent to (null: nothing).
void expect_down(process_control& p, const ref& monitor, const pid& target);
// exit/2, from a process (p) or from a thread that is not one (p null).
void request_exit(node_runtime& node, process_control* p, const pid& target, const term& reason);

// --- aliases ---------------------------------------------------------------------
// An alias is a local reference of five words: a fresh reference's three and the
// owner's slot and serial, so a message sent to it finds its process without a
// table (as BEAM's pid-references). make_ref() makes only three-word references.
inline ref alias_ref(const ref& fresh, const pid& owner) noexcept {
  ref a = fresh;
  a.length = 5;
  a.words[3] = owner.id;
  a.words[4] = owner.serial;
  return a;
}
inline bool is_local_alias(const ref& r) noexcept {
  return r.node == 0 && r.length == 5;
}
inline pid alias_owner(const ref& alias) noexcept {
  return pid{alias.words[3], alias.words[4], 0, 0};
}
// Sends `message` (taken) to `alias`: to its owner if the alias is one of this
// node's (delivered if still active when the owner takes it), to the alias's node
// through the transport otherwise. A reference that is no alias drops the message,
// as Erlang does.
void send_to_alias(node_runtime& node, const ref& alias, signal* message) noexcept;

// --- the owner's half -------------------------------------------------------------
// Acts on an exit, link, unlink, unlink_ack, monitor, demonitor or down signal taken
// from p's inbox: it changes p's tables, may decide that p exits, may become a
// message (a trapped exit, an active monitor's DOWN) or is freed.
void handle_relation_signal(process_control& p, signal* s);
// Answers a link, monitor or unlink request that reached p after it began exiting
// (as if it had arrived after p's end), and frees it.
void answer_after_exit(process_control& p, signal* s) noexcept;
// The owner's check of an alias_message: whether its alias is active (deactivating a
// `reply` alias, and removing a reply_demonitor alias's monitor, as it passes).
bool accept_alias_message(process_control& p, const ref& alias);

// --- termination ---------------------------------------------------------------------
// Sends p's exit to its links, DOWNs to its watchers and demonitors to the processes
// it monitors. A signal that cannot be allocated is not sent and the loss is logged:
// memory exhaustion while a process exits degrades to a partner that does not learn
// of this exit, and never ends the node (docs/design/process.md, "Termination").
void notify_exit(process_control& p) noexcept;
// Only the DOWN of the monitor that spawn_monitor set on p (part of notify_exit).
void notify_spawn_watcher(process_control& p) noexcept;

// For tests: the next n allocations of termination signals fail as if memory were
// exhausted.
void fail_exit_signal_allocations(int n) noexcept;

}  // namespace beamline::detail
