// key_registry_*: Elixir's Registry (registry.hpp): unique and duplicate keys,
// values, partitions, dispatch, via names, cleanup on exit, churn.
#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace gs = bl::gen_server;

class key_registry : public node_test {};
BEAMLINE_SWEEP_WORKERS(key_registry);

bl::task<bl::registry> start(bl::registry::keys_mode mode, unsigned partitions = 1,
                             std::optional<bl::atom> name = std::nullopt) {
  auto r =
      co_await bl::registry::start_link({.keys = mode, .partitions = partitions, .name = name});
  co_return r.registry();
}

// A process that registers `key` with `value`, reports, then waits for `done`.
bl::process holder(bl::registry reg, bl::term key, bl::term value, bl::pid report) {
  bl::status s = reg.register_key(key, value);
  bl::send(report, bl::self(), s.to_term());
  co_await bl::receive<bl::atom>();
}

bl::task<void> wait_until_count(bl::registry reg, std::size_t n) {
  EXPECT_TRUE(co_await eventually([&] { return reg.count() == n; })) << "count " << reg.count();
}

TEST_P(key_registry, unique_keys_hold_one_live_process_each) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique);
    EXPECT_TRUE(reg.register_key(A("k"), bl::term(1)).is_ok());
    EXPECT_EQ(reg.register_key(A("k"), bl::term(2)).to_term(),
              bl::term::parse("{error, {already_registered, " + bl::self().to_string() + "}}"));
    auto entries = reg.lookup(A("k"));
    CO_ASSERT_TRUE(entries.size() == 1u);
    EXPECT_EQ(entries[0].first, bl::self());
    EXPECT_EQ(entries[0].second, bl::term(1));
    // Another process cannot take it while we hold it.
    bl::pid other = bl::spawn(holder, reg, A("k"), bl::term(3), bl::self());
    auto [who, result] = co_await bl::receive<bl::pid, bl::term>();
    EXPECT_EQ(who, other);
    EXPECT_EQ(result[0], A("error"));
    reg.unregister(A("k"));
    EXPECT_TRUE(reg.lookup(A("k")).empty());
    bl::send(other, bl::atom("done"));
    EXPECT_EQ(reg.count(), 0u);
    co_await gs::stop(reg.owner());
  });
}

TEST_P(key_registry, entries_are_removed_when_their_process_ends) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique, 4);
    std::vector<bl::pid> holders;
    for (int i = 0; i < 8; ++i) {
      holders.push_back(bl::spawn(holder, reg, bl::term(i), bl::term(i * 10), bl::self()));
      co_await bl::receive<bl::pid, bl::term>();
    }
    EXPECT_EQ(reg.count(), 8u);
    EXPECT_EQ(reg.lookup(bl::term(5))[0].second, bl::term(50));
    EXPECT_EQ(reg.keys(holders[3]), std::vector<bl::term>{bl::term(3)});
    for (bl::pid p : holders) bl::exit(p, A("kill"));
    co_await wait_until_count(reg, 0);
    EXPECT_EQ(reg.count(), 0u);
    for (int i = 0; i < 8; ++i) EXPECT_TRUE(reg.lookup(bl::term(i)).empty());
    co_await gs::stop(reg.owner());
  });
}

TEST_P(key_registry, a_key_held_by_a_dead_process_can_be_taken_at_once) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique);
    auto [p, m] = bl::spawn_monitor([reg]() -> bl::process {
      reg.register_key(A("job"), A("first"));
      reg.register_key(A("other"), A("first"));
      co_return;
    });
    co_await bl::receive<bl::down_message>();
    (void)m;
    EXPECT_TRUE(reg.lookup(A("job")).empty());  // dead: not returned, even if not yet removed
    EXPECT_TRUE(reg.register_key(A("job"), A("second")).is_ok());
    // The watcher's cleanup of the dead one (it removes `other` too) must not touch ours.
    const bl::pid dead = p;
    EXPECT_TRUE(co_await eventually([&] { return reg.keys(dead).empty(); }));
    auto entries = reg.lookup(A("job"));
    CO_ASSERT_TRUE(entries.size() == 1u);
    EXPECT_EQ(entries[0].second, A("second"));
    co_await gs::stop(reg.owner());
  });
}

