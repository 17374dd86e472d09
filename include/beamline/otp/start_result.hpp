// beamline/otp/start_result.hpp: the results the behaviours return in Erlang's shapes.
//
//   start_result  {ok, Pid} | ignore | {error, Reason}: what starting a server, a
//                 supervisor or a child gives. A supervisor's child start function
//                 returns one.
//   status        ok | {error, Reason}: what supervisor operations such as
//                 terminate_child and delete_child give.
//
// They are values, not exceptions, because OTP returns them as values: a failed
// start is an ordinary outcome a supervisor acts upon. `value()`-style accessors that
// need success (start_result::pid_or_throw) throw beamline::error with the reason.
#pragma once

#include <ostream>
#include <string>
#include <utility>

#include "beamline/errors.hpp"
#include "beamline/pid.hpp"
#include "beamline/term.hpp"

namespace beamline {

class start_result {
 public:
  enum class kind : std::uint8_t { ok, ignore, error };

  static start_result ok(const beamline::pid& p) { return start_result(kind::ok, p, atoms::ok); }
  static start_result ignore() { return start_result(kind::ignore, {}, atoms::ignore); }
  static start_result error(term reason) {
    return start_result(kind::error, {}, std::move(reason));
  }

  enum kind status() const noexcept { return kind_; }
  bool is_ok() const noexcept { return kind_ == kind::ok; }
  bool is_ignore() const noexcept { return kind_ == kind::ignore; }
  bool is_error() const noexcept { return kind_ == kind::error; }
  explicit operator bool() const noexcept { return is_ok(); }

  // The started process (null unless ok).
  const beamline::pid& pid() const noexcept { return pid_; }
  // The error's reason (`ok` or `ignore` otherwise).
  const term& reason() const noexcept { return reason_; }
  // The pid; beamline::error with the reason (or `ignore`) if the start did not succeed.
  const beamline::pid& pid_or_throw() const {
    if (!is_ok()) throw beamline::error(reason_, "start failed: " + to_term().to_string());
    return pid_;
  }

  // {ok, Pid} | ignore | {error, Reason}
  term to_term() const {
    switch (kind_) {
      case kind::ok:
        return term::tuple({atoms::ok, pid_});
      case kind::ignore:
        return atoms::ignore;
      case kind::error:
        break;
    }
    return term::tuple({atoms::error, reason_});
  }

 protected:
  start_result(kind k, const beamline::pid& p, term reason)
      : kind_(k), pid_(p), reason_(std::move(reason)) {}

 private:
  kind kind_;
  beamline::pid pid_;
  term reason_;
};

class status {
 public:
  static status ok() { return status(atoms::ok); }
  static status error(term reason) { return status(std::move(reason)); }

  bool is_ok() const noexcept { return reason_ == term(atoms::ok); }
  explicit operator bool() const noexcept { return is_ok(); }
  // `ok`, or the error's reason.
  const term& reason() const noexcept { return reason_; }
  // ok | {error, Reason}
  term to_term() const { return is_ok() ? term(atoms::ok) : term::tuple({atoms::error, reason_}); }

  friend bool operator==(const status&, const status&) = default;

 private:
  explicit status(term reason) : reason_(std::move(reason)) {}
  term reason_;  // `ok` for success
};

inline std::ostream& operator<<(std::ostream& os, const start_result& r) {
  return os << r.to_term();
}
inline std::ostream& operator<<(std::ostream& os, const status& s) {
  return os << s.to_term();
}

}  // namespace beamline
