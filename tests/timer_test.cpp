// timer_*: send_after, cancel_timer and sleeps.
#include <vector>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

class timer : public node_test {};
BEAMLINE_SWEEP_WORKERS(timer);

TEST_P(timer, send_after_delivers_no_earlier_than_the_delay) {
  run([&]() -> bl::process {
    auto start = clock_type::now();
    bl::send_after(20ms, bl::self(), std::string("tick"));
    EXPECT_EQ(co_await bl::receive<std::string>(), "tick");
    EXPECT_GE(clock_type::now() - start, 20ms);
  });
}

TEST_P(timer, timers_fire_in_deadline_order) {
  std::vector<int> order;
  run([&]() -> bl::process {
    for (int delay : {30, 10, 20, 5, 25})
      bl::send_after(std::chrono::milliseconds(delay), bl::self(), delay);
    for (int i = 0; i < 5; ++i) order.push_back(co_await bl::receive<int>());
  });
  EXPECT_EQ(order, (std::vector<int>{5, 10, 20, 25, 30}));
}

TEST_P(timer, cancel_timer_returns_the_time_left_and_the_message_never_comes) {
  run([&]() -> bl::process {
    bl::ref t = bl::send_after(500ms, bl::self(), 1);
    auto left = bl::cancel_timer(t);
    EXPECT_TRUE(left.has_value());
    EXPECT_GT(left.value_or(0ms).count(), 400);
    EXPECT_LE(left.value_or(0ms).count(), 500);
    EXPECT_FALSE(bl::cancel_timer(t).has_value());
    int got = co_await bl::receive([](int) { return 1; }, bl::after(30ms, [] { return 0; }));
    EXPECT_EQ(got, 0);
  });
}

TEST_P(timer, cancelling_a_fired_timer_or_a_plain_reference_returns_nothing) {
  run([&]() -> bl::process {
    bl::ref t = bl::send_after(1ms, bl::self(), 1);
    co_await bl::receive<int>();
    EXPECT_FALSE(bl::cancel_timer(t).has_value());
    EXPECT_FALSE(bl::cancel_timer(bl::make_ref()).has_value());
  });
}

TEST_P(timer, a_timer_to_a_name_looks_it_up_when_it_fires) {
  run([&]() -> bl::process {
    bl::atom name("timer_target");
    bl::send_after(10ms, name, 5);
    bl::register_name(name, bl::self());
    EXPECT_EQ(co_await bl::receive<int>(), 5);
    bl::unregister(name);
    bl::send_after(1ms, name, 6);  // nobody by that name: dropped
    int got = co_await bl::receive([](int) { return 1; }, bl::after(20ms, [] { return 0; }));
    EXPECT_EQ(got, 0);
  });
}

TEST_P(timer, a_zero_delay_delivers_at_once) {
  run([&]() -> bl::process {
    bl::send_after(0ms, bl::self(), 3);
    EXPECT_EQ(co_await bl::receive<int>(), 3);
  });
}

TEST_P(timer, bad_delays_are_badarg) {
  run([&]() -> bl::process {
    EXPECT_THROW(bl::send_after(-1ms, bl::self(), 1), bl::error);
    EXPECT_THROW(bl::send_after(std::chrono::hours(24 * 60), bl::self(), 1), bl::error);
    co_return;
  });
}

TEST_P(timer, many_sleepers_all_wake) {
  const int sleepers = static_cast<int>(scaled(2000));
  int woke = 0;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    for (int i = 0; i < sleepers; ++i)
      bl::spawn([me, i]() -> bl::process {
        co_await bl::sleep(std::chrono::milliseconds(1 + i % 20));
        bl::send(me, i);
      });
    for (int i = 0; i < sleepers; ++i) {
      co_await bl::receive<int>();
      ++woke;
    }
  });
  EXPECT_EQ(woke, sleepers);
}

TEST_P(timer, timers_of_processes_that_died_do_not_leak) {
  run([&]() -> bl::process {
    for (int i = 0; i < 50; ++i) {
      [[maybe_unused]] auto [p, m] = bl::spawn_monitor(
          []() -> bl::process { co_await bl::receive([](int) {}, bl::after(10s)); });
      bl::exit(p, bl::atoms::kill);
      co_await bl::receive<bl::down_message>();
    }
  });
}

TEST_P(timer, timeouts_that_race_messages_and_kills_are_safe) {
  // Receive timeouts expire on one worker while their processes, on another, take a
  // message (which re-arms the timer) or are killed (which frees it): the worker that
  // expires a timer must be done with it before its owner may reuse it.
  const int waiters = static_cast<int>(scaled(64));
  const int rounds = static_cast<int>(scaled(200));
  int answers = 0;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    std::vector<bl::pid> pids;
    for (int i = 0; i < waiters; ++i)
      pids.push_back(bl::spawn([me]() -> bl::process {
        int timed_out = 0;
        for (;;) {
          bool done = false;
          co_await bl::receive([&](int) {}, [&](const std::string&) { done = true; },
                               bl::after(1ms, [&] { ++timed_out; }));
          if (done) break;
        }
        bl::send(me, timed_out);
      }));
    for (int r = 0; r < rounds; ++r) {
      for (const bl::pid& p : pids) bl::send(p, r);
      co_await bl::sleep(1ms);
    }
    for (int i = 0; i < waiters; i += 2)
      bl::exit(pids[static_cast<std::size_t>(i)], bl::atoms::kill);
    for (int i = 1; i < waiters; i += 2)
      bl::send(pids[static_cast<std::size_t>(i)], std::string("stop"));
    for (int i = 1; i < waiters; i += 2) {
      co_await bl::receive<int>();
      ++answers;
    }
  });
  EXPECT_EQ(answers, waiters / 2);
}

}  // namespace
