// beamline/alias.hpp: process aliases, Erlang's alias/0,1 and unalias/1 (OTP 24).
//
// An alias is a reference that names the process that made it: a message sent to it
// (bl::send(alias, values...), send.hpp) reaches that process while the alias is
// active, and is dropped once it is not. Deactivation is the owner's alone and
// takes effect at once: after unalias() returns, no message sent through the alias,
// before or after, can still arrive (one already in the mailbox stays). An alias
// works from any node (pass it in a message); a process's aliases end with it.
//
//     bl::ref a = bl::alias();
//     bl::send(worker, bl::term::tuple({a, job}));   // the worker answers to a
//     ... co_await bl::receive(...) ...
//     bl::unalias(a);                                 // late answers are dropped
//
// A monitor can carry an alias (Erlang's monitor/3 with {alias, ...}): its reference
// is then also an alias of the caller, which gen_server calls use as the reply
// address, so that a reply arriving after the caller gave up never reaches it.
#pragma once

#include <cstdint>

#include "beamline/pid.hpp"
#include "beamline/ref.hpp"

namespace beamline {

enum class alias_mode : std::uint8_t {
  explicit_unalias,  // active until unalias()
  reply,             // also deactivated by the first message received through it
};

// A new alias of the calling process.
ref alias(alias_mode mode = alias_mode::explicit_unalias);

// Deactivates an alias of the calling process: true if it was active (false for a
// reference that is not, or not the caller's).
bool unalias(const ref& alias);

enum class monitor_alias : std::uint8_t {
  explicit_unalias,  // the alias stays until unalias(), whatever becomes of the monitor
  demonitor,         // it goes with the monitor: demonitor(), or its down_message
  reply_demonitor,   // that, or the first message received through it, which also
                     // removes the monitor
};

// monitor(target), whose reference is also an alias of the caller.
ref monitor(const pid& target, monitor_alias alias);

}  // namespace beamline
