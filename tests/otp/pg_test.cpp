// process_groups_*: bl::pg on one node (pg.hpp): joining and leaving (several times
// over, lists of pids, not_joined), members leaving when they end, local members and
// groups, scope and group monitors with their notifications and demonitor's flush,
// scopes kept apart, a missing scope. Across nodes: tests/dist/pg_interop_test.py.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "beamline/otp.hpp"
#include "beamline/pg.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace pg = bl::pg;

class process_groups : public node_test {};
BEAMLINE_SWEEP_WORKERS(process_groups);

// A process that waits for `stop`.
bl::process member() {
  co_await bl::receive([](bl::atom) {});
}

// Starts a scope linked to the caller; its pid, to end it with stop() (a scope server
// outlives a caller that ends normally, as in Erlang).
bl::task<bl::pid> start_scope(bl::atom name = pg::default_scope()) {
  auto started = co_await pg::start_link(name);
  if (!started.is_ok())
    throw std::runtime_error("scope did not start: " + started.to_term().to_string());
  co_return started.pid();
}
void stop(const bl::pid& scope) {
  bl::exit(scope, bl::atom("kill"));
}

std::size_t count_of(const std::vector<bl::pid>& pids, const bl::pid& p) {
  return static_cast<std::size_t>(std::count(pids.begin(), pids.end(), p));
}

TEST_P(process_groups, join_and_leave_count_each_occurrence) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    bl::pid a = bl::spawn(member), b = bl::spawn(member);
    co_await pg::join(A("g"), a);
    co_await pg::join(A("g"), a);       // twice: a member twice over
    std::vector<bl::pid> just_b(1, b);  // (named: g++ 12 and braced lists in co_await)
    co_await pg::join(pg::default_scope(), A("g"), std::move(just_b));
    auto members = pg::get_members(A("g"));
    EXPECT_EQ(members.size(), 3u);
    EXPECT_EQ(count_of(members, a), 2u);
    EXPECT_EQ(count_of(members, b), 1u);
    EXPECT_EQ(pg::get_local_members(A("g")).size(), 3u);
    EXPECT_TRUE(co_await pg::leave(A("g"), a));
    EXPECT_EQ(count_of(pg::get_members(A("g")), a), 1u);
    EXPECT_TRUE(co_await pg::leave(A("g"), a));
    EXPECT_FALSE(co_await pg::leave(A("g"), a));  // not_joined
    EXPECT_FALSE(co_await pg::leave(A("other"), b));
    EXPECT_EQ(pg::get_members(A("g")), std::vector<bl::pid>{b});
    EXPECT_TRUE(co_await pg::leave(A("g"), b));
    EXPECT_TRUE(pg::get_members(A("g")).empty());
    EXPECT_TRUE(pg::which_groups().empty());  // an empty group is gone
    bl::send(a, bl::atom("stop"));
    bl::send(b, bl::atom("stop"));
    stop(scope);
  });
}

TEST_P(process_groups, groups_are_any_term_and_members_leave_when_they_end) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    const bl::term g1 = bl::term::parse("{workers, 1}"), g2 = bl::term::parse("[\"x\", 2]");
    bl::pid a = bl::spawn(member), b = bl::spawn(member);
    co_await pg::join(g1, a);
    co_await pg::join(g2, a);
    co_await pg::join(g2, a);
    co_await pg::join(g2, b);
    auto groups = pg::which_groups();
    std::sort(groups.begin(), groups.end());
    std::vector<bl::term> expected{g1, g2};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(groups, expected);
    bl::exit(a, bl::atom("kill"));
    EXPECT_TRUE(co_await eventually([&] { return pg::get_members(g2).size() == 1u; }));
    EXPECT_EQ(pg::get_members(g2), std::vector<bl::pid>{b});
    EXPECT_TRUE(pg::get_members(g1).empty());
    EXPECT_EQ(pg::which_local_groups(pg::default_scope()), std::vector<bl::term>{g2});
    bl::send(b, bl::atom("stop"));
    EXPECT_TRUE(co_await eventually([&] { return pg::which_groups().empty(); }));
    stop(scope);
  });
}

TEST_P(process_groups, scopes_are_separate_and_a_missing_scope_is_empty) {
  run([&]() -> bl::process {
    const bl::pid s1 = co_await start_scope(bl::atom("s1"));
    const bl::pid s2 = co_await start_scope(bl::atom("s2"));
    auto again = co_await pg::start(bl::atom("s1"));
    EXPECT_FALSE(again.is_ok());  // {already_started, Pid}
    co_await pg::join(bl::atom("s1"), A("g"), bl::self());
    EXPECT_EQ(pg::get_members(bl::atom("s1"), A("g")), std::vector<bl::pid>{bl::self()});
    EXPECT_TRUE(pg::get_members(bl::atom("s2"), A("g")).empty());
    EXPECT_TRUE(pg::get_members(bl::atom("nowhere"), A("g")).empty());
    EXPECT_TRUE(pg::which_groups(bl::atom("nowhere")).empty());
    EXPECT_TRUE(co_await pg::leave(bl::atom("s1"), A("g"), bl::self()));
    stop(s1);
    stop(s2);
  });
}

