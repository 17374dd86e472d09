// supervisor_*: the supervisor behaviour (reference section 11): start and shutdown
// order, strategies, restart types, restart intensity, shutdown escalation, start
// failures, child operations, bad specs, dynamic children, nesting.
#include <algorithm>
#include <string>
#include <vector>

#include "beamline/observe.hpp"
#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace gs = bl::gen_server;
namespace sup = bl::supervisor;

class supervisor : public node_test {};
BEAMLINE_SWEEP_WORKERS(supervisor);

// (Not a braced list: g++ 12 cannot keep one in a full-expression with a co_await.)
template <class... S>
std::vector<std::string> strings(S... s) {
  return std::vector<std::string>{std::string(s)...};
}

// What members tell the test: started or stopped (terminate ran), with the reason.
struct event {
  std::string what;
  std::string name;
  bl::pid pid;
  bl::term reason;
};

// A gen_server child that reports its start and, when it traps exits, its end.
struct member {
  struct crash {
    bl::term reason;
  };
  struct name_of {};
  member(bl::pid observer, std::string name, bool trap) : observer_(observer), name_(name) {
    if (trap) bl::trap_exit(true);
    bl::send(observer_, event{"start", name_, bl::self(), {}});
  }
  void handle_cast(crash c) { bl::exit(c.reason); }
  std::string handle_call(name_of) { return name_; }
  void terminate(const bl::term& reason) {
    bl::send(observer_, event{"stop", name_, bl::self(), reason});
  }
  bl::pid observer_;
  std::string name_;
};

sup::child_spec member_spec(const std::string& name, bool trap = true,
                            sup::restart r = sup::restart::permanent) {
  sup::child_spec spec = sup::worker<member>(bl::atom(name), bl::self(), name, trap);
  spec.restart = r;
  return spec;
}

bl::task<event> next_event(std::chrono::milliseconds timeout = 5s) {
  co_return co_await bl::receive([](event e) { return e; }, bl::after(timeout, [] {
                                   return event{"none", "", {}, {}};
                                 }));
}

// The names of the next n events of kind `what`.
bl::task<std::vector<std::string>> names(std::string what, int n) {
  std::vector<std::string> out;
  while (static_cast<int>(out.size()) < n) {
    event e = co_await next_event();
    if (e.what == "none") break;
    if (e.what == what) out.push_back(e.name);
  }
  co_return out;
}

bl::task<bl::pid> pid_of(bl::pid s, bl::term id) {
  for (const sup::child_info& c : co_await sup::which_children(s))
    if (c.id == id && c.child) co_return *c.child;
  co_return bl::pid{};
}

bl::task<bl::term> wait_down(bl::ref m) {
  auto d = co_await bl::receive(bl::when([m](const bl::down_message& x) { return x.monitor == m; },
                                         [](bl::down_message x) { return x.reason; }));
  co_return d;
}

TEST_P(supervisor, children_start_left_to_right_and_stop_in_reverse_order) {
  run([&]() -> bl::process {
    auto s = co_await sup::start_link(
        {}, sup::children(member_spec("a"), member_spec("b"), member_spec("c")));
    CO_ASSERT_TRUE(s.is_ok());
    EXPECT_EQ(co_await names("start", 3), strings("a", "b", "c"));
    co_await gs::stop(s.pid(), A("shutdown"));
    EXPECT_EQ(co_await names("stop", 3), strings("c", "b", "a"));
  });
}

TEST_P(supervisor,
       a_worker_with_a_name_is_registered_restarted_under_it_and_stopped_with_sup_stop) {
  run([&]() -> bl::process {
    sup::child_spec named = sup::worker<member>(A("a"), gs::start_options(bl::atom("sup_named_a")),
                                                bl::self(), std::string("a"), true);
    auto s = (co_await sup::start_link({.intensity = 5}, sup::children(std::move(named)))).pid();
    co_await names("start", 1);
    std::optional<bl::pid> first = bl::whereis(bl::atom("sup_named_a"));
    CO_ASSERT_TRUE(first.has_value());
    EXPECT_EQ(*first, co_await pid_of(s, A("a")));
    bl::server<member>(bl::atom("sup_named_a")).cast(member::crash{A("boom")});
    EXPECT_EQ(co_await names("start", 1), strings("a"));
    std::optional<bl::pid> second = bl::whereis(bl::atom("sup_named_a"));
    CO_ASSERT_TRUE(second.has_value());
    EXPECT_NE(*second, *first);
    EXPECT_EQ(co_await bl::server<member>(bl::atom("sup_named_a")).call(member::name_of{}), "a");
    co_await sup::stop(s);  // the children first
    EXPECT_EQ(co_await names("stop", 1), strings("a"));
    EXPECT_FALSE(bl::whereis(bl::atom("sup_named_a")).has_value());
  });
}

