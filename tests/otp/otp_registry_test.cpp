// key_registry_*: Elixir's Registry (registry.hpp): unique and duplicate keys,
// values, partitions, dispatch, via names, cleanup on exit, churn, the pattern
// queries (match, select, their counts, unregister_match) and metadata.
#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
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

// Values of entries, sorted (a duplicate registry returns them in no set order).
std::vector<bl::term> sorted_values(const std::vector<bl::registry::entry>& entries) {
  std::vector<bl::term> values;
  for (const auto& e : entries) values.push_back(e.second);
  std::sort(values.begin(), values.end());
  return values;
}

// A process that registers and ends at once; returns when its DOWN has arrived (its
// entries may not have been removed yet).
bl::task<bl::pid> register_and_die(bl::registry reg, bl::term key, bl::term value) {
  // (Not a structured binding: clang 14 cannot capture one in a lambda.)
  std::pair<bl::pid, bl::ref> started = bl::spawn_monitor([reg, key, value]() -> bl::process {
    reg.register_key(key, value);
    co_return;
  });
  const bl::ref m = started.second;
  co_await bl::receive(
      bl::when([m](const bl::down_message& d) { return d.monitor == m; }, [](bl::down_message) {}));
  co_return started.first;
}

TEST_P(key_registry, match_returns_the_live_entries_whose_value_matches_a_pattern) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::duplicate, 3);
    std::vector<bl::pid> members;
    for (int i = 0; i < 6; ++i) {
      members.push_back(bl::spawn(holder, reg, A("topic"),
                                  bl::term::tuple({A("shard"), bl::term(i)}), bl::self()));
      co_await bl::receive<bl::pid, bl::term>();
    }
    reg.register_key(A("topic"), bl::term::tuple({A("pair"), bl::term(7), bl::term(7)}));
    reg.register_key(A("topic"), bl::term::tuple({A("pair"), bl::term(7), bl::term(8)}));
    reg.register_key(A("elsewhere"), bl::term::tuple({A("shard"), bl::term(0)}));
    co_await register_and_die(reg, A("topic"), bl::term::tuple({A("shard"), bl::term(99)}));

    // The dead registration is skipped, whether or not its watcher has removed it.
    EXPECT_EQ(reg.match(A("topic"), bl::pattern("{shard, _}")).size(), 6u);
    EXPECT_EQ(reg.count_match(A("topic"), bl::pattern("{shard, _}")), 6u);
    EXPECT_EQ(reg.match(A("topic"), bl::pattern("_")).size(), 8u);
    EXPECT_TRUE(reg.match(A("nobody"), bl::pattern("_")).empty());
    // A repeated variable must bind equal values.
    auto pairs = reg.match(A("topic"), bl::pattern("{pair, X, X}"));
    CO_ASSERT_TRUE(pairs.size() == 1u);
    EXPECT_EQ(pairs[0].first, bl::self());
    EXPECT_EQ(pairs[0].second, bl::term::parse("{pair, 7, 7}"));
    // A literal pattern.
    EXPECT_EQ(reg.count_match(A("topic"), bl::term::parse("{shard, 2}")), 1u);
    // A guard over the bindings.
    auto high = [](const bl::bindings& b) { return b["N"].as_int() >= 3; };
    auto from_three = reg.match(A("topic"), bl::pattern("{shard, N}"), high);
    EXPECT_EQ(sorted_values(from_three),
              (std::vector<bl::term>{bl::term::parse("{shard, 3}"), bl::term::parse("{shard, 4}"),
                                     bl::term::parse("{shard, 5}")}));
    for (const auto& e : from_three)
      EXPECT_TRUE(std::find(members.begin(), members.end(), e.first) != members.end());
    EXPECT_EQ(reg.count_match(A("topic"), bl::pattern("{shard, N}"), high), 3u);
    for (bl::pid p : members) bl::send(p, bl::atom("done"));
    co_await gs::stop(reg.owner());
  });
}

