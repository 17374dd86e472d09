// gen_server_*: the gen_server behaviour (reference section 10): the call protocol,
// casts, deferred replies, init results, stop, terminate, crashes, the wire shapes.
#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

// ASSERT_TRUE for coroutines (gtest's returns void).
namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace gs = bl::gen_server;

class gen_server : public node_test {};
BEAMLINE_SWEEP_WORKERS(gen_server);

struct counter {
  struct get {};
  struct add {
    int n;
  };
  struct crash {};
  explicit counter(int start) : n(start) {}
  int handle_call(get) { return n; }
  int handle_call(crash) { throw std::runtime_error("boom"); }
  void handle_cast(add a) { n += a.n; }
  int n;
};

TEST_P(gen_server, a_call_returns_the_reply_and_casts_arrive_in_order) {
  run([&]() -> bl::process {
    auto started = co_await gs::start_link<counter>({}, 5);
    EXPECT_TRUE(started.is_ok());
    bl::server<counter> c = started.server();
    c.cast(counter::add{2});
    c.cast(counter::add{3});
    EXPECT_EQ(co_await c.call(counter::get{}), 10);
    EXPECT_EQ(co_await gs::call(c, counter::get{}, bl::infinity), 10);
    EXPECT_EQ(co_await queued_messages(), 0u);  // no DOWN, no stray reply
    co_await gs::stop(c);
  });
}

TEST_P(gen_server, calls_and_casts_by_registered_name) {
  run([&]() -> bl::process {
    auto started = co_await gs::start<counter>(bl::atom("named_counter"), 1);
    EXPECT_EQ(bl::whereis(bl::atom("named_counter")), started.pid());
    bl::server<counter> by_name(bl::atom("named_counter"));
    by_name.cast(counter::add{1});
    EXPECT_EQ(co_await by_name.call(counter::get{}), 2);
    co_await gs::stop(by_name);
    EXPECT_FALSE(bl::whereis(bl::atom("named_counter")));
  });
}

