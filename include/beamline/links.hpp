// beamline/links.hpp: links and monitors, Erlang's failure detectors.
//
// Links are bidirectional: when a linked process ends with a reason other than
// `normal`, its partners receive an exit signal that ends them too, unless they trap
// exits (trap_exit(true)), in which case it arrives as an exit_message. `kill` sent
// with exit(pid, kill) cannot be trapped and is seen as `killed` by the victim's
// links. Monitors are one-way: the watcher gets a down_message when the target ends.
// Every rule follows Erlang/OTP (docs/semantics.md lists each with its test).
#pragma once

#include "beamline/pid.hpp"
#include "beamline/ref.hpp"

namespace beamline {

// Links the calling process to `target` (idempotent; linking to self does nothing).
// If `target` is not alive: error `noproc` when the caller does not trap exits;
// otherwise an exit_message {target, noproc} arrives (Erlang's link/1).
void link(const pid& target);

// Removes the link, if any. Once unlink returns, the link can no longer affect the
// caller; an exit_message it already produced stays in the queue.
void unlink(const pid& target);

// Monitors `target`: a down_message with the returned reference arrives when it
// ends, at once with reason `noproc` if it is not alive. Each call makes a new,
// independent monitor.
ref monitor(const pid& target);

struct demonitor_options {
  bool flush = false;  // also remove one down_message for this monitor from the queue
};

// Turns the monitor off: no down_message for it is added afterwards. Returns true if
// the monitor was active (so no down_message was or will be delivered), false if it
// had already fired or never existed (Erlang's demonitor/2 with `info`).
bool demonitor(const ref& monitor, demonitor_options options = {});

}  // namespace beamline
