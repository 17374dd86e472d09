// beamline/messages.hpp: the messages the runtime itself delivers.
//
//   exit_message   Erlang's {'EXIT', From, Reason}: an exit signal received while
//                  trapping exits (trap_exit(true)).
//   down_message   Erlang's {'DOWN', Ref, process, Pid, Reason}: a monitored process
//                  ended (or did not exist: reason noproc).
//
// Receive them like any message: co_await receive([](const exit_message& e) {...}).
#pragma once

#include <ostream>
#include <string>

#include "beamline/pid.hpp"
#include "beamline/ref.hpp"
#include "beamline/term.hpp"

namespace beamline {

struct exit_message {
  pid from;
  term reason;

  term to_term() const { return term::tuple({atoms::EXIT, from, reason}); }
  friend bool operator==(const exit_message&, const exit_message&) = default;
};

struct down_message {
  ref monitor;
  pid from;
  term reason;

  term to_term() const { return term::tuple({atoms::DOWN, monitor, atoms::process, from, reason}); }
  friend bool operator==(const down_message&, const down_message&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const exit_message& m) {
  return os << m.to_term();
}
inline std::ostream& operator<<(std::ostream& os, const down_message& m) {
  return os << m.to_term();
}

}  // namespace beamline
