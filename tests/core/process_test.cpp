// process_*: spawning, identity, how processes end, and what ending releases.
#include <array>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "support/node_fixture.hpp"

// ThreadSanitizer's runtime defines the global operator new itself, so the test
// that replaces it is left out there (the other builds run it).
#if defined(__SANITIZE_THREAD__)
#define BEAMLINE_TEST_OWN_OPERATOR_NEW 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BEAMLINE_TEST_OWN_OPERATOR_NEW 0
#endif
#endif
#ifndef BEAMLINE_TEST_OWN_OPERATOR_NEW
#define BEAMLINE_TEST_OWN_OPERATOR_NEW 1
#endif

// Memory that runs out on demand: while refuse_large_allocations is set on a thread,
// operator new fails there for blocks over 16 KiB. The runtime's pool takes blocks
// that large (coroutine frames included) from operator new.
namespace {
thread_local bool refuse_large_allocations = false;
}  // namespace

#if BEAMLINE_TEST_OWN_OPERATOR_NEW
void* operator new(std::size_t size) {
  if (refuse_large_allocations && size > 16384) throw std::bad_alloc();
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}
void operator delete(void* block) noexcept {
  std::free(block);
}
void operator delete(void* block, std::size_t) noexcept {
  std::free(block);
}
#endif

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

