// stress_*: whole-node workloads that shake out races and leaks: a million
// processes, a storm of random links and exits, many-to-one floods. Sizes shrink
// under the sanitizers (BEAMLINE_STRESS_SCALE).
#include <algorithm>
#include <atomic>
#include <random>
#include <string>
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
  // A race test of the link protocol: a floor keeps it racing under TSan's scale.
  const int n = static_cast<int>(std::max(scaled(3000), 500L));
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

// L9: once unlink returns, the link cannot affect the caller, even when the partner
// dies while the unlink is on its way or unacknowledged. Clients link to, unlink from
// and relink to a partner over and over while it dies; partners unlink their clients
// too. A client suspends (and so acts on signals) only while unlinked and does not
// trap exits: an exit from a link it has unlinked would kill it, so every client
// must end normally.
TEST_P(stress, links_unlinked_while_partners_die_never_reach_the_caller) {
  // A race test: at least 100 partners, even at TSan's scale.
  const int partners = static_cast<int>(std::max(scaled(400), 100L));
  constexpr int clients_per_partner = 4;
  const int clients = partners * clients_per_partner;
  int normal_ends = 0;
  std::vector<std::string> other_reasons;
  std::atomic<long> links_made{0}, links_refused{0};
  run([&]() -> bl::process {
    std::vector<bl::pid> partner_pids;
    for (int i = 0; i < partners; ++i)
      partner_pids.push_back(bl::spawn([i]() -> bl::process {
        std::mt19937 rng(static_cast<unsigned>(i));
        auto my_clients = co_await bl::receive<std::vector<bl::pid>>();
        co_await bl::sleep(std::chrono::microseconds(rng() % 1500));
        for (const bl::pid& c : my_clients)
          if (rng() % 2 == 0) bl::unlink(c);  // both sides unlink at once
        if (rng() % 2 == 0) bl::exit(bl::atom("partner_died"));
        bl::exit(bl::self(), bl::atoms::kill);  // killed: its partners see `killed`
      }));
    std::vector<bl::pid> client_pids;
    for (int i = 0; i < clients; ++i) {
      bl::pid partner = partner_pids[static_cast<std::size_t>(i / clients_per_partner)];
      client_pids.push_back(
          bl::spawn_monitor([partner, &links_made, &links_refused]() -> bl::process {
            bl::ref watch = bl::monitor(partner);
            bool partner_down = false;
            auto down_of_partner = [&](std::chrono::milliseconds wait) {
              return bl::receive(
                  bl::when([&](const bl::down_message& d) { return d.monitor == watch; },
                           [](const bl::down_message&) { return true; }),
                  bl::after(wait, [] { return false; }));
            };
            // Relinks as fast as it can until the partner is gone and a few rounds
            // after (links to a dead process, refused at once or answered by an exit
            // `noproc` in flight); at most 300 rounds, then it waits: a longer busy
            // loop would starve the preempted threads of a small machine.
            int after_down = 0;
            for (int round = 0; round < 300 && after_down < 5; ++round) {
              try {
                bl::link(partner);
                links_made.fetch_add(1, std::memory_order_relaxed);
              } catch (const bl::error&) {
                links_refused.fetch_add(1, std::memory_order_relaxed);  // noproc
              }
              bl::unlink(partner);
              co_await bl::yield();
              if (!partner_down) partner_down = co_await down_of_partner(0ms);
              if (partner_down) ++after_down;
            }
            if (!partner_down) co_await down_of_partner(30s);
          }).first);
    }
    for (int i = 0; i < partners; ++i) {
      std::vector<bl::pid> mine(client_pids.begin() + i * clients_per_partner,
                                client_pids.begin() + (i + 1) * clients_per_partner);
      bl::send(partner_pids[static_cast<std::size_t>(i)], mine);
    }
    for (int i = 0; i < clients; ++i) {
      auto d = co_await bl::receive<bl::down_message>();
      if (d.reason == bl::term(bl::atoms::normal))
        ++normal_ends;
      else
        other_reasons.push_back(d.reason.to_string());
    }
  });
  EXPECT_EQ(normal_ends, clients);
  EXPECT_TRUE(other_reasons.empty())
      << other_reasons.size() << " clients died, the first with " << other_reasons.front();
  EXPECT_GT(links_made.load(), 0);
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
