// blocking_*: bl::blocking runs calls on the dirty pools; the process waits like a
// receive and the schedulers keep serving everyone else.
#include <atomic>
#include <chrono>
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

// Waits until `release` is set, or for at most `limit` (reached only when the
// test is failing: it then fails instead of hanging).
void wait_for(const std::atomic<bool>& release, std::chrono::seconds limit) {
  auto until = clock_type::now() + limit;
  while (!release.load() && clock_type::now() < until) std::this_thread::sleep_for(1ms);
}

TEST_P(blocking, other_processes_run_while_a_call_blocks) {
  // The call blocks until this process has had the echo's answer: without the
  // dirty pool, the call would hold a worker and (on one worker) the echo could
  // only answer after the call's 30 s limit.
  std::atomic<bool> started{false}, release{false}, call_done{false};
  bool answered_during_call = false;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    bl::spawn([&, me]() -> bl::process {
      auto call = [&] {
        started = true;
        wait_for(release, 30s);
        call_done = true;
      };
      co_await bl::blocking(std::move(call), bl::dirty_pool::io);
      bl::send(me, std::string("call done"));
    });
    while (!started) co_await bl::sleep(1ms);
    bl::pid echo = bl::spawn([]() -> bl::process {
      auto [from, n] = co_await bl::receive<bl::pid, int>();
      bl::send(from, n);
    });
    bl::send(echo, me, 1);
    co_await bl::receive<int>();
    answered_during_call = !call_done;
    release = true;
    co_await bl::receive<std::string>();
  });
  EXPECT_TRUE(answered_during_call);
}

TEST_P(blocking, io_calls_run_in_parallel) {
  // Eight calls, each waiting until all eight run at once (or 10 s): the io pool
  // (ten threads) runs them side by side, which a serial pool never would.
  constexpr int calls = 8;
  std::atomic<int> running{0}, most_running{0};
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    for (int i = 0; i < calls; ++i)
      bl::spawn([&, me]() -> bl::process {
        auto call = [&] {
          int now = running.fetch_add(1) + 1;
          int seen = most_running.load();
          while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
          }
          auto until = clock_type::now() + 10s;
          while (most_running.load() < calls && clock_type::now() < until)
            std::this_thread::sleep_for(1ms);
          running.fetch_sub(1);
        };
        co_await bl::blocking(std::move(call), bl::dirty_pool::io);
        bl::send(me, 1);
      });
    for (int i = 0; i < calls; ++i) co_await bl::receive<int>();
  });
  EXPECT_EQ(most_running.load(), calls);
}

TEST_P(blocking, a_process_killed_while_waiting_ends_at_once) {
  // The call blocks until the killed process's DOWN has arrived: the process ends
  // without waiting for its call (which would take the 30 s limit).
  std::atomic<bool> started{false}, release{false}, call_done{false};
  bool down_before_call_returned = false;
  bl::term reason;
  run([&]() -> bl::process {
    auto [p, m] = bl::spawn_monitor([&]() -> bl::process {
      auto call = [&] {
        started = true;
        wait_for(release, 30s);
        call_done = true;
      };
      co_await bl::blocking(std::move(call), bl::dirty_pool::io);
    });
    while (!started) co_await bl::sleep(1ms);
    bl::exit(p, bl::atoms::kill);
    reason = (co_await bl::receive<bl::down_message>()).reason;
    down_before_call_returned = !call_done;
    release = true;
    (void)m;
  });
  // The call outlives its killed process on the dirty thread, reading this frame's
  // atomics: wait for its end before they go.
  wait_for(call_done, 30s);
  EXPECT_TRUE(call_done.load());
  EXPECT_EQ(reason, bl::term(bl::atoms::killed));
  EXPECT_TRUE(down_before_call_returned);
}

}  // namespace