TEST_P(supervisor, one_for_one_restarts_only_the_child_that_died) {
  run([&]() -> bl::process {
    auto s =
        (co_await sup::start_link(
             {.intensity = 5}, sup::children(member_spec("a"), member_spec("b"), member_spec("c"))))
            .pid();
    co_await names("start", 3);
    bl::pid a = co_await pid_of(s, A("a")), b = co_await pid_of(s, A("b"));
    bl::server<member>(b).cast(member::crash{A("boom")});
    event stopped = co_await next_event();
    EXPECT_EQ(stopped.what, "stop");
    EXPECT_EQ(stopped.reason, A("boom"));
    event restarted = co_await next_event();
    EXPECT_EQ(restarted.what, "start");
    EXPECT_EQ(restarted.name, "b");
    EXPECT_NE(co_await pid_of(s, A("b")), b);
    EXPECT_EQ(co_await pid_of(s, A("a")), a);
    co_await gs::stop(s);
  });
}

TEST_P(supervisor, one_for_all_restarts_every_child_in_order) {
  run([&]() -> bl::process {
    auto s = (co_await sup::start_link(
                  {.strategy = sup::strategy::one_for_all, .intensity = 5},
                  sup::children(member_spec("a"), member_spec("b"), member_spec("c"))))
                 .pid();
    co_await names("start", 3);
    bl::server<member>(co_await pid_of(s, A("b"))).cast(member::crash{A("boom")});
    std::vector<std::string> seen;
    for (int i = 0; i < 6; ++i) {
      event e = co_await next_event();
      seen.push_back(e.what + " " + e.name);
    }
    // b's own stop, then the others in reverse start order, then all start again.
    EXPECT_EQ(seen, strings("stop b", "stop c", "stop a", "start a", "start b", "start c"));
    co_await gs::stop(s);
  });
}

TEST_P(supervisor, rest_for_one_restarts_the_child_and_those_started_after_it) {
  run([&]() -> bl::process {
    auto s = (co_await sup::start_link({.strategy = sup::strategy::rest_for_one, .intensity = 5},
                                       sup::children(member_spec("a"), member_spec("b"),
                                                     member_spec("c"), member_spec("d"))))
                 .pid();
    co_await names("start", 4);
    bl::pid a = co_await pid_of(s, A("a"));
    bl::server<member>(co_await pid_of(s, A("b"))).cast(member::crash{A("boom")});
    std::vector<std::string> seen;
    for (int i = 0; i < 6; ++i) {
      event e = co_await next_event();
      seen.push_back(e.what + " " + e.name);
    }
    EXPECT_EQ(seen, strings("stop b", "stop d", "stop c", "start b", "start c", "start d"));
    EXPECT_EQ(co_await pid_of(s, A("a")), a);
    co_await gs::stop(s);
  });
}

