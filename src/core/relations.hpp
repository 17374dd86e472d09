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

struct relations {
  static void* operator new(std::size_t size) { return pool_allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { pool_deallocate(p, size); }

  flat_table<pid, link_state> links;
  flat_table<ref, pid> monitors;
  flat_table<ref, pid> monitored_by;
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
bool request_demonitor(process_control& p, const ref& monitor);
// Records in p's table a monitor whose request travels another way (distribution's
// spawn requests, which monitor the new process with the request's reference): a
// DOWN addressed with `monitor` is then delivered like any other. `target` is what
// a demonitor is sent to (null: nothing).
void expect_down(process_control& p, const ref& monitor, const pid& target);
// exit/2, from a process (p) or from a thread that is not one (p null).
void request_exit(node_runtime& node, process_control* p, const pid& target, const term& reason);

// --- the owner's half -------------------------------------------------------------
// Acts on an exit, link, unlink, unlink_ack, monitor, demonitor or down signal taken
// from p's inbox: it changes p's tables, may decide that p exits, may become a
// message (a trapped exit, an active monitor's DOWN) or is freed.
void handle_relation_signal(process_control& p, signal* s);
// Answers a link, monitor or unlink request that reached p after it began exiting
// (as if it had arrived after p's end), and frees it.
void answer_after_exit(process_control& p, signal* s) noexcept;

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
