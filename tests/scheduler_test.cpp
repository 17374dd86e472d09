// scheduler_*: priorities, reductions and time slices, work spreading.
#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "beamline/detail/process_control.hpp"
#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class scheduler : public node_test {};
BEAMLINE_SWEEP_WORKERS(scheduler);

TEST_P(scheduler, a_busy_process_that_checks_does_not_starve_others) {
  bool ponged = false;
  std::atomic<bool> stop{false};  // outlives every process of the node
  run([&]() -> bl::process {
    bl::pid busy = bl::spawn([&stop]() -> bl::process {
      while (!stop.load(std::memory_order_relaxed)) co_await bl::check();
    });
    bl::pid me = bl::self();
    bl::spawn([me]() -> bl::process {
      bl::send(me, 1);
      co_return;
    });
    co_await bl::receive<int>();
    ponged = true;
    stop = true;
    (void)busy;
  });
  EXPECT_TRUE(ponged);
}

TEST(scheduler_priority, high_priority_processes_run_before_normal_ones) {
  for (bool deterministic : {false, true}) {
    bl::node_options o;
    o.schedulers = 1;
    o.deterministic = deterministic;
    o.shuffle_seed = shuffle_seed();
    o.log_crashes = false;
    bl::node node(o);
    std::vector<std::string> order;
    node.spawn([&]() -> bl::process {
      for (int i = 0; i < 3; ++i)
        bl::spawn([&order, i]() -> bl::process {
          order.push_back("normal" + std::to_string(i));
          co_return;
        });
      bl::spawn_opt({.priority = bl::priority::high}, [&order]() -> bl::process {
        order.push_back("high");
        co_return;
      });
      co_return;
    });
    node.run();
    ASSERT_EQ(order.size(), 4u);
    EXPECT_EQ(order.front(), "high");
  }
}

TEST(scheduler_priority, low_priority_runs_less_often_than_normal_but_runs) {
  bl::node_options o;
  o.schedulers = 1;
  o.log_crashes = false;
  bl::node node(o);
  std::atomic<long> normal_turns{0}, low_turns{0};
  std::atomic<bool> stop{false};
  node.spawn([&]() -> bl::process {
    for (int i = 0; i < 2; ++i)
      bl::spawn([&]() -> bl::process {
        while (!stop) {
          normal_turns.fetch_add(1);
          co_await bl::yield();
        }
      });
    bl::spawn_opt({.priority = bl::priority::low}, [&]() -> bl::process {
      while (!stop) {
        low_turns.fetch_add(1);
        co_await bl::yield();
      }
    });
    co_await bl::sleep(50ms);
    stop = true;
  });
  node.run();
  EXPECT_GT(low_turns.load(), 0);
  // Two normal processes against one low one: about 16 normal turns per low turn.
  EXPECT_GT(normal_turns.load(), 4 * low_turns.load());
}

TEST_P(scheduler, work_spreads_to_every_worker) {
  const int n = static_cast<int>(scaled(20000));
  long sum = 0;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    for (int i = 0; i < n; ++i)
      bl::spawn([me, i]() -> bl::process {
        long x = 0;
        for (int k = 0; k < 200; ++k) x += (i * k) % 7;
        bl::send(me, x);
        co_return;
      });
    for (int i = 0; i < n; ++i) sum += co_await bl::receive<long>();
  });
  long expected = 0;
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 200; ++k) expected += (i * k) % 7;
  EXPECT_EQ(sum, expected);
}

// Runs `senders` processes that each send `per_sender` integers to one receiver,
// and returns the receiver's longest queue and the node's statistics.
struct flood_outcome {
  std::uint32_t longest_queue = 0;
  bl::node_statistics statistics{};
};

