// process_info_*: a process answers process_info_of with what it is doing (the wait
// it is in, and where in the program), its counters, and nothing once it is dead.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class process_info : public node_test {};
BEAMLINE_SWEEP_WORKERS(process_info);

struct stop {};

std::string site(int line) {
  return std::string(__FILE__) + ":" + std::to_string(line);
}

// Asks `target` until it answers with a status that starts with `prefix` (it may not
// have reached its wait yet), for at most 10 s.
bl::task<std::optional<bl::process_info>> wait_for_status(bl::pid target, std::string prefix) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    std::optional<bl::process_info> info = co_await bl::process_info_of(target);
    if (!info || info->status.rfind(prefix, 0) == 0) co_return info;
    if (std::chrono::steady_clock::now() > deadline) co_return info;
    co_await bl::sleep(1ms);
  }
}

TEST_P(process_info, a_receiving_process_reports_its_wait_its_queue_and_its_counters) {
  static int receive_line = 0;
  std::optional<bl::process_info> info;
  run([&]() -> bl::process {
    bl::pid parent = bl::self();
    bl::pid target = bl::spawn([parent]() -> bl::process {
      bl::send(parent, 1);
      bl::send(parent, 2);
      receive_line = __LINE__ + 1;
      co_await bl::receive([](stop) {});
    });
    co_await bl::receive<int>();
    co_await bl::receive<int>();
    bl::send(target, std::string("not for any handler"));
    bl::send(target, 3.5);
    info = co_await wait_for_status(target, "waiting: receive");
    bl::send(target, stop{});
  });
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->status, "waiting: receive (" + site(receive_line) + ")");
  EXPECT_EQ(info->message_queue_len, 2u);  // the two messages no handler takes
  EXPECT_EQ(info->messages_in, 2u);
  EXPECT_EQ(info->messages_out, 2u);
  EXPECT_GT(info->reductions, 0u);
  EXPECT_GT(info->memory, 0u);
  EXPECT_FALSE(info->trap_exit);
}

TEST_P(process_info, tells_sleep_blocking_and_call_waits_apart) {
  static int sleep_line = 0, blocking_line = 0, call_line = 0;
  std::optional<bl::process_info> sleeping, blocked, calling;
  // Shared with the dirty thread, which may still be in the call when the test ends.
  auto release = std::make_shared<std::atomic<bool>>(false);
  run([&]() -> bl::process {
    bl::pid sleeper = bl::spawn([]() -> bl::process {
      sleep_line = __LINE__ + 1;
      co_await bl::sleep(1h);
    });
    bl::pid blocker = bl::spawn([release]() -> bl::process {
      auto call = [release] {
        while (!release->load()) std::this_thread::sleep_for(1ms);
      };
      blocking_line = __LINE__ + 1;
      co_await bl::blocking(std::move(call));
    });
    bl::pid caller = bl::spawn([]() -> bl::process {
      bl::ref tag = bl::make_ref();
      call_line = __LINE__ + 1;
      co_await bl::receive(bl::since(tag), [tag](bl::ref r) { return r == tag; });
    });
    sleeping = co_await wait_for_status(sleeper, "waiting: sleep");
    blocked = co_await wait_for_status(blocker, "waiting: blocking");
    calling = co_await wait_for_status(caller, "waiting: call");
    release->store(true);
    bl::exit(sleeper, bl::atom("kill"));
    bl::exit(caller, bl::atom("kill"));
    bl::exit(blocker, bl::atom("kill"));
  });
  ASSERT_TRUE(sleeping && blocked && calling);
  EXPECT_EQ(sleeping->status, "waiting: sleep (" + site(sleep_line) + ")");
  EXPECT_EQ(blocked->status, "waiting: blocking (" + site(blocking_line) + ")");
  EXPECT_EQ(calling->status, "waiting: call (" + site(call_line) + ")");
}

