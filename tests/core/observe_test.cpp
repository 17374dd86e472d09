// observe_*: the observer's snapshots list every live process with the figures it
// published as it last suspended (its wait and where, its queue, its counters),
// sorted, filtered and paged as asked; the summary counts them; a process's detail
// prints its queued messages.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "beamline/observe.hpp"
#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace observe = bl::observe;

class observe_test : public node_test {};
BEAMLINE_SWEEP_WORKERS(observe_test);

struct stop {};

std::string site(int line) {
  return std::string(__FILE__) + ":" + std::to_string(line);
}

const observe::process_row* find_row(const observe::process_page& page, bl::pid p) {
  for (const auto& row : page.rows)
    if (row.process == p) return &row;
  return nullptr;
}

// Snapshots until `ok(page)` holds (a process may not have reached its wait yet),
// for at most 10 s.
template <class Ok>
bl::task<observe::process_page> until(observe::process_query q, Ok ok) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    observe::process_page page = co_await observe::processes(q);
    if (ok(page) || std::chrono::steady_clock::now() > deadline) co_return page;
    co_await bl::sleep(2ms);
  }
}

TEST_P(observe_test, lists_processes_that_were_waiting_before_the_node_was_observed) {
  static std::atomic<int> receive_line{0};  // written by each of the twenty
  std::vector<bl::pid> waiters;
  observe::process_page page;
  run([&]() -> bl::process {
    bl::pid parent = bl::self();
    for (int i = 0; i < 20; ++i) {
      waiters.push_back(bl::spawn([parent]() -> bl::process {
        bl::send(parent, 1);
        receive_line = __LINE__ + 1;
        co_await bl::receive([](stop) {});
      }));
    }
    for (int i = 0; i < 20; ++i) co_await bl::receive<int>();
    co_await bl::sleep(5ms);  // they reach their wait, unobserved
    page = co_await until({.sort = observe::sort_key::pid, .descending = false, .limit = 1000},
                          [&](const observe::process_page& p) {
                            return std::all_of(waiters.begin(), waiters.end(), [&](bl::pid w) {
                              const auto* row = find_row(p, w);
                              return row != nullptr && row->status.starts_with("waiting");
                            });
                          });
    for (bl::pid w : waiters) bl::send(w, stop{});
  });
  EXPECT_GE(page.matched, 21u);
  for (bl::pid w : waiters) {
    const auto* row = find_row(page, w);
    ASSERT_NE(row, nullptr);
    EXPECT_EQ(row->status, "waiting: receive (" + site(receive_line) + ")");
    EXPECT_NE(row->initial_call.find(__FILE__), std::string::npos) << row->initial_call;
    EXPECT_EQ(row->messages_out, 1u);
    EXPECT_GT(row->reductions, 0u);
    EXPECT_GT(row->memory, 0u);
  }
  // In pid order.
  EXPECT_TRUE(std::is_sorted(page.rows.begin(), page.rows.end(),
                             [](const auto& a, const auto& b) { return a.process < b.process; }));
}

TEST_P(observe_test, figures_follow_a_process_that_runs_again_after_publishing) {
  std::optional<observe::process_row> before, after;
  run([&]() -> bl::process {
    bl::pid target = bl::spawn([]() -> bl::process { co_await bl::receive([](stop) {}); });
    auto queue_is = [target](std::uint32_t n) {
      return [target, n](const observe::process_page& p) {
        const auto* row = find_row(p, target);
        return row != nullptr && row->status.starts_with("waiting") && row->message_queue_len == n;
      };
    };
    auto page = co_await until({.sort = observe::sort_key::pid, .limit = 100000}, queue_is(0));
    if (const auto* row = find_row(page, target)) before = *row;
    // It wakes, finds nothing its receive takes, and waits again: it publishes again.
    bl::send(target, std::string("not for any handler"));
    bl::send(target, 7);
    page = co_await until({.sort = observe::sort_key::pid, .limit = 100000}, queue_is(2));
    if (const auto* row = find_row(page, target)) after = *row;
    bl::send(target, stop{});
  });
  ASSERT_TRUE(before.has_value());
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(before->message_queue_len, 0u);
  EXPECT_EQ(after->message_queue_len, 2u);
  EXPECT_EQ(after->messages_in, 2u);
  EXPECT_GT(after->memory, before->memory);
}

