// task_supervisor_*: Elixir's Task.Supervisor (task_supervisor.hpp): tasks under a
// supervisor, linked to their caller or not.
#include <atomic>
#include <vector>

#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace ts = bl::task_supervisor;

class task_supervisor : public node_test {};
BEAMLINE_SWEEP_WORKERS(task_supervisor);

struct release {};

bl::task<bl::pid> start_tasks() {
  co_return (co_await ts::start_link()).pid_or_throw();
}

int fail_with_boom() {
  throw bl::error(bl::atom("boom"), "boom");
}

TEST_P(task_supervisor, async_nolink_runs_the_function_as_a_child_and_await_returns_its_result) {
  run([&]() -> bl::process {
    bl::pid tasks = co_await start_tasks();
    auto t = co_await ts::async_nolink(
        tasks, [](int x) { return x * 2; }, 21);
    EXPECT_FALSE(t.linked());
    EXPECT_EQ(co_await t.await(), 42);

    auto held = co_await ts::async_nolink(tasks, []() -> bl::task<int> {
      co_await bl::receive<release>();
      co_return 7;
    });
    EXPECT_EQ(co_await ts::children(tasks), std::vector<bl::pid>{held.pid()});
    bl::send(held.pid(), release{});
    EXPECT_EQ(co_await held.await(), 7);
    EXPECT_TRUE(co_await eventually([&]() -> bool { return !bl::is_alive(held.pid()); }));
    EXPECT_TRUE((co_await ts::children(tasks)).empty());
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task_supervisor, a_crashing_nolink_task_is_an_exit_result_and_the_caller_carries_on) {
  run([&]() -> bl::process {
    bl::pid tasks = co_await start_tasks();
    auto t = co_await ts::async_nolink(tasks, fail_with_boom);
    auto r = co_await t.yield(10s);
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->is_ok());
    EXPECT_EQ(r->exit_reason(), A("boom"));
    // await exits its caller with the reason, as bl::async's await does.
    auto again = co_await ts::async_nolink(tasks, fail_with_boom);
    EXPECT_EQ(co_await failure_of(again.await()), A("boom"));
    EXPECT_TRUE(bl::is_alive(tasks));  // temporary children: nothing to restart
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task_supervisor, a_task_that_fails_at_once_reports_its_own_reason_not_noproc) {
  run([&]() -> bl::process {
    bl::pid tasks = co_await start_tasks();
    for (int i = 0; i < 50; ++i) {
      auto t = co_await ts::async_nolink(tasks, fail_with_boom);
      auto r = co_await t.yield(10s);
      CO_ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->exit_reason(), A("boom"));
    }
  });
}

TEST_P(task_supervisor, a_linked_task_crash_takes_a_non_trapping_caller_down) {
  bl::term caller_reason;
  run([&]() -> bl::process {
    bl::pid tasks = co_await start_tasks();
    auto [caller, m] = bl::spawn_monitor([tasks]() -> bl::process {
      auto t = co_await ts::async(tasks, fail_with_boom);
      EXPECT_TRUE(t.linked());
      co_await bl::receive<release>();  // the link ends it before anything comes
    });
    (void)caller;
    (void)m;
    caller_reason = (co_await bl::receive<bl::down_message>()).reason;
    EXPECT_TRUE(bl::is_alive(tasks));
  });
  EXPECT_EQ(caller_reason, A("boom"));
}

TEST_P(task_supervisor, a_trapping_caller_sees_the_crash_once_with_no_exit_message_left) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    bl::pid tasks = co_await start_tasks();
    auto crash = co_await ts::async(tasks, fail_with_boom);
    EXPECT_EQ(co_await failure_of(crash.await()), A("boom"));
    auto fine = co_await ts::async(tasks, [] { return 1; });
    EXPECT_EQ(co_await fine.await(), 1);
    EXPECT_TRUE(co_await eventually([&]() -> bool { return !bl::is_alive(fine.pid()); }));
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task_supervisor, the_callers_end_stops_a_linked_task_and_not_a_nolink_one) {
  run([&]() -> bl::process {
    bl::pid tasks = co_await start_tasks();
    const bl::pid me = bl::self();
    auto body = [tasks, me]() -> bl::process {
      auto wait_forever = []() -> bl::task<int> {
        co_await bl::receive<release>();
        co_return 0;
      };
      auto linked = co_await ts::async(tasks, wait_forever);
      auto unlinked = co_await ts::async_nolink(tasks, wait_forever);
      bl::send(me, std::vector<bl::pid>{linked.pid(), unlinked.pid()});
      bl::exit(bl::atom("caller_ended"));
    };
    bl::spawn_monitor(body);
    auto pids = co_await bl::receive<std::vector<bl::pid>>();
    co_await bl::receive<bl::down_message>();
    EXPECT_TRUE(co_await eventually([&]() -> bool { return !bl::is_alive(pids[0]); }));
    EXPECT_TRUE(bl::is_alive(pids[1]));
    bl::send(pids[1], release{});
    EXPECT_TRUE(co_await eventually([&]() -> bool { return !bl::is_alive(pids[1]); }));
  });
}

TEST_P(task_supervisor, start_child_runs_a_task_nobody_awaits) {
  run([&]() -> bl::process {
    bl::pid tasks = co_await start_tasks();
    const bl::pid me = bl::self();
    bl::start_result r = co_await ts::start_child(
        tasks, [me](int x) { bl::send(me, x + 1); }, 41);
    EXPECT_TRUE(r.is_ok());
    EXPECT_EQ(co_await bl::receive<int>(), 42);
    EXPECT_TRUE(co_await eventually([&]() -> bool { return !bl::is_alive(r.pid()); }));
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task_supervisor, async_stream_nolink_records_crashes_and_the_caller_does_not_trap) {
  run([&]() -> bl::process {
    bl::pid tasks = co_await start_tasks();
    std::vector<int> inputs{0, 1, 2, 3, 4, 5};
    auto results = co_await ts::async_stream_nolink(tasks, inputs,
                                                    [](int x) {
                                                      if (x % 2 == 1)
                                                        throw bl::error(bl::atom("odd"), "odd");
                                                      return x * 10;
                                                    },
                                                    {.max_concurrency = 2});
    CO_ASSERT_TRUE(results.size() == 6u);
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (i % 2 == 0) {
        EXPECT_EQ(results[i].value(), static_cast<int>(i) * 10);
      } else {
        EXPECT_EQ(results[i].exit_reason(), A("odd"));
      }
    }
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task_supervisor, linked_async_stream_leaves_a_trapping_caller_no_exit_messages) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    bl::pid tasks = co_await start_tasks();
    std::vector<int> inputs{0, 1, 2};
    auto results = co_await ts::async_stream(tasks, inputs, [](int x) {
      if (x == 1) throw bl::error(bl::atom("one"), "one");
      return x;
    });
    CO_ASSERT_TRUE(results.size() == 3u);
    EXPECT_EQ(results[2].value(), 2);
    EXPECT_EQ(results[1].exit_reason(), A("one"));
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(task_supervisor, terminate_child_and_stopping_the_supervisor_stop_running_tasks) {
  run([&]() -> bl::process {
    bl::trap_exit(true);  // the supervisor's stop reaches us through the link as an EXIT
    bl::pid tasks = co_await start_tasks();
    auto sleeper = []() -> bl::task<int> {
      co_await bl::sleep(60s);
      co_return 0;
    };
    auto first = co_await ts::async_nolink(tasks, sleeper);
    EXPECT_TRUE((co_await ts::terminate_child(tasks, first.pid())).is_ok());
    auto r = co_await first.yield(10s);
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->exit_reason(), A("shutdown"));
    EXPECT_FALSE((co_await ts::terminate_child(tasks, first.pid())).is_ok());

    auto second = co_await ts::async_nolink(tasks, sleeper);
    co_await bl::supervisor::stop(tasks);
    EXPECT_FALSE(bl::is_alive(second.pid()));
  });
}

TEST_P(task_supervisor, starting_on_a_supervisor_that_is_gone_exits_the_caller_with_noproc) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    bl::pid tasks = co_await start_tasks();
    co_await bl::supervisor::stop(tasks);
    EXPECT_EQ(co_await failure_of(ts::async_nolink(tasks, [] { return 1; })), A("noproc"));
  });
}

}  // namespace