TEST_P(process_info, a_socket_wait_is_io_read) {
  static int accept_line = 0;
  std::optional<bl::process_info> info;
  run([&]() -> bl::process {
    bl::pid server = bl::spawn([]() -> bl::process {
      auto listener = bl::net::tcp_listener::listen(bl::net::address::loopback_v4(0));
      if (!listener) co_return;
      accept_line = __LINE__ + 1;
      auto socket = co_await listener->accept(60s);
      (void)socket;
    });
    info = co_await wait_for_status(server, "waiting: io");
    bl::exit(server, bl::atom("kill"));
  });
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->status, "waiting: io read (" + site(accept_line) + ")");
}

TEST_P(process_info, a_dead_process_has_none_and_a_process_asking_itself_is_running) {
  std::optional<bl::process_info> dead, mine;
  bool asked = false;
  bl::pid me;
  run([&]() -> bl::process {
    me = bl::self();
    auto [dying, monitor] = bl::spawn_monitor([]() -> bl::process { co_return; });
    (void)monitor;
    co_await bl::receive([](const bl::down_message&) {});
    dead = co_await bl::process_info_of(dying);
    mine = co_await bl::process_info_of(bl::self());
    asked = true;
  });
  ASSERT_TRUE(asked);
  EXPECT_FALSE(dead.has_value());
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->status, "running");
  EXPECT_EQ(mine->process, me);
}

TEST_P(process_info, a_process_asked_while_waiting_goes_on_waiting) {
  bool got = false;
  run([&]() -> bl::process {
    bl::pid parent = bl::self();
    bl::pid target = bl::spawn([parent]() -> bl::process {
      int n = co_await bl::receive<int>();
      bl::send(parent, n + 1);
    });
    for (int i = 0; i < 20; ++i) {
      auto info = co_await bl::process_info_of(target);
      EXPECT_TRUE(info.has_value());
    }
    bl::send(target, 41);
    got = co_await bl::receive<int>() == 42;
  });
  EXPECT_TRUE(got);
}

// The body of the process the next test asks about: a named coroutine, so that its
// initial call names it.
const int linked_waiter_line = __LINE__ + 1;
bl::process linked_waiter(bl::pid parent) {
  bl::register_name(bl::atom("process_info_waiter"), bl::self());
  bl::link(parent);
  bl::monitor(parent);
  bl::send(parent, bl::self());
  co_await bl::receive([](stop) {});
}

TEST_P(process_info, names_the_registered_name_the_initial_call_links_and_monitors) {
  std::optional<bl::process_info> info;
  bl::pid me, waiter, watcher;
  run([&]() -> bl::process {
    me = bl::self();
    bl::spawn(linked_waiter, me);
    waiter = co_await bl::receive<bl::pid>();
    watcher = bl::spawn([waiter]() -> bl::process {
      bl::monitor(waiter);
      co_await bl::receive([](stop) {});
    });
    info = co_await wait_for_status(waiter, "waiting: receive");
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         info && info->monitored_by.size() < 2 && std::chrono::steady_clock::now() < deadline;)
      info = co_await bl::process_info_of(waiter);
    bl::unlink(waiter);
    bl::send(waiter, stop{});
    bl::send(watcher, stop{});
  });
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->registered_name, bl::atom("process_info_waiter"));
  EXPECT_EQ(info->initial_call, "linked_waiter (" + site(linked_waiter_line) + ")");
  EXPECT_EQ(info->links, std::vector<bl::pid>{me});
  EXPECT_EQ(info->monitors, std::vector<bl::pid>{me});
  // The watcher, and the asker: process_info_of monitors the process it asks.
  std::vector<bl::pid> watchers = info->monitored_by;
  std::sort(watchers.begin(), watchers.end());
  std::vector<bl::pid> expected{me, watcher};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(watchers, expected);
}

TEST_P(process_info, a_lambda_body_is_named_by_where_it_is) {
  std::optional<bl::process_info> info;
  int line = 0;
  run([&]() -> bl::process {
    line = __LINE__ + 1;
    bl::pid target = bl::spawn([]() -> bl::process { co_await bl::receive([](stop) {}); });
    info = co_await bl::process_info_of(target);
    bl::send(target, stop{});
  });
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->initial_call, "operator() (" + site(line) + ")");
  EXPECT_FALSE(info->registered_name.has_value());
  EXPECT_TRUE(info->links.empty());
}

