// death_*: what makes the runtime abort. Each case runs in a child process (a gtest
// death test) and must end it with the runtime's own message on stderr.
//
// The runtime aborts only where going on would hang or corrupt the node:
// - a process suspended in a co_await that is not beamline's would never be resumed
//   (docs/coroutines.md, "What may be awaited inside a process"): the worker that
//   finds it reports it and aborts, in every build;
// - the timer wheel checks its callers with assert(): a timer inserted twice or
//   removed while not in the wheel. Those checks exist in debug builds only (NDEBUG
//   compiles them out), so their cases skip elsewhere.
// Misuse of the API that the caller can recover from (receive outside a process,
// spawn beyond max_processes, a bad argument) throws instead, and is tested with the
// area it belongs to.
//
// The "threadsafe" style runs each case in a fresh copy of the test binary (fork
// and exec) instead of forking a process that already runs worker threads, whose
// copy would hold locks of threads that no longer exist; it also keeps the
// sanitizers' runtimes working in the child.
#include <coroutine>

#include "sched/timer_wheel.hpp"
#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;

class death : public ::testing::TestWithParam<worker_config> {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }

  bl::node_options options() const {
    bl::node_options o;
    o.schedulers = GetParam().schedulers;
    o.deterministic = GetParam().deterministic;
    o.shuffle_seed = shuffle_seed();
    o.log_crashes = false;
    return o;
  }
};
INSTANTIATE_TEST_SUITE_P(sweep, death,
                         ::testing::Values(worker_config{1, false}, worker_config{4, false},
                                           worker_config{1, true}),
                         config_name);

constexpr const char* foreign_await_message =
    "beamline: a process suspended in a co_await that is not beamline's";

TEST_P(death, a_process_that_awaits_a_foreign_awaitable_aborts_the_node) {
  EXPECT_DEATH(
      {
        bl::node node(options());
        node.spawn([]() -> bl::process { co_await std::suspend_always{}; });
        node.run();
      },
      foreign_await_message);
}

bl::task<int> wait_on_a_foreign_awaitable() {
  co_await std::suspend_always{};
  co_return 1;
}

TEST_P(death, a_task_that_awaits_a_foreign_awaitable_aborts_the_node) {
  EXPECT_DEATH(
      {
        bl::node node(options());
        node.spawn([]() -> bl::process { co_await wait_on_a_foreign_awaitable(); });
        node.run();
      },
      foreign_await_message);
}

// The same process after it has run, received and slept: only the foreign await
// aborts, wherever it comes in the body.
TEST_P(death, a_foreign_await_after_beamline_awaits_aborts_the_node) {
  EXPECT_DEATH(
      {
        bl::node node(options());
        node.spawn([]() -> bl::process {
          bl::send(bl::self(), 1);
          co_await bl::receive<int>();
          co_await bl::sleep(std::chrono::milliseconds(1));
          co_await std::suspend_always{};
        });
        node.run();
      },
      foreign_await_message);
}

class death_timer_wheel : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef NDEBUG
    GTEST_SKIP() << "the timer wheel checks its callers with assert(), compiled out with NDEBUG";
#endif
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

TEST_F(death_timer_wheel, a_timer_inserted_twice_aborts) {
  EXPECT_DEATH(
      {
        beamline::sched::timer_wheel wheel;
        beamline::sched::timer_node n;
        wheel.insert(n, 10);
        wheel.insert(n, 20);
      },
      "Assertion `!n\\.linked' failed");
}

TEST_F(death_timer_wheel, removing_a_timer_that_is_not_in_the_wheel_aborts) {
  EXPECT_DEATH(
      {
        beamline::sched::timer_wheel wheel;
        beamline::sched::timer_node n;
        wheel.remove(n);
      },
      "Assertion `n\\.linked' failed");
}

}  // namespace
