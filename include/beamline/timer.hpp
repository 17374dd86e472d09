// beamline/timer.hpp: timers.
//
//     ref t = bl::send_after(500ms, pid, values...);   // Erlang's erlang:send_after/3
//     std::optional<std::chrono::milliseconds> left = bl::cancel_timer(t);
//     co_await bl::sleep(10ms);                         // in receive.hpp
//
// Timers live in a hierarchical timing wheel per worker (docs/design/timers.md).
// A timer fires no earlier than its deadline; its message is an ordinary message
// from the timer service (not ordered with the caller's own sends, as in Erlang).
#pragma once

#include <chrono>
#include <optional>

#include "beamline/atom.hpp"
#include "beamline/detail/signal.hpp"
#include "beamline/pid.hpp"
#include "beamline/ref.hpp"
#include "beamline/send.hpp"

namespace beamline {

namespace detail {
ref start_timer(node_runtime& node, std::int64_t delay_ns, const pid& to, std::optional<atom> name,
                signal* message);
std::int64_t checked_delay(std::int64_t delay_ns);
}  // namespace detail

// Sends the values to `to` after `delay` (at least 0; at most about 49 days).
template <class Rep, class Period, class... Ts>
ref send_after(std::chrono::duration<Rep, Period> delay, const pid& to, Ts&&... values) {
  detail::node_runtime& node = detail::sending_node("send_after");
  auto ns = detail::checked_delay(std::chrono::ceil<std::chrono::nanoseconds>(delay).count());
  return detail::start_timer(node, ns, to, std::nullopt,
                             detail::make_message(std::forward<Ts>(values)...));
}

// Sends to whatever process has the name when the timer fires; nothing if none.
template <class Rep, class Period, class... Ts>
ref send_after(std::chrono::duration<Rep, Period> delay, atom name, Ts&&... values) {
  detail::node_runtime& node = detail::sending_node("send_after");
  auto ns = detail::checked_delay(std::chrono::ceil<std::chrono::nanoseconds>(delay).count());
  return detail::start_timer(node, ns, pid{}, name,
                             detail::make_message(std::forward<Ts>(values)...));
}

// Cancels a timer: the time that was left, or nullopt if it had already fired, was
// already cancelled, or is not a timer (the message may then already be queued).
std::optional<std::chrono::milliseconds> cancel_timer(const ref& timer);

}  // namespace beamline
