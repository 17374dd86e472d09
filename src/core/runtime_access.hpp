// runtime_access.hpp: what the layers built on core (otp, io) may ask of the
// runtime, so that they do not include node_runtime.hpp and reach into the node.
#pragma once

#include <cstdint>

namespace beamline::io {
class poller;
}  // namespace beamline::io

namespace beamline::detail {

class process_control;

// Whether the calling thread's node logs crashes (node_options::log_crashes); false
// on a thread that belongs to no node.
bool node_logs_crashes() noexcept;

// The calling thread's node's scheduler count, or 0 on a thread of no node.
unsigned node_schedulers() noexcept;

// The poller of the node process p runs on.
io::poller& poller_of(process_control& p) noexcept;

// The steady clock of the runtime's deadlines and timers, in nanoseconds.
std::int64_t runtime_now_ns() noexcept;

}  // namespace beamline::detail
