// timer_*: send_after, cancel_timer and sleeps.
#include <algorithm>
#include <string>
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
    auto start = clock_type::now();
    bl::ref t = bl::send_after(200ms, bl::self(), 1);
    auto left = bl::cancel_timer(t);
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
    EXPECT_TRUE(left.has_value());
    // Rounded down to whole milliseconds: at most one below the exact time left.
    EXPECT_GE(left.value_or(0ms), 200ms - elapsed - 1ms);
    EXPECT_LE(left.value_or(0ms), 200ms);
    EXPECT_FALSE(bl::cancel_timer(t).has_value());
    // A later timer in the same wheel fires after the cancelled one's deadline
    // would have: if the cancelled message were still coming, it would come first.
    bl::send_after(300ms, bl::self(), 2);
    EXPECT_EQ(co_await bl::receive<int>(), 2);
    EXPECT_GE(clock_type::now() - start, 300ms);
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
    int got = co_await bl::receive([](int n) { return n; }, bl::after(10s, [] { return -1; }));
    EXPECT_EQ(got, 5);
    bl::unregister(name);
    // Nobody by that name when the first timer fires: dropped. The second, set in
    // the same wheel with a later deadline, comes after it would have.
    bl::send_after(1ms, name, 6);
    bl::send_after(50ms, bl::self(), 7);
    got = co_await bl::receive([](int n) { return n; }, bl::after(10s, [] { return -1; }));
    EXPECT_EQ(got, 7);
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
  // Each victim waits in a loop of short receive timeouts, so it is killed with a
  // timer armed (or just expired and about to be re-armed). Its death must disarm and
  // free that timer: one left in the wheel fires, after the kill, into freed memory.
  constexpr int victims = 50;
  int killed = 0;
  bool own_timeout_ran = false;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    std::vector<bl::ref> monitors;
    for (int i = 0; i < victims; ++i) {
      [[maybe_unused]] auto [p, m] = bl::spawn_monitor([me]() -> bl::process {
        bool told = false;
        for (;;) {
          co_await bl::receive([](int) {}, bl::after(2ms));
          if (!told) bl::send(me, 0);  // after one timeout: a timer was armed and re-armed
          told = true;
        }
      });
      co_await bl::receive<int>();
      bl::exit(p, bl::atoms::kill);
      monitors.push_back(m);
    }
    for (int i = 0; i < victims; ++i)
      if ((co_await bl::receive<bl::down_message>()).reason == bl::term(bl::atoms::killed))
        ++killed;
    // Wait past every victim's last deadline; this process's own timeout still works.
    own_timeout_ran =
        co_await bl::receive([](int) { return false; }, bl::after(20ms, [] { return true; }));
  });
  EXPECT_EQ(killed, victims);
  EXPECT_TRUE(own_timeout_ran);
}

TEST_P(timer, a_timer_to_a_dead_process_stays_cancellable_and_its_message_is_dropped) {
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    // A timer set while the process lives still reports the time left after it died.
    [[maybe_unused]] auto [victim, m] =
        bl::spawn_monitor([]() -> bl::process { co_await bl::receive<std::string>(); });
    auto start = clock_type::now();
    bl::ref t = bl::send_after(10s, victim, 1);
    bl::exit(victim, bl::atoms::kill);
    co_await bl::receive<bl::down_message>();
    auto left = bl::cancel_timer(t);
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
    EXPECT_TRUE(left.has_value());
    EXPECT_GE(left.value_or(0ms), 10s - elapsed - 1ms);

    // One that fires is dropped, even when the dead process's slot has a new occupant
    // by then. The second timer, in the same wheel with a later deadline, fires after
    // the first has been delivered.
    [[maybe_unused]] auto [dead, m2] =
        bl::spawn_monitor([]() -> bl::process { co_await bl::receive<std::string>(); });
    bl::send_after(300ms, dead, 1);
    bl::send_after(400ms, me, 2);
    bl::exit(dead, bl::atoms::kill);
    co_await bl::receive<bl::down_message>();
    // Occupants that answer the first int they get; on one worker the next spawn takes
    // the freed slot at once, on several it may be in another worker's cache.
    std::vector<bl::pid> occupants;
    bool reused = false;
    for (int i = 0; i < 200 && !reused; ++i) {
      occupants.push_back(bl::spawn([me]() -> bl::process {
        int n = co_await bl::receive<int>();
        bl::send(me, bl::self(), n);
      }));
      reused = occupants.back().id == dead.id;
    }
    // (Spawning takes far less than the 300 ms before the first timer fires.)
    if (GetParam().schedulers == 1) {
      EXPECT_TRUE(reused);
    }
    EXPECT_EQ(co_await bl::receive<int>(), 2);
    for (const bl::pid& p : occupants) bl::send(p, 0);
    for (std::size_t i = 0; i < occupants.size(); ++i) {
      auto [from, n] = co_await bl::receive<bl::pid, int>();
      EXPECT_EQ(n, 0) << "the dead process's timer message reached " << from;
    }
  });
}

TEST_P(timer, timeouts_that_race_messages_and_kills_are_safe) {
  // Receive timeouts expire on one worker while their processes, on another, take a
  // message (which re-arms the timer) or are killed (which frees it): the worker that
  // expires a timer must be done with it before its owner may reuse it.
  // Floors: the race this test was written for showed in about one run in six under
  // TSan; scaled for a slow build, the test keeps at least half its full size.
  const int waiters = static_cast<int>(std::max(scaled(64), 32L));
  const int rounds = static_cast<int>(std::max(scaled(200), 100L));
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
