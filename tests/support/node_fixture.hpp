// node_fixture.hpp: runs a test's processes on nodes of 1, 2, 4 and 8 workers and
// on the deterministic single-worker mode with a seeded run-queue shuffle, and
// checks at teardown that no process is left and no coroutine frame leaked.
//
// The shuffle seed comes from BEAMLINE_SEED if set, else from the clock; a failing
// test prints it, and BEAMLINE_SEED=<seed> replays the same schedule.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>

#include "beamline/beamline.hpp"

namespace beamline_test {

namespace bl = beamline;

struct worker_config {
  unsigned schedulers;
  bool deterministic;
};

inline std::uint64_t shuffle_seed() {
  static const std::uint64_t seed = []() -> std::uint64_t {
    if (const char* s = std::getenv("BEAMLINE_SEED")) return std::strtoull(s, nullptr, 10);
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count() &
                                      0xffffffff);
  }();
  return seed;
}

inline double stress_scale() {
#ifdef BEAMLINE_STRESS_SCALE
  return BEAMLINE_STRESS_SCALE;
#else
  return 1.0;
#endif
}

// n scaled for the build (sanitizer builds run smaller stress tests), at least 1.
inline long scaled(long n) {
  long v = static_cast<long>(static_cast<double>(n) * stress_scale());
  return v < 1 ? 1 : v;
}

class node_test : public ::testing::TestWithParam<worker_config> {
 protected:
  void SetUp() override { frames_before_ = bl::detail::live_frames(); }

  void TearDown() override {
    EXPECT_EQ(bl::detail::live_frames(), frames_before_) << "coroutine frames leaked";
    if (HasFailure() && GetParam().deterministic)
      std::cerr << "deterministic schedule: replay with BEAMLINE_SEED=" << shuffle_seed() << "\n";
  }

  bl::node_options options() const {
    bl::node_options o;
    o.schedulers = GetParam().schedulers;
    o.deterministic = GetParam().deterministic;
    o.shuffle_seed = shuffle_seed();
    o.log_crashes = false;
    return o;
  }

  // Runs `body(args...)` as the first process of a fresh node until every process
  // has ended, then checks that none is left.
  template <class F, class... Args>
  void run(F&& body, Args&&... args) {
    bl::node node(options());
    node.spawn(std::forward<F>(body), std::forward<Args>(args)...);
    node.run();
    EXPECT_EQ(node.statistics().live_processes, 0u);
  }

 private:
  long long frames_before_ = 0;
};

inline std::string config_name(const ::testing::TestParamInfo<worker_config>& info) {
  if (info.param.deterministic) return "deterministic";
  return std::to_string(info.param.schedulers) + "_workers";
}

}  // namespace beamline_test

#define BEAMLINE_SWEEP_WORKERS(suite)                                                \
  INSTANTIATE_TEST_SUITE_P(sweep, suite,                                             \
                           ::testing::Values(beamline_test::worker_config{1, false}, \
                                             beamline_test::worker_config{2, false}, \
                                             beamline_test::worker_config{4, false}, \
                                             beamline_test::worker_config{8, false}, \
                                             beamline_test::worker_config{1, true}), \
                           beamline_test::config_name)
