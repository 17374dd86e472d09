// chan_*: Go's channel semantics on processes (beamline/chan.hpp): rendezvous,
// buffering, close, timeouts, the nil channel, kills while blocked, plain threads.
#include <algorithm>
#include <atomic>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "beamline/beamline.hpp"
#include "beamline/chan.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class chan : public node_test {};
BEAMLINE_SWEEP_WORKERS(chan);

bl::term reason_of(const bl::error& e) {
  return e.reason();
}

// Waits until `p` is blocked on a channel (for at most 10 s).
bl::task<bool> blocked_on_channel(bl::pid p) {
  co_return co_await eventually([p]() -> bl::task<bool> {
    std::optional<bl::process_info> info = co_await bl::process_info_of(p);
    co_return info && info->status.rfind("waiting: channel", 0) == 0;
  });
}

TEST_P(chan, an_unbuffered_send_waits_for_a_receiver_and_values_arrive_in_order) {
  std::atomic<int> sent{0};  // (outlives both processes)
  run([&]() -> bl::process {
    auto ch = bl::make_chan<int>();
    EXPECT_EQ(ch.cap(), 0u);
    bl::spawn([ch, &sent]() -> bl::process {
      for (int i = 0; i < 100; ++i) {
        co_await ch.send(i);
        sent.store(i + 1);
      }
    });
    for (int i = 0; i < 100; ++i) {
      // A rendezvous: the sender cannot be more than one value ahead of us.
      EXPECT_LE(sent.load(), i);
      std::optional<int> v = co_await ch.receive();
      CO_ASSERT_TRUE(v.has_value());
      EXPECT_EQ(*v, i);
    }
    EXPECT_EQ(ch.len(), 0u);
  });
}

TEST_P(chan, a_buffered_channel_holds_its_capacity_without_a_receiver_first_in_first_out) {
  run([&]() -> bl::process {
    auto ch = bl::make_chan<std::string>(3);
    EXPECT_EQ(ch.cap(), 3u);
    for (const char* s : {"a", "b", "c"}) EXPECT_TRUE(ch.try_send(std::string(s)));
    std::string extra = "d";
    EXPECT_FALSE(ch.try_send(extra));
    EXPECT_EQ(extra, "d");  // not sent: kept
    EXPECT_EQ(ch.len(), 3u);
    // A sender now waits until a receive makes room; its value goes to the back.
    bl::spawn([ch]() -> bl::process { co_await ch.send("d"); });
    EXPECT_TRUE(co_await eventually([&] { return ch.len() == 3u; }));
    std::vector<std::string> got;
    for (int i = 0; i < 4; ++i) got.push_back(*co_await ch.receive());
    EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "d"}));
    EXPECT_EQ(ch.try_receive().status(), bl::chan_status::would_block);
  });
}

TEST_P(chan, close_lets_receivers_drain_the_buffer_then_reports_closed) {
  run([&]() -> bl::process {
    auto ch = bl::make_chan<int>(4);
    for (int i = 1; i <= 3; ++i) co_await ch.send(i);
    ch.close();
    int sum = 0;
    while (auto v = co_await ch.receive()) sum += *v;  // Go's `for v := range ch`
    EXPECT_EQ(sum, 6);
    EXPECT_EQ(ch.try_receive().status(), bl::chan_status::closed);
    EXPECT_EQ((co_await ch.receive_for(1s)).status(), bl::chan_status::closed);
  });
}

TEST_P(chan, send_on_a_closed_channel_and_a_second_close_throw) {
  run([&]() -> bl::process {
    auto ch = bl::make_chan<int>(1);
    ch.close();
    try {
      co_await ch.send(1);
      ADD_FAILURE() << "send on a closed channel returned";
    } catch (const bl::error& e) {
      EXPECT_EQ(reason_of(e), A("send_on_closed_channel"));
    }
    int v = 2;
    EXPECT_THROW(ch.try_send(v), bl::error);
    EXPECT_EQ(v, 2);
    try {
      ch.close();
      ADD_FAILURE() << "a second close returned";
    } catch (const bl::error& e) {
      EXPECT_EQ(reason_of(e), A("close_of_closed_channel"));
    }
  });
}

