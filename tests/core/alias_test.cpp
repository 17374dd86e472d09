// alias_*: process aliases (alias.hpp): alias/unalias, sending to an alias, the
// reply and monitor modes, and what becomes of messages an inactive alias gets.
// Each rule was checked against OTP 25 (alias/0,1, unalias/1, monitor/3 {alias, _}).
#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class alias : public node_test {};
BEAMLINE_SWEEP_WORKERS(alias);

bl::term a(const char* name) {
  return bl::term(bl::atom(name));
}

// Every term in the caller's mailbox now (its inbox drained first), in order.
bl::task<std::vector<bl::term>> take_all_queued() {
  std::vector<bl::term> out;
  for (;;) {
    std::optional<bl::term> t =
        co_await bl::receive([](bl::term m) { return std::optional<bl::term>(std::move(m)); },
                             bl::after(0ms, [] { return std::optional<bl::term>(); }));
    if (!t) co_return out;
    out.push_back(std::move(*t));
  }
}

// Waits for the term `t` (draining the inbox into the mailbox on the way).
bl::task<void> wait_for(bl::term t) {
  co_await bl::receive(bl::when([t](const bl::term& m) { return m == t; }, [](bl::term) {}));
}

bl::process wait_then_exit() {
  co_await bl::receive<bl::term>();
}

TEST_P(alias, a_message_sent_to_an_alias_reaches_its_owner) {
  run([&]() -> bl::process {
    const bl::ref al = bl::alias();
    bl::spawn([al]() -> bl::process {
      bl::send(al, a("hello"));
      co_return;
    });
    EXPECT_EQ(co_await bl::receive<bl::term>(), a("hello"));
    EXPECT_TRUE(bl::unalias(al));
    EXPECT_FALSE(bl::unalias(al));
  });
}

TEST_P(alias, after_unalias_nothing_sent_through_it_arrives_even_if_sent_before) {
  run([&]() -> bl::process {
    const bl::ref al = bl::alias();
    bl::send(al, a("before"));  // in the inbox, not yet taken
    EXPECT_TRUE(bl::unalias(al));
    bl::send(al, a("after"));
    bl::send(bl::self(), a("plain"));
    EXPECT_EQ(co_await take_all_queued(), std::vector<bl::term>{a("plain")});
  });
}

TEST_P(alias, a_message_already_in_the_mailbox_stays_after_unalias) {
  run([&]() -> bl::process {
    const bl::ref al = bl::alias();
    bl::send(al, a("kept"));
    bl::send(bl::self(), a("marker"));
    co_await wait_for(a("marker"));
    bl::unalias(al);
    EXPECT_EQ(co_await take_all_queued(), std::vector<bl::term>{a("kept")});
  });
}

TEST_P(alias, order_is_kept_between_an_alias_and_the_pid_from_one_sender) {
  run([&]() -> bl::process {
    const bl::ref al = bl::alias();
    const bl::pid me = bl::self();
    bl::spawn([al, me]() -> bl::process {
      for (int i = 0; i < 100; ++i) {
        if (i % 2 == 0)
          bl::send(al, bl::term(i));
        else
          bl::send(me, bl::term(i));
      }
      co_return;
    });
    for (int i = 0; i < 100; ++i) EXPECT_EQ(co_await bl::receive<bl::term>(), bl::term(i));
  });
}

TEST_P(alias, a_reply_alias_takes_one_message) {
  run([&]() -> bl::process {
    const bl::ref al = bl::alias(bl::alias_mode::reply);
    bl::send(al, a("one"));
    bl::send(al, a("two"));
    EXPECT_EQ(co_await take_all_queued(), std::vector<bl::term>{a("one")});
    EXPECT_FALSE(bl::unalias(al));
  });
}

TEST_P(alias, a_monitor_alias_goes_with_demonitor) {
  run([&]() -> bl::process {
    const bl::pid target = bl::spawn(wait_then_exit);
    const bl::ref m = bl::monitor(target, bl::monitor_alias::demonitor);
    bl::send(m, a("while_monitoring"));
    co_await wait_for(a("while_monitoring"));
    EXPECT_TRUE(bl::demonitor(m));
    bl::send(m, a("after_demonitor"));
    EXPECT_TRUE(co_await take_all_queued() == std::vector<bl::term>{});
    bl::send(target, a("stop"));
  });
}