TEST_P(key_registry, match_in_a_unique_registry_reads_the_keys_partition) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique, 4);
    for (int i = 0; i < 8; ++i)
      reg.register_key(bl::term(i), bl::term::tuple({A("v"), bl::term(i)}));
    for (int i = 0; i < 8; ++i) {
      auto found = reg.match(bl::term(i), bl::pattern("{v, N}"));
      CO_ASSERT_TRUE(found.size() == 1u);
      EXPECT_EQ(found[0].first, bl::self());
      EXPECT_EQ(reg.count_match(bl::term(i), bl::pattern("{v, N}"),
                                [i](const bl::bindings& b) { return b["N"] == bl::term(i); }),
                1u);
      EXPECT_EQ(reg.count_match(bl::term(i), bl::pattern("{w, _}")), 0u);
    }
    co_await register_and_die(reg, A("gone"), bl::term(1));
    EXPECT_EQ(reg.count_match(A("gone"), bl::pattern("_")), 0u);
    co_await gs::stop(reg.owner());
  });
}

TEST_P(key_registry, unregister_match_removes_only_the_callers_matching_entries) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::duplicate, 3);
    bl::pid other = bl::spawn(holder, reg, A("k"), bl::term(1), bl::self());
    co_await bl::receive<bl::pid, bl::term>();
    for (int v : {1, 2, 3, 4, 1}) reg.register_key(A("k"), bl::term(v));
    reg.register_key(A("k"), A("keep"));
    reg.register_key(A("j"), bl::term(1));

    reg.unregister_match(A("k"), bl::term(1));
    EXPECT_EQ(
        sorted_values(reg.lookup(A("k"))),
        (std::vector<bl::term>{bl::term(1), bl::term(2), bl::term(3), bl::term(4), A("keep")}));
    EXPECT_EQ(reg.match(A("k"), bl::term(1))[0].first, other);  // the other process's stays
    EXPECT_EQ(reg.lookup(A("j")).size(), 1u);                   // and other keys

    reg.unregister_match(A("k"), bl::pattern("N"), [](const bl::bindings& b) {
      return b["N"].is_integer() && b["N"].as_int() >= 3;
    });
    EXPECT_EQ(sorted_values(reg.lookup(A("k"))),
              (std::vector<bl::term>{bl::term(1), bl::term(2), A("keep")}));
    reg.unregister_match(A("k"), bl::pattern("nothing"));
    EXPECT_EQ(reg.lookup(A("k")).size(), 3u);
    // keys() and count() follow: one registration per entry left.
    std::vector<bl::term> mine = reg.keys(bl::self());
    std::sort(mine.begin(), mine.end());
    EXPECT_EQ(mine, (std::vector<bl::term>{A("j"), A("k"), A("k")}));
    EXPECT_EQ(reg.count(), 4u);
    reg.unregister_match(A("k"), bl::pattern("_"));
    reg.unregister_match(A("j"), bl::pattern("_"));
    EXPECT_TRUE(reg.keys(bl::self()).empty());
    EXPECT_EQ(reg.count(), 1u);

    // In a unique registry, a key held by another process is not the caller's to remove.
    bl::registry unique = co_await start(bl::registry::unique, 2);
    bl::pid owner = bl::spawn(holder, unique, A("u"), bl::term(5), bl::self());
    co_await bl::receive<bl::pid, bl::term>();
    unique.unregister_match(A("u"), bl::pattern("_"));
    CO_ASSERT_TRUE(unique.lookup(A("u")).size() == 1u);
    EXPECT_EQ(unique.lookup(A("u"))[0].first, owner);
    unique.register_key(A("mine"), bl::term(5));
    unique.unregister_match(A("mine"), bl::pattern("6"));
    EXPECT_EQ(unique.lookup(A("mine")).size(), 1u);
    unique.unregister_match(A("mine"), bl::pattern("5"));
    EXPECT_TRUE(unique.lookup(A("mine")).empty());
    EXPECT_TRUE(unique.keys(bl::self()).empty());

    bl::send(other, bl::atom("done"));
    bl::send(owner, bl::atom("done"));
    co_await wait_until_count(reg, 0);
    co_await wait_until_count(unique, 0);
    co_await gs::stop(reg.owner());
    co_await gs::stop(unique.owner());
  });
}

