// beamline/errors.hpp: the exceptions beamline raises.
//
// - exit_exception: ends the calling process with a reason. Thrown by
//   beamline::exit(reason) (Erlang's exit/1) and by check() when an exit signal
//   has killed the process. It deliberately does not derive from std::exception,
//   so `catch (const std::exception&)` does not swallow it. One thrown for an exit
//   signal and caught by a `catch (...)` that does not rethrow delays the exit only
//   until the next receive or check(); one thrown by beamline::exit(reason) is an
//   ordinary exception there, caught for good, as exit/1 is in Erlang.
// - error: Erlang's error class (badarg, noproc, system_limit, ...), carrying the
//   reason as a term. Uncaught in a process, it ends the process with that reason.
// - std::logic_error for API misuse outside a process (receive from main, ...).
#pragma once

#include <stdexcept>
#include <string>

#include "beamline/term.hpp"

namespace beamline {

class exit_exception {
 public:
  explicit exit_exception(term reason) : reason_(std::move(reason)) {}
  const term& reason() const noexcept { return reason_; }

 private:
  term reason_;
};

class error : public std::runtime_error {
 public:
  error(term reason, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  const term& reason() const noexcept { return reason_; }

 private:
  term reason_;
};

// A spawn that cannot get a process slot (node_options::max_processes reached).
class system_limit_error : public error {
 public:
  explicit system_limit_error(const std::string& message) : error(atoms::system_limit, message) {}
};

}  // namespace beamline
