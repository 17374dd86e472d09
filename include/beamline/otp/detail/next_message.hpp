// beamline/otp/detail/next_message.hpp: take the oldest message, whatever its type.
//
// The behaviours' loops (gen_server, gen_statem, supervisor) take messages first in,
// first out, as OTP's loops do (`receive Msg -> ...`), and decide by the message's
// type what it is: a call, a cast, an exit from the parent, something for
// handle_info. bl::receive selects by the handlers' parameter types, so it cannot
// say "any message"; this awaiter can. It plugs into the same receive machinery of
// the process (process_control::receive_ready/suspend/take, which drain the inbox,
// count reductions, yield at the end of a slice, arm the timeout and end a killed
// process), with a matcher that accepts the first message at the save point.
//
//     detail::signal* s = co_await detail::next_message(deadline_ns);  // null: timed out
//
// The caller owns the returned signal (destroy it, or wrap it in signal_owner).
#pragma once

#include <coroutine>
#include <cstdint>

#include "beamline/detail/process_control.hpp"
#include "beamline/detail/signal.hpp"
#include "beamline/process.hpp"

namespace beamline::detail {

std::int64_t timeout_deadline(std::int64_t timeout_ns);  // receive.hpp

class next_message : public wait_base {
 public:
  // timeout_ns < 0: wait for ever; 0: poll; otherwise a relative timeout.
  explicit next_message(std::int64_t timeout_ns = -1) {
    wait_base::satisfied = &next_message::take_first;
    if (timeout_ns >= 0) deadline_ns = timeout_deadline(timeout_ns);
  }

  bool await_ready(BL_WAIT_SITE_PARAMETERS) {
    where = wait_site{site_file, site_line};
    process_ = &current_process("receive");
    return process_->receive_ready(*this);
  }
  void await_suspend(std::coroutine_handle<> h) noexcept { process_->receive_suspend(*this, h); }
  // The oldest message, now owned by the caller; null if the timeout ran out.
  signal* await_resume() noexcept { return process_->receive_take(*this); }

 private:
  static bool take_first(wait_base& base, process_control& p) {
    signal** link = p.messages().scan([](signal*) { return true; });
    if (link == nullptr) return false;
    base.matched = link;
    base.matched_index = 0;
    return true;
  }

  process_control* process_ = nullptr;
};

}  // namespace beamline::detail
