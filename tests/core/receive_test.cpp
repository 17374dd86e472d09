// receive_*: selective receive, guards, timeouts, and the reply marker.
#include <memory>
#include <string>
#include <vector>

#include "beamline/detail/process_control.hpp"
#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class receive : public node_test {};
BEAMLINE_SWEEP_WORKERS(receive);

TEST_P(receive, handler_parameter_types_select_messages_and_the_rest_stay_in_order) {
  std::vector<std::string> log;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    bl::send(me, 1);
    bl::send(me, std::string("a"));
    bl::send(me, 2);
    bl::send(me, std::string("b"));
    bl::send(me, 3.5);
    auto first_string = co_await bl::receive<std::string>();
    log.push_back(first_string);
    auto d = co_await bl::receive<double>();
    log.push_back(std::to_string(static_cast<int>(d * 2)));
    for (int i = 0; i < 3; ++i)
      co_await bl::receive([&](int n) { log.push_back(std::to_string(n)); },
                           [&](const std::string& s) { log.push_back(s); });
  });
  EXPECT_EQ(log, (std::vector<std::string>{"a", "7", "1", "2", "b"}));
}

TEST_P(receive, a_message_is_taken_by_the_first_handler_that_accepts_it) {
  std::string which;
  run([&]() -> bl::process {
    bl::send(bl::self(), 5);
    which = co_await bl::receive(bl::when([](int n) { return n > 10; }, [](int) { return "big"; }),
                                 [](int) { return "any int"; });
  });
  EXPECT_EQ(which, "any int");
}

TEST_P(receive, guards_skip_messages_without_consuming_them) {
  std::vector<int> order;
  run([&]() -> bl::process {
    for (int i = 1; i <= 6; ++i) bl::send(bl::self(), i);
    for (int k = 0; k < 3; ++k)
      order.push_back(co_await bl::receive(
          bl::when([](int n) { return n % 2 == 0; }, [](int n) { return n; })));
    for (int k = 0; k < 3; ++k) order.push_back(co_await bl::receive<int>());
  });
  EXPECT_EQ(order, (std::vector<int>{2, 4, 6, 1, 3, 5}));
}

TEST_P(receive, tuples_of_several_values_bind_with_structured_bindings) {
  run([&]() -> bl::process {
    bl::send(bl::self(), bl::self(), 7, std::string("x"));
    auto [from, n, s] = co_await bl::receive<bl::pid, int, std::string>();
    EXPECT_EQ(from, bl::self());
    EXPECT_EQ(n, 7);
    EXPECT_EQ(s, "x");
  });
}

TEST_P(receive, after_runs_when_nothing_matches_in_time_and_not_earlier) {
  run([&]() -> bl::process {
    bl::send(bl::self(), std::string("not an int"));
    auto start = std::chrono::steady_clock::now();
    bool timed_out =
        co_await bl::receive([](int) { return false; }, bl::after(20ms, [] { return true; }));
    auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(timed_out);
    EXPECT_GE(waited, 20ms);
    EXPECT_EQ(co_await bl::receive<std::string>(), "not an int");
  });
}

TEST_P(receive, after_zero_polls_and_sees_a_message_sent_to_self) {
  run([&]() -> bl::process {
    int polled = co_await bl::receive([](int n) { return n; }, bl::after(0ms, [] { return -1; }));
    EXPECT_EQ(polled, -1);
    bl::send(bl::self(), 9);
    polled = co_await bl::receive([](int n) { return n; }, bl::after(0ms, [] { return -1; }));
    EXPECT_EQ(polled, 9);
  });
}

TEST_P(receive, a_message_arriving_before_the_timeout_wins) {
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    bl::spawn([me]() -> bl::process {
      co_await bl::sleep(2ms);
      bl::send(me, 1);
    });
    int got = co_await bl::receive([](int n) { return n; }, bl::after(5s, [] { return -1; }));
    EXPECT_EQ(got, 1);
  });
}

TEST_P(receive, the_timeout_of_a_receive_a_message_won_does_not_fire_into_a_later_one) {
  bool late_message_won = false;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    bl::spawn([me]() -> bl::process {
      co_await bl::sleep(2ms);
      bl::send(me, 1);
      co_await bl::sleep(100ms);  // past the deadline of the receive that 1 ended
      bl::send(me, std::string("late"));
    });
    // Waits with a 50 ms timeout until 1 wins (a loaded machine may time out first).
    for (;;) {
      int got = co_await bl::receive([](int n) { return n; }, bl::after(50ms, [] { return -1; }));
      if (got == 1) break;
    }
    // The won receive's timeout, had it stayed armed, fires during this one.
    auto s = co_await bl::receive([](const std::string& text) { return text; },
                                  bl::after(5s, [] { return std::string("timed out"); }));
    late_message_won = s == "late";
  });
  EXPECT_TRUE(late_message_won);
}