flood_outcome run_flood(const bl::node_options& o, int senders, long per_sender) {
  flood_outcome out;
  bl::node node(o);
  node.spawn([&]() -> bl::process {
    bl::pid me = bl::self();
    for (int s = 0; s < senders; ++s)
      bl::spawn([me, per_sender]() -> bl::process {
        for (long i = 0; i < per_sender; ++i) {
          bl::send(me, i);
          co_await bl::check();
        }
      });
    auto& pcb = bl::detail::current_process("test");
    for (long k = 0; k < senders * per_sender; ++k) {
      co_await bl::receive<long>();
      out.longest_queue = std::max(out.longest_queue, pcb.queue_length_);
    }
  });
  node.run();
  out.statistics = node.statistics();
  return out;
}

TEST_P(scheduler, a_flood_slows_its_senders_instead_of_growing_the_queue) {
  // On one worker the receiver competes only with its senders, whose sends cost
  // more as its queue grows.
  if (GetParam().schedulers != 1) GTEST_SKIP() << "a single-worker property";
  const int senders = 20;
  const long per_sender = std::max(scaled(50000), 5000L);
  // Slices short against each sender's volume, so that the penalty can act at
  // every test scale (sanitizer builds send fewer messages).
  auto o = options();
  o.reductions_per_slice = 500;
  flood_outcome out = run_flood(o, senders, per_sender);
  EXPECT_EQ(out.statistics.live_processes, 0u);
  // Without back-pressure the senders, taking turns with the receiver, queue up
  // most of the messages before the receiver has taken many.
  EXPECT_LT(out.longest_queue, senders * per_sender / 4);
}

// Spins for `d` of wall time: work of a known cost in every build.
void spin_for(std::chrono::nanoseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
  }
}

TEST_P(scheduler, flood_senders_move_to_their_receivers_worker_and_feel_its_backlog) {
  // Senders on other workers than a flooded receiver's move to its worker (flood
  // affinity), where sends into its backlog cost them more: the back-pressure of
  // the single-worker test above then holds on any number of workers.
  if (GetParam().schedulers < 2) GTEST_SKIP() << "needs workers to move between";
  const int senders = 20;
  const long per_sender = std::max(scaled(50000), 20000L);
  auto o = options();
  o.reductions_per_slice = 2000;
  o.flood_send_cost = 1s;  // sanitizer builds send slowly: judge by volume alone
  // Nor let a slow build's long slices be preempted: a sender preempted off its
  // worker keeps sending from its own thread, where no worker can take it in.
  o.preemption = false;
  flood_outcome out = run_flood(o, senders, per_sender);
  EXPECT_EQ(out.statistics.live_processes, 0u);
  EXPECT_GT(out.statistics.flood_migrations, 0u);
  EXPECT_LT(out.longest_queue, senders * per_sender / 4);
}

TEST_P(scheduler, senders_that_work_between_sends_are_not_moved_by_a_flood) {
  // Producers that spend a microsecond on each message flood a slower consumer:
  // moving them to its worker would take its CPU, so they stay in parallel.
  if (GetParam().schedulers < 2) GTEST_SKIP() << "needs workers to move between";
  const int producers = 4;
  constexpr long per_producer = 2000;
  std::uint32_t longest_queue = 0;
  auto o = options();
  o.reductions_per_slice = 2000;
  bl::node node(o);
  node.spawn([&]() -> bl::process {
    bl::pid me = bl::self();
    for (int s = 0; s < producers; ++s)
      bl::spawn([me]() -> bl::process {
        for (long i = 0; i < per_producer; ++i) {
          spin_for(1us);
          bl::send(me, i);
          co_await bl::check();
        }
      });
    auto& pcb = bl::detail::current_process("test");
    for (long k = 0; k < producers * per_producer; ++k) {
      co_await bl::receive<long>();
      longest_queue = std::max(longest_queue, pcb.queue_length_);
      spin_for(4us);
    }
  });
  node.run();
  EXPECT_EQ(node.statistics().live_processes, 0u);
  EXPECT_EQ(node.statistics().flood_migrations, 0u);
}

TEST_P(scheduler, set_priority_returns_the_previous_level) {
  run([&]() -> bl::process {
    EXPECT_EQ(bl::set_priority(bl::priority::high), bl::priority::normal);
    EXPECT_EQ(bl::set_priority(bl::priority::normal), bl::priority::high);
    co_return;
  });
}

}  // namespace
