// The names docs/channels.md's fragments use without defining them, so that the
// fragments compile as a reader would use them (tests/docs/CMakeLists.txt).
#pragma once

#include <beamline/beamline.hpp>

#include <chrono>
#include <optional>
#include <thread>

namespace bl = beamline;
using namespace std::chrono_literals;

struct job {
  int id = 0;
};
inline void work(const job&) {}
struct result {
  long value = 0;
};
inline bl::chan<job> jobs;
inline bl::chan<result> results;
inline result r;