TEST_P(supervisor, restart_types_decide_which_exits_are_restarted) {
  run([&]() -> bl::process {
    auto s =
        (co_await sup::start_link(
             {.intensity = 10}, sup::children(member_spec("perm", false, sup::restart::permanent),
                                              member_spec("trans", false, sup::restart::transient),
                                              member_spec("temp", false, sup::restart::temporary))))
            .pid();
    co_await names("start", 3);
    // permanent: even a normal exit is restarted.
    bl::server<member>(co_await pid_of(s, A("perm"))).cast(member::crash{A("normal")});
    EXPECT_EQ(co_await names("start", 1), strings("perm"));
    // transient: a normal or shutdown exit is not; a crash is.
    // Once the supervisor has handled the exit, the child is either restarted (a new
    // pid) or not (none): wait for the old pid to go, then look.
    bl::pid trans = co_await pid_of(s, A("trans"));
    bl::server<member>(trans).cast(member::crash{A("shutdown")});
    EXPECT_TRUE(co_await eventually(
        [&]() -> bl::task<bool> { co_return co_await pid_of(s, A("trans")) != trans; }));
    EXPECT_TRUE((co_await pid_of(s, A("trans"))).is_null());
    CO_ASSERT_TRUE((co_await sup::restart_child(s, A("trans"))).is_ok());
    co_await names("start", 1);
    bl::server<member>(co_await pid_of(s, A("trans"))).cast(member::crash{A("boom")});
    EXPECT_EQ(co_await names("start", 1), strings("trans"));
    // temporary: never, and its spec is gone.
    bl::pid temp = co_await pid_of(s, A("temp"));
    bl::server<member>(temp).cast(member::crash{A("boom")});
    EXPECT_TRUE(co_await eventually(
        [&]() -> bl::task<bool> { co_return co_await pid_of(s, A("temp")) != temp; }));
    auto children = co_await sup::which_children(s);
    CO_ASSERT_TRUE(children.size() == 2u);
    EXPECT_EQ(children[0].id, A("perm"));
    EXPECT_EQ(children[1].id, A("trans"));
    // temp's terminate told us before it ended, and nothing started after it (a start
    // would have been sent before the supervisor's answer above).
    event last = co_await next_event(0ms);
    EXPECT_EQ(last.what + " " + last.name, "stop temp");
    EXPECT_EQ((co_await next_event(0ms)).what, "none");
    co_await gs::stop(s);
  });
}

TEST_P(supervisor, a_restart_storm_past_the_intensity_shuts_the_supervisor_down) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto s = (co_await sup::start_link({.intensity = 3, .period = 10s},
                                       sup::children(member_spec("a"), member_spec("b"))))
                 .pid();
    co_await names("start", 2);
    for (int i = 0; i < 3; ++i) {
      bl::server<member>(co_await pid_of(s, A("a"))).cast(member::crash{A("boom")});
      co_await names("start", 1);
    }
    bl::server<member>(co_await pid_of(s, A("a"))).cast(member::crash{A("boom")});  // the 4th
    auto exit = co_await bl::receive<bl::exit_message>();
    EXPECT_EQ(exit.from, s);
    EXPECT_EQ(exit.reason, A("shutdown"));
    // b was shut down as the supervisor went.
    // Their terminates told us before they ended, so before the supervisor's EXIT.
    std::vector<std::string> stops;
    for (;;) {
      event e = co_await next_event(0ms);
      if (e.what == "none") break;
      if (e.what == "stop") stops.push_back(e.name + " " + e.reason.to_string());
    }
    EXPECT_EQ(stops, strings("a boom", "b shutdown"));
  });
}

TEST_P(supervisor, intensity_zero_gives_up_at_the_first_crash) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto s =
        (co_await sup::start_link({.intensity = 0}, sup::children(member_spec("a", false)))).pid();
    co_await names("start", 1);
    bl::server<member>(co_await pid_of(s, A("a"))).cast(member::crash{A("boom")});
    auto exit = co_await bl::receive<bl::exit_message>();
    EXPECT_EQ(exit.reason, A("shutdown"));
  });
}

TEST_P(supervisor, a_child_failing_in_init_fails_the_start_and_stops_the_others) {
  struct broken {
    explicit broken(int) { throw bl::error(bl::atom("no_db"), "no database"); }
  };
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto r = co_await sup::start_link(
        {},
        sup::children(member_spec("a"), sup::worker<broken>(bl::atom("db"), 1), member_spec("c")));
    EXPECT_EQ(r.reason(), bl::term::parse("{shutdown, {failed_to_start_child, db, no_db}}"));
    EXPECT_EQ(co_await names("start", 1), strings("a"));
    event e = co_await next_event();
    EXPECT_EQ(e.what + " " + e.name, "stop a");
    EXPECT_EQ(e.reason, A("shutdown"));
    // c never started: had it, its start event would have been sent before the
    // supervisor's answer, so it would be here now.
    event none = co_await next_event(0ms);
    EXPECT_EQ(none.what, "none");
  });
}

// A child that traps exits and takes `delay` to stop.
struct slow_stopper {
  explicit slow_stopper(std::chrono::milliseconds delay) : delay_(delay) { bl::trap_exit(true); }
  bl::task<void> terminate(const bl::term&) { co_await bl::sleep(delay_); }
  std::chrono::milliseconds delay_;
};