TEST_P(chan, close_wakes_every_waiting_receiver_and_fails_every_waiting_sender) {
  run([&]() -> bl::process {
    const bl::pid me = bl::self();
    auto empty = bl::make_chan<int>();
    auto full = bl::make_chan<int>();
    std::vector<bl::pid> waiting;
    for (int i = 0; i < 3; ++i) {
      waiting.push_back(bl::spawn([empty, me]() -> bl::process {
        std::optional<int> v = co_await empty.receive();
        bl::send(me, std::string(v ? "value" : "closed"));
      }));
      waiting.push_back(bl::spawn([full, me]() -> bl::process {
        try {
          co_await full.send(1);
          bl::send(me, std::string("sent"));
        } catch (const bl::error& e) {
          bl::send(me, e.reason().to_string());
        }
      }));
    }
    for (const bl::pid& p : waiting) EXPECT_TRUE(co_await blocked_on_channel(p));
    empty.close();
    full.close();
    std::vector<std::string> got;
    for (int i = 0; i < 6; ++i) got.push_back(co_await bl::receive<std::string>());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"closed", "closed", "closed", "send_on_closed_channel",
                                             "send_on_closed_channel", "send_on_closed_channel"}));
  });
}

TEST_P(chan, receive_for_and_send_for_give_up_after_their_timeout) {
  run([&]() -> bl::process {
    auto ch = bl::make_chan<int>(1);
    auto t0 = std::chrono::steady_clock::now();
    bl::chan_result<int> r = co_await ch.receive_for(20ms);
    EXPECT_EQ(r.status(), bl::chan_status::timeout);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_EQ(co_await ch.send_for(1, 20ms), bl::chan_status::ok);  // room in the buffer
    EXPECT_EQ(co_await ch.send_for(2, 20ms), bl::chan_status::timeout);
    EXPECT_EQ(ch.len(), 1u);  // the timed-out value was dropped
    bl::chan_result<int> one = co_await ch.receive_for(20ms);
    CO_ASSERT_TRUE(one.ok());
    EXPECT_EQ(*one, 1);
    // A timeout that a sender beats: the value, not the timeout.
    bl::spawn([ch]() -> bl::process { co_await ch.send(3); });
    bl::chan_result<int> three = co_await ch.receive_for(10s);
    EXPECT_EQ(three.value(), 3);
  });
}

TEST_P(chan, the_nil_channel_never_completes_and_cannot_be_closed) {
  run([&]() -> bl::process {
    bl::chan<int> nil;
    EXPECT_TRUE(nil.is_nil());
    EXPECT_EQ(nil.try_receive().status(), bl::chan_status::would_block);
    int v = 1;
    EXPECT_FALSE(nil.try_send(v));
    EXPECT_EQ((co_await nil.receive_for(5ms)).status(), bl::chan_status::timeout);
    EXPECT_EQ(co_await nil.send_for(1, 5ms), bl::chan_status::timeout);
    EXPECT_THROW(nil.close(), bl::error);
    EXPECT_EQ(nil.len(), 0u);
    EXPECT_EQ(nil.cap(), 0u);
  });
}

// Counts its live copies, so that a test sees every value destroyed exactly once.
struct tracked {
  explicit tracked(std::atomic<long>* live) : live_(live) { ++*live_; }
  tracked(tracked&& other) noexcept : live_(other.live_) { ++*live_; }
  tracked& operator=(tracked&&) = delete;
  ~tracked() { --*live_; }
  std::atomic<long>* live_;
};

