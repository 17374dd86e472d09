// timer_api.cpp: timer.hpp; the timers themselves are node_runtime's (timers.md).
#include "beamline/timer.hpp"

#include "beamline/errors.hpp"
#include "core/node_runtime.hpp"

namespace beamline {

namespace detail {

std::int64_t checked_delay(std::int64_t delay_ns) {
  constexpr std::int64_t max_delay_ns = std::int64_t{4294967295} * 1'000'000;  // Erlang's limit
  if (delay_ns < 0) throw error(atoms::badarg, "send_after: the delay is negative");
  if (delay_ns > max_delay_ns)
    throw error(atoms::badarg, "send_after: the delay exceeds 2^32-1 ms");
  return delay_ns;
}

ref start_timer(node_runtime& node, std::int64_t delay_ns, const pid& to, std::optional<atom> name,
                signal* message) {
  return node.start_timer(delay_ns, to, name, message);
}

}  // namespace detail

std::optional<std::chrono::milliseconds> cancel_timer(const ref& timer) {
  std::optional<std::int64_t> left = detail::sending_node("cancel_timer").cancel_timer(timer);
  if (!left) return std::nullopt;
  return std::chrono::ceil<std::chrono::milliseconds>(std::chrono::nanoseconds(*left));
}

}  // namespace beamline