TEST_P(process, an_escaping_beamline_error_ends_the_process_with_its_reason_alone) {
  bl::term reason;
  run([&]() -> bl::process {
    bl::spawn_monitor([]() -> bl::process {
      throw bl::error(bl::atom("my_reason"), "explained");
      co_return;
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(bl::atom("my_reason")));  // no stack trace, no text
}

TEST_P(process, a_swallowed_exit_signal_ends_the_process_at_its_next_check) {
  bool ran_on = false;
  bool ran_past_check = false;
  bl::term reason;
  run([&]() -> bl::process {
    bl::spawn_monitor([&]() -> bl::process {
      try {
        bl::exit(bl::self(), bl::atom("swallowed"));  // an exit signal, acted upon at once
      } catch (...) {
        // does not rethrow
      }
      ran_on = true;
      co_await bl::check();
      ran_past_check = true;
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_TRUE(ran_on);
  EXPECT_FALSE(ran_past_check);
  EXPECT_EQ(reason, bl::term(bl::atom("swallowed")));
}

TEST_P(process, exit_with_a_reason_is_an_exception_the_process_may_catch) {
  // As Erlang's exit/1: only exit signals cannot be caught for good.
  bl::term reason;
  run([&]() -> bl::process {
    bl::spawn_monitor([&]() -> bl::process {
      try {
        bl::exit(bl::atom("caught"));
      } catch (const bl::exit_exception&) {
      }
      co_await bl::check();
    });
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(reason, bl::term(bl::atoms::normal));
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
    bl::pid me = bl::self();
    [[maybe_unused]] auto [victim, m] = bl::spawn_monitor([&, me]() -> bl::process {
      raii_flag flag{&destroyed};
      bl::send(me, 0);
      co_await bl::receive<int>();  // never comes
    });
    co_await bl::receive<int>();  // the flag exists
    bl::exit(victim, bl::atoms::kill);
    reason = (co_await bl::receive<bl::down_message>()).reason;
  });
  EXPECT_EQ(destroyed.load(), 1);
  EXPECT_EQ(reason, bl::term(bl::atoms::killed));
}

bl::task<int> nested_wait(std::atomic<int>* destroyed, bl::pid parent) {
  raii_flag flag{destroyed};
  bl::send(parent, 0);
  co_return co_await bl::receive<int>();
}

TEST_P(process, a_kill_destroys_nested_task_frames_too) {
  std::atomic<int> destroyed{0};
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    [[maybe_unused]] auto [victim, m] = bl::spawn_monitor([&, me]() -> bl::process {
      raii_flag outer{&destroyed};
      co_await nested_wait(&destroyed, me);
    });
    co_await bl::receive<int>();  // both flags exist
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
    bl::pid me = bl::self();
    [[maybe_unused]] auto [p, m] = bl::spawn_monitor([]() -> bl::process { co_return; });
    co_await bl::receive<bl::down_message>();
    // On one worker the next spawn takes the dead process's slot: the message to the
    // old pid must not reach the new occupant, which answers the first int it gets.
    bl::pid occupant = bl::spawn([me]() -> bl::process {
      int n = co_await bl::receive<int>();
      bl::send(me, n);
    });
    if (GetParam().schedulers == 1) {
      EXPECT_EQ(occupant.id, p.id);
    }
    bl::send(p, 1);
    bl::send(bl::pid{999999, 3, 0, 0}, 1);
    bl::send(bl::pid{}, 1);
    bl::send(occupant, 0);
    EXPECT_EQ(co_await bl::receive<int>(), 0);
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

// A process whose coroutine frame is over 16 KiB; it answers an int plus one.
bl::process big_frame(bl::pid parent) {
  // Read after the suspension at an index known only then, so that the whole buffer
  // lives in the frame whatever the compiler can prove about its contents.
  std::array<char, 32768> buffer;
  for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<char>(i + parent.id);
  int n = co_await bl::receive<int>();
  volatile char element = buffer[static_cast<std::size_t>(n) % buffer.size()];
  (void)element;
  bl::send(parent, n + 1);
}

TEST_P(process, a_spawn_without_memory_is_bad_alloc_and_leaves_nothing_behind) {
  if (!BEAMLINE_TEST_OWN_OPERATOR_NEW)
    GTEST_SKIP() << "ThreadSanitizer defines operator new, which this test replaces";
  int failures = 0;
  int answer = 0;
  int stray_signals = -1;
  run([&]() -> bl::process {
    bl::trap_exit(true);
    bl::pid me = bl::self();
    auto without_memory = [&](auto&& spawn_it) {
      refuse_large_allocations = true;
      try {
        spawn_it();
      } catch (const std::bad_alloc&) {
        ++failures;
      }
      refuse_large_allocations = false;
    };
    // The frame of a directly spawned function, and one made by a stored closure.
    without_memory([&] { bl::spawn(big_frame, me); });
    without_memory([&] { bl::spawn_link([me] { return big_frame(me); }); });
    without_memory([&] { bl::spawn_monitor(big_frame, me); });
    // The node keeps running, and the same spawn works with memory back.
    [[maybe_unused]] auto [p, m] = bl::spawn_monitor(big_frame, me);
    bl::send(p, 41);
    answer = co_await bl::receive<int>();
    auto d = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(d.monitor, m);
    // A failed spawn_link or spawn_monitor left no link or monitor behind: it would
    // have been told at once (noproc), before the working spawn's DOWN.
    stray_signals = 0;
    for (;;) {
      bool got = co_await bl::receive([](const bl::down_message&) { return true; },
                                      [](const bl::exit_message&) { return true; },
                                      bl::after(0ms, [] { return false; }));
      if (!got) break;
      ++stray_signals;
    }
  });
  EXPECT_EQ(failures, 3);
  EXPECT_EQ(answer, 42);
  EXPECT_EQ(stray_signals, 0);
}

TEST_P(process, destroying_a_node_destroys_every_remaining_process) {
  std::atomic<int> destroyed{0};
  {
    bl::node node(options());
    node.spawn([&]() -> bl::process {
      bl::pid me = bl::self();
      for (int i = 0; i < 100; ++i)
        bl::spawn([&, me]() -> bl::process {
          raii_flag flag{&destroyed};
          bl::send(me, 0);
          co_await bl::receive<int>();
        });
      for (int i = 0; i < 100; ++i) co_await bl::receive<int>();  // every flag exists
      bl::stop_node();
      co_await bl::receive<std::string>();
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
    bl::pid from = co_await bl::receive<bl::pid>();
    ++rounds;
    bl::send(from, 1);
    co_await bl::receive<int>();
    ++rounds;
  });
  node.spawn(
      [&](bl::pid w) -> bl::process {
        bl::send(w, bl::self());
        co_await bl::receive<int>();  // the first round is done
        bl::stop_node();
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