TEST_P(supervisor, a_shutdown_timeout_escalates_to_kill) {
  run([&]() -> bl::process {
    auto spec = sup::worker<slow_stopper>(bl::atom("slow"), std::chrono::milliseconds(10s));
    spec.shutdown = 30ms;
    auto s = (co_await sup::start_link({}, sup::children(spec))).pid();
    bl::pid child = co_await pid_of(s, A("slow"));
    bl::ref m = bl::monitor(child);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(co_await sup::terminate_child(s, A("slow")));
    EXPECT_EQ(co_await wait_down(m), A("killed"));  // not the 10 s terminate's end
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
    co_await gs::stop(s);
  });
}

TEST_P(supervisor, shutdown_waits_for_a_child_that_stops_in_time_and_brutal_kill_does_not_wait) {
  run([&]() -> bl::process {
    auto patient = sup::worker<slow_stopper>(bl::atom("patient"), std::chrono::milliseconds(20));
    patient.shutdown = bl::infinity;
    auto brutal = sup::worker<slow_stopper>(bl::atom("brutal"), std::chrono::milliseconds(10s));
    brutal.shutdown = sup::brutal_kill;
    auto s = (co_await sup::start_link({}, sup::children(patient, brutal))).pid();
    bl::ref mp = bl::monitor(co_await pid_of(s, A("patient")));
    bl::ref mb = bl::monitor(co_await pid_of(s, A("brutal")));
    EXPECT_TRUE(co_await sup::terminate_child(s, A("brutal")));
    EXPECT_EQ(co_await wait_down(mb), A("killed"));
    EXPECT_TRUE(co_await sup::terminate_child(s, A("patient")));
    EXPECT_EQ(co_await wait_down(mp), A("shutdown"));
    co_await gs::stop(s);
  });
}

TEST_P(supervisor, child_operations_return_otps_values) {
  run([&]() -> bl::process {
    auto s =
        (co_await sup::start_link({}, sup::children(member_spec("a"), member_spec("b")))).pid();
    co_await names("start", 2);
    auto counts = co_await sup::count_children(s);
    EXPECT_EQ(counts.specs, 2);
    EXPECT_EQ(counts.active, 2);
    EXPECT_EQ(counts.workers, 2);
    EXPECT_EQ(counts.supervisors, 0);
    EXPECT_EQ((co_await sup::terminate_child(s, A("zzz"))).to_term(),
              bl::term::parse("{error, not_found}"));
    EXPECT_EQ((co_await sup::delete_child(s, A("a"))).to_term(),
              bl::term::parse("{error, running}"));
    EXPECT_EQ((co_await sup::restart_child(s, A("a"))).to_term(),
              bl::term::parse("{error, running}"));
    EXPECT_TRUE((co_await sup::terminate_child(s, A("a"))).is_ok());
    EXPECT_EQ((co_await sup::count_children(s)).active, 1);
    auto rows = co_await sup::which_children(s);
    CO_ASSERT_TRUE(rows.size() == 2u);
    EXPECT_EQ(rows[0].to_term(), bl::term::parse("{a, undefined, worker, []}"));
    auto restarted = co_await sup::restart_child(s, A("a"));
    EXPECT_TRUE(restarted.is_ok());
    EXPECT_TRUE((co_await sup::terminate_child(s, A("a"))).is_ok());
    EXPECT_TRUE((co_await sup::delete_child(s, A("a"))).is_ok());
    EXPECT_EQ((co_await sup::delete_child(s, A("a"))).to_term(),
              bl::term::parse("{error, not_found}"));
    EXPECT_EQ((co_await sup::restart_child(s, A("a"))).to_term(),
              bl::term::parse("{error, not_found}"));
    // start_child: a new id is started after the others; a known one is refused.
    auto added = co_await sup::start_child(s, member_spec("c"));
    EXPECT_TRUE(added.is_ok());
    EXPECT_EQ((co_await sup::start_child(s, member_spec("c"))).to_term(),
              bl::term::tuple(A("error"), bl::term::tuple(A("already_started"), added.pid())));
    EXPECT_TRUE((co_await sup::terminate_child(s, A("c"))).is_ok());
    EXPECT_EQ((co_await sup::start_child(s, member_spec("c"))).to_term(),
              bl::term::parse("{error, already_present}"));
    rows = co_await sup::which_children(s);
    CO_ASSERT_TRUE(rows.size() == 2u);
    EXPECT_EQ(rows[0].id, A("b"));
    EXPECT_EQ(rows[1].id, A("c"));
    co_await gs::stop(s);
  });
}