TEST_P(key_registry, duplicate_keys_hold_many_and_dispatch_reaches_them_all) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::duplicate, 3);
    std::vector<bl::pid> members;
    for (int i = 0; i < 6; ++i) {
      members.push_back(bl::spawn(holder, reg, A("topic"), bl::term(i), bl::self()));
      co_await bl::receive<bl::pid, bl::term>();
    }
    EXPECT_TRUE(reg.register_key(A("topic"), A("me")).is_ok());
    EXPECT_TRUE(reg.register_key(A("topic"), A("me_again")).is_ok());
    EXPECT_EQ(reg.lookup(A("topic")).size(), 8u);
    std::set<bl::pid> reached;
    std::size_t calls = 0;
    reg.dispatch(A("topic"), [&](const std::vector<bl::registry::entry>& entries) {
      ++calls;
      for (const auto& e : entries) reached.insert(e.first);
    });
    EXPECT_EQ(reached.size(), 7u);
    EXPECT_GE(calls, 1u);
    EXPECT_EQ(reg.keys(bl::self()).size(), 2u);
    reg.unregister(A("topic"));
    EXPECT_EQ(reg.lookup(A("topic")).size(), 6u);
    for (bl::pid p : members) bl::send(p, bl::atom("done"));
    co_await wait_until_count(reg, 0);
    EXPECT_EQ(reg.count(), 0u);
    std::size_t none = 0;
    reg.dispatch(A("nobody"), [&](const std::vector<bl::registry::entry>&) { ++none; });
    EXPECT_EQ(none, 0u);
    co_await gs::stop(reg.owner());
  });
}

TEST_P(key_registry, update_value_changes_the_callers_own_value) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique);
    reg.register_key(A("n"), bl::term(1));
    auto changed =
        reg.update_value(A("n"), [](const bl::term& v) { return bl::term(v.as_int() + 1); });
    CO_ASSERT_TRUE(changed.has_value());
    EXPECT_EQ(changed->first, bl::term(2));
    EXPECT_EQ(changed->second, bl::term(1));
    EXPECT_FALSE(reg.update_value(A("absent"), [](const bl::term& v) { return v; }));
    co_await gs::stop(reg.owner());
  });
}

struct named_worker {
  struct whoami {};
  explicit named_worker(int n) : n_(n) {}
  int handle_call(whoami) { return n_; }
  int n_;
};

TEST_P(key_registry, via_names_start_and_reach_gen_servers) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique, 2, bl::atom("servers"));
    auto a = co_await gs::start<named_worker>(reg.via(A("a")), 1);
    CO_ASSERT_TRUE(a.is_ok());
    auto again = co_await gs::start<named_worker>(reg.via(A("a")), 2);
    EXPECT_EQ(again.reason(), bl::term::tuple({A("already_started"), a.pid()}));
    bl::server<named_worker> by_via(reg.via(A("a")));
    EXPECT_EQ(co_await by_via.call(named_worker::whoami{}), 1);
    EXPECT_EQ(reg.lookup(A("a"))[0].first, a.pid());
    // The name goes with the server, and a new one can take it.
    co_await gs::stop(a.pid());
    co_await wait_until_count(reg, 0);
    try {
      co_await by_via.call(named_worker::whoami{});
      ADD_FAILURE();
    } catch (const bl::call_exit& e) {
      EXPECT_EQ(e.failure(), A("noproc"));
    }
    auto b = co_await gs::start<named_worker>(reg.via(A("a")), 3);
    EXPECT_TRUE(b.is_ok());
    EXPECT_EQ(co_await by_via.call(named_worker::whoami{}), 3);
    // named() finds the registry from anywhere on the node.
    auto found = bl::registry::named(bl::atom("servers"));
    CO_ASSERT_TRUE(found.has_value());
    EXPECT_TRUE(*found == reg);
    co_await gs::stop(b.pid());
    co_await gs::stop(reg.owner());
    EXPECT_FALSE(bl::registry::named(bl::atom("servers")).has_value());
  });
}