TEST_P(alias, a_monitor_alias_goes_with_the_down_message) {
  run([&]() -> bl::process {
    const bl::pid target = bl::spawn(wait_then_exit);
    const bl::ref m = bl::monitor(target, bl::monitor_alias::demonitor);
    bl::send(target, a("stop"));
    auto d = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(d.monitor, m);
    bl::send(m, a("after_down"));
    EXPECT_TRUE(co_await take_all_queued() == std::vector<bl::term>{});
  });
}

TEST_P(alias, an_explicit_monitor_alias_outlives_its_monitor) {
  run([&]() -> bl::process {
    const bl::pid target = bl::spawn(wait_then_exit);
    const bl::ref m = bl::monitor(target, bl::monitor_alias::explicit_unalias);
    bl::send(target, a("stop"));
    co_await bl::receive<bl::down_message>();
    bl::send(m, a("still"));
    EXPECT_EQ(co_await take_all_queued(), std::vector<bl::term>{a("still")});
    EXPECT_TRUE(bl::unalias(m));
  });
}

TEST_P(alias, a_reply_through_a_reply_demonitor_alias_also_removes_the_monitor) {
  run([&]() -> bl::process {
    const bl::pid target = bl::spawn(wait_then_exit);
    const bl::ref m = bl::monitor(target, bl::monitor_alias::reply_demonitor);
    bl::send(m, a("reply"));
    bl::send(m, a("second"));
    EXPECT_EQ(co_await take_all_queued(), std::vector<bl::term>{a("reply")});
    // The monitor went with the reply: the target's end brings no DOWN.
    const bl::ref watch = bl::monitor(target);
    bl::send(target, a("stop"));
    auto d = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(d.monitor, watch);
    auto extra = co_await bl::receive([](const bl::down_message&) { return true; },
                                      bl::after(50ms, [] { return false; }));
    EXPECT_FALSE(extra);
  });
}

TEST_P(alias, monitoring_oneself_with_a_monitor_alias_makes_no_alias) {
  run([&]() -> bl::process {
    const bl::ref m = bl::monitor(bl::self(), bl::monitor_alias::demonitor);
    bl::send(m, a("to_self"));
    EXPECT_TRUE(co_await take_all_queued() == std::vector<bl::term>{});
  });
}

TEST_P(alias, only_the_owner_can_unalias) {
  run([&]() -> bl::process {
    const bl::ref al = bl::alias();
    const bl::pid me = bl::self();
    bl::spawn([al, me]() -> bl::process {
      bl::send(me, bl::term(bl::unalias(al)));
      co_return;
    });
    EXPECT_EQ(co_await bl::receive<bl::term>(), bl::term(false));
    bl::send(al, a("still_active"));
    EXPECT_EQ(co_await bl::receive<bl::term>(), a("still_active"));
  });
}

TEST_P(alias, messages_to_a_dead_owner_or_to_a_plain_reference_are_dropped) {
  run([&]() -> bl::process {
    bl::ref dead_alias;
    const bl::pid me = bl::self();
    auto [child, m] = bl::spawn_monitor([me]() -> bl::process {
      bl::send(me, bl::alias());
      co_return;
    });
    dead_alias = co_await bl::receive<bl::ref>();
    co_await bl::receive<bl::down_message>();
    bl::send(dead_alias, a("lost"));
    bl::send(bl::make_ref(), a("nowhere"));
    EXPECT_TRUE(co_await take_all_queued() == std::vector<bl::term>{});
    (void)child;
    (void)m;
  });
}

TEST_P(alias, a_thread_outside_the_node_can_send_to_an_alias) {
  bl::node node(options());
  std::atomic<bool> got{false};
  std::promise<bl::ref> made;
  node.spawn([&]() -> bl::process {
    made.set_value(bl::alias());
    got = co_await bl::receive<bl::term>() == a("from_thread");
  });
  std::thread sender([&] { node.send(made.get_future().get(), a("from_thread")); });
  node.run();
  sender.join();
  EXPECT_TRUE(got);
}

TEST_P(alias, an_alias_is_a_reference_that_differs_from_every_other) {
  run([&]() -> bl::process {
    const bl::ref x = bl::alias();
    const bl::ref y = bl::alias();
    const bl::ref r = bl::make_ref();
    EXPECT_NE(x, y);
    EXPECT_NE(x, r);
    EXPECT_TRUE(bl::term(x).is_ref());
    EXPECT_EQ(x.to_string().rfind("#Ref<0.", 0), 0u);
    co_return;
  });
}

}  // namespace