TEST_P(supervisor, bad_specs_and_flags_fail_the_start_with_otps_reasons) {
  run([&]() -> bl::process {
    auto dup = co_await sup::start_link({}, sup::children(member_spec("a"), member_spec("a")));
    EXPECT_EQ(dup.reason(), bl::term::parse("{start_spec, {duplicate_child_name, a}}"));
    auto bad_restart = member_spec("a");
    bad_restart.restart = static_cast<sup::restart>(7);
    EXPECT_EQ((co_await sup::start_link({}, sup::children(bad_restart))).reason(),
              bl::term::parse("{start_spec, {invalid_restart_type, 7}}"));
    auto bad_shutdown = member_spec("a");
    bad_shutdown.shutdown = -5ms;
    EXPECT_EQ((co_await sup::start_link({}, sup::children(bad_shutdown))).reason(),
              bl::term::parse("{start_spec, {invalid_shutdown, -5}}"));
    sup::child_spec no_start;
    no_start.id = A("nothing");
    EXPECT_EQ((co_await sup::start_link({}, sup::children(no_start))).reason(),
              bl::term::parse("{start_spec, {invalid_mfa, nothing}}"));
    EXPECT_EQ((co_await sup::start_link({.intensity = -1}, sup::children())).reason(),
              bl::term::parse("{supervisor_data, {invalid_intensity, -1}}"));
    EXPECT_EQ((co_await sup::start_link({.period = 0s}, sup::children())).reason(),
              bl::term::parse("{supervisor_data, {invalid_period, 0}}"));
    // start_child checks the spec too, and the supervisor carries on.
    auto s = (co_await sup::start_link({}, sup::children())).pid();
    EXPECT_EQ((co_await sup::start_child(s, bad_restart)).to_term(),
              bl::term::parse("{error, {invalid_restart_type, 7}}"));
    EXPECT_EQ((co_await sup::count_children(s)).specs, 0);
    co_await gs::stop(s);
    EXPECT_EQ(co_await names("start", 1), strings());
  });
}

TEST_P(supervisor, a_failing_restart_is_retried_and_counts_toward_the_intensity) {
  static std::atomic<int> attempts{0};
  struct flaky {
    explicit flaky(bl::pid observer) {
      if (++attempts > 1) throw bl::error(bl::atom("cannot_start"), "down for good");
      bl::send(observer, event{"start", "flaky", bl::self(), {}});
    }
  };
  attempts = 0;
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto s =
        (co_await sup::start_link({.intensity = 3, .period = 10s},
                                  sup::children(sup::worker<flaky>(bl::atom("flaky"), bl::self()))))
            .pid();
    co_await names("start", 1);
    bl::exit(co_await pid_of(s, A("flaky")), A("boom"));
    auto exit = co_await bl::receive<bl::exit_message>();
    EXPECT_EQ(exit.from, s);
    EXPECT_EQ(exit.reason, A("shutdown"));
  });
  // The first start, then 3 restarts that fail; the 4th restart exceeds the
  // intensity of 3 and the supervisor gives up before trying.
  EXPECT_EQ(attempts.load(), 1 + 3);
}

TEST_P(supervisor, simple_one_for_one_starts_children_from_its_template) {
  struct job {
    job(bl::pid observer, bl::term n) : n_(n.as_int()) {
      bl::send(observer, event{"start", std::to_string(n_), bl::self(), {}});
    }
    struct get {};
    long handle_call(get) { return n_; }
    long n_;
  };
  run([&]() -> bl::process {
    auto s =
        (co_await sup::start_link({.strategy = sup::strategy::simple_one_for_one},
                                  sup::children(sup::worker<job>(bl::atom("job"), bl::self()))))
            .pid();
    EXPECT_EQ((co_await sup::count_children(s)).active, 0);
    std::vector<bl::pid> jobs;
    for (int i = 1; i <= 3; ++i) {
      auto r = co_await sup::start_child(s, bl::term(i));
      CO_ASSERT_TRUE(r.is_ok());
      jobs.push_back(r.pid());
    }
    EXPECT_EQ(co_await names("start", 3), strings("1", "2", "3"));
    EXPECT_EQ(co_await bl::server<job>(jobs[1]).call(job::get{}), 2);
    auto counts = co_await sup::count_children(s);
    EXPECT_EQ(counts.specs, 1);
    EXPECT_EQ(counts.active, 3);
    // A crashed job is restarted with the same argument.
    bl::exit(jobs[0], A("boom"));
    EXPECT_EQ(co_await names("start", 1), strings("1"));
    EXPECT_EQ((co_await sup::terminate_child(s, A("job"))).to_term(),
              bl::term::parse("{error, simple_one_for_one}"));
    EXPECT_TRUE((co_await sup::terminate_child(s, jobs[2])).is_ok());
    EXPECT_EQ((co_await sup::which_children(s)).size(), 2u);
    EXPECT_EQ((co_await sup::restart_child(s, A("job"))).to_term(),
              bl::term::parse("{error, simple_one_for_one}"));
    EXPECT_EQ((co_await sup::delete_child(s, A("job"))).to_term(),
              bl::term::parse("{error, simple_one_for_one}"));
    co_await gs::stop(s);
  });
}

