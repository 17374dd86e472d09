// otp_helpers.hpp: helpers shared by the OTP tests (tests/otp).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <type_traits>

#include "beamline/detail/process_control.hpp"
#include "beamline/otp.hpp"
#include "support/node_fixture.hpp"

// ASSERT_TRUE for coroutines: records the failure and leaves the process.
#define CO_ASSERT_TRUE(condition)          \
  if (!(condition)) {                      \
    ADD_FAILURE() << "false: " #condition; \
    co_return;                             \
  }

namespace beamline_test {

inline bl::term A(const char* name) {
  return bl::atom(name);
}

// Messages left in the caller's queue (after taking in everything that arrived).
inline bl::task<std::uint32_t> queued_messages() {
  co_await bl::receive(bl::after(std::chrono::milliseconds(0)));
  co_return bl::detail::current_process("test").messages().length();
}

// Expects the awaitable to throw call_exit and returns its failure reason.
template <class Awaitable>
bl::task<bl::term> failure_of(Awaitable a) {
  try {
    co_await std::move(a);
  } catch (const bl::call_exit& e) {
    co_return e.failure();
  }
  ADD_FAILURE() << "expected a call_exit";
  co_return bl::term();
}

// Polls `condition` (a callable returning bool or bl::task<bool>) every millisecond
// until it holds or `deadline` has passed; returns whether it held. For positive
// checks of what happens in time: the deadline is generous, not a measure.
template <class Condition>
bl::task<bool> eventually(Condition condition,
                          std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    bool held = false;
    if constexpr (std::is_same_v<std::invoke_result_t<Condition&>, bool>)
      held = condition();
    else
      held = co_await condition();
    if (held) co_return true;
    if (std::chrono::steady_clock::now() > until) co_return false;
    co_await bl::sleep(std::chrono::milliseconds(1));
  }
}

}  // namespace beamline_test
