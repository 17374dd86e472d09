// select_*: Go's select over channels, with on_default and after, and over a
// process's mailbox in the same wait (beamline/select.hpp).
#include <array>
#include <atomic>
#include <string>
#include <vector>

#include "beamline/beamline.hpp"
#include "beamline/chan.hpp"
#include "beamline/select.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class select : public node_test {};
BEAMLINE_SWEEP_WORKERS(select);

bl::task<bool> blocked_on_channel(bl::pid p) {
  co_return co_await eventually([p]() -> bl::task<bool> {
    std::optional<bl::process_info> info = co_await bl::process_info_of(p);
    co_return info && info->status.rfind("waiting: channel", 0) == 0;
  });
}

TEST_P(select, takes_the_case_that_is_ready_and_returns_its_handlers_result) {
  run([&]() -> bl::process {
    auto a = bl::make_chan<int>(1);
    auto b = bl::make_chan<std::string>(1);
    co_await b.send("hello");
    std::string got = co_await bl::select(
        bl::on_receive(a, [](std::optional<int> v) { return std::to_string(*v); }),
        bl::on_receive(b, [](std::optional<std::string> v) { return *v; }));
    EXPECT_EQ(got, "hello");
    // Waiting: a value sent later wakes the select.
    bl::spawn([a]() -> bl::process {
      co_await bl::sleep(5ms);
      co_await a.send(7);
    });
    got = co_await bl::select(
        bl::on_receive(a, [](std::optional<int> v) { return std::to_string(*v); }),
        bl::on_receive(b, [](std::optional<std::string> v) { return *v; }));
    EXPECT_EQ(got, "7");
  });
}

TEST_P(select, chooses_uniformly_at_random_among_ready_cases) {
  run([&]() -> bl::process {
    constexpr int rounds = 3000;
    std::array<bl::chan<int>, 3> chans{bl::make_chan<int>(rounds), bl::make_chan<int>(rounds),
                                       bl::make_chan<int>(rounds)};
    for (auto& c : chans)
      for (int i = 0; i < rounds; ++i) CO_ASSERT_TRUE(c.try_send(i));
    std::array<int, 3> picked{};
    for (int i = 0; i < rounds; ++i)
      co_await bl::select(bl::on_receive(chans[0], [&](std::optional<int>) { ++picked[0]; }),
                          bl::on_receive(chans[1], [&](std::optional<int>) { ++picked[1]; }),
                          bl::on_receive(chans[2], [&](std::optional<int>) { ++picked[2]; }));
    // Each is picked with p = 1/3: mean 1000, standard deviation 25.8; 850..1150
    // is more than 5.8 deviations away (a false alarm about once in 10^8 runs).
    for (int n : picked) {
      EXPECT_GT(n, 850) << picked[0] << " " << picked[1] << " " << picked[2];
      EXPECT_LT(n, 1150) << picked[0] << " " << picked[1] << " " << picked[2];
    }
  });
}

TEST_P(select, on_default_runs_when_no_case_is_ready_and_after_when_none_becomes_ready) {
  run([&]() -> bl::process {
    auto a = bl::make_chan<int>();
    int r = co_await bl::select(bl::on_receive(a, [](std::optional<int>) { return 1; }),
                                bl::on_default([] { return 2; }));
    EXPECT_EQ(r, 2);
    auto t0 = std::chrono::steady_clock::now();
    r = co_await bl::select(bl::on_receive(a, [](std::optional<int>) { return 1; }),
                            bl::after(20ms, [] { return 3; }));
    EXPECT_EQ(r, 3);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_EQ(co_await bl::select(bl::after(0ms, [] { return 4; })), 4);
  });
}

TEST_P(select, a_send_case_sends_and_a_closed_channel_is_ready_for_receive_and_fails_a_send) {
  run([&]() -> bl::process {
    auto out = bl::make_chan<int>();
    bl::spawn([out]() -> bl::process {
      auto v = co_await out.receive();
      co_await out.send(*v + 1);
    });
    bool sent = false;
    co_await bl::select(bl::on_send(out, 41, [&] { sent = true; }));
    EXPECT_TRUE(sent);
    EXPECT_EQ(*co_await out.receive(), 42);

    auto closed = bl::make_chan<int>();
    closed.close();
    bool saw_closed = false;
    co_await bl::select(bl::on_receive(closed, [&](std::optional<int> v) { saw_closed = !v; }));
    EXPECT_TRUE(saw_closed);
    try {
      co_await bl::select(bl::on_send(closed, 1, [] {}));
      ADD_FAILURE() << "a send case on a closed channel completed";
    } catch (const bl::error& e) {
      EXPECT_EQ(e.reason(), A("send_on_closed_channel"));
    }
  });
}

TEST_P(select, cases_on_the_nil_channel_are_never_chosen) {
  run([&]() -> bl::process {
    bl::chan<int> nil;
    auto ready = bl::make_chan<int>(1);
    co_await ready.send(5);
    int r = co_await bl::select(bl::on_receive(nil, [](std::optional<int>) { return -1; }),
                                bl::on_send(nil, 1, [] { return -2; }),
                                bl::on_receive(ready, [](std::optional<int> v) { return *v; }));
    EXPECT_EQ(r, 5);
    r = co_await bl::select(bl::on_receive(nil, [](std::optional<int>) { return -1; }),
                            bl::after(5ms, [] { return 0; }));
    EXPECT_EQ(r, 0);
  });
}