TEST_P(receive, each_senders_messages_arrive_in_send_order) {
  constexpr int senders = 8;
  const int per_sender = static_cast<int>(scaled(5000));
  bool ordered = true;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    for (int s = 0; s < senders; ++s)
      bl::spawn([me, s, per_sender]() -> bl::process {
        for (int i = 0; i < per_sender; ++i) bl::send(me, s, i);
        co_return;
      });
    std::vector<int> next(senders, 0);
    for (int k = 0; k < senders * per_sender; ++k) {
      auto [s, i] = co_await bl::receive<int, int>();
      if (i != next[s]++) ordered = false;
    }
  });
  EXPECT_TRUE(ordered);
}

TEST_P(receive, a_handler_exception_reaches_the_process_body) {
  bool caught = false;
  run([&]() -> bl::process {
    bl::send(bl::self(), 1);
    try {
      co_await bl::receive([](int) { throw std::runtime_error("in handler"); });
    } catch (const std::runtime_error&) {
      caught = true;
    }
  });
  EXPECT_TRUE(caught);
}

TEST_P(receive, waiting_for_a_reply_does_not_rescan_a_long_queue) {
  const int noise = static_cast<int>(scaled(20000));
  std::uint64_t scanned = 0;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    for (int i = 0; i < noise; ++i) bl::send(me, std::string("noise"));
    bl::pid server = bl::spawn([]() -> bl::process {
      for (;;) {
        auto [from, tag, n] = co_await bl::receive<bl::pid, bl::ref, int>();
        if (n < 0) co_return;
        bl::send(from, tag, n * 2);
      }
    });
    // Drain the inbox into the queue first, so the noise is really in the way.
    co_await bl::receive([](int) {}, bl::after(0ms));
    auto& pcb = bl::detail::current_process("test");
    std::uint64_t before = pcb.messages().scanned();
    for (int i = 0; i < 100; ++i) {
      bl::ref tag = bl::make_ref();
      bl::send(server, me, tag, i);
      int reply = co_await bl::receive(bl::since(tag),
                                       bl::when([&](const bl::ref& r, int) { return r == tag; },
                                                [](const bl::ref&, int n) { return n; }));
      EXPECT_EQ(reply, i * 2);
    }
    scanned = pcb.messages().scanned() - before;
    bl::send(server, me, bl::ref{}, -1);
    EXPECT_EQ(pcb.messages().length(), static_cast<std::uint32_t>(noise));
  });
  EXPECT_LT(scanned, 1000u);  // not 100 x noise
}

TEST_P(receive, term_messages_are_selected_with_erlang_patterns) {
  std::vector<std::string> got;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    bl::send(me, bl::term::parse("{progress, 10}"));
    bl::send(me, bl::term::parse("{error, disk_full}"));
    bl::send(me, bl::term::parse("{ok, [1,2,3]}"));
    bl::pattern ok("{ok, Value}");
    auto value = co_await bl::receive(
        bl::when(ok, [&](const bl::term& t) { return (*ok.match(t))["Value"]; }));
    got.push_back(value.to_string());
    co_await bl::receive(bl::when(bl::pattern("{error, _}"),
                                  [&](const bl::term& t) { got.push_back(t.to_string()); }));
    co_await bl::receive([&](const bl::term& t) { got.push_back(t.to_string()); });
  });
  EXPECT_EQ(got, (std::vector<std::string>{"[1,2,3]", "{error,disk_full}", "{progress,10}"}));
}

TEST_P(receive, immutable_data_is_shared_not_copied) {
  bool same = false;
  run([&]() -> bl::process {
    auto big = std::make_shared<const std::vector<int>>(100000, 7);
    bl::pid me = bl::self();
    bl::pid echo = bl::spawn([me]() -> bl::process {
      auto data = co_await bl::receive<std::shared_ptr<const std::vector<int>>>();
      bl::send(me, data);
    });
    bl::send(echo, big);
    auto back = co_await bl::receive<std::shared_ptr<const std::vector<int>>>();
    same = back.get() == big.get();
  });
  EXPECT_TRUE(same);
}

TEST_P(receive, a_receive_with_only_after_sleeps) {
  run([&]() -> bl::process {
    auto start = std::chrono::steady_clock::now();
    co_await bl::sleep(15ms);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 15ms);
  });
}

}  // namespace