TEST_P(chan, a_process_killed_while_blocked_leaves_the_channel_working_and_leaks_nothing) {
  std::atomic<long> live{0};
  run([&]() -> bl::process {
    auto ch = bl::make_chan<tracked>();
    std::atomic<long>* counter = &live;
    bl::pid sender =
        bl::spawn([ch, counter]() -> bl::process { co_await ch.send(tracked(counter)); });
    bl::pid receiver_ch_other = bl::spawn([]() -> bl::process { co_await bl::receive<int>(); });
    auto other = bl::make_chan<tracked>();
    bl::pid receiver = bl::spawn([other]() -> bl::process { co_await other.receive(); });
    EXPECT_TRUE(co_await blocked_on_channel(sender));
    EXPECT_TRUE(co_await blocked_on_channel(receiver));
    for (bl::pid p : {sender, receiver, receiver_ch_other}) {
      bl::ref m = bl::monitor(p);
      bl::exit(p, bl::atoms::kill);
      co_await bl::receive(bl::when([&](const bl::down_message& d) { return d.monitor == m; },
                                    [](bl::down_message) {}));
    }
    EXPECT_EQ(live.load(), 0);  // the killed sender's value went with it
    // The channels go on: a new pair meets on each.
    bl::spawn([ch, counter]() -> bl::process { co_await ch.send(tracked(counter)); });
    EXPECT_TRUE((co_await ch.receive()).has_value());
    bl::spawn([other, counter]() -> bl::process { co_await other.send(tracked(counter)); });
    EXPECT_TRUE((co_await other.receive()).has_value());
  });
  EXPECT_EQ(live.load(), 0);
}

TEST_P(chan, a_blocked_process_says_it_waits_on_a_channel_and_where) {
  run([&]() -> bl::process {
    auto ch = bl::make_chan<int>();
    int line = 0;
    bl::pid waiter = bl::spawn([ch, &line]() -> bl::process {
      line = __LINE__ + 1;
      co_await ch.receive();
    });
    std::optional<bl::process_info> info;
    EXPECT_TRUE(co_await eventually([&]() -> bl::task<bool> {
      info = co_await bl::process_info_of(waiter);
      co_return info && info->status.rfind("waiting:", 0) == 0;
    }));
    CO_ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->status,
              "waiting: channel (" + std::string(__FILE__) + ":" + std::to_string(line) + ")");
    co_await ch.send(1);
  });
}

TEST_P(chan, plain_threads_send_and_receive_by_blocking) {
  auto to_process = bl::make_chan<int>(4);
  auto to_thread = bl::make_chan<int>();
  long thread_sum = 0;
  bool thread_send_failed = false;
  std::thread outside([&] {
    for (int i = 1; i <= 1000; ++i) to_process.send_blocking(i);
    to_process.close();
    while (auto v = to_thread.receive_blocking()) thread_sum += *v;
    try {
      to_thread.send_blocking(0);  // closed by now
    } catch (const bl::error&) {
      thread_send_failed = true;
    }
  });
  run([&]() -> bl::process {
    long sum = 0;
    while (auto v = co_await to_process.receive()) sum += *v;
    EXPECT_EQ(sum, 500500);
    EXPECT_THROW(to_process.send_blocking(1), std::logic_error);  // it would block a worker
    for (int i = 1; i <= 100; ++i) co_await to_thread.send(i);
    to_thread.close();
  });
  outside.join();
  EXPECT_EQ(thread_sum, 5050);
  EXPECT_TRUE(thread_send_failed);
}

TEST_P(chan, many_producers_and_consumers_lose_nothing_on_any_capacity) {
  for (std::size_t capacity : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
    const long producers = 8, consumers = 4, each = scaled(2000);
    std::atomic<long> total{0}, count{0};
    run([&]() -> bl::process {
      auto ch = bl::make_chan<long>(capacity);
      auto done = bl::make_chan<int>();
      for (long p = 0; p < producers; ++p)
        bl::spawn([ch, done, each, p]() -> bl::process {
          for (long i = 0; i < each; ++i) co_await ch.send(p * each + i);
          co_await done.send(1);
        });
      for (long c = 0; c < consumers; ++c)
        bl::spawn([ch, &total, &count]() -> bl::process {
          while (auto v = co_await ch.receive()) {
            total += *v;
            ++count;
          }
        });
      for (long p = 0; p < producers; ++p) co_await done.receive();
      ch.close();
    });
    const long n = producers * each;
    EXPECT_EQ(count.load(), n) << "capacity " << capacity;
    EXPECT_EQ(total.load(), n * (n - 1) / 2) << "capacity " << capacity;
  }
}

}  // namespace
