// link_*: links and exit signals, row by row of Erlang's rules
// (shared/reference/erlang-process-semantics.md sections 2 and 3).
#include <string>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class link : public node_test {};
BEAMLINE_SWEEP_WORKERS(link);

bl::atom a(const char* s) {
  return bl::atom(s);
}

// A child that links to the caller, reports ready, and waits for how to end.
bl::process linked_child(bl::pid parent) {
  bl::link(parent);
  bl::send(parent, bl::self(), a("ready"));
  auto how = co_await bl::receive<bl::term>();
  bl::exit(how);
}

bl::task<bl::pid> start_linked_child() {
  bl::pid child = bl::spawn(linked_child, bl::self());
  co_await bl::receive(bl::when([child](const bl::pid& p, bl::atom) { return p == child; },
                                [](const bl::pid&, bl::atom) {}));
  co_return child;
}

TEST_P(link, a_normal_exit_does_not_kill_a_non_trapping_partner) {
  bl::term reason;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [watcher, m] = bl::spawn_monitor([]() -> bl::process {
      bl::pid child = co_await start_linked_child();
      bl::monitor(child);
      bl::send(child, bl::term(bl::atoms::normal));
      // The child sends its exit signal before its DOWN: had the exit killed this
      // process, the DOWN would never be received.
      auto d = co_await bl::receive<bl::down_message>();
      if (d.reason == bl::term(bl::atoms::normal)) bl::exit(a("survived"));
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(a("survived")));
}

TEST_P(link, an_abnormal_exit_kills_a_non_trapping_partner_with_the_same_reason) {
  bl::term reason;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [watcher, m] = bl::spawn_monitor([]() -> bl::process {
      bl::pid child = co_await start_linked_child();
      bl::send(child, bl::term(a("crash")));
      co_await bl::sleep(5s);
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(a("crash")));
}

TEST_P(link, trapping_turns_exit_signals_into_messages_normal_included) {
  std::vector<std::string> got;
  run([&]() -> bl::process {
    bl::trap_exit(true);
    for (const char* r : {"normal", "crash", "kill"}) {
      bl::pid child = co_await start_linked_child();
      bl::send(child, bl::term(a(r)));
      auto e = co_await bl::receive<bl::exit_message>();
      EXPECT_EQ(e.from, child);
      got.push_back(e.reason.to_string());
    }
  });
  // A partner that exits with `kill` (exit/1) sends a trappable `kill`.
  EXPECT_EQ(got, (std::vector<std::string>{"normal", "crash", "kill"}));
}

TEST_P(link, a_link_exit_kill_kills_a_non_trapping_partner_with_kill) {
  bl::term reason;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [watcher, m] = bl::spawn_monitor([]() -> bl::process {
      bl::pid child = co_await start_linked_child();
      bl::send(child, bl::term(bl::atoms::kill));
      co_await bl::sleep(5s);
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(bl::atoms::kill));
}

TEST_P(link, exit_kill_cannot_be_trapped_and_partners_see_killed) {
  bl::term victim_reason;
  std::string partner_saw;
  run([&]() -> bl::process {
    bl::trap_exit(true);
    [[maybe_unused]] auto [victim, m] = bl::spawn_monitor([]() -> bl::process {
      bl::trap_exit(true);
      co_await bl::receive<int>();
    });
    bl::link(victim);
    bl::exit(victim, bl::atoms::kill);
    victim_reason = (co_await bl::receive<bl::down_message>()).reason;
    partner_saw = (co_await bl::receive<bl::exit_message>()).reason.to_string();
  });
  EXPECT_EQ(victim_reason, bl::term(bl::atoms::killed));
  EXPECT_EQ(partner_saw, "killed");
}

TEST_P(link, exit_normal_from_another_process_is_ignored_unless_trapping) {
  bl::term reason;
  std::string trapped;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [p, m] = bl::spawn_monitor([]() -> bl::process {
      co_await bl::receive<int>();
      bl::exit(a("finished"));
    });
    bl::exit(p, bl::atoms::normal);
    bl::send(p, 1);  // after the exit signal: p acts on that first
    reason = (co_await bl::receive<bl::down_message>()).reason;

    bl::pid me = bl::self();
    auto [q, m2] = bl::spawn_monitor([me]() -> bl::process {
      bl::trap_exit(true);
      bl::send(me, 0);
      auto e = co_await bl::receive<bl::exit_message>();
      bl::send(me, e.reason.to_string());
    });
    co_await bl::receive<int>();
    bl::exit(q, bl::atoms::normal);
    trapped = co_await bl::receive<std::string>();
    co_await bl::receive<bl::down_message>();
  });
  EXPECT_EQ(reason, bl::term(a("finished")));
  EXPECT_EQ(trapped, "normal");
}

TEST_P(link, exit_normal_to_oneself_ends_the_process) {
  bl::term reason;
  run([&]() -> bl::process {
    bl::spawn_monitor([]() -> bl::process {
      bl::exit(bl::self(), bl::atoms::normal);
      co_await bl::sleep(5s);
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(bl::atoms::normal));
}

TEST_P(link, exit_with_another_reason_kills_unless_trapping) {
  bl::term reason;
  std::string trapped;
  bl::term trapper_reason;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [p, m] =
        bl::spawn_monitor([]() -> bl::process { co_await bl::receive<int>(); });
    bl::exit(p, bl::atom("go_away"));
    reason = (co_await bl::receive<bl::down_message>()).reason;

    bl::pid me = bl::self();
    [[maybe_unused]] auto [q, m2] = bl::spawn_monitor([me]() -> bl::process {
      bl::trap_exit(true);
      bl::send(me, 0);
      auto e = co_await bl::receive<bl::exit_message>();
      bl::send(me, e.from == me ? e.reason.to_string() : std::string("wrong sender"));
    });
    co_await bl::receive<int>();
    bl::exit(q, bl::atom("go_away"));
    trapped = co_await bl::receive<std::string>();
    trapper_reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(bl::atom("go_away")));
  EXPECT_EQ(trapped, "go_away");
  EXPECT_EQ(trapper_reason, bl::term(bl::atoms::normal));
}

TEST_P(link, linking_to_a_dead_process_is_noproc) {
  bool raised = false;
  std::string trapped;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [dead, m] = bl::spawn_monitor([]() -> bl::process { co_return; });
    co_await bl::receive<bl::down_message>();
    try {
      bl::link(dead);
    } catch (const bl::error& e) {
      raised = e.reason() == bl::term(bl::atoms::noproc);
    }
    bl::trap_exit(true);
    bl::link(dead);
    auto e = co_await bl::receive<bl::exit_message>();
    EXPECT_EQ(e.from, dead);
    trapped = e.reason.to_string();
  });
  EXPECT_TRUE(raised);
  EXPECT_EQ(trapped, "noproc");
}

TEST_P(link, after_unlink_the_partner_crash_does_not_reach_the_caller) {
  bl::term reason;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [watcher, m] = bl::spawn_monitor([]() -> bl::process {
      bl::pid child = co_await start_linked_child();
      bl::monitor(child);
      bl::unlink(child);
      bl::send(child, bl::term(a("crash")));
      // A link exit would come before the child's DOWN, and kill this process first.
      auto d = co_await bl::receive<bl::down_message>();
      if (d.reason == bl::term(a("crash"))) bl::exit(a("unaffected"));
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(a("unaffected")));
}

TEST_P(link, spawn_link_is_atomic_even_when_the_child_crashes_at_once) {
  bl::term reason;
  run([&]() -> bl::process {
    bl::spawn_monitor([]() -> bl::process {
      bl::spawn_link([]() -> bl::process {
        bl::exit(a("instant"));
        co_return;
      });
      co_await bl::sleep(5s);
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(a("instant")));
}

TEST_P(link, links_work_both_ways) {
  bl::term child_reason;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    [[maybe_unused]] auto [middle, m] = bl::spawn_monitor([me]() -> bl::process {
      bl::pid child = bl::spawn_link([]() -> bl::process { co_await bl::receive<int>(); });
      bl::send(me, child);
      co_await bl::receive<int>();
      bl::exit(a("parent_crash"));
    });
    bl::pid child = co_await bl::receive<bl::pid>();
    bl::ref watch = bl::monitor(child);
    bl::send(middle, 1);
    bl::ref middle_monitor = m;
    co_await bl::receive(
        bl::when([&](const bl::down_message& d) { return d.monitor == middle_monitor; },
                 [](const bl::down_message&) {}));
    child_reason = (co_await bl::receive<bl::down_message>()).reason;
    (void)watch;
  });
  EXPECT_EQ(child_reason, bl::term(a("parent_crash")));
}

TEST_P(link, messages_sent_before_dying_arrive_before_the_exit_message) {
  std::vector<std::string> order;
  run([&]() -> bl::process {
    bl::trap_exit(true);
    bl::pid me = bl::self();
    bl::spawn_link([me]() -> bl::process {
      for (int i = 0; i < 3; ++i) bl::send(me, i);
      bl::exit(a("done"));
      co_return;
    });
    for (int k = 0; k < 4; ++k)
      co_await bl::receive(
          [&](int n) { order.push_back(std::to_string(n)); },
          [&](const bl::exit_message& e) { order.push_back(e.reason.to_string()); });
  });
  EXPECT_EQ(order, (std::vector<std::string>{"0", "1", "2", "done"}));
}

}  // namespace
