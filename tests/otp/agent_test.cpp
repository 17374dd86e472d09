// agent_* and task_*: Elixir's Agent and Task (agent.hpp, async.hpp).
#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace gs = bl::gen_server;

class agent : public node_test {};
BEAMLINE_SWEEP_WORKERS(agent);
class task : public node_test {};
BEAMLINE_SWEEP_WORKERS(task);

// --- agent ----------------------------------------------------------------------------------

TEST_P(agent, get_update_get_and_update_and_cast_act_on_the_state_in_order) {
  run([&]() -> bl::process {
    auto started = co_await bl::agent<int>::start_link([] { return 1; });
    CO_ASSERT_TRUE(started.is_ok());
    bl::agent<int> a = started.agent();
    EXPECT_EQ(co_await a.get([](const int& n) { return n; }), 1);
    co_await a.update([](int& n) { n += 10; });             // mutate in place
    co_await a.update([](const int& n) { return n * 2; });  // or return the new state
    EXPECT_EQ(co_await a.get([](const int& n) { return n; }), 22);
    a.cast([](int& n) { ++n; });
    int old = co_await a.get_and_update([](int& n) { return std::exchange(n, 100); });
    EXPECT_EQ(old, 23);
    auto pair = co_await a.get_and_update(
        [](const int& n) { return std::pair<std::string, int>(std::to_string(n), n + 1); });
    EXPECT_EQ(pair, "100");
    EXPECT_EQ(co_await a.get([](const int& n) { return n; }), 101);
    co_await a.stop();
  });
}

TEST_P(agent, holds_any_state_type_and_can_be_named) {
  run([&]() -> bl::process {
    using list = std::vector<std::string>;
    auto started = co_await bl::agent<list>::start([] { return list{"a"}; }, bl::atom("names"));
    CO_ASSERT_TRUE(started.is_ok());
    bl::agent<list> by_name(bl::atom("names"));
    by_name.cast([](list& l) { l.push_back("b"); });
    std::string joined = co_await by_name.get([](const list& l) {
      std::string s;
      for (const auto& x : l) s += x;
      return s;
    });
    EXPECT_EQ(joined, "ab");
    co_await by_name.stop();
  });
}

TEST_P(agent, a_function_that_throws_crashes_the_agent_and_the_caller_gets_the_reason) {
  run([&]() -> bl::process {
    auto a = (co_await bl::agent<int>::start([] { return 0; })).agent();
    bl::term f = co_await failure_of(
        a.get([](const int&) -> int { throw bl::error(bl::atom("bad_state"), "bad"); }));
    EXPECT_EQ(f, A("bad_state"));
    EXPECT_EQ(co_await failure_of(a.get([](const int& n) { return n; })), A("noproc"));
  });
}

TEST_P(agent, a_start_function_that_throws_fails_the_start) {
  run([&]() -> bl::process {
    auto r = co_await bl::agent<int>::start([]() -> int { throw std::runtime_error("no"); });
    EXPECT_TRUE(r.is_error());
    EXPECT_EQ(r.reason()[0], A("exception"));
  });
}

TEST_P(agent, many_processes_update_one_agent_without_losing_an_update) {
  const long writers = 10, each = scaled(100);
  run([&]() -> bl::process {
    auto a = (co_await bl::agent<long>::start([] { return 0L; })).agent();
    std::vector<bl::ref> monitors;
    for (long w = 0; w < writers; ++w) {
      auto [p, m] = bl::spawn_monitor([a, each]() -> bl::process {
        for (long i = 0; i < each; ++i) {
          if (i % 2 == 0)
            a.cast([](long& n) { ++n; });
          else
            co_await a.update([](long& n) { ++n; });
        }
      });
      (void)p;
      monitors.push_back(m);
    }
    for (std::size_t i = 0; i < monitors.size(); ++i) co_await bl::receive<bl::down_message>();
    EXPECT_EQ(co_await a.get([](const long& n) { return n; }), writers * each);
    co_await a.stop();
  });
}

// --- task -----------------------------------------------------------------------------------