TEST_P(supervisor, a_dynamic_supervisor_without_template_takes_whole_specs) {
  run([&]() -> bl::process {
    auto s =
        (co_await sup::start_link({.strategy = sup::strategy::simple_one_for_one}, sup::children()))
            .pid();
    auto a = co_await sup::start_child(s, member_spec("a"));
    auto b = co_await sup::start_child(s, member_spec("b"));
    EXPECT_TRUE(a.is_ok());
    EXPECT_TRUE(b.is_ok());
    EXPECT_EQ((co_await sup::start_child(s, bl::term(1))).to_term(),
              bl::term::parse("{error, {invalid_child_spec, 1}}"));
    co_await names("start", 2);
    co_await gs::stop(s, A("shutdown"));
    auto stopped = co_await names("stop", 2);
    std::sort(stopped.begin(), stopped.end());
    EXPECT_EQ(stopped, strings("a", "b"));
  });
}

TEST_P(supervisor, dynamic_children_stop_under_one_timer) {
  run([&]() -> bl::process {
    auto tmpl = sup::worker<slow_stopper>(bl::atom("slow"), std::chrono::milliseconds(10s));
    tmpl.shutdown = 50ms;
    auto s =
        (co_await sup::start_link({.strategy = sup::strategy::simple_one_for_one}, sup::children()))
            .pid();
    std::vector<bl::ref> monitors;
    for (int i = 0; i < 5; ++i) {
      auto r = co_await sup::start_child(s, tmpl);
      monitors.push_back(bl::monitor(r.pid()));
    }
    auto t0 = std::chrono::steady_clock::now();
    co_await gs::stop(s);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
    for (bl::ref m : monitors) EXPECT_EQ(co_await wait_down(m), A("killed"));
  });
}

// A child that traps exits and, told to stop, tells the observer and waits for
// `release` before it ends.
struct gated_stopper {
  struct release {};
  struct stopping {
    bl::pid who;
  };
  explicit gated_stopper(bl::pid observer) : observer_(observer) { bl::trap_exit(true); }
  bl::task<void> terminate(const bl::term&) {
    bl::send(observer_, stopping{bl::self()});
    co_await bl::receive<release>();
  }
  bl::pid observer_;
};

TEST_P(supervisor, dynamic_children_are_all_told_to_stop_at_once) {
  run([&]() -> bl::process {
    auto tmpl = sup::worker<gated_stopper>(bl::atom("gated"), bl::self());
    tmpl.shutdown = bl::infinity;
    auto s =
        (co_await sup::start_link({.strategy = sup::strategy::simple_one_for_one}, sup::children()))
            .pid();
    std::vector<bl::ref> monitors;
    for (int i = 0; i < 5; ++i) {
      auto r = co_await sup::start_child(s, tmpl);
      monitors.push_back(bl::monitor(r.pid()));
    }
    bl::spawn([s]() -> bl::process { co_await gs::stop(s); });
    // None has ended, yet all five are stopping: one at a time, the second would
    // hear only after the first had ended.
    std::vector<bl::pid> stopping;
    for (int i = 0; i < 5; ++i) {
      auto who = co_await bl::receive([](gated_stopper::stopping st) { return st.who; },
                                      bl::after(10s, [] { return bl::pid{}; }));
      if (who.is_null()) break;
      stopping.push_back(who);
    }
    EXPECT_EQ(stopping.size(), 5u);
    for (bl::pid p : stopping) bl::send(p, gated_stopper::release{});
    // (Had they been told one at a time, release the later ones too, to end.)
    for (std::size_t downs = 0; downs < monitors.size();) {
      auto reason = co_await bl::receive(
          [](gated_stopper::stopping st) {
            bl::send(st.who, gated_stopper::release{});
            return bl::term(0);  // not a DOWN
          },
          [](bl::down_message d) { return d.reason; });
      if (!reason.is_atom()) continue;
      EXPECT_EQ(reason, A("shutdown"));
      ++downs;
    }
  });
}

