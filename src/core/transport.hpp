// transport.hpp: how a signal reaches a process of another node.
//
// The link, monitor and exit protocol (relations.hpp) and send are written once, for
// any pid: every signal leaves through node_runtime::deliver, which pushes a signal
// for a local pid onto its inbox and hands one for a pid of another node to the
// node's transport (node_runtime::set_transport). Signals from another node come in
// through the same deliver, addressed to local pids. With no transport installed, or
// when the transport cannot reach the pid's node, deliver fails, so a link or monitor
// ends at once with reason `noconnection`, as in Erlang. Distribution implements this
// interface; tests/core/transport_test.cpp plays another node in memory.
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