TEST_P(task, async_then_await_returns_the_result) {
  run([&]() -> bl::process {
    auto t = bl::async([](int x) { return x * 2; }, 21);
    EXPECT_EQ(co_await t.await(), 42);
    auto v = bl::async([] {});
    co_await v.await();
    auto c = bl::async([]() -> bl::task<std::string> {
      co_await bl::sleep(1ms);
      co_return "slept";
    });
    EXPECT_EQ(co_await c.await(), "slept");
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task, a_crashing_task_takes_a_non_trapping_owner_with_it) {
  bl::term owner_reason;
  run([&]() -> bl::process {
    auto [owner, m] = bl::spawn_monitor([]() -> bl::process {
      auto t = bl::async([]() -> int { throw bl::error(bl::atom("task_failed"), "failed"); });
      co_await t.await();
    });
    (void)owner;
    (void)m;
    owner_reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  // The link reaches the owner first, or await's exit does: both carry the reason.
  bool direct = owner_reason == A("task_failed");
  bool via_await = owner_reason.is_tuple() && owner_reason[0] == A("task_failed");
  EXPECT_TRUE(direct || via_await) << owner_reason;
}

TEST_P(task, a_trapping_owner_gets_the_crash_from_await) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto t = bl::async([]() -> int { throw bl::error(bl::atom("task_failed"), "failed"); });
    EXPECT_EQ(co_await failure_of(t.await()), A("task_failed"));
    // The crash is reported once: await took the 'EXIT' message out.
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task, a_trapping_owner_keeps_no_exit_message_from_a_task_that_returned) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto t = bl::async([] { return 3; });
    EXPECT_EQ(co_await t.await(), 3);
    auto y = bl::async([] { return 4; });
    auto r = co_await y.yield(10s);
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->value(), 4);
    EXPECT_TRUE(co_await eventually(
        [&]() -> bool { return !bl::is_alive(t.pid()) && !bl::is_alive(y.pid()); }));
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

struct release {};

TEST_P(task, await_timeout_exits_and_the_late_result_never_arrives) {
  run([&]() -> bl::process {
    bl::trap_exit(true);  // survive the task's end
    // The task answers only when released, after the await has timed out.
    auto t = bl::async([]() -> bl::task<int> {
      co_await bl::receive<release>();
      co_return 1;
    });
    try {
      co_await t.await(5ms);
      ADD_FAILURE();
    } catch (const bl::call_exit& e) {
      EXPECT_EQ(e.failure(), A("timeout"));
      EXPECT_EQ(e.reason()[1][0], A("task"));
    }
    bl::send(t.pid(), release{});
    // The task's EXIT (normal, as we trap) comes after its result would have: once it
    // is here, the dropped result would be too.
    auto e = co_await bl::receive<bl::exit_message>();
    EXPECT_EQ(e.reason, A("normal"));
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task, yield_returns_nothing_until_the_task_is_done) {
  run([&]() -> bl::process {
    auto t = bl::async([]() -> bl::task<int> {
      co_await bl::receive<release>();
      co_return 7;
    });
    auto first = co_await t.yield(0ms);
    EXPECT_FALSE(first.has_value());
    bl::send(t.pid(), release{});
    auto second = co_await t.yield(10s);
    CO_ASSERT_TRUE(second.has_value());
    EXPECT_TRUE(second->is_ok());
    EXPECT_EQ(second->value(), 7);
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task, shutdown_stops_a_running_task_and_returns_a_finished_ones_result) {
  run([&]() -> bl::process {
    auto slow = bl::async([]() -> bl::task<int> {
      co_await bl::sleep(10s);
      co_return 1;
    });
    auto stopped = co_await slow.shutdown();
    EXPECT_FALSE(stopped.has_value());
    EXPECT_FALSE(bl::is_alive(slow.pid()));

    auto quick = bl::async([] { return 5; });
    EXPECT_TRUE(co_await eventually([&] { return !bl::is_alive(quick.pid()); }));
    auto done = co_await quick.shutdown(bl::supervisor::brutal_kill);
    CO_ASSERT_TRUE(done.has_value());
    EXPECT_EQ(done->value(), 5);

    // A task that ignores shutdown (it traps exits) is killed after the timeout.
    bl::pid self = bl::self();
    auto stubborn = bl::async([self]() -> bl::task<int> {
      bl::trap_exit(true);
      bl::send(self, A("trapping"));
      co_await bl::sleep(10s);
      co_return 1;
    });
    EXPECT_EQ(co_await bl::receive<bl::term>(), A("trapping"));
    auto t0 = std::chrono::steady_clock::now();
    auto killed = co_await stubborn.shutdown(20ms);
    EXPECT_FALSE(killed.has_value());
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task, await_many_collects_every_result_in_order) {
  run([&]() -> bl::process {
    std::vector<bl::async_task<int>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(bl::async([](int x) { return x * x; }, i));
    auto results = co_await bl::await_many(std::move(tasks));
    EXPECT_EQ(results, (std::vector<int>{0, 1, 4, 9, 16}));
  });
}

// Runs async_stream over 3 * limit + 1 inputs and checks that exactly `limit` tasks
// run at once: the first `limit` tasks end only once all of them are running (so
// fewer than `limit` at once never finish: they give up after 10 s and say so), and
// task `limit` finds one of them ended when it starts (had more than `limit` been
// started at once, it would find none).
struct concurrency_probe {
  std::atomic<long> arrived{0};
  std::atomic<long> finished{0};
  std::atomic<long> too_early{0};
  std::atomic<long> gave_up{0};
};

bl::task<std::vector<bl::task_result<long>>> stream_with_probe(concurrency_probe& probe, long limit,
                                                               bl::stream_options options) {
  std::vector<long> inputs;
  for (long i = 0; i < 3 * limit + 1; ++i) inputs.push_back(i);
  co_return co_await bl::async_stream(
      inputs,
      [&probe, limit](long x) -> bl::task<long> {
        // (Copied into the frame: the closure need not outlive the first suspension.)
        concurrency_probe* p = &probe;
        const long n = limit;
        if (x < n) {
          ++p->arrived;
          if (!co_await eventually([p, n] { return p->arrived.load() >= n; })) ++p->gave_up;
          ++p->finished;
        } else if (x == n && p->finished.load() == 0) {
          ++p->too_early;
        }
        co_return x + 100;
      },
      options);
}

void check_probe(const concurrency_probe& probe) {
  EXPECT_EQ(probe.gave_up.load(), 0) << "fewer tasks ran at once than the limit";
  EXPECT_EQ(probe.too_early.load(), 0) << "more tasks ran at once than the limit";
}

TEST_P(task, async_stream_runs_max_concurrency_tasks_at_once_and_keeps_input_order) {
  concurrency_probe probe;
  run([&]() -> bl::process {
    auto results = co_await stream_with_probe(probe, 3, {.max_concurrency = 3, .timeout = 60s});
    CO_ASSERT_TRUE(results.size() == 10u);
    for (long i = 0; i < 10; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)].value(), i + 100);
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
  check_probe(probe);
}

TEST_P(task, async_stream_runs_one_task_per_scheduler_by_default) {
  concurrency_probe probe;
  const long schedulers = GetParam().schedulers;
  run([&]() -> bl::process {
    auto results = co_await stream_with_probe(probe, schedulers, {.timeout = 60s});
    EXPECT_EQ(static_cast<long>(results.size()), 3 * schedulers + 1);
    for (const auto& r : results) EXPECT_TRUE(r.is_ok());
  });
  check_probe(probe);
}

TEST_P(task, async_stream_records_crashes_and_kill_task_timeouts) {
  run([&]() -> bl::process {
    bl::trap_exit(true);  // a crashing task's link must not end the test process
    std::vector<int> inputs{0, 1, 2};
    auto results = co_await bl::async_stream(inputs,
                                             [](int x) -> bl::task<int> {
                                               if (x == 1) throw bl::error(bl::atom("one"), "one");
                                               if (x == 2) co_await bl::sleep(10s);
                                               co_return x;
                                             },
                                             {.timeout = 30ms, .on_timeout = bl::kill_task});
    CO_ASSERT_TRUE(results.size() == 3u);
    EXPECT_TRUE(results[0].is_ok());
    EXPECT_EQ(results[1].exit_reason(), A("one"));
    EXPECT_EQ(results[2].exit_reason(), A("timeout"));
    EXPECT_EQ(co_await queued_messages(), 0u);  // no 'EXIT' left from the tasks
    // And the default on_timeout exits the caller.
    std::vector<int> slow{5};
    bl::term f = co_await failure_of(bl::async_stream(slow,
                                                      [](int) -> bl::task<int> {
                                                        co_await bl::sleep(10s);
                                                        co_return 0;
                                                      },
                                                      {.timeout = 10ms}));
    EXPECT_EQ(f, A("timeout"));
  });
}

}  // namespace
