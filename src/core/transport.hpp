// transport.hpp: how a signal reaches a process of another node.
//
// The link, monitor and exit protocol (relations.hpp) and send are written once, for
// any pid; node_runtime::deliver pushes a signal for a local pid onto its inbox and
// gives a signal for a pid of another node to the node's transport. Distribution
// installs one (node_runtime::set_transport); a node without one treats every remote
// pid as unreachable: deliver fails, so a link or monitor to it ends at once with
// reason `noconnection`, as Erlang does for a node it cannot connect to.
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
