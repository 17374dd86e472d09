// signals.hpp: constructors for the runtime's own signals (process_control.cpp).
#pragma once

#include <cstdint>

#include "beamline/detail/signal.hpp"
#include "beamline/pid.hpp"
#include "beamline/ref.hpp"
#include "beamline/term.hpp"

namespace beamline::detail {

// The payload of link, unlink, unlink_ack, monitor, demonitor, timeout and info
// signals (signal.hpp says which fields each uses). A wake-up is each slot's own
// signal, without a payload (node_runtime::wake).
struct control_payload {
  pid from;
  ref monitor;
  std::uint64_t id = 0;
};

signal* make_exit_signal(const pid& from, const term& reason, bool link);
signal* make_down_signal(const ref& monitor, const pid& from, const term& reason);
signal* make_control_signal(signal_kind kind, const pid& from, const ref& monitor,
                            std::uint64_t id);

}  // namespace beamline::detail
