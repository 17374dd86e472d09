// blocking_*: bl::blocking runs calls on the dirty pools; the process waits like a
// receive and the schedulers keep serving everyone else.
#include <stdexcept>
#include <string>
#include <thread>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

class blocking : public node_test {};
BEAMLINE_SWEEP_WORKERS(blocking);

TEST_P(blocking, returns_the_result_of_the_call) {
  std::string got;
  run([&]() -> bl::process {
    std::string prefix = "answer ";
    // Named first: g++ 12 destroys a capturing lambda twice when it is a temporary
    // inside a co_await expression (docs/coroutines.md).
    auto call = [prefix] { return prefix + std::to_string(6 * 7); };
    got = co_await bl::blocking(std::move(call));
    co_await bl::blocking([] {});  // void calls work too
  });
  EXPECT_EQ(got, "answer 42");
}

std::string join(std::string a, int n) {
  return a + std::to_string(n);
}

TEST_P(blocking, calls_a_function_with_arguments) {
  std::string got;
  run([&]() -> bl::process { got = co_await bl::blocking(join, std::string("n="), 7); });
  EXPECT_EQ(got, "n=7");
}

TEST_P(blocking, rethrows_the_exception_of_the_call) {
  bool caught = false;
  run([&]() -> bl::process {
    try {
      co_await bl::blocking([]() -> int { throw std::runtime_error("disk on fire"); });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "disk on fire";
    }
  });
  EXPECT_TRUE(caught);
}

TEST_P(blocking, other_processes_run_while_a_call_blocks) {
  bool answered_during_call = false;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    bl::spawn([me]() -> bl::process {
      co_await bl::blocking([] { std::this_thread::sleep_for(200ms); }, bl::dirty_pool::io);
      bl::send(me, std::string("call done"));
    });
    bl::pid echo = bl::spawn([]() -> bl::process {
      auto [from, n] = co_await bl::receive<bl::pid, int>();
      bl::send(from, n);
    });
    co_await bl::sleep(20ms);
    bl::send(echo, me, 1);
    // The echo answers before the blocking call is over.
    co_await bl::receive([&](int) { answered_during_call = true; },
                         [&](const std::string&) { answered_during_call = false; });
    co_await bl::receive<std::string>();
  });
  EXPECT_TRUE(answered_during_call);
}

TEST_P(blocking, io_calls_run_in_parallel) {
  clock_type::duration took{};
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    auto start = clock_type::now();
    for (int i = 0; i < 8; ++i)
      bl::spawn([me]() -> bl::process {
        co_await bl::blocking([] { std::this_thread::sleep_for(100ms); }, bl::dirty_pool::io);
        bl::send(me, 1);
      });
    for (int i = 0; i < 8; ++i) co_await bl::receive<int>();
    took = clock_type::now() - start;
  });
  EXPECT_LT(took, 600ms);  // not 8 x 100 ms
}

TEST_P(blocking, a_process_killed_while_waiting_ends_at_once) {
  clock_type::duration took{};
  bl::term reason;
  run([&]() -> bl::process {
    auto [p, m] = bl::spawn_monitor([]() -> bl::process {
      co_await bl::blocking([] { std::this_thread::sleep_for(300ms); }, bl::dirty_pool::io);
    });
    co_await bl::sleep(10ms);
    auto start = clock_type::now();
    bl::exit(p, bl::atoms::kill);
    reason = (co_await bl::receive<bl::down_message>()).reason;
    took = clock_type::now() - start;
    (void)m;
  });
  EXPECT_EQ(reason, bl::term(bl::atoms::killed));
  EXPECT_LT(took, 250ms);
}

}  // namespace