TEST_P(gen_server, a_call_to_an_unknown_name_or_a_dead_server_exits_noproc) {
  run([&]() -> bl::process {
    bl::server<counter> nobody(bl::atom("nobody_here"));
    EXPECT_EQ(co_await failure_of(nobody.call(counter::get{})), A("noproc"));
    auto started = co_await gs::start<counter>({}, 1);
    co_await gs::stop(started.server());
    bl::server<counter> dead = started.server();
    bl::term f = co_await failure_of(dead.call(counter::get{}));
    EXPECT_EQ(f, A("noproc"));
    // A cast to either is silently dropped, as in Erlang.
    nobody.cast(counter::add{1});
    dead.cast(counter::add{1});
    gs::cast(bl::atom("nobody_here"), A("x"));
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(gen_server, the_exit_reason_has_erlangs_shape) {
  run([&]() -> bl::process {
    bl::server<counter> nobody(bl::atom("nobody_here"));
    try {
      co_await nobody.call(counter::get{}, 250ms);
      ADD_FAILURE();
    } catch (const bl::call_exit& e) {
      // {noproc, {gen_server, call, [nobody_here, 'counter::get', 250]}}
      const bl::term& r = e.reason();
      CO_ASSERT_TRUE(r.is_tuple());
      EXPECT_EQ(r[0], A("noproc"));
      EXPECT_EQ(r[1][0], A("gen_server"));
      EXPECT_EQ(r[1][1], A("call"));
      EXPECT_EQ(r[1][2].length(), 3u);
      EXPECT_EQ(r[1][2].head(), A("nobody_here"));
      EXPECT_EQ(r[1][2].tail().tail().head(), bl::term(250));
    }
  });
}

TEST_P(gen_server, an_uncaught_call_exit_ends_the_caller_with_that_reason) {
  bl::term reason;
  run([&]() -> bl::process {
    auto [caller, m] = bl::spawn_monitor([]() -> bl::process {
      bl::server<counter> nobody(bl::atom("nobody_here"));
      co_await nobody.call(counter::get{});
    });
    auto down = co_await bl::receive<bl::down_message>();
    reason = down.reason;
    (void)caller;
    (void)m;
  });
  ASSERT_TRUE(reason.is_tuple());
  EXPECT_EQ(reason[0], A("noproc"));
}

TEST_P(gen_server, calling_oneself_exits_calling_self) {
  struct self_caller {
    struct go {};
    struct inner {};
    bl::task<int> handle_call(go) {
      bl::server<self_caller> me(bl::self());
      try {
        co_await me.call(inner{});
      } catch (const bl::call_exit& e) {
        co_return e.failure() == bl::term(bl::atom("calling_self")) ? 1 : 0;
      }
      co_return 0;
    }
    int handle_call(inner) { return 2; }
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<self_caller>({})).server();
    EXPECT_EQ(co_await s.call(self_caller::go{}), 1);
    co_await gs::stop(s);
  });
}

// A server whose `ask` calls wait for a `release` message before they are answered: a
// call with a timeout times out whatever the load, and the reply goes out when the
// test says. Pings are answered at once.
// With an observer, each ask tells it the server's pid first.
struct held {
  struct release {};
  struct ask {};
  struct ping {};
  explicit held(bl::pid observer = {}) : observer_(observer) {}
  bl::task<std::string> handle_call(ask) {
    if (!observer_.is_null()) bl::send(observer_, bl::term(bl::self()));
    co_await bl::receive<release>();
    co_return "late";
  }
  std::string handle_call(ping) { return "pong"; }
  bl::task<bl::term> handle_call(bl::term request) {
    if (request == bl::term(bl::atom("ask"))) co_await bl::receive<release>();
    co_return request;
  }
  bl::pid observer_;
};

// A server of term calls only: ping -> pong, anything else echoed.
struct pinger {
  bl::term handle_call(bl::term request) {
    if (request == bl::term(bl::atom("ping"))) return bl::atom("pong");
    return request;
  }
};

TEST_P(gen_server, a_server_that_dies_mid_call_ends_the_call_with_its_reason) {
  run([&]() -> bl::process {
    // The killer strikes once the server holds the call.
    bl::pid killer = bl::spawn([]() -> bl::process {
      bl::term server = co_await bl::receive<bl::term>();
      bl::exit(server.as_pid(), bl::atom("kill"));
    });
    auto s = (co_await gs::start<held>({}, killer)).server();
    EXPECT_EQ(co_await failure_of(s.call(held::ask{}, bl::infinity)), A("killed"));
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(gen_server, a_crash_in_handle_call_reaches_the_caller_and_terminate_runs) {
  static std::atomic<int> terminated{0};
  struct fragile {
    struct crash {};
    int handle_call(crash) { throw bl::error(bl::atom("broken"), "broken on purpose"); }
    void terminate(const bl::term& reason) {
      if (reason == bl::term(bl::atom("broken"))) ++terminated;
    }
  };
  terminated = 0;
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto s = (co_await gs::start_link<fragile>({})).server();
    EXPECT_EQ(co_await failure_of(s.call(fragile::crash{})), A("broken"));
    auto e = co_await bl::receive<bl::exit_message>();
    EXPECT_EQ(e.reason, A("broken"));
  });
  EXPECT_EQ(terminated.load(), 1);
}

TEST_P(gen_server, a_std_exception_in_a_callback_gives_the_exception_reason) {
  run([&]() -> bl::process {
    auto s = (co_await gs::start<counter>({}, 0)).server();
    bl::term f = co_await failure_of(s.call(counter::crash{}));
    CO_ASSERT_TRUE(f.is_tuple());
    EXPECT_EQ(f[0], A("exception"));
    EXPECT_EQ(f[1][0], A("std::runtime_error"));
    EXPECT_EQ(f[1][1], bl::term::binary("boom"));
  });
}

TEST_P(gen_server, a_timeout_then_a_late_reply_leaves_nothing_in_the_callers_mailbox) {
  run([&]() -> bl::process {
    auto s = (co_await gs::start<held>({})).server();
    bl::pid p = *s.ref().as_pid();
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(co_await failure_of(s.call(held::ask{}, 10ms)), A("timeout"));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 10ms);
    bl::send(p, held::release{});  // the server replies now, late
    // The next call's reply leaves the server after the late one: once it is here,
    // the late reply would be too.
    EXPECT_EQ(co_await s.call(held::ping{}), "pong");
    EXPECT_EQ(co_await queued_messages(), 0u);
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, a_term_call_timeout_then_a_late_reply_leaves_nothing_either) {
  run([&]() -> bl::process {
    auto s = (co_await gs::start<held>({})).server();
    bl::pid p = *s.ref().as_pid();
    EXPECT_EQ(co_await failure_of(gs::call(s, A("ask"), 10ms)), A("timeout"));
    bl::send(p, held::release{});
    EXPECT_EQ(co_await gs::call(s, A("ping")), A("ping"));
    EXPECT_EQ(co_await queued_messages(), 0u);
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, a_reply_can_come_later_from_another_process) {
  struct deferring {
    struct ask {
      int x;
    };
    gs::call_result<int> handle_call(ask a, const bl::from& caller) {
      bl::spawn([caller, a]() -> bl::process {
        co_await bl::sleep(5ms);
        gs::reply(caller, a.x * 2);
      });
      return gs::noreply();
    }
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<deferring>({})).server();
    EXPECT_EQ(co_await s.call(deferring::ask{21}), 42);
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, replying_with_the_wrong_type_is_a_logic_error) {
  struct wrong {
    struct ask {};
    gs::call_result<int> handle_call(ask, const bl::from& caller) {
      try {
        gs::reply(caller, std::string("not an int"));
      } catch (const std::logic_error&) {
        return 7;
      }
      return 0;
    }
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<wrong>({})).server();
    EXPECT_EQ(co_await s.call(wrong::ask{}), 7);
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, stop_runs_terminate_with_the_reason_then_the_server_is_gone) {
  static std::vector<std::string> log;
  struct logged {
    struct get {};
    int handle_call(get) { return 1; }
    void terminate(const bl::term& reason) { log.push_back(reason.to_string()); }
  };
  log.clear();
  run([&]() -> bl::process {
    auto s = (co_await gs::start<logged>({})).server();
    co_await gs::stop(s, bl::atom("shutdown"));
    EXPECT_EQ(co_await failure_of(gs::stop(s)), A("noproc"));
  });
  EXPECT_EQ(log, std::vector<std::string>{"shutdown"});
}

TEST_P(gen_server, stop_that_times_out_kills_the_server) {
  struct stubborn {
    struct get {};
    int handle_call(get) { return 1; }
    bl::task<void> terminate(const bl::term&) { co_await bl::sleep(10s); }
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<stubborn>({})).server();
    bl::pid p = *s.ref().as_pid();
    EXPECT_EQ(co_await failure_of(gs::stop(s, bl::atoms::normal, 20ms)), A("timeout"));
    EXPECT_FALSE(bl::is_alive(p));
  });
}

TEST_P(gen_server, stop_with_a_reply_runs_terminate_before_the_reply) {
  static std::atomic<bool> terminated{false};
  static std::atomic<bool> terminated_before_reply{false};
  struct quitter {
    struct quit {};
    auto handle_call(quit) -> gs::call_result<std::string> {
      return gs::stopping(A("normal"), "bye");
    }
    void terminate(const bl::term&) { terminated = true; }
  };
  terminated = false;
  run([&]() -> bl::process {
    auto [s, m] = co_await [&]() -> bl::task<std::pair<bl::server<quitter>, bl::ref>> {
      auto srv = (co_await gs::start<quitter>({})).server();
      co_return std::pair{srv, bl::monitor(*srv.ref().as_pid())};
    }();
    EXPECT_EQ(co_await s.call(quitter::quit{}), "bye");
    terminated_before_reply = terminated.load();
    auto down = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(down.monitor, m);
    EXPECT_EQ(down.reason, A("normal"));
  });
  EXPECT_TRUE(terminated_before_reply.load());
}

TEST_P(gen_server, a_name_already_taken_fails_the_start_with_already_started) {
  run([&]() -> bl::process {
    auto first = co_await gs::start<counter>(bl::atom("only_one"), 0);
    CO_ASSERT_TRUE(first.is_ok());
    auto second = co_await gs::start<counter>(bl::atom("only_one"), 0);
    EXPECT_TRUE(second.is_error());
    EXPECT_EQ(second.reason(), bl::term::tuple({A("already_started"), first.pid()}));
    co_await gs::stop(first.server());
  });
}

TEST_P(gen_server, init_results_reach_the_starter) {
  struct choosy {
    explicit choosy(int mode) : mode_(mode) {}
    gs::init_result init() {
      switch (mode_) {
        case 0:
          return gs::init_result::ok();
        case 1:
          return gs::init_result::stop(A("refused"));
        case 2:
          return gs::init_result::ignore();
        case 3:
          return gs::init_result::error(A("bad_config"));
        default:
          throw std::invalid_argument("no such mode");
      }
    }
    int mode_;
  };
  run([&]() -> bl::process {
    auto ok = co_await gs::start<choosy>(bl::atom("choosy"), 0);
    EXPECT_TRUE(ok.is_ok());
    co_await gs::stop(ok.server());
    auto stopped = co_await gs::start<choosy>(bl::atom("choosy"), 1);
    EXPECT_EQ(stopped.to_term(), bl::term::tuple({A("error"), A("refused")}));
    EXPECT_FALSE(bl::whereis(bl::atom("choosy")));  // released before the answer
    auto ignored = co_await gs::start<choosy>({}, 2);
    EXPECT_TRUE(ignored.is_ignore());
    auto error = co_await gs::start<choosy>({}, 3);
    EXPECT_EQ(error.reason(), A("bad_config"));
    auto thrown = co_await gs::start<choosy>({}, 4);
    CO_ASSERT_TRUE(thrown.is_error());
    EXPECT_EQ(thrown.reason()[0], A("exception"));
    EXPECT_EQ(thrown.reason()[1][0], A("std::invalid_argument"));
  });
}

TEST_P(gen_server, a_trapping_start_link_caller_gets_the_error_and_no_exit_message) {
  struct refuser {
    refuser() { throw bl::error(A("nope"), "refused"); }
  };
  run([&]() -> bl::process {
    bl::trap_exit(true);
    auto r = co_await gs::start_link<refuser>({});
    EXPECT_EQ(r.reason(), A("nope"));
    EXPECT_EQ(co_await queued_messages(), 0u);  // the EXIT was consumed, as in OTP 26
  });
}

TEST_P(gen_server, an_init_that_takes_too_long_fails_the_start_with_timeout) {
  struct sleepy {
    bl::task<void> init() { co_await bl::sleep(10s); }
  };
  run([&]() -> bl::process {
    auto r = co_await gs::start_link<sleepy>(gs::start_options().timeout(20ms));
    EXPECT_EQ(r.to_term(), bl::term::tuple({A("error"), A("timeout")}));
    EXPECT_EQ(co_await queued_messages(), 0u);
  });
}

TEST_P(gen_server, the_parents_exit_runs_terminate_when_trapping) {
  static std::atomic<int> terminated{0};
  struct child {
    child() { bl::trap_exit(true); }
    void terminate(const bl::term& reason) {
      if (reason == bl::term(bl::atom("parent_gone"))) ++terminated;
    }
  };
  terminated = 0;
  run([&]() -> bl::process {
    auto [parent, m] = bl::spawn_monitor([]() -> bl::process {
      auto r = co_await gs::start_link<child>(bl::atom("the_child"));
      EXPECT_TRUE(r.is_ok());
      bl::exit(bl::atom("parent_gone"));
    });
    (void)parent;
    (void)m;
    co_await bl::receive<bl::down_message>();
    EXPECT_TRUE(co_await eventually([] { return !bl::whereis(bl::atom("the_child")); }));
  });
  EXPECT_EQ(terminated.load(), 1);
}

struct info_server {
  struct tick {
    int n;
  };
  using info_messages = bl::message_types<tick>;
  struct report {};
  std::vector<std::string> handle_call(report) { return seen; }
  void handle_info(tick t) { seen.push_back(std::string("tick ") + std::to_string(t.n)); }
  void handle_info(const bl::term& t) { seen.push_back("term " + t.to_string()); }
  void handle_info(const bl::down_message& d) { seen.push_back("down " + d.reason.to_string()); }
  std::vector<std::string> seen;
};

TEST_P(gen_server, handle_info_takes_terms_downs_and_listed_types_and_drops_the_rest) {
  run([&]() -> bl::process {
    auto s = (co_await gs::start<info_server>({})).server();
    bl::pid p = *s.ref().as_pid();
    bl::send(p, info_server::tick{1});
    bl::send(p, A("hello"));
    bl::send(p, 3.5, std::string("not listed"));  // dropped
    bl::send(p, info_server::tick{2});
    auto seen = co_await s.call(info_server::report{});
    EXPECT_EQ(seen, (std::vector<std::string>{"tick 1", "term hello", "tick 2"}));
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, a_timeout_action_delivers_timeout_to_handle_info) {
  // handle_info reports to the test: asking the server would cancel its timeout.
  struct idle {
    struct arm {};
    explicit idle(bl::pid observer) : observer_(observer) {}
    gs::call_result<bl::term> handle_call(arm) {
      return gs::call_result<bl::term>(A("armed")).after(10ms);
    }
    void handle_info(const bl::term& t) { bl::send(observer_, t); }
    bl::pid observer_;
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<idle>({}, bl::self())).server();
    EXPECT_EQ(co_await s.call(idle::arm{}), A("armed"));
    bl::term seen = co_await bl::receive([](bl::term t) { return t; },
                                         bl::after(10s, [] { return bl::term(A("nothing")); }));
    EXPECT_EQ(seen, A("timeout"));
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, continue_runs_before_any_queued_message) {
  struct continuing {
    struct report {};
    continuing() = default;
    gs::init_result init() { return gs::init_result::ok().then_continue(A("setup")); }
    gs::result handle_continue(const bl::term& c) {
      order.push_back(c.to_string());
      if (c == bl::term(bl::atom("setup"))) return gs::noreply().then_continue(A("more"));
      return gs::noreply();
    }
    std::vector<std::string> handle_call(report) {
      order.push_back("call");
      return order;
    }
    std::vector<std::string> order;
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<continuing>({})).server();
    auto order = co_await s.call(continuing::report{});
    EXPECT_EQ(order, (std::vector<std::string>{"setup", "more", "call"}));
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, erlangs_wire_shapes_work_from_a_plain_process) {
  run([&]() -> bl::process {
    auto s = (co_await gs::start<pinger>({})).server();
    bl::pid p = *s.ref().as_pid();
    bl::ref tag = bl::make_ref();
    // {'$gen_call', {Self, Tag}, ping} -> {Tag, pong}
    bl::send(p, bl::term::tuple({A("$gen_call"), bl::term::tuple({bl::self(), tag}), A("ping")}));
    bl::term reply = co_await bl::receive<bl::term>();
    EXPECT_EQ(reply, bl::term::tuple({tag, A("pong")}));
    // And a term call goes out in that shape to whatever process is there.
    bl::pid fake = bl::spawn([]() -> bl::process {
      bl::term request = co_await bl::receive<bl::term>();
      // {'$gen_call', {From, Tag}, hello}
      if (request[0] == bl::term(bl::atom("$gen_call")) &&
          request[2] == bl::term(bl::atom("hello")))
        bl::send(request[1][0].as_pid(), bl::term::tuple({request[1][1], bl::atom("world")}));
      bl::term cast = co_await bl::receive<bl::term>();
      if (cast == bl::term::tuple({bl::atom("$gen_cast"), bl::atom("note")}))
        bl::send(request[1][0].as_pid(), bl::atom("cast_ok"));
    });
    EXPECT_EQ(co_await gs::call(fake, A("hello")), A("world"));
    gs::cast(fake, A("note"));
    EXPECT_EQ(co_await bl::receive<bl::atom>(), bl::atom("cast_ok"));
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, a_typed_call_to_a_server_of_another_type_exits_bad_call) {
  run([&]() -> bl::process {
    auto s = (co_await gs::start<pinger>({})).server();
    bl::server<counter> wrong(s.ref());
    bl::term f = co_await failure_of(wrong.call(counter::get{}));
    CO_ASSERT_TRUE(f.is_tuple());
    EXPECT_EQ(f[0], A("bad_call"));
    // The server is unaffected.
    EXPECT_EQ(co_await gs::call(s, A("ping")), A("pong"));
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, a_term_call_to_a_server_without_a_term_handler_crashes_it_as_otp_does) {
  run([&]() -> bl::process {
    auto s = (co_await gs::start<counter>({}, 0)).server();
    bl::term f = co_await failure_of(gs::call(s, A("what")));
    EXPECT_EQ(f, bl::term::tuple({A("bad_call"), A("what")}));
  });
}

TEST_P(gen_server, handlers_may_be_coroutines_that_call_other_servers) {
  struct front {
    struct total {};
    explicit front(bl::server<counter> back) : back_(back) {}
    bl::task<int> handle_call(total) { co_return 100 + co_await back_.call(counter::get{}); }
    bl::server<counter> back_;
  };
  run([&]() -> bl::process {
    auto back = (co_await gs::start<counter>({}, 5)).server();
    auto f = (co_await gs::start<front>({}, back)).server();
    EXPECT_EQ(co_await f.call(front::total{}), 105);
    co_await gs::stop(f);
    co_await gs::stop(back);
  });
}

// Each caller asks for its own value and must get exactly that, never a reply meant
// for another caller, nor a reply to an earlier call of its own.
struct echo {
  struct ask {
    long caller;
    long k;
  };
  struct served {};
  std::pair<long, long> handle_call(ask a) {
    ++calls;
    return {a.caller, a.k};
  }
  long handle_call(served) { return calls; }
  long calls = 0;
};

TEST_P(gen_server, many_callers_each_get_their_own_replies) {
  const long callers = 20, calls = scaled(200);
  std::atomic<long> right{0}, wrong{0};
  run([&]() -> bl::process {
    auto e = (co_await gs::start<echo>({})).server();
    std::vector<bl::ref> monitors;
    for (long i = 0; i < callers; ++i) {
      auto [p, m] = bl::spawn_monitor([e, i, calls, &right, &wrong]() -> bl::process {
        for (long k = 0; k < calls; ++k) {
          auto got = co_await e.call(echo::ask{i, k});
          if (got == std::pair<long, long>(i, k))
            ++right;
          else
            ++wrong;
        }
        EXPECT_EQ(co_await queued_messages(), 0u);
      });
      (void)p;
      monitors.push_back(m);
    }
    for (std::size_t i = 0; i < monitors.size(); ++i) {
      auto down = co_await bl::receive<bl::down_message>();
      EXPECT_EQ(down.reason, A("normal"));
    }
    EXPECT_EQ(co_await e.call(echo::served{}), callers * calls);
    co_await gs::stop(e);
  });
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(right.load(), callers * calls);
}

// Tells the observer that terminate ran, with the reason.
struct watched {
  struct terminated {
    bl::term reason;
  };
  struct ping {};
  watched(bl::pid observer, bool trap) : observer_(observer) {
    if (trap) bl::trap_exit(true);
  }
  int handle_call(ping) { return 1; }
  void terminate(const bl::term& reason) { bl::send(observer_, terminated{reason}); }
  bl::pid observer_;
};

// How the server ended, and whether its terminate told us before its DOWN (both come
// from the server, so a terminate message would be queued ahead of the DOWN).
struct ending {
  bl::term reason;
  bool terminated = false;
};

bl::task<ending> end_of(bl::ref monitor) {
  ending out;
  for (;;) {
    std::optional<bl::term> down = co_await bl::receive(
        [&out](watched::terminated) {
          out.terminated = true;
          return std::optional<bl::term>();
        },
        bl::when([monitor](const bl::down_message& d) { return d.monitor == monitor; },
                 [](bl::down_message d) { return std::optional<bl::term>(d.reason); }),
        bl::after(10s, [] { return std::optional<bl::term>(bl::atom("no_down")); }));
    if (down) {
      out.reason = *down;
      co_return out;
    }
  }
}

TEST_P(gen_server, a_kill_ends_the_server_without_terminate_even_when_trapping) {
  run([&]() -> bl::process {
    for (bool trap : {false, true}) {
      bl::pid p = (co_await gs::start<watched>({}, bl::self(), trap)).pid();
      bl::ref m = bl::monitor(p);
      bl::exit(p, bl::atom("kill"));
      ending ended = co_await end_of(m);
      EXPECT_EQ(ended.reason, A("killed"));
      EXPECT_FALSE(ended.terminated) << "trapping: " << trap;
    }
  });
}

TEST_P(gen_server, an_exit_signal_ends_a_non_trapping_server_without_terminate) {
  run([&]() -> bl::process {
    bl::pid p = (co_await gs::start<watched>({}, bl::self(), false)).pid();
    bl::ref m = bl::monitor(p);
    bl::exit(p, bl::atom("shutdown"));
    ending ended = co_await end_of(m);
    EXPECT_EQ(ended.reason, A("shutdown"));
    EXPECT_FALSE(ended.terminated);
  });
}

TEST_P(gen_server, terminate_runs_on_a_normal_stop_and_on_the_parents_exit_when_trapping) {
  run([&]() -> bl::process {
    // gen_server::stop: terminate(normal), trapping or not.
    for (bool trap : {false, true}) {
      auto s = (co_await gs::start<watched>({}, bl::self(), trap)).server();
      bl::ref m = bl::monitor(*s.ref().as_pid());
      co_await gs::stop(s);
      ending ended = co_await end_of(m);
      EXPECT_EQ(ended.reason, A("normal"));
      EXPECT_TRUE(ended.terminated) << "trapping: " << trap;
    }
    // The parent (the start_link caller) ends: a trapping server runs
    // terminate(Reason) and ends with it.
    bl::pid self = bl::self();
    auto [parent, pm] = bl::spawn_monitor([self]() -> bl::process {
      auto r = co_await gs::start_link<watched>({}, self, true);
      bl::send(self, bl::term(r.pid()));
      co_await bl::receive<bl::atom>();  // until told to go
      bl::exit(bl::atom("parent_gone"));
    });
    bl::pid child = (co_await bl::receive<bl::term>()).as_pid();
    bl::ref m = bl::monitor(child);
    bl::send(parent, bl::atom("go"));
    ending ended = co_await end_of(m);
    EXPECT_EQ(ended.reason, A("parent_gone"));
    EXPECT_TRUE(ended.terminated);
    auto parent_down = co_await bl::receive(
        bl::when([m = pm](const bl::down_message& d) { return d.monitor == m; },
                 [](bl::down_message d) { return d.reason; }));
    EXPECT_EQ(parent_down, A("parent_gone"));
  });
}

TEST_P(gen_server, a_trapping_server_gets_exits_of_linked_processes_in_handle_info) {
  struct trapper {
    struct spawn_linked {
      bl::term reason;
    };
    struct seen {};
    trapper() { bl::trap_exit(true); }
    bl::pid handle_call(spawn_linked r) {
      return bl::spawn_link(
          [](bl::term why) -> bl::process {
            bl::exit(why);
            co_return;
          },
          r.reason);
    }
    std::vector<bl::term> handle_call(seen) { return exits; }
    void handle_info(const bl::exit_message& e) {
      exits.push_back(bl::term::tuple({e.from, e.reason}));
    }
    std::vector<bl::term> exits;
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<trapper>({})).server();
    bl::pid a = co_await s.call(trapper::spawn_linked{A("crashed")});
    bl::pid b = co_await s.call(trapper::spawn_linked{A("normal")});
    std::vector<bl::term> exits;
    EXPECT_TRUE(co_await eventually([&]() -> bl::task<bool> {
      exits = co_await s.call(trapper::seen{});
      co_return exits.size() >= 2;
    }));
    std::sort(exits.begin(), exits.end(),
              [](const bl::term& x, const bl::term& y) { return x.to_string() < y.to_string(); });
    std::vector<bl::term> expected{bl::term::tuple({a, A("crashed")}),
                                   bl::term::tuple({b, A("normal")})};
    std::sort(expected.begin(), expected.end(),
              [](const bl::term& x, const bl::term& y) { return x.to_string() < y.to_string(); });
    EXPECT_EQ(exits, expected);
    co_await gs::stop(s);  // alive: the crash of a linked process did not end it
  });
}

TEST_P(gen_server, hibernate_is_accepted_and_the_server_carries_on) {
  struct sleeper {
    struct add {
      int n;
    };
    struct get {};
    gs::result handle_cast(add a) {
      n += a.n;
      return gs::noreply().hibernate();
    }
    gs::call_result<int> handle_call(get) { return gs::call_result<int>(n).hibernate(); }
    gs::result handle_info(const bl::term&) {
      ++n;
      return gs::noreply().hibernate();
    }
    int n = 0;
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<sleeper>({})).server();
    s.cast(sleeper::add{2});
    EXPECT_EQ(co_await s.call(sleeper::get{}), 2);
    bl::send(*s.ref().as_pid(), A("poke"));
    s.cast(sleeper::add{3});
    EXPECT_EQ(co_await s.call(sleeper::get{}), 6);
    EXPECT_EQ(co_await s.call(sleeper::get{}), 6);
    EXPECT_EQ(co_await queued_messages(), 0u);
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, the_name_is_registered_before_init_runs) {
  struct self_aware {
    struct registered {};
    self_aware() : in_constructor(bl::whereis(bl::atom("self_aware")) == bl::self()) {}
    void init() { in_init = bl::whereis(bl::atom("self_aware")) == bl::self(); }
    bool handle_call(registered) { return in_constructor && in_init; }
    bool in_constructor = false;
    bool in_init = false;
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<self_aware>(bl::atom("self_aware"))).server();
    EXPECT_TRUE(co_await s.call(self_aware::registered{}));
    co_await gs::stop(s);
  });
}

TEST_P(gen_server, stop_of_a_server_that_ends_with_another_reason_raises_that_reason) {
  struct odd_stopper {
    struct get {};
    int handle_call(get) { return 1; }
    void terminate(const bl::term&) { bl::exit(bl::atom("my_own_reason")); }
  };
  run([&]() -> bl::process {
    auto s = (co_await gs::start<odd_stopper>({})).server();
    try {
      co_await gs::stop(s);
      ADD_FAILURE() << "stop returned";
    } catch (const bl::call_exit& e) {
      EXPECT_EQ(e.failure(), A("my_own_reason"));
      EXPECT_EQ(e.reason()[1][0], A("gen_server"));
      EXPECT_EQ(e.reason()[1][1], A("stop"));
    }
  });
}

}  // namespace
