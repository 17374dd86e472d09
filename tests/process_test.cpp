// process_*: spawning, identity, how processes end, and what ending releases.
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class process : public node_test {};
BEAMLINE_SWEEP_WORKERS(process);

bl::process child_that_reports(bl::pid parent, std::string text, int n) {
  bl::send(parent, text, n);
  co_return;
}

TEST_P(process, spawn_passes_copies_of_the_arguments) {
  std::string got;
  int got_n = 0;
  run([&]() -> bl::process {
    std::string text = "hello";
    bl::spawn(child_that_reports, bl::self(), text, 42);
    text = "changed";
    auto [s, n] = co_await bl::receive<std::string, int>();
    got = s;
    got_n = n;
  });
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(got_n, 42);
}

TEST_P(process, lambdas_with_captures_stay_valid_for_the_process_life) {
  int result = 0;
  run([&]() -> bl::process {
    auto owner = std::make_shared<int>(7);
    bl::pid child = bl::spawn([owner, parent = bl::self()]() -> bl::process {
      co_await bl::sleep(1ms);  // the spawning call has long returned
      bl::send(parent, *owner * 6);
    });
    (void)child;
    result = co_await bl::receive<int>();
  });
  EXPECT_EQ(result, 42);
}

TEST_P(process, pids_print_the_erlang_way_and_name_the_process) {
  std::string printed;
  bool same = false;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    printed = me.to_string();
    bl::pid child = bl::spawn(
        [](bl::pid parent) -> bl::process {
          bl::send(parent, bl::self());
          co_return;
        },
        me);
    bl::pid reported = co_await bl::receive<bl::pid>();
    same = reported == child && reported != me;
  });
  EXPECT_EQ(printed.substr(0, 3), "<0.");
  EXPECT_EQ(printed.back(), '>');
  EXPECT_TRUE(same);
}

TEST_P(process, an_escaping_exception_ends_only_that_process_with_its_type_and_text) {
  bl::term reason;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [child, m] = bl::spawn_monitor([]() -> bl::process {
      throw std::runtime_error("boom");
      co_return;
    });
    (void)child;
    auto down = co_await bl::receive<bl::down_message>();
    reason = down.reason;
    EXPECT_EQ(down.monitor, m);
  });
  EXPECT_EQ(reason.to_string(), "{exception,{'std::runtime_error',<<\"boom\">>}}");
}

