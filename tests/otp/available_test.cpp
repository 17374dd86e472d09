// available_registry_*: bl::names::available on one node (available.hpp):
// registration, its refusals and metadata, several names per process, lookups,
// unregistration, a holder's end, events to subscribers, via names for a
// gen_server, scopes kept apart, a missing scope. Across nodes (replication,
// conflicts, partitions): tests/dist/available_cluster_test.py.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "beamline/available.hpp"
#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace av = bl::names::available;
namespace gs = bl::gen_server;

class available_registry : public node_test {};
BEAMLINE_SWEEP_WORKERS(available_registry);

bl::process holder() {
  co_await bl::receive([](bl::atom) {});
}

bl::task<bl::pid> start_scope(bl::atom name = av::default_scope()) {
  auto started = co_await av::start_link(name);
  if (!started.is_ok())
    throw std::runtime_error("scope did not start: " + started.to_term().to_string());
  co_return started.pid();
}
void stop(const bl::pid& scope) {
  bl::exit(scope, bl::atom("kill"));
}

TEST_P(available_registry, a_name_has_one_holder_with_its_metadata) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    const bl::pid a = bl::spawn(holder), b = bl::spawn(holder);
    const bl::term name = bl::term::parse("{svc, 1}");
    EXPECT_TRUE(av::register_name(av::default_scope(), name, a, bl::term::parse("#{port => 80}")));
    EXPECT_FALSE(av::register_name(av::default_scope(), name, b));  // taken
    EXPECT_EQ(av::whereis_name(av::default_scope(), name), a);
    auto r = av::lookup(av::default_scope(), name);
    CO_ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->process, a);
    EXPECT_EQ(r->meta, bl::term::parse("#{port => 80}"));
    EXPECT_GT(r->time_us, 0);
    EXPECT_EQ(r->node, bl::dist::node_name());
    // A process may hold several names.
    EXPECT_TRUE(av::register_name(av::default_scope(), A("second"), a));
    EXPECT_EQ(av::count(av::default_scope()), 2u);
    auto all = av::registrations(av::default_scope());
    std::sort(all.begin(), all.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    CO_ASSERT_TRUE(all.size() == 2u);
    EXPECT_EQ(all[0].first, A("second"));
    EXPECT_EQ(all[1].first, name);
    // Unregistered, the name is free for another.
    EXPECT_TRUE(av::unregister_name(av::default_scope(), name));
    EXPECT_FALSE(av::unregister_name(av::default_scope(), name));
    EXPECT_EQ(av::whereis_name(av::default_scope(), name), std::nullopt);
    EXPECT_TRUE(av::register_name(av::default_scope(), name, b));
    EXPECT_EQ(av::whereis_name(av::default_scope(), name), b);
    bl::send(a, bl::atom("stop"));
    bl::send(b, bl::atom("stop"));
    EXPECT_TRUE(co_await eventually([&] { return av::count(av::default_scope()) == 0u; }));
    stop(scope);
  });
}

TEST_P(available_registry, names_go_when_their_holder_ends) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    const bl::pid a = bl::spawn(holder);
    EXPECT_TRUE(av::register_name(av::default_scope(), A("x"), a));
    EXPECT_TRUE(av::register_name(av::default_scope(), A("y"), a));
    bl::exit(a, bl::atom("kill"));
    EXPECT_TRUE(co_await eventually([&] { return av::count(av::default_scope()) == 0u; }));
    // And a process that ends right after registering loses its name too.
    const bl::pid brief = bl::spawn([]() -> bl::process {
      av::register_name(av::default_scope(), A("brief"), bl::self());
      co_return;
    });
    (void)brief;
    co_await bl::sleep(10ms);
    EXPECT_TRUE(co_await eventually([&] { return av::count(av::default_scope()) == 0u; }));
    stop(scope);
  });
}

