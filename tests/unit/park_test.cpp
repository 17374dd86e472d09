// Unit tests of parking on a bare scheduler: a worker about to park asks the idle
// hook again once it is registered as idle, so that a task ending elsewhere (on a
// preempted thread, which wakes a worker only if one is registered) between the
// first question and the registration cannot leave every worker parked for ever.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "sched/scheduler.hpp"

namespace {

namespace sched = beamline::sched;
using namespace std::chrono_literals;

struct idle_probe {
  std::atomic<int> asked{0};
};

TEST(park, the_idle_hook_is_asked_again_after_registering_as_idle) {
  // The hook says "not idle" the first time and "idle" after: the state it reads
  // changed between the worker's first question and its registration, as when the
  // last task ends on a preempted thread at that moment.
  idle_probe probe;
  sched::scheduler_options options;
  options.workers = 1;
  options.preemption = false;
  sched::scheduler_hooks hooks;
  hooks.context = &probe;
  hooks.run = [](void*, beamline::detail::schedulable*) { return sched::run_outcome::done; };
  hooks.idle = [](void* context) {
    return static_cast<idle_probe*>(context)->asked.fetch_add(1) > 0;
  };
  sched::scheduler scheduler(options, hooks);
  auto ran = std::async(std::launch::async, [&] { scheduler.run(); });
  const bool stopped = ran.wait_for(10s) == std::future_status::ready;
  if (!stopped) scheduler.stop();  // let the test end; it has failed
  ran.wait();
  EXPECT_TRUE(stopped) << "the worker parked for ever after the state changed";
  EXPECT_GE(probe.asked.load(), 2);
}

}  // namespace