TEST_P(select, waits_on_channels_and_the_mailbox_at_once) {
  run([&]() -> bl::process {
    auto jobs = bl::make_chan<int>();
    const bl::pid me = bl::self();
    auto once = [&]() -> bl::task<std::string> {
      co_return co_await bl::select(
          bl::on_receive(jobs, [](std::optional<int> j) { return "job " + std::to_string(*j); }),
          bl::on_message([](const std::string& s) { return "message " + s; },
                         bl::when([](int n) { return n > 100; },
                                  [](int n) { return "big " + std::to_string(n); })));
    };
    // A message that arrives while the select waits.
    bl::spawn([me]() -> bl::process {
      co_await bl::sleep(5ms);
      bl::send(me, 7);  // no handler accepts it: it stays
      bl::send(me, std::string("hi"));
    });
    EXPECT_EQ(co_await once(), "message hi");
    // A channel value while the mailbox has nothing the select accepts.
    bl::spawn([jobs]() -> bl::process { co_await jobs.send(3); });
    EXPECT_EQ(co_await once(), "job 3");
    // A message already queued.
    bl::send(me, 500);
    EXPECT_EQ(co_await once(), "big 500");
    EXPECT_EQ(co_await bl::receive<int>(), 7);  // the one no case took is still there
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(select, with_a_channel_and_the_mailbox_both_ready_one_runs_and_nothing_is_lost) {
  run([&]() -> bl::process {
    auto ch = bl::make_chan<int>(1000);
    int from_channel = 0, from_mailbox = 0;
    for (int i = 0; i < 400; ++i) {
      CO_ASSERT_TRUE(ch.try_send(i));
      bl::send(bl::self(), i);
    }
    for (int i = 0; i < 400; ++i)
      co_await bl::select(bl::on_receive(ch, [&](std::optional<int>) { ++from_channel; }),
                          bl::on_message([&](int) { ++from_mailbox; }));
    EXPECT_GT(from_channel, 0);
    EXPECT_GT(from_mailbox, 0);
    EXPECT_EQ(from_channel + from_mailbox, 400);
    EXPECT_EQ(ch.len(), static_cast<std::size_t>(400 - from_channel));
    EXPECT_EQ(co_await queued_messages(), static_cast<std::uint32_t>(400 - from_mailbox));
    while (co_await queued_messages() != 0) co_await bl::receive<int>();
  });
}

TEST_P(select, a_process_killed_in_a_select_leaves_every_channel_working) {
  run([&]() -> bl::process {
    auto a = bl::make_chan<int>();
    auto b = bl::make_chan<int>();
    bl::pid waiter = bl::spawn([a, b]() -> bl::process {
      co_await bl::select(bl::on_receive(a, [](std::optional<int>) {}), bl::on_send(b, 1, [] {}),
                          bl::on_message([](int) {}));
    });
    EXPECT_TRUE(co_await blocked_on_channel(waiter));
    bl::ref m = bl::monitor(waiter);
    bl::exit(waiter, bl::atoms::kill);
    co_await bl::receive(bl::when([&](const bl::down_message& d) { return d.monitor == m; },
                                  [](bl::down_message) {}));
    // Neither channel still has the dead select's case queued.
    EXPECT_EQ(a.try_receive().status(), bl::chan_status::would_block);
    int v = 9;
    EXPECT_FALSE(a.try_send(v));
    EXPECT_EQ(b.try_receive().status(), bl::chan_status::would_block);
    bl::spawn([a]() -> bl::process { co_await a.send(1); });
    EXPECT_EQ(*co_await a.receive(), 1);
  });
}

TEST_P(select, a_select_with_no_case_waits_until_killed) {
  run([&]() -> bl::process {
    bl::pid forever = bl::spawn([]() -> bl::process { co_await bl::select(); });
    EXPECT_TRUE(co_await blocked_on_channel(forever));
    bl::exit(forever, bl::atoms::kill);
  });
}

TEST_P(select, one_consumer_selects_over_producers_until_all_are_closed) {
  const long each = scaled(5000);
  long total = 0;
  run([&]() -> bl::process {
    std::array<bl::chan<long>, 4> chans{bl::make_chan<long>(16), bl::make_chan<long>(16),
                                        bl::make_chan<long>(16), bl::make_chan<long>(16)};
    for (auto& c : chans)
      bl::spawn([c, each]() -> bl::process {
        for (long i = 1; i <= each; ++i) co_await c.send(i);
        c.close();
      });
    std::array<bl::chan<long>, 4> live = chans;
    int open = 4;
    while (open > 0) {
      auto take = [&](int k) {
        return [&, k](std::optional<long> v) {
          if (v) {
            total += *v;
          } else {
            live[static_cast<std::size_t>(k)] = bl::chan<long>();  // nil: off
            --open;
          }
        };
      };
      co_await bl::select(bl::on_receive(live[0], take(0)), bl::on_receive(live[1], take(1)),
                          bl::on_receive(live[2], take(2)), bl::on_receive(live[3], take(3)));
    }
  });
  EXPECT_EQ(total, 4 * each * (each + 1) / 2);
}

}  // namespace
