// relations.hpp: a process's links and monitors (owner-only).
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

}  // namespace beamline::detail