TEST_P(observe_test, a_young_process_spawned_while_observed_is_asked_by_a_later_snapshot) {
  static int receive_line = 0;
  std::optional<observe::process_row> row;
  run([&]() -> bl::process {
    co_await observe::processes();  // the node is observed from here on
    bl::pid young = bl::spawn([]() -> bl::process {
      receive_line = __LINE__ + 1;
      co_await bl::receive([](stop) {});
    });
    // It has spent few reductions, so it does not publish on its own; a snapshot
    // finds it blocked and unpublished, and the next one asks it.
    auto page = co_await until({.sort = observe::sort_key::pid, .limit = 100000},
                               [&](const observe::process_page& p) {
                                 const auto* r = find_row(p, young);
                                 return r != nullptr && r->status.starts_with("waiting");
                               });
    if (const auto* r = find_row(page, young)) row = *r;
    bl::send(young, stop{});
  });
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->status, "waiting: receive (" + site(receive_line) + ")");
}

TEST_P(observe_test, sorts_and_pages_by_any_key) {
  std::vector<bl::pid> loaded;  // loaded[k] has k + 1 messages no handler takes
  observe::process_page top, second, ascending;
  run([&]() -> bl::process {
    for (int k = 0; k < 6; ++k) {
      bl::pid p = bl::spawn([]() -> bl::process { co_await bl::receive([](stop) {}); });
      for (int i = 0; i <= k; ++i) bl::send(p, i);
      loaded.push_back(p);
    }
    auto ready = [&](const observe::process_page& p) {
      return p.rows.size() == 3 && p.rows[0].process == loaded[5] &&
             p.rows[0].message_queue_len == 6 && p.rows[1].message_queue_len == 5;
    };
    top = co_await until({.sort = observe::sort_key::message_queue_len, .limit = 3}, ready);
    second = co_await observe::processes(
        {.sort = observe::sort_key::message_queue_len, .offset = 3, .limit = 3});
    ascending = co_await observe::processes(
        {.sort = observe::sort_key::message_queue_len, .descending = false, .limit = 100000});
    for (bl::pid p : loaded) bl::send(p, stop{});
  });
  ASSERT_EQ(top.rows.size(), 3u);
  EXPECT_EQ(top.rows[0].process, loaded[5]);
  EXPECT_EQ(top.rows[1].process, loaded[4]);
  EXPECT_EQ(top.rows[2].process, loaded[3]);
  ASSERT_EQ(second.rows.size(), 3u);
  EXPECT_EQ(second.rows[0].process, loaded[2]);
  EXPECT_EQ(second.rows[2].process, loaded[0]);
  EXPECT_EQ(second.matched, top.matched);
  ASSERT_FALSE(ascending.rows.empty());
  EXPECT_EQ(ascending.rows.back().process, loaded[5]);
  EXPECT_TRUE(std::is_sorted(
      ascending.rows.begin(), ascending.rows.end(),
      [](const auto& a, const auto& b) { return a.message_queue_len < b.message_queue_len; }));
}

TEST_P(observe_test, filters_by_name_and_status_and_leaves_the_dead_out) {
  observe::process_page named, sleeping, all;
  bl::pid server, sleeper, dead;
  run([&]() -> bl::process {
    server = bl::spawn([]() -> bl::process { co_await bl::receive([](stop) {}); });
    bl::register_name(bl::atom("observed_server"), server);
    sleeper = bl::spawn([]() -> bl::process { co_await bl::sleep(1h); });
    dead = bl::spawn([]() -> bl::process { co_return; });
    named =
        co_await until({.filter = "observed_serv"}, [](const auto& p) { return p.matched == 1; });
    sleeping = co_await until({.filter = "sleep"},
                              [&](const auto& p) { return find_row(p, sleeper) != nullptr; });
    all = co_await until({.sort = observe::sort_key::pid, .limit = 100000},
                         [&](const auto& p) { return find_row(p, dead) == nullptr; });
    bl::send(server, stop{});
    bl::exit(sleeper, bl::atom("kill"));
  });
  ASSERT_EQ(named.rows.size(), 1u);
  EXPECT_EQ(named.rows[0].process, server);
  ASSERT_TRUE(named.rows[0].registered_name.has_value());
  EXPECT_EQ(named.rows[0].registered_name->name(), "observed_server");
  const auto* row = find_row(sleeping, sleeper);
  ASSERT_NE(row, nullptr);
  EXPECT_TRUE(row->status.starts_with("waiting: sleep")) << row->status;
  EXPECT_EQ(find_row(all, dead), nullptr);
  EXPECT_NE(find_row(all, server), nullptr);
}