TEST_P(process, any_thrown_value_ends_the_process_with_a_reason) {
  bl::term reason;
  run([&]() -> bl::process {
    bl::spawn_monitor([]() -> bl::process {
      throw 42;
      co_return;
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason.to_string(), "{exception,{int,undefined}}");
}

TEST_P(process, exit_ends_the_caller_with_the_reason) {
  bl::term reason;
  run([&]() -> bl::process {
    bl::spawn_monitor([]() -> bl::process {
      bl::exit(bl::atom("bye"));
      co_return;
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(bl::atom("bye")));
}

TEST_P(process, a_body_that_returns_ends_normally) {
  bl::term reason;
  run([&]() -> bl::process {
    bl::spawn_monitor([]() -> bl::process { co_return; });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(bl::atoms::normal));
}

struct raii_flag {
  std::atomic<int>* counter;
  ~raii_flag() { counter->fetch_add(1); }
};

TEST_P(process, a_process_killed_while_suspended_runs_its_destructors) {
  std::atomic<int> destroyed{0};
  bl::term reason;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [victim, m] = bl::spawn_monitor([&]() -> bl::process {
      raii_flag flag{&destroyed};
      co_await bl::receive<int>();  // never comes
    });
    co_await bl::sleep(2ms);
    bl::exit(victim, bl::atoms::kill);
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(destroyed.load(), 1);
  EXPECT_EQ(reason, bl::term(bl::atoms::killed));
}

bl::task<int> nested_wait(std::atomic<int>* destroyed) {
  raii_flag flag{destroyed};
  co_return co_await bl::receive<int>();
}

TEST_P(process, a_kill_destroys_nested_task_frames_too) {
  std::atomic<int> destroyed{0};
  run([&]() -> bl::process {
    [[maybe_unused]] auto [victim, m] = bl::spawn_monitor([&]() -> bl::process {
      raii_flag outer{&destroyed};
      co_await nested_wait(&destroyed);
    });
    co_await bl::sleep(2ms);
    bl::exit(victim, bl::atoms::kill);
    co_await bl::receive<bl::down_message>();
  });
  EXPECT_EQ(destroyed.load(), 2);
}

TEST_P(process, a_process_killed_while_running_ends_at_its_next_check) {
  std::atomic<long> iterations{0};
  std::atomic<int> destroyed{0};
  bl::term reason;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [busy, m] = bl::spawn_monitor([&]() -> bl::process {
      raii_flag flag{&destroyed};
      for (;;) {
        iterations.fetch_add(1, std::memory_order_relaxed);
        co_await bl::check();
      }
    });
    while (iterations.load() < 1000) co_await bl::yield();
    bl::exit(busy, bl::atom("stop"));
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(bl::atom("stop")));
  EXPECT_EQ(destroyed.load(), 1);
}

TEST_P(process, check_without_await_throws_the_exit_at_that_point) {
  bool after_check_ran = false;
  run([&]() -> bl::process {
    [[maybe_unused]] auto [p, m] = bl::spawn_monitor([&]() -> bl::process {
      bl::exit(bl::self(), bl::atom("now"));  // acted upon at once
      after_check_ran = true;
      co_return;
    });
    auto d = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(d.reason, bl::term(bl::atom("now")));
  });
  EXPECT_FALSE(after_check_ran);
}

TEST_P(process, is_alive_follows_the_process_life) {
  run([&]() -> bl::process {
    EXPECT_TRUE(bl::is_alive(bl::self()));
    [[maybe_unused]] auto [p, m] =
        bl::spawn_monitor([]() -> bl::process { co_await bl::receive<int>(); });
    EXPECT_TRUE(bl::is_alive(p));
    bl::send(p, 1);
    co_await bl::receive<bl::down_message>();
    EXPECT_FALSE(bl::is_alive(p));
    EXPECT_FALSE(bl::is_alive(bl::pid{}));
    EXPECT_FALSE(bl::is_alive(bl::pid{123456, 0, 0, 0}));
  });
}

TEST_P(process, a_message_to_a_dead_or_unknown_pid_is_dropped) {
  run([&]() -> bl::process {
    [[maybe_unused]] auto [p, m] = bl::spawn_monitor([]() -> bl::process { co_return; });
    co_await bl::receive<bl::down_message>();
    bl::send(p, std::string("lost"));
    bl::send(bl::pid{999999, 3, 0, 0}, 1);
    bl::send(bl::pid{}, 1);
    int n = co_await bl::receive([](int) { return 1; }, bl::after(1ms, [] { return 0; }));
    EXPECT_EQ(n, 0);
  });
}

TEST_P(process, a_full_process_table_is_a_clear_error_and_the_node_keeps_running) {
  auto o = options();
  o.max_processes = 20;
  bl::node node(o);
  int spawned = 0;
  bool limit_seen = false;
  node.spawn([&]() -> bl::process {
    std::vector<bl::pid> children;
    try {
      for (;;) {
        children.push_back(bl::spawn([]() -> bl::process { co_await bl::receive<int>(); }));
        ++spawned;
      }
    } catch (const bl::system_limit_error& e) {
      limit_seen = std::string(e.what()).find("max_processes") != std::string::npos;
    }
    for (auto& c : children) bl::send(c, 0);
    co_return;
  });
  node.run();
  EXPECT_TRUE(limit_seen);
  EXPECT_EQ(spawned, 18);  // 19 usable slots: the spawner holds one
  EXPECT_EQ(node.statistics().live_processes, 0u);
}

TEST_P(process, destroying_a_node_destroys_every_remaining_process) {
  std::atomic<int> destroyed{0};
  {
    bl::node node(options());
    node.spawn([&]() -> bl::process {
      for (int i = 0; i < 100; ++i)
        bl::spawn([&]() -> bl::process {
          raii_flag flag{&destroyed};
          co_await bl::receive<int>();
        });
      co_await bl::sleep(1ms);
      bl::stop_node();
      co_await bl::receive<int>();
    });
    node.run();
    EXPECT_EQ(node.statistics().live_processes, 101u);
  }
  EXPECT_EQ(destroyed.load(), 100);
}

TEST_P(process, run_can_continue_after_stop) {
  int rounds = 0;
  bl::node node(options());
  bl::pid waiter = node.spawn([&]() -> bl::process {
    co_await bl::receive<int>();
    ++rounds;
    co_await bl::receive<int>();
    ++rounds;
  });
  node.spawn(
      [&](bl::pid w) -> bl::process {
        bl::send(w, 1);
        co_await bl::sleep(1ms);
        bl::stop_node();
        co_return;
      },
      waiter);
  node.run();
  EXPECT_EQ(rounds, 1);
  node.send(waiter, 2);
  node.run();
  EXPECT_EQ(rounds, 2);
  EXPECT_EQ(node.statistics().live_processes, 0u);
}

TEST(process_outside, the_api_outside_a_process_is_a_clear_error) {
  EXPECT_THROW(bl::self(), std::logic_error);
  EXPECT_THROW(bl::send(bl::pid{1, 0, 0, 0}, 1), std::logic_error);
  EXPECT_THROW(bl::trap_exit(true), std::logic_error);
  EXPECT_THROW(bl::link(bl::pid{1, 0, 0, 0}), std::logic_error);
  EXPECT_THROW((void)bl::check(), std::logic_error);
  bl::node node;
  EXPECT_THROW(node.spawn_opt({.link = true}, []() -> bl::process { co_return; }),
               std::logic_error);
  EXPECT_EQ(node.statistics().live_processes, 0u);
}

}  // namespace
