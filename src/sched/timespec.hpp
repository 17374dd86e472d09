// timespec.hpp: an optional relative timeout as the timespec the kernel's waits take.
#pragma once

#include <time.h>

#include <cstdint>
#include <optional>

namespace beamline::sched {

// Fills ts from timeout_ns (negative: 0) and returns it, or returns null (wait for
// ever) when there is no timeout.
inline timespec* relative_timespec(const std::optional<std::int64_t>& timeout_ns,
                                   timespec& ts) noexcept {
  if (!timeout_ns) return nullptr;
  std::int64_t ns = *timeout_ns < 0 ? 0 : *timeout_ns;
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return &ts;
}

}  // namespace beamline::sched