TEST_P(key_registry, a_registry_that_ended_is_an_unknown_registry) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique);
    co_await gs::stop(reg.owner());
    bool threw = false;
    try {
      reg.lookup(A("k"));
    } catch (const bl::error& e) {
      threw = e.reason() == bl::term(bl::atoms::badarg);
    }
    EXPECT_TRUE(threw);
  });
}

TEST_P(key_registry, a_supervised_registry_and_via_named_workers_come_back_after_a_crash) {
  namespace sup = bl::supervisor;
  run([&]() -> bl::process {
    sup::child_spec registry_spec(A("registry"), []() -> bl::task<bl::start_result> {
      co_return co_await bl::registry::start_link({.name = bl::atom("crashy_registry")});
    });
    auto s = (co_await sup::start_link({.strategy = sup::strategy::rest_for_one, .intensity = 5},
                                       sup::children(registry_spec)))
                 .pid();
    auto reg = bl::registry::named(bl::atom("crashy_registry"));
    CO_ASSERT_TRUE(reg.has_value());
    bl::pid first_owner = reg->owner();
    bl::exit(first_owner, A("kill"));
    bl::registry again;
    CO_ASSERT_TRUE(co_await eventually([&] {
      auto r = bl::registry::named(bl::atom("crashy_registry"));
      if (r && r->owner() != first_owner) again = *r;
      return r && r->owner() != first_owner;
    }));
    EXPECT_TRUE(again.register_key(A("fresh")).is_ok());
    EXPECT_EQ(again.count(), 1u);
    again.unregister(A("fresh"));
    co_await gs::stop(s);
  });
}

TEST_P(key_registry, concurrent_churn_leaves_consistent_tables_and_nothing_behind) {
  const int workers = 16;
  const long rounds = scaled(300);
  std::atomic<long> duplicates_seen{0};
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique, 4);
    bl::registry dup = co_await start(bl::registry::duplicate, 4);
    std::vector<bl::ref> monitors;
    for (int w = 0; w < workers; ++w) {
      auto [p, m] = bl::spawn_monitor([reg, dup, w, rounds, &duplicates_seen]() -> bl::process {
        for (long i = 0; i < rounds; ++i) {
          bl::term key(static_cast<long>((i * 7 + w) % 20));
          reg.register_key(key, bl::term(w));
          dup.register_key(key, bl::term(w));
          auto seen = reg.lookup(key);
          if (seen.size() > 1) ++duplicates_seen;
          if (i % 3 == 0) {
            reg.unregister(key);
            dup.unregister(key);
          }
          if (i % 50 == 49) co_await bl::yield();
        }
        // Half the workers spawn a short-lived helper that dies holding keys.
        if (w % 2 == 0) {
          // (Not a structured binding: clang 14 cannot capture one in a lambda.)
          bl::ref hm = bl::spawn_monitor([reg, dup, w]() -> bl::process {
                         reg.register_key(bl::term(1000 + w));
                         dup.register_key(A("helpers"));
                         co_return;
                       }).second;
          co_await bl::receive(bl::when([hm](const bl::down_message& d) { return d.monitor == hm; },
                                        [](bl::down_message) {}));
        }
      });
      (void)p;
      monitors.push_back(m);
    }
    for (std::size_t i = 0; i < monitors.size(); ++i) co_await bl::receive<bl::down_message>();
    co_await wait_until_count(reg, 0);
    co_await wait_until_count(dup, 0);
    EXPECT_EQ(reg.count(), 0u);
    EXPECT_EQ(dup.count(), 0u);
    co_await gs::stop(reg.owner());
    co_await gs::stop(dup.owner());
  });
  EXPECT_EQ(duplicates_seen.load(), 0);
}

}  // namespace
