// stress_*: whole-node workloads that shake out races and leaks: a million
// processes, a storm of random links and exits, many-to-one floods. Sizes shrink
// under the sanitizers (BEAMLINE_STRESS_SCALE).
#include <atomic>
#include <random>
#include <vector>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class stress : public node_test {};
BEAMLINE_SWEEP_WORKERS(stress);

TEST_P(stress, a_million_processes_wait_and_answer) {
  const long n = scaled(1'000'000) / (GetParam().schedulers >= 4 ? 4 : 1);
  long sum = 0;
  run([&]() -> bl::process {
    std::vector<bl::pid> children;
    children.reserve(static_cast<std::size_t>(n));
    bl::pid me = bl::self();
    for (long i = 0; i < n; ++i)
      children.push_back(bl::spawn([me]() -> bl::process {
        long v = co_await bl::receive<long>();
        bl::send(me, v);
      }));
    for (long i = 0; i < n; ++i) bl::send(children[static_cast<std::size_t>(i)], i);
    for (long i = 0; i < n; ++i) sum += co_await bl::receive<long>();
  });
  EXPECT_EQ(sum, n * (n - 1) / 2);
}

TEST_P(stress, a_storm_of_random_links_and_exits_settles_with_every_death_observed) {
  const int n = static_cast<int>(scaled(3000));
  int downs = 0;
  run([&]() -> bl::process {
    std::vector<bl::pid> ps;
    std::vector<bl::ref> refs;
    bl::pid observer = bl::self();
    for (int i = 0; i < n; ++i) {
      [[maybe_unused]] auto [p, m] = bl::spawn_monitor([i, observer]() -> bl::process {
        std::mt19937 rng(static_cast<unsigned>(i));
        if (rng() % 3 == 0) bl::trap_exit(true);
        auto peers = co_await bl::receive<std::vector<bl::pid>>();
        for (int k = 0; k < 3; ++k) {
          bl::pid peer = peers[rng() % peers.size()];
          try {
            bl::link(peer);
          } catch (const bl::error&) {
            // peer already dead: noproc, as in Erlang
          }
        }
        co_await bl::sleep(std::chrono::microseconds(rng() % 2000));
        switch (rng() % 4) {
          case 0:
            co_return;  // normal
          case 1:
            bl::exit(bl::atom("random_crash"));
          case 2:
            bl::exit(peers[rng() % peers.size()], bl::atoms::kill);
            co_return;
          default:
            for (;;) {  // trapping processes drain exits, others die from them
              bool stop = co_await bl::receive([](const bl::exit_message&) { return false; },
                                               bl::after(5ms, [] { return true; }));
              if (stop) co_return;
            }
        }
        (void)observer;
      });
      ps.push_back(p);
      refs.push_back(m);
    }
    for (auto& p : ps) bl::send(p, ps);
    for (int i = 0; i < n; ++i) {
      co_await bl::receive<bl::down_message>();
      ++downs;
    }
  });
  EXPECT_EQ(downs, n);
}

TEST_P(stress, many_senders_flood_one_receiver_without_loss_or_reordering) {
  const int senders = 100;
  const int per_sender = static_cast<int>(scaled(20000));
  bool ordered = true;
  long received = 0;
  run([&]() -> bl::process {
    bl::pid me = bl::self();
    for (int s = 0; s < senders; ++s)
      bl::spawn([me, s, per_sender]() -> bl::process {
        for (int i = 0; i < per_sender; ++i) bl::send(me, s, i);
        co_return;
      });
    std::vector<int> next(senders, 0);
    for (long k = 0; k < static_cast<long>(senders) * per_sender; ++k) {
      auto [s, i] = co_await bl::receive<int, int>();
      if (next[static_cast<std::size_t>(s)]++ != i) ordered = false;
      ++received;
    }
  });
  EXPECT_TRUE(ordered);
  EXPECT_EQ(received, static_cast<long>(senders) * per_sender);
}

TEST_P(stress, processes_churn_through_the_table_with_monitors) {
  const long total = scaled(200000);
  long downs = 0;
  run([&]() -> bl::process {
    long spawned = 0;
    long alive = 0;
    while (downs < total) {
      while (spawned < total && alive < 1000) {
        bl::spawn_monitor([]() -> bl::process { co_return; });
        ++spawned;
        ++alive;
      }
      co_await bl::receive<bl::down_message>();
      --alive;
      ++downs;
    }
  });
  EXPECT_EQ(downs, total);
}

}  // namespace