TEST_P(key_registry, select_matches_key_pid_value_with_guards_and_projections) {
  run([&]() -> bl::process {
    for (auto mode : {bl::registry::unique, bl::registry::duplicate}) {
      bl::registry reg = co_await start(mode, 4);
      std::vector<bl::pid> holders;
      for (int i = 0; i < 6; ++i) {
        holders.push_back(bl::spawn(holder, reg, bl::term::tuple({A("job"), bl::term(i)}),
                                    bl::term(i * 10), bl::self()));
        co_await bl::receive<bl::pid, bl::term>();
      }
      reg.register_key(A("me"), A("busy"));
      co_await register_and_die(reg, bl::term::parse("{job, 100}"), bl::term(1000));

      // No guard, no projection: the matched {Key, Pid, Value} tuples themselves.
      std::vector<bl::term> all = reg.select(bl::pattern("_"));
      EXPECT_EQ(all.size(), 7u);  // the dead process's registration is skipped
      EXPECT_EQ(reg.count_select(bl::pattern("_")), 7u);
      std::vector<bl::term> mine =
          reg.select(bl::pattern::tuple(bl::pattern::var("K"), bl::self(), bl::pattern::var("V")));
      EXPECT_EQ(mine, std::vector<bl::term>{bl::term::tuple({A("me"), bl::self(), A("busy")})});

      // A guard and a projection over the bindings.
      std::vector<bl::term> picked = reg.select(
          bl::pattern("{{job, N}, Pid, V}"),
          [](const bl::bindings& b) { return b["N"].as_int() % 2 == 0; },
          [](const bl::bindings& b) {
            return bl::term::tuple({b["N"], b["V"]});
          });
      std::sort(picked.begin(), picked.end());
      EXPECT_EQ(picked,
                (std::vector<bl::term>{bl::term::parse("{0, 0}"), bl::term::parse("{2, 20}"),
                                       bl::term::parse("{4, 40}")}));
      EXPECT_EQ(reg.count_select(bl::pattern("{{job, N}, _, _}"),
                                 [](const bl::bindings& b) { return b["N"].as_int() >= 4; }),
                2u);
      // The pid in a projection is the registering process.
      std::vector<bl::term> pids = reg.select(bl::pattern("{{job, 3}, Pid, _}"), {},
                                              [](const bl::bindings& b) { return b["Pid"]; });
      CO_ASSERT_TRUE(pids.size() == 1u);
      EXPECT_EQ(pids[0].as_pid(), holders[3]);
      EXPECT_TRUE(reg.select(bl::pattern("{{job, _}, _, busy}")).empty());

      for (bl::pid p : holders) bl::send(p, bl::atom("done"));
      co_await gs::stop(reg.owner());
    }
  });
}

TEST_P(key_registry, guards_and_projections_run_outside_the_registrys_locks) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::unique);
    reg.register_key(A("a"), bl::term(1));
    // Each calls back into the registry, which takes the partition's lock exclusively.
    auto registering = [reg](const bl::bindings& b) {
      reg.register_key(bl::term::tuple({A("seen"), b["K"]}), bl::term(0));
      return true;
    };
    EXPECT_EQ(reg.select(bl::pattern("{K, _, _}"), registering).size(), 1u);
    EXPECT_EQ(
        reg.match(
               A("a"), bl::pattern("V"),
               [reg](const bl::bindings&) {
                 reg.put_meta(A("in_guard").as_atom(), bl::term(1));
                 return reg.update_value(A("a"), [](const bl::term& v) { return v; }).has_value();
               })
            .size(),
        1u);
    reg.unregister_match(A("a"), bl::pattern("V"),
                         [reg](const bl::bindings&) { return reg.count() == 2u; });
    EXPECT_TRUE(reg.lookup(A("a")).empty());
    EXPECT_EQ(reg.lookup(bl::term::parse("{seen, a}")).size(), 1u);
    EXPECT_EQ(reg.meta(bl::atom("in_guard")), bl::term(1));
    co_await gs::stop(reg.owner());
  });
}