TEST_P(process_info, processes_lists_every_live_process_and_no_dead_one) {
  std::vector<bl::pid> during, after_end;
  std::vector<bl::pid> spawned;
  bl::pid me;
  run([&]() -> bl::process {
    me = bl::self();
    for (int i = 0; i < 50; ++i)
      spawned.push_back(bl::spawn([]() -> bl::process { co_await bl::receive([](stop) {}); }));
    during = bl::processes();
    for (const bl::pid& p : spawned) bl::send(p, stop{});
    for (const bl::pid& p : spawned) {
      bl::monitor(p);
      co_await bl::receive([](const bl::down_message&) {});
    }
    after_end = bl::processes();
  });
  std::vector<bl::pid> expected = spawned;
  expected.push_back(me);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(during, expected);
  EXPECT_EQ(after_end, std::vector<bl::pid>{me});
}

TEST_P(process_info, a_node_lists_its_processes_from_outside) {
  bl::node node(options());
  bl::pid waiting = node.spawn([]() -> bl::process { co_await bl::receive([](stop) {}); });
  EXPECT_EQ(node.processes(), std::vector<bl::pid>{waiting});
  node.send(waiting, stop{});
  node.run();
  EXPECT_TRUE(node.processes().empty());
}

}  // namespace

// --- the idle report (node_options::idle_report) --------------------------------------------

class idle_report : public node_test {};
BEAMLINE_SWEEP_WORKERS(idle_report);

// Runs a node whose one process waits for a message that `after` from now a thread
// sends; returns what the node printed on stderr.
std::string stderr_of_a_waiting_node(bl::node_options options, std::chrono::milliseconds after,
                                     int& wait_line, bl::pid& waiter) {
  bl::node node(options);
  ::testing::internal::CaptureStderr();
  waiter = node.spawn([&wait_line]() -> bl::process {
    wait_line = __LINE__ + 1;
    co_await bl::receive<int>();
  });
  std::thread sender([&node, after, to = waiter] {
    std::this_thread::sleep_for(after);
    node.send(to, 1);
  });
  node.run();
  sender.join();
  return ::testing::internal::GetCapturedStderr();
}

TEST_P(idle_report, a_node_with_nothing_to_run_says_what_each_process_waits_for_then_less_often) {
  bl::node_options o = options();
  o.idle_report = 100ms;
  int wait_line = 0;
  bl::pid waiter;
  std::string err = stderr_of_a_waiting_node(o, 900ms, wait_line, waiter);
  EXPECT_NE(err.find("beamline: run() has had no runnable process for "), std::string::npos) << err;
  EXPECT_NE(err.find("; 1 process waits:\n  " + waiter.to_string() + "  waiting: receive (" +
                     site(wait_line) + ")"),
            std::string::npos)
      << err;
  // Nothing changed after the first report: the next ones are one line each, and
  // come 100 ms, 200 ms, then 400 ms later (so at most three more within 900 ms).
  std::size_t repeats = 0;
  for (std::size_t at = err.find("every process waits as in the last report");
       at != std::string::npos; at = err.find("every process waits as in the last report", at + 1))
    ++repeats;
  EXPECT_GE(repeats, 1u) << err;
  EXPECT_LE(repeats, 3u) << err;
  EXPECT_EQ(err.find("1 process waits:", err.find("1 process waits:") + 1), std::string::npos)
      << err;
}

TEST_P(idle_report, is_off_by_default_and_a_node_that_keeps_working_never_reports) {
  int wait_line = 0;
  bl::pid waiter;
  EXPECT_EQ(stderr_of_a_waiting_node(options(), 300ms, wait_line, waiter), "");

  bl::node_options o = options();
  o.idle_report = 50ms;
  bl::node node(o);
  ::testing::internal::CaptureStderr();
  node.spawn([]() -> bl::process {
    for (int i = 0; i < 300; ++i) co_await bl::sleep(1ms);  // a timer wakes it each time
  });
  node.run();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}