TEST_P(process_groups, only_local_processes_join) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    const bl::pid remote = bl::term::parse("<9.1.0>").as_pid();
    bool refused = false;
    try {
      co_await pg::join(A("g"), remote);
    } catch (const std::invalid_argument&) {
      refused = true;
    }
    EXPECT_TRUE(refused);
    EXPECT_TRUE(pg::get_members(A("g")).empty());
    stop(scope);
  });
}

TEST_P(process_groups, scope_monitor_sees_every_join_and_leave) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    bl::pid a = bl::spawn(member);
    co_await pg::join(A("before"), a);
    pg::scope_monitor m = co_await pg::monitor_scope(pg::default_scope());
    CO_ASSERT_TRUE(m.groups.size() == 1u);
    EXPECT_EQ(m.groups[0].first, A("before"));
    EXPECT_EQ(m.groups[0].second, std::vector<bl::pid>{a});
    co_await pg::join(A("g"), a);
    bl::term joined = co_await bl::receive<bl::term>();
    EXPECT_EQ(joined, bl::term::tuple({m.monitor, A("join"), A("g"), bl::term::list({a})}));
    bl::send(a, bl::atom("stop"));  // it leaves both groups
    std::vector<bl::term> left;
    for (int i = 0; i < 2; ++i) left.push_back(co_await bl::receive<bl::term>());
    std::sort(left.begin(), left.end());
    std::vector<bl::term> expected{
        bl::term::tuple({m.monitor, A("leave"), A("before"), bl::term::list({a})}),
        bl::term::tuple({m.monitor, A("leave"), A("g"), bl::term::list({a})})};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(left, expected);
    EXPECT_TRUE(co_await pg::demonitor(pg::default_scope(), m.monitor));
    EXPECT_FALSE(co_await pg::demonitor(pg::default_scope(), m.monitor));
    stop(scope);
  });
}

TEST_P(process_groups, group_monitor_sees_its_group_only_and_demonitor_flushes) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    bl::pid a = bl::spawn(member);
    co_await pg::join(A("g"), a);
    pg::group_monitor m = co_await pg::monitor(pg::default_scope(), A("g"));
    EXPECT_EQ(m.members, std::vector<bl::pid>{a});
    co_await pg::join(A("other"), a);  // not this group: no notification
    co_await pg::join(A("g"), bl::self());
    bl::term note = co_await bl::receive<bl::term>();
    EXPECT_EQ(note, bl::term::tuple({m.monitor, A("join"), A("g"), bl::term::list({bl::self()})}));
    // Queued but not yet taken: demonitor drops it.
    EXPECT_TRUE(co_await pg::leave(A("g"), bl::self()));
    EXPECT_TRUE(co_await pg::demonitor(pg::default_scope(), m.monitor));
    EXPECT_EQ(co_await queued_messages(), 0u);
    co_await pg::join(A("g"), bl::self());  // after demonitor: nothing
    EXPECT_EQ(co_await queued_messages(), 0u);
    bl::send(a, bl::atom("stop"));
    stop(scope);
  });
}

TEST_P(process_groups, a_monitoring_process_that_ends_is_forgotten) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    bl::pid watcher = bl::spawn([]() -> bl::process {
      co_await pg::monitor_scope(pg::default_scope());
      co_await pg::monitor(pg::default_scope(), bl::atom("g"));
    });
    EXPECT_TRUE(co_await eventually([&] { return !bl::is_alive(watcher); }));
    // The scope goes on (it would send to a dead pid otherwise, harmlessly; what
    // matters is that it keeps serving).
    co_await pg::join(A("g"), bl::self());
    EXPECT_EQ(pg::get_members(A("g")), std::vector<bl::pid>{bl::self()});
    stop(scope);
  });
}

TEST_P(process_groups, many_joiners_at_once) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    const bl::pid me = bl::self();
    constexpr int n = 200;
    std::vector<bl::pid> all;
    for (int i = 0; i < n; ++i)
      all.push_back(bl::spawn([me]() -> bl::process {
        co_await pg::join(bl::atom("crowd"), bl::self());
        bl::send(me, bl::atom("joined"));
        co_await bl::receive([](bl::atom) {});
      }));
    for (int i = 0; i < n; ++i) co_await bl::receive([](bl::atom) {});
    EXPECT_EQ(pg::get_members(A("crowd")).size(), static_cast<std::size_t>(n));
    for (const bl::pid& p : all) bl::send(p, bl::atom("stop"));
    EXPECT_TRUE(co_await eventually([&] { return pg::get_members(A("crowd")).empty(); }));
    stop(scope);
  });
}

}  // namespace
