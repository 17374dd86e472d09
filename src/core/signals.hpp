// signals.hpp: constructors for the runtime's own signals (process_control.cpp).
#pragma once

#include <cstdint>

#include "beamline/detail/signal.hpp"
#include "beamline/pid.hpp"
#include "beamline/ref.hpp"
#include "beamline/term.hpp"

namespace beamline::detail {

// The payload of link, unlink, unlink_ack, monitor, demonitor, timeout, wake and
// info signals (signal.hpp says which fields each uses).
struct control_payload {
  pid from;
  ref monitor;
  std::uint64_t id = 0;
};

signal* make_exit_signal(const pid& from, const term& reason, bool link);
signal* make_down_signal(const ref& monitor, const pid& from, const term& reason);
signal* make_control_signal(signal_kind kind, const pid& from, const ref& monitor,
                            std::uint64_t id);
// Makes a waiting process ask its wait again (a socket ready, a blocking call done);
// a process that is not waiting ignores it.
inline signal* make_wake_signal() {
  return make_control_signal(signal_kind::wake, pid{}, ref{}, 0);
}

}  // namespace beamline::detail