TEST_P(key_registry, metadata_is_put_read_and_deleted_from_any_process) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::duplicate, 2, bl::atom("with_meta"));
    EXPECT_FALSE(reg.meta(bl::atom("custom_key")).has_value());
    reg.put_meta(bl::atom("custom_key"), A("custom_value"));
    EXPECT_EQ(reg.meta(bl::atom("custom_key")), A("custom_value"));
    reg.put_meta(bl::atom("custom_key"), bl::term::parse("{replaced, 1}"));
    EXPECT_EQ(reg.meta(bl::atom("custom_key")), bl::term::parse("{replaced, 1}"));
    // Another process reads it through the registry's name and writes its own.
    bl::pid me = bl::self();
    bl::spawn([me]() -> bl::process {
      auto found = bl::registry::named(bl::atom("with_meta"));
      if (!found) co_return;
      std::optional<bl::term> value = found->meta(bl::atom("custom_key"));
      found->put_meta(bl::atom("from_other"), bl::term(2));
      bl::send(me, value.value_or(A("none")));
    });
    EXPECT_EQ(co_await bl::receive<bl::term>(), bl::term::parse("{replaced, 1}"));
    EXPECT_EQ(reg.meta(bl::atom("from_other")), bl::term(2));
    reg.delete_meta(bl::atom("custom_key"));
    EXPECT_FALSE(reg.meta(bl::atom("custom_key")).has_value());
    reg.delete_meta(bl::atom("never_there"));  // nothing to delete: no error
    EXPECT_EQ(reg.meta(bl::atom("from_other")), bl::term(2));
    EXPECT_EQ(reg.count(), 0u);  // metadata is not a registration
    co_await gs::stop(reg.owner());
    // A new registry of the same name starts with no metadata.
    bl::registry again = co_await start(bl::registry::duplicate, 2, bl::atom("with_meta"));
    EXPECT_FALSE(again.meta(bl::atom("from_other")).has_value());
    co_await gs::stop(again.owner());
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

TEST_P(key_registry, queries_and_metadata_on_an_ended_registry_throw_badarg) {
  run([&]() -> bl::process {
    bl::registry reg = co_await start(bl::registry::duplicate, 2);
    reg.register_key(A("k"), bl::term(1));
    reg.put_meta(bl::atom("m"), bl::term(1));
    co_await gs::stop(reg.owner());
    auto is_badarg = [](const std::function<void()>& operation) {
      try {
        operation();
      } catch (const bl::error& e) {
        return e.reason() == bl::term(bl::atoms::badarg);
      }
      return false;
    };
    const bl::pattern any("_");
    EXPECT_TRUE(is_badarg([&] { reg.match(A("k"), any); }));
    EXPECT_TRUE(is_badarg([&] { reg.count_match(A("k"), any); }));
    EXPECT_TRUE(is_badarg([&] { reg.unregister_match(A("k"), any); }));
    EXPECT_TRUE(is_badarg([&] { reg.select(any); }));
    EXPECT_TRUE(is_badarg([&] { reg.count_select(any); }));
    EXPECT_TRUE(is_badarg([&] { reg.meta(bl::atom("m")); }));
    EXPECT_TRUE(is_badarg([&] { reg.put_meta(bl::atom("m"), bl::term(2)); }));
    EXPECT_TRUE(is_badarg([&] { reg.delete_meta(bl::atom("m")); }));
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