TEST_P(available_registry, subscribers_hear_every_change_with_its_reason) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    co_await av::subscribe(av::default_scope());
    const bl::pid a = bl::spawn(holder);
    EXPECT_TRUE(av::register_name(av::default_scope(), A("x"), a, A("meta")));
    bl::term e = co_await bl::receive<bl::term>();
    EXPECT_EQ(e, bl::term::tuple({A("available"), av::default_scope(), A("registered"), A("x"), a,
                                  A("meta"), A("normal")}));
    EXPECT_TRUE(av::unregister_name(av::default_scope(), A("x")));
    e = co_await bl::receive<bl::term>();
    EXPECT_EQ(e, bl::term::tuple({A("available"), av::default_scope(), A("unregistered"), A("x"), a,
                                  A("meta"), A("normal")}));
    EXPECT_TRUE(av::register_name(av::default_scope(), A("y"), a));
    e = co_await bl::receive<bl::term>();
    EXPECT_EQ(e[2], A("registered"));
    bl::exit(a, bl::atom("boom"));
    e = co_await bl::receive<bl::term>();
    EXPECT_EQ(e[2], A("unregistered"));
    EXPECT_EQ(e[3], A("y"));
    EXPECT_EQ(e[6], bl::term::parse("{process_down, boom}"));
    // After unsubscribe, nothing more.
    co_await av::unsubscribe(av::default_scope());
    const bl::pid b = bl::spawn(holder);
    EXPECT_TRUE(av::register_name(av::default_scope(), A("z"), b));
    const bool more = co_await bl::receive([](const bl::term&) { return true; },
                                           bl::after(50ms, [] { return false; }));
    EXPECT_FALSE(more);
    bl::send(b, bl::atom("stop"));
    stop(scope);
  });
}

TEST_P(available_registry, a_dead_process_is_registered_and_removed_at_once) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    co_await av::subscribe(av::default_scope());
    const bl::pid gone = bl::spawn([]() -> bl::process { co_return; });
    co_await bl::sleep(10ms);
    // As global does: the name is taken, then goes with the monitor's noproc.
    EXPECT_TRUE(av::register_name(av::default_scope(), A("ghost"), gone));
    bl::term e = co_await bl::receive<bl::term>();
    EXPECT_EQ(e[2], A("registered"));
    e = co_await bl::receive<bl::term>();
    EXPECT_EQ(e[2], A("unregistered"));
    EXPECT_EQ(e[6], bl::term::parse("{process_down, noproc}"));
    EXPECT_EQ(av::whereis_name(av::default_scope(), A("ghost")), std::nullopt);
    stop(scope);
  });
}

struct echo_server {
  bl::term handle_call(const bl::term& request, const bl::from&) { return request; }
};

TEST_P(available_registry, a_gen_server_is_named_through_it) {
  run([&]() -> bl::process {
    const bl::pid scope = co_await start_scope();
    auto started = co_await gs::start_link<echo_server>(av::via(av::default_scope(), A("echo")));
    CO_ASSERT_TRUE(started.is_ok());
    EXPECT_EQ(av::whereis_name(av::default_scope(), A("echo")), started.pid());
    bl::term reply = co_await gs::call(av::via(av::default_scope(), A("echo")), A("ping"));
    EXPECT_EQ(reply, A("ping"));
    // A second one under the same name: already started.
    auto again = co_await gs::start<echo_server>(av::via(av::default_scope(), A("echo")));
    EXPECT_FALSE(again.is_ok());
    co_await gs::stop(started.pid());
    EXPECT_TRUE(co_await eventually(
        [&] { return !av::whereis_name(av::default_scope(), A("echo")).has_value(); }));
    stop(scope);
  });
}

TEST_P(available_registry, scopes_are_separate_and_a_missing_scope_is_refused) {
  run([&]() -> bl::process {
    const bl::pid s1 = co_await start_scope(A("s1").as_atom());
    const bl::pid s2 = co_await start_scope(A("s2").as_atom());
    EXPECT_FALSE((co_await av::start(A("s1").as_atom())).is_ok());
    EXPECT_TRUE(av::register_name(A("s1").as_atom(), A("n"), bl::self()));
    EXPECT_TRUE(av::register_name(A("s2").as_atom(), A("n"), bl::self()));
    EXPECT_EQ(av::count(A("s1").as_atom()), 1u);
    EXPECT_EQ(av::whereis_name(A("nowhere").as_atom(), A("n")), std::nullopt);
    EXPECT_EQ(av::count(A("nowhere").as_atom()), 0u);
    bool refused = false;
    try {
      av::register_name(A("nowhere").as_atom(), A("n"), bl::self());
    } catch (const bl::error&) {
      refused = true;
    }
    EXPECT_TRUE(refused);
    refused = false;
    try {
      av::register_name(A("s1").as_atom(), A("m"), bl::term::parse("<9.1.0>").as_pid());
    } catch (const std::invalid_argument&) {
      refused = true;
    }
    EXPECT_TRUE(refused);
    stop(s1);
    stop(s2);
  });
}

}  // namespace
