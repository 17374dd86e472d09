// transport.hpp: how a signal reaches a process of another node.
//
// The link, monitor and exit protocol (relations.hpp) and send are written once, for
// any pid: every signal leaves through node_runtime::deliver. Today deliver knows
// only local pids: a signal for a pid of another node is dropped and deliver fails,
// so a link or monitor to it ends at once with reason `noconnection`, as Erlang does
// for a node it cannot connect to. This interface is what distribution will
// implement and deliver will hand such signals to; nothing implements or installs
// it yet.
#pragma once

#include "beamline/detail/signal.hpp"
#include "beamline/pid.hpp"

namespace beamline::detail {

class signal_transport {
 public:
  virtual ~signal_transport() = default;
  // Takes s (it owns it from now on, sent or not) for process `to` of another node.
  // False when `to` cannot be reached (no connection to its node): the caller then
  // acts as for a process that is not alive, with reason noconnection.
  virtual bool send(const pid& to, signal* s) noexcept = 0;
};

}  // namespace beamline::detail