TEST_P(observe_test, a_busy_process_has_a_reduction_rate) {
  observe::process_page page;
  bl::pid busy;
  run([&]() -> bl::process {
    busy = bl::spawn([]() -> bl::process {
      for (;;) co_await bl::check();
    });
    co_await observe::processes();  // starts the publishing
    page = co_await until({.sort = observe::sort_key::reductions_per_second, .limit = 1},
                          [&](const auto& p) {
                            return !p.rows.empty() && p.rows[0].process == busy &&
                                   p.rows[0].reductions_per_second > 0;
                          });
    bl::exit(busy, bl::atom("kill"));
  });
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].process, busy);
  EXPECT_GT(page.rows[0].reductions_per_second, 0);
  EXPECT_EQ(page.rows[0].status, "runnable");
}

TEST_P(observe_test, the_summary_counts_the_node) {
  observe::node_summary summary;
  run([&]() -> bl::process {
    std::vector<bl::pid> waiters;
    for (int i = 0; i < 10; ++i)
      waiters.push_back(bl::spawn([]() -> bl::process { co_await bl::receive([](stop) {}); }));
    co_await bl::sleep(5ms);
    summary = co_await observe::summary();
    for (bl::pid w : waiters) bl::send(w, stop{});
  });
  EXPECT_GE(summary.processes, 11u);
  EXPECT_GE(summary.waiting, 10u);
  EXPECT_EQ(summary.schedulers, summary.workers.size());
  EXPECT_EQ(summary.process_limit, options().max_processes);
  EXPECT_GE(summary.processes_spawned, 11u);
  EXPECT_GT(summary.memory_resident, 0u);
  EXPECT_GT(summary.memory_processes, 0u);
  EXPECT_GT(summary.atoms, 0u);
  for (const auto& w : summary.workers) {
    EXPECT_GE(w.utilization, 0.0);
    EXPECT_LE(w.utilization, 1.0);
  }
}

// On one worker, while the observing process runs, the other runnable processes
// wait in that worker's queues or the global one: the summary counts them there.
TEST_P(observe_test, the_summary_counts_the_run_queues) {
  if (GetParam().schedulers != 1) GTEST_SKIP() << "one worker: every runnable process queued";
  observe::node_summary summary;
  std::atomic<bool> done{false};
  run([&]() -> bl::process {
    std::vector<bl::pid> spinners;
    for (int i = 0; i < 5; ++i)
      spinners.push_back(bl::spawn([&done]() -> bl::process {
        while (!done) co_await bl::yield();
      }));
    co_await bl::yield();
    summary = co_await observe::summary(0ms);
    done = true;
  });
  ASSERT_EQ(summary.workers.size(), 1u);
  EXPECT_GE(summary.workers[0].run_queue + summary.global_run_queue, 5u);
}

TEST_P(observe_test, a_process_in_detail_prints_its_queued_messages_up_to_the_bound) {
  std::optional<bl::process_info> detail, bounded, gone;
  run([&]() -> bl::process {
    bl::pid target = bl::spawn([]() -> bl::process { co_await bl::receive([](stop) {}); });
    bl::send(target, std::string("hello"));
    bl::send(target, 42);
    bl::send(target, bl::atom("third"));
    co_await bl::sleep(2ms);
    detail = co_await observe::process(target);
    bounded = co_await observe::process(target, 2);
    bl::send(target, stop{});
    bl::pid dead = bl::spawn([]() -> bl::process { co_return; });
    co_await bl::sleep(5ms);
    gone = co_await observe::process(dead);
  });
  ASSERT_TRUE(detail.has_value());
  ASSERT_EQ(detail->messages.size(), 3u);
  EXPECT_EQ(detail->messages[0], "\"hello\"");
  EXPECT_EQ(detail->messages[1], "42");
  EXPECT_EQ(detail->messages[2], "third");
  ASSERT_TRUE(bounded.has_value());
  EXPECT_EQ(bounded->messages.size(), 2u);
  EXPECT_FALSE(gone.has_value());
}

TEST(observe_sort_key, names_round_trip) {
  for (auto k : {observe::sort_key::pid, observe::sort_key::name, observe::sort_key::reductions,
                 observe::sort_key::reductions_per_second, observe::sort_key::memory,
                 observe::sort_key::message_queue_len, observe::sort_key::messages_in,
                 observe::sort_key::messages_out})
    EXPECT_EQ(observe::sort_key_from(observe::to_string(k)), k);
  EXPECT_EQ(observe::sort_key_from("nonsense"), std::nullopt);
}

}  // namespace
