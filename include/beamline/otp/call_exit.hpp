// beamline/otp/call_exit.hpp: the exit a failed call raises in its caller.
//
// In Erlang a gen_server:call that fails exits the caller with
// {Reason, {gen_server, call, [Server, Request, Timeout]}}: Reason is `noproc` (no
// such process), `timeout`, `calling_self`, or the reason the server died with
// while the call was pending. beamline throws a call_exit with that reason: it
// derives from exit_exception, so a caller that does not catch it ends with exactly
// Erlang's reason, and one that does can read `failure()` (the Reason part).
// Task await, agent and gen_statem calls raise the same type with their own
// {Module, Function, Args} part.
//
//     try {
//       int n = co_await counter.call(get{}, 100ms);
//     } catch (const bl::call_exit& e) {
//       if (e.failure() == bl::term(bl::atoms::timeout)) ...
//     }
//
// Like every exit_exception it is not a std::exception: `catch (const
// std::exception&)` lets it through, as Erlang's `catch error:_` lets exits through.
#pragma once

#include <string>
#include <utility>

#include "beamline/errors.hpp"
#include "beamline/term.hpp"

namespace beamline {

class call_exit : public exit_exception {
 public:
  // reason() is {failure, {module, function, arguments}}.
  call_exit(term failure, atom module, atom function, term arguments)
      : exit_exception(term::tuple(
            {failure, term::tuple({term(module), term(function), std::move(arguments)})})),
        failure_(std::move(failure)) {}

  // Why the call failed: noproc, timeout, calling_self, or the server's exit reason.
  const term& failure() const noexcept { return failure_; }
  // A sentence for logs.
  std::string what() const { return "call failed: " + reason().to_string(); }

 private:
  term failure_;
};

}  // namespace beamline
