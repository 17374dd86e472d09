// monitor_*: monitors and DOWN messages (semantics reference, section 4).
#include <set>
#include <string>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class monitor : public node_test {};
BEAMLINE_SWEEP_WORKERS(monitor);

bl::process wait_then_exit() {
  auto reason = co_await bl::receive<bl::term>();
  bl::exit(reason);
}

TEST_P(monitor, down_carries_the_reference_the_pid_and_the_reason) {
  run([&]() -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    bl::ref m = bl::monitor(target);
    bl::send(target, bl::term(bl::atom("bye")));
    auto d = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(d.monitor, m);
    EXPECT_EQ(d.from, target);
    EXPECT_EQ(d.reason, bl::term(bl::atom("bye")));
    EXPECT_EQ(d.to_term().size(), 5u);
  });
}

TEST_P(monitor, monitoring_a_dead_process_delivers_noproc_at_once) {
  run([&]() -> bl::process {
    [[maybe_unused]] auto [dead, first] = bl::spawn_monitor([]() -> bl::process { co_return; });
    co_await bl::receive<bl::down_message>();
    bl::ref m = bl::monitor(dead);
    auto d = co_await bl::receive([](const bl::down_message& down) { return down; },
                                  bl::after(0ms, [] { return bl::down_message{}; }));
    EXPECT_EQ(d.monitor, m);
    EXPECT_EQ(d.reason, bl::term(bl::atoms::noproc));
    m = bl::monitor(bl::pid{777777, 1, 0, 0});
    d = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(d.reason, bl::term(bl::atoms::noproc));
  });
}

TEST_P(monitor, every_monitor_fires_once_on_its_own) {
  std::set<bl::ref> refs, downs;
  run([&]() -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    for (int i = 0; i < 3; ++i) refs.insert(bl::monitor(target));
    bl::send(target, bl::term(bl::atoms::normal));
    for (int i = 0; i < 3; ++i) downs.insert((co_await bl::receive<bl::down_message>()).monitor);
    int extra = co_await bl::receive([](const bl::down_message&) { return 1; },
                                     bl::after(10ms, [] { return 0; }));
    EXPECT_EQ(extra, 0);
  });
  EXPECT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs, downs);
}

TEST_P(monitor, demonitor_before_the_exit_means_no_down) {
  run([&]() -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    bl::ref m = bl::monitor(target);
    EXPECT_TRUE(bl::demonitor(m));
    EXPECT_FALSE(bl::demonitor(m));
    bl::send(target, bl::term(bl::atom("x")));
    int got = co_await bl::receive([](const bl::down_message&) { return 1; },
                                   bl::after(20ms, [] { return 0; }));
    EXPECT_EQ(got, 0);
  });
}

TEST_P(monitor, demonitor_with_flush_removes_a_down_already_queued) {
  run([&]() -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    bl::ref m = bl::monitor(target);
    bl::send(target, bl::term(bl::atom("x")));
    co_await bl::sleep(10ms);
    co_await bl::receive([](int) {}, bl::after(0ms));  // the DOWN is now a message
    EXPECT_FALSE(bl::demonitor(m, {.flush = true}));
    int got = co_await bl::receive([](const bl::down_message&) { return 1; },
                                   bl::after(0ms, [] { return 0; }));
    EXPECT_EQ(got, 0);
  });
}

// spawn_monitor keeps its monitor beside the process, not in its tables: it must
// still fire once, after the links' exits, beside other monitors, and not at all
// once demonitored.
TEST_P(monitor, a_spawn_monitor_fires_beside_other_monitors_and_demonitor_cancels_it) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto [target, first] = bl::spawn_monitor(wait_then_exit);
    bl::link(target);
    bl::ref second = bl::monitor(target);
    bl::send(target, bl::term(bl::atom("bye")));
    auto exit = co_await bl::receive<bl::exit_message>();
    EXPECT_EQ(exit.from, target);
    std::set<bl::ref> downs;
    for (int i = 0; i < 2; ++i) {
      auto d = co_await bl::receive([](const bl::down_message& down) { return down; },
                                    bl::after(5s, [] { return bl::down_message{}; }));
      EXPECT_EQ(d.reason, bl::term(bl::atom("bye")));
      downs.insert(d.monitor);
    }
    EXPECT_EQ(downs, (std::set<bl::ref>{first, second}));

    auto [quiet, cancelled] = bl::spawn_monitor(wait_then_exit);
    EXPECT_TRUE(bl::demonitor(cancelled));
    bl::send(quiet, bl::term(bl::atom("bye")));
    int got = co_await bl::receive([](const bl::down_message&) { return 1; },
                                   bl::after(20ms, [] { return 0; }));
    EXPECT_EQ(got, 0);
  });
}

TEST_P(monitor, a_monitor_on_oneself_creates_nothing) {
  run([&]() -> bl::process {
    bl::ref m = bl::monitor(bl::self());
    EXPECT_FALSE(m.is_null());
    EXPECT_FALSE(bl::demonitor(m));
    co_return;
  });
}

TEST_P(monitor, messages_sent_before_the_exit_arrive_before_the_down) {
  std::vector<int> seen;
  bool down_last = false;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    bl::spawn_monitor([me]() -> bl::process {
      for (int i = 0; i < 100; ++i) bl::send(me, i);
      co_return;
    });
    for (;;) {
      bool done = co_await bl::receive(
          [&](int n) {
            seen.push_back(n);
            return false;
          },
          [](const bl::down_message&) { return true; });
      if (done) break;
    }
    down_last = seen.size() == 100;
  });
  EXPECT_TRUE(down_last);
}

TEST_P(monitor, a_monitoring_process_that_dies_removes_its_monitor_at_the_target) {
  run([&]() -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    bl::pid me = bl::self();
    [[maybe_unused]] auto [watcher, wm] = bl::spawn_monitor([target, me]() -> bl::process {
      bl::monitor(target);
      bl::send(me, 1);
      co_return;  // dies while monitoring
    });
    co_await bl::receive<int>();
    co_await bl::receive<bl::down_message>();
    // The target ends later; the dead watcher's monitor must not trip anything.
    bl::ref m = bl::monitor(target);
    bl::send(target, bl::term(bl::atom("late")));
    auto d = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(d.monitor, m);
    (void)wm;
    (void)watcher;
  });
}

}  // namespace
