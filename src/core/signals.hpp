// signals.hpp: constructors for the runtime's own signals (process_control.cpp).
#pragma once

#include <cstdint>

#include "beamline/detail/signal.hpp"
#include "beamline/pid.hpp"
#include "beamline/ref.hpp"
#include "beamline/term.hpp"

namespace beamline::detail {

// The epoch of a timeout signal that matches no wait: it only makes a waiting
// process check its wait again (a blocking call done, a socket ready).
inline constexpr std::uint64_t wake_only_epoch = ~std::uint64_t{0};

signal* make_exit_signal(const pid& from, const term& reason, bool link);
signal* make_down_signal(const ref& monitor, const pid& from, const term& reason);
signal* make_control_signal(signal_kind kind, const pid& from, const ref& monitor,
                            std::uint64_t id);

}  // namespace beamline::detail