TEST_P(supervisor, supervisors_of_supervisors_escalate_a_storm_upwards) {
  run([&]() -> bl::process {
    auto inner = sup::supervisor_child(bl::atom("inner"), {.intensity = 1, .period = 10s},
                                       sup::children(member_spec("leaf")));
    auto top = (co_await sup::start_link({.intensity = 5, .period = 10s},
                                         sup::children(member_spec("sibling"), inner)))
                   .pid();
    co_await names("start", 2);
    auto rows = co_await sup::which_children(top);
    CO_ASSERT_TRUE(rows.size() == 2u);
    EXPECT_EQ(rows[1].type, sup::child_type::supervisor);
    EXPECT_EQ((co_await sup::count_children(top)).supervisors, 1);
    bl::pid inner_pid = *rows[1].child;
    // Two crashes of the leaf exceed the inner supervisor's intensity of 1: it exits
    // with `shutdown` and the top one restarts it (and so the leaf).
    bl::server<member>(co_await pid_of(inner_pid, A("leaf"))).cast(member::crash{A("boom")});
    EXPECT_EQ(co_await names("start", 1), strings("leaf"));
    bl::server<member>(co_await pid_of(inner_pid, A("leaf"))).cast(member::crash{A("boom")});
    EXPECT_EQ(co_await names("start", 1), strings("leaf"));
    bl::pid new_inner = co_await pid_of(top, A("inner"));
    EXPECT_NE(new_inner, inner_pid);
    EXPECT_FALSE(new_inner.is_null());
    co_await gs::stop(top);
  });
}

TEST_P(supervisor, describe_and_the_observers_tree_count_restarts_and_nest_supervisors) {
  run([&]() -> bl::process {
    auto inner = sup::supervisor_child(bl::atom("inner"), {.intensity = 3, .period = 10s},
                                       sup::children(member_spec("leaf")));
    auto top = (co_await sup::start_link(
                    {.strategy = sup::strategy::rest_for_one, .intensity = 5, .period = 10s},
                    sup::children(member_spec("sibling"), inner)))
                   .pid();
    co_await names("start", 2);
    bl::pid inner_pid = co_await pid_of(top, A("inner"));
    bl::server<member>(co_await pid_of(inner_pid, A("leaf"))).cast(member::crash{A("boom")});
    EXPECT_EQ(co_await names("start", 1), strings("leaf"));

    sup::description d = co_await sup::describe(inner_pid);
    EXPECT_EQ(d.how.intensity, 3);
    EXPECT_EQ(d.restarts_in_period, 1u);
    EXPECT_EQ(d.restarts, 1u);
    CO_ASSERT_TRUE(d.children.size() == 1u);
    EXPECT_EQ(d.children[0].id, A("leaf"));
    EXPECT_EQ(d.children[0].restarts, 1u);
    sup::description t = co_await sup::describe(top);
    EXPECT_EQ(t.how.strategy, sup::strategy::rest_for_one);
    EXPECT_EQ(t.restarts, 0u);

    bl::observe::supervision all = co_await bl::observe::supervisors();
    const bl::observe::supervisor_view* top_view = nullptr;
    const bl::observe::supervisor_view* inner_view = nullptr;
    for (const auto& v : all.supervisors) {
      if (v.process == top) top_view = &v;
      if (v.process == inner_pid) inner_view = &v;
    }
    CO_ASSERT_TRUE(top_view != nullptr && inner_view != nullptr);
    EXPECT_TRUE(top_view->answered);
    EXPECT_EQ(top_view->strategy, "rest_for_one");
    EXPECT_EQ(top_view->period, 10s);
    CO_ASSERT_TRUE(top_view->children.size() == 2u);
    EXPECT_EQ(top_view->children[1].id, "inner");
    EXPECT_TRUE(top_view->children[1].supervisor);
    EXPECT_EQ(top_view->children[1].process, inner_pid);
    EXPECT_EQ(inner_view->restarts_in_period, 1u);
    EXPECT_EQ(inner_view->children[0].restarts, 1u);
    // The top supervisor is a root, the inner one is not.
    EXPECT_NE(std::find(all.roots.begin(), all.roots.end(), top), all.roots.end());
    EXPECT_EQ(std::find(all.roots.begin(), all.roots.end(), inner_pid), all.roots.end());
    co_await gs::stop(top);
  });
}

