// monitor_*: monitors and DOWN messages (semantics reference, section 4).
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <utility>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class monitor : public node_test {
 protected:
  // Like run(), with the node passed to the body (for until_exited).
  template <class F>
  void run_on_node(F&& body) {
    bl::node node(options());
    node.spawn(std::forward<F>(body), std::ref(node));
    node.run();
    EXPECT_EQ(node.statistics().live_processes, 0u);
  }
};
BEAMLINE_SWEEP_WORKERS(monitor);

// An ending process sends its exits and DOWNs before the node counts its exit
// (release; statistics() reads with acquire), so once `exited` processes have ended
// every DOWN they will ever send is in its addressee's inbox: a poll (after 0) then
// sees it. This is the ordered signal the negative checks below wait for.
bl::task<void> until_exited(const bl::node& node, std::uint64_t exited) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (node.statistics().processes_exited < exited && std::chrono::steady_clock::now() < deadline)
    co_await bl::sleep(1ms);
  EXPECT_GE(node.statistics().processes_exited, exited) << "no exit within 10 s";
}

bl::task<int> downs_queued() {
  int n = 0;
  for (;;) {
    bool got = co_await bl::receive([](const bl::down_message&) { return true; },
                                    bl::after(0ms, [] { return false; }));
    if (!got) co_return n;
    ++n;
  }
}

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
  int extra = -1;
  run_on_node([&](bl::node& node) -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    for (int i = 0; i < 3; ++i) refs.insert(bl::monitor(target));
    bl::send(target, bl::term(bl::atoms::normal));
    for (int i = 0; i < 3; ++i) downs.insert((co_await bl::receive<bl::down_message>()).monitor);
    co_await until_exited(node, 1);
    extra = co_await downs_queued();
  });
  EXPECT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs, downs);
  EXPECT_EQ(extra, 0);
}

TEST_P(monitor, demonitor_before_the_exit_means_no_down) {
  int downs = -1;
  run_on_node([&](bl::node& node) -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    bl::ref m = bl::monitor(target);
    EXPECT_TRUE(bl::demonitor(m));
    EXPECT_FALSE(bl::demonitor(m));
    bl::send(target, bl::term(bl::atom("x")));
    co_await until_exited(node, 1);
    downs = co_await downs_queued();
  });
  EXPECT_EQ(downs, 0);
}

TEST_P(monitor, demonitor_with_flush_removes_a_down_already_queued) {
  bool was_active = true;
  int downs = -1;
  run_on_node([&](bl::node& node) -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    bl::ref m = bl::monitor(target);
    bl::send(target, bl::term(bl::atom("x")));
    co_await until_exited(node, 1);
    co_await bl::receive([](int) {}, bl::after(0ms));  // the DOWN is now a message
    was_active = bl::demonitor(m, {.flush = true});
    downs = co_await downs_queued();
  });
  EXPECT_FALSE(was_active);
  EXPECT_EQ(downs, 0);
}

TEST_P(monitor, demonitor_with_flush_removes_a_down_still_in_flight) {
  // The DOWN has been sent (the target has fully ended) but not yet drained: the
  // caller has not received since. demonitor must take it out of the inbox too.
  bool was_active = true;
  int downs = -1;
  bl::term other_reason;
  run_on_node([&](bl::node& node) -> bl::process {
    bl::pid target = bl::spawn(wait_then_exit);
    bl::ref m = bl::monitor(target);
    [[maybe_unused]] auto [other, other_monitor] = bl::spawn_monitor(wait_then_exit);
    bl::send(target, bl::term(bl::atom("x")));
    bl::send(other, bl::term(bl::atom("y")));
    co_await until_exited(node, 2);
    was_active = bl::demonitor(m, {.flush = true});
    // Only the other monitor's DOWN is left.
    auto d = co_await bl::receive([](const bl::down_message& down) { return down; },
                                  bl::after(0ms, [] { return bl::down_message{}; }));
    EXPECT_EQ(d.monitor, other_monitor);
    other_reason = d.reason;
    downs = co_await downs_queued();
  });
  EXPECT_FALSE(was_active);
  EXPECT_EQ(other_reason, bl::term(bl::atom("y")));
  EXPECT_EQ(downs, 0);
}

// spawn_monitor keeps its monitor beside the process, not in its tables: it must
// still fire once, after the links' exits, beside other monitors, and not at all
// once demonitored.
TEST_P(monitor, a_spawn_monitor_fires_beside_other_monitors_and_demonitor_cancels_it) {
  run_on_node([&](bl::node& node) -> bl::process {
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
    co_await until_exited(node, 1);
    EXPECT_EQ(co_await downs_queued(), 0);

    auto [quiet, cancelled] = bl::spawn_monitor(wait_then_exit);
    EXPECT_TRUE(bl::demonitor(cancelled));
    bl::send(quiet, bl::term(bl::atom("bye")));
    co_await until_exited(node, 2);
    EXPECT_EQ(co_await downs_queued(), 0);
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