TEST_P(supervisor, many_children_crashing_at_once_are_all_restarted) {
  const int n = static_cast<int>(scaled(50));
  run([&]() -> bl::process {
    std::vector<sup::child_spec> specs;
    for (int i = 0; i < n; ++i)
      specs.push_back(member_spec(std::string("m") + std::to_string(i), false));
    auto s = (co_await sup::start_link({.intensity = n + 1, .period = 10s}, specs)).pid();
    co_await names("start", n);
    for (const sup::child_info& c : co_await sup::which_children(s)) bl::exit(*c.child, A("boom"));
    auto restarted = co_await names("start", n);
    EXPECT_EQ(static_cast<int>(restarted.size()), n);
    EXPECT_EQ((co_await sup::count_children(s)).active, n);
    co_await gs::stop(s);
  });
}

// Tests that wait out real periods (the restart window, the default shutdown of 5 s):
// one configuration only, to keep the suite's time down.
class supervisor_timing : public node_test {};
INSTANTIATE_TEST_SUITE_P(two_workers, supervisor_timing,
                         ::testing::Values(beamline_test::worker_config{2, false}),
                         beamline_test::config_name);

TEST_P(supervisor_timing, restarts_older_than_the_period_no_longer_count) {
  run([&]() -> bl::process {
    bl::trap_exit(true);
    // One restart allowed per second: two crashes two seconds apart are both restarted.
    auto s = (co_await sup::start_link({.intensity = 1, .period = 1s},
                                       sup::children(member_spec("a", false))))
                 .pid();
    co_await names("start", 1);
    bl::exit(co_await pid_of(s, A("a")), A("boom"));
    EXPECT_EQ(co_await names("start", 1), strings("a"));
    // The period is counted in whole seconds, as OTP does: a restart in second t
    // counts until second t + 1 has passed.
    co_await bl::sleep(2100ms);
    bl::exit(co_await pid_of(s, A("a")), A("boom"));
    EXPECT_EQ(co_await names("start", 1), strings("a"));
    EXPECT_EQ((co_await sup::count_children(s)).active, 1);  // still there
    // Whereas a third crash at once is a second restart within the period.
    bl::exit(co_await pid_of(s, A("a")), A("boom"));
    auto exit = co_await bl::receive<bl::exit_message>();
    EXPECT_EQ(exit.from, s);
    EXPECT_EQ(exit.reason, A("shutdown"));
  });
}

TEST_P(supervisor_timing, a_worker_that_ignores_shutdown_is_killed_after_the_default_5_s) {
  run([&]() -> bl::process {
    // Its terminate would take a minute; the default shutdown is 5000 ms.
    auto spec = sup::worker<slow_stopper>(bl::atom("stubborn"), std::chrono::milliseconds(60s));
    auto s = (co_await sup::start_link({}, sup::children(spec))).pid();
    bl::ref m = bl::monitor(co_await pid_of(s, A("stubborn")));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE((co_await sup::terminate_child(s, A("stubborn"))).is_ok());
    EXPECT_EQ(co_await wait_down(m), A("killed"));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 5s);
    co_await gs::stop(s);
  });
}

TEST_P(supervisor_timing, a_supervisor_child_is_waited_for_without_limit_by_default) {
  run([&]() -> bl::process {
    // The inner supervisor takes longer than a worker's default 5 s to stop (its
    // child's terminate takes 5.5 s, and may): it is not killed.
    auto leaf = sup::worker<slow_stopper>(bl::atom("leaf"), std::chrono::milliseconds(5500));
    leaf.shutdown = bl::infinity;
    auto inner = sup::supervisor_child(bl::atom("inner"), {}, sup::children(leaf));
    auto s = (co_await sup::start_link({}, sup::children(inner))).pid();
    bl::ref m = bl::monitor(co_await pid_of(s, A("inner")));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE((co_await sup::terminate_child(s, A("inner"))).is_ok());
    EXPECT_EQ(co_await wait_down(m), A("shutdown"));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 5500ms);
    co_await gs::stop(s);
  });
}

}  // namespace
