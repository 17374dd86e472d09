// gen_statem_*: state functions and handle_event_function mode, enter calls,
// postpone, inserted events, event, state and generic timeouts, calls and stop,
// hibernate.
#include <algorithm>
#include <string>
#include <vector>

#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace sm = bl::gen_statem;

class gen_statem : public node_test {};

// A list of binaries (the logs the test machines keep).
bl::term binaries(const std::vector<std::string>& texts) {
  std::vector<bl::term> items;
  for (const auto& t : texts) items.push_back(bl::term::binary(t));
  return bl::term::list(std::move(items));
}
BEAMLINE_SWEEP_WORKERS(gen_statem);

// A door with a code: locked --(code)--> open --(state timeout)--> locked.
// Records what it did, for the tests to check.
struct door {
  static constexpr bool state_enter = true;

  explicit door(std::string code, std::chrono::milliseconds relock = 10s)
      : code_(std::move(code)), lock_after(relock) {}
  sm::result<door> init() { return sm::next_state(&door::locked); }

  sm::result<door> locked(const sm::event<door>& e) {
    switch (e.type) {
      case sm::event_type::enter:
        log.push_back("enter locked");
        return sm::keep_state();
      case sm::event_type::cast:
        if (e.content.is_binary() && std::string(e.content.as_binary()) == code_)
          return sm::next_state(&door::open);
        log.push_back("wrong code");
        return sm::keep_state();
      case sm::event_type::call:
        if (e.content == bl::term(bl::atom("log")))
          return sm::keep_state().reply(e.from, log_term());
        if (e.content == bl::term(bl::atom("walk_in"))) {
          log.push_back("postponed walk_in");
          return sm::keep_state().postpone();
        }
        return sm::keep_state().reply(e.from, bl::atom("locked"));
      default:
        return sm::keep_state();
    }
  }

  sm::result<door> open(const sm::event<door>& e) {
    switch (e.type) {
      case sm::event_type::enter:
        log.push_back(std::string("enter open from ") +
                      (e.previous == &door::locked ? "locked" : "?"));
        return sm::keep_state().state_timeout(lock_after, bl::atom("relock"));
      case sm::event_type::state_timeout:
        log.push_back("state_timeout " + e.content.to_string());
        return sm::next_state(&door::locked);
      case sm::event_type::call:
        if (e.content == bl::term(bl::atom("walk_in"))) {
          log.push_back("walked in");
          return sm::keep_state().reply(e.from, bl::atom("inside"));
        }
        if (e.content == bl::term(bl::atom("log")))
          return sm::keep_state().reply(e.from, log_term());
        if (e.content == bl::term(bl::atom("close")))
          return sm::next_state(&door::locked).reply(e.from, bl::atom("closed"));
        return sm::keep_state().reply(e.from, bl::atom("open"));
      default:
        return sm::keep_state();
    }
  }

  bl::term log_term() const { return binaries(log); }

  std::string code_;
  std::chrono::milliseconds lock_after;
  std::vector<std::string> log;
};

bl::task<std::vector<std::string>> log_of(bl::pid machine) {
  bl::term l = co_await sm::call(machine, A("log"));
  std::vector<std::string> out;
  for (const bl::term& item : l.as_list()) out.emplace_back(item.as_binary());
  co_return out;
}

template <class... S>
std::vector<std::string> strings(S... s) {
  return std::vector<std::string>{std::string(s)...};
}

TEST_P(gen_statem, state_functions_handle_events_and_enter_calls_run_on_each_change) {
  run([&]() -> bl::process {
    auto started = co_await sm::start_link<door>({}, std::string("1234"));
    CO_ASSERT_TRUE(started.is_ok());
    bl::pid d = started.pid();
    EXPECT_EQ(co_await sm::call(d, A("walk_out")), A("locked"));
    sm::cast(d, bl::term::binary("0000"));
    sm::cast(d, bl::term::binary("1234"));
    EXPECT_EQ(co_await sm::call(d, A("close")), A("closed"));
    EXPECT_EQ(co_await log_of(d),
              strings("enter locked", "wrong code", "enter open from locked", "enter locked"));
    co_await sm::stop(d);
  });
}

TEST_P(gen_statem, a_postponed_event_is_retried_after_the_state_changes) {
  run([&]() -> bl::process {
    bl::pid d = (co_await sm::start<door>({}, std::string("1234"))).pid();
    bl::pid self = bl::self();
    // A caller blocked on walk_in until the door opens.
    bl::spawn([d, self]() -> bl::process {
      bl::term r = co_await sm::call(d, A("walk_in"));
      bl::send(self, r);
    });
    // Open only once the call has been postponed.
    EXPECT_TRUE(co_await eventually([&]() -> bl::task<bool> {
      auto log = co_await log_of(d);
      co_return std::find(log.begin(), log.end(), "postponed walk_in") != log.end();
    }));
    sm::cast(d, bl::term::binary("1234"));
    EXPECT_EQ(co_await bl::receive<bl::term>(), A("inside"));
    EXPECT_EQ(co_await log_of(d),
              strings("enter locked", "postponed walk_in", "enter open from locked", "walked in"));
    co_await sm::stop(d);
  });
}

TEST_P(gen_statem, a_state_timeout_fires_in_its_state) {
  run([&]() -> bl::process {
    bl::pid d =
        (co_await sm::start<door>({}, std::string("1"), std::chrono::milliseconds(20))).pid();
    sm::cast(d, bl::term::binary("1"));
    std::vector<std::string> log;
    EXPECT_TRUE(co_await eventually([&]() -> bl::task<bool> {
      log = co_await log_of(d);
      co_return log.size() >= 4;
    }));
    EXPECT_EQ(log, strings("enter locked", "enter open from locked", "state_timeout relock",
                           "enter locked"));
    co_await sm::stop(d);
  });
}

// Two states; `go` enters `b` with a state timeout and leaves it at once (an inserted
// event), so the timeout is cancelled whatever the load. `probe` arms a generic
// timeout ten times longer, armed after the cancelled one: once it has fired, the
// cancelled one would have.
struct flipper {
  sm::result<flipper> init() { return sm::next_state(&flipper::a); }
  sm::result<flipper> a(const sm::event<flipper>& e) {
    if (e.type == sm::event_type::call && e.content == bl::term(bl::atom("go")))
      return sm::next_state(&flipper::b)
          .reply(e.from, bl::atom("ok"))
          .state_timeout(20ms, bl::atom("stale"))
          .next_event(sm::event_type::internal, bl::atom("leave"));
    if (e.type == sm::event_type::call && e.content == bl::term(bl::atom("probe")))
      return sm::keep_state()
          .reply(e.from, bl::atom("ok"))
          .generic_timeout(bl::atom("probe"), 200ms, bl::atom("probe"));
    if (e.type == sm::event_type::call)
      return sm::keep_state().reply(e.from, bl::term::list(std::vector<bl::term>(log)));
    return record(e);
  }
  sm::result<flipper> b(const sm::event<flipper>& e) {
    if (e.type == sm::event_type::internal) return sm::next_state(&flipper::a);
    return record(e);
  }
  sm::result<flipper> record(const sm::event<flipper>& e) {
    log.push_back(e.content);
    return sm::keep_state();
  }
  std::vector<bl::term> log;
};

// The machine's log (its answer to the call `log`) once it has more than `n` entries.
bl::task<bl::term> log_longer_than(bl::pid m, std::size_t n) {
  bl::term log;
  EXPECT_TRUE(co_await eventually([&]() -> bl::task<bool> {
    log = co_await sm::call(m, A("log"));
    co_return log.length() > n;
  }));
  co_return log;
}

TEST_P(gen_statem, a_state_timeout_is_cancelled_by_leaving_the_state) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<flipper>({})).pid();
    EXPECT_EQ(co_await sm::call(m, A("go")), A("ok"));
    EXPECT_EQ(co_await sm::call(m, A("probe")), A("ok"));
    bl::term log = co_await log_longer_than(m, 0);
    EXPECT_EQ(log, bl::term::parse("[probe]"));
    co_await sm::stop(m);
  });
}

// A machine for timeouts and inserted events: one state, `idle`.
// Timeouts are also told to the observer, if any: polling the log would be an event,
// which cancels an event timeout.
struct timers {
  explicit timers(bl::pid observer = {}) : observer_(observer) {}
  sm::result<timers> init() { return sm::next_state(&timers::idle); }
  sm::result<timers> idle(const sm::event<timers>& e) {
    switch (e.type) {
      case sm::event_type::call: {
        const bl::term& c = e.content;
        if (c == bl::term(bl::atom("log"))) {
          std::vector<bl::term> items(log.begin(), log.end());
          return sm::keep_state().reply(e.from, bl::term::list(std::move(items)));
        }
        if (c == bl::term(bl::atom("event_timeout")))
          return sm::keep_state()
              .reply(e.from, bl::atom("ok"))
              .event_timeout(20ms, bl::atom("idle"));
        if (c == bl::term(bl::atom("generic")))
          return sm::keep_state()
              .reply(e.from, bl::atom("ok"))
              .generic_timeout(bl::atom("a"), 20ms, bl::atom("fired_a"))
              .generic_timeout(bl::atom("b"), 20ms, bl::atom("fired_b"))
              .cancel_generic_timeout(bl::atom("b"))
              .generic_timeout(bl::atom("probe"), 200ms, bl::atom("probe"));
        if (c == bl::term(bl::atom("event_timeout_and_probe")))
          return sm::keep_state()
              .reply(e.from, bl::atom("ok"))
              .event_timeout(20ms, bl::atom("idle"))
              .generic_timeout(bl::atom("probe"), 200ms, bl::atom("probe"));
        if (c == bl::term(bl::atom("insert")))
          return sm::keep_state()
              .reply(e.from, bl::atom("ok"))
              .next_event(sm::event_type::internal, bl::atom("first"))
              .next_event(sm::event_type::internal, bl::atom("second"));
        return sm::keep_state().reply(e.from, bl::atom("?"));
      }
      case sm::event_type::timeout:
        return told(bl::term::tuple({bl::atom("timeout"), e.content}));
      case sm::event_type::generic_timeout:
        return told(bl::term::tuple({e.timeout_name, e.content}));
      case sm::event_type::internal:
        log.push_back(bl::term::tuple({bl::atom("internal"), e.content}));
        return sm::keep_state();
      case sm::event_type::info:
        log.push_back(bl::term::tuple({bl::atom("info"), e.content}));
        return sm::keep_state();
      default:
        return sm::keep_state();
    }
  }
  sm::result<timers> told(bl::term t) {
    log.push_back(t);
    if (!observer_.is_null()) bl::send(observer_, t);
    return sm::keep_state();
  }
  bl::pid observer_;
  std::vector<bl::term> log;
};

// The next timeout the machine tells of (`none` after 10 s).
bl::task<bl::term> next_timeout() {
  co_return co_await bl::receive([](bl::term t) { return t; },
                                 bl::after(10s, [] { return bl::term(bl::atom("none")); }));
}

TEST_P(gen_statem, an_event_timeout_fires_when_nothing_arrives_and_any_event_cancels_it) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<timers>({}, bl::self())).pid();
    EXPECT_EQ(co_await sm::call(m, A("event_timeout")), A("ok"));
    EXPECT_EQ(co_await next_timeout(), bl::term::parse("{timeout, idle}"));
    // The call that arms it and a message queued behind it, sent together (the call in
    // its wire shape, so as not to wait for the reply): the message is the next event
    // and cancels the timeout. The probe, a generic timeout ten times longer armed
    // with it, comes after the cancelled one would have.
    bl::ref tag = bl::make_ref();
    bl::send(m, bl::term::tuple({A("$gen_call"), bl::term::tuple({bl::self(), tag}),
                                 A("event_timeout_and_probe")}));
    bl::send(m, A("poke"));
    bl::term reply = co_await bl::receive(
        bl::when([tag](const bl::term& t) { return t.is_tuple() && t[0] == bl::term(tag); },
                 [](bl::term t) { return t[1]; }));
    EXPECT_EQ(reply, A("ok"));
    EXPECT_EQ(co_await next_timeout(), bl::term::parse("{probe, probe}"));
    EXPECT_EQ(co_await sm::call(m, A("log")),
              bl::term::parse("[{timeout, idle}, {info, poke}, {probe, probe}]"));
    co_await sm::stop(m);
  });
}

TEST_P(gen_statem, generic_timeouts_are_named_and_cancellable) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<timers>({}, bl::self())).pid();
    // a and b at 20 ms, b cancelled; the probe at 200 ms, armed after them.
    EXPECT_EQ(co_await sm::call(m, A("generic")), A("ok"));
    EXPECT_EQ(co_await next_timeout(), bl::term::parse("{a, fired_a}"));
    EXPECT_EQ(co_await next_timeout(), bl::term::parse("{probe, probe}"));
    co_await sm::stop(m);
  });
}

TEST_P(gen_statem, inserted_events_come_before_queued_messages_in_order) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<timers>({})).pid();
    EXPECT_EQ(co_await sm::call(m, A("insert")), A("ok"));
    EXPECT_EQ(co_await sm::call(m, A("log")),
              bl::term::parse("[{internal, first}, {internal, second}]"));
    co_await sm::stop(m);
  });
}

struct bad {
  static constexpr bool state_enter = true;
  sm::result<bad> init() { return sm::next_state(&bad::one); }
  sm::result<bad> one(const sm::event<bad>& e) {
    if (e.type == sm::event_type::enter) return sm::keep_state();
    return sm::next_state(&bad::two).reply(e.from, bl::atom("ok"));
  }
  sm::result<bad> two(const sm::event<bad>&) {
    return sm::next_state(&bad::one);  // not allowed in an enter call
  }
};

TEST_P(gen_statem, a_bad_enter_call_result_stops_the_machine) {
  run([&]() -> bl::process {
    auto [m, mon] = co_await [&]() -> bl::task<std::pair<bl::pid, bl::ref>> {
      bl::pid p = (co_await sm::start<bad>({})).pid();
      co_return std::pair{p, bl::monitor(p)};
    }();
    EXPECT_EQ(co_await sm::call(m, A("go")), A("ok"));
    auto down = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(down.monitor, mon);
    CO_ASSERT_TRUE(down.reason.is_tuple());
    EXPECT_EQ(down.reason[0], A("bad_state_enter_return_from_state_function"));
  });
}

TEST_P(gen_statem, stop_replies_after_terminate_and_init_can_refuse) {
  static std::vector<std::string> order;
  struct stopper {
    sm::result<stopper> init() { return sm::next_state(&stopper::only); }
    sm::result<stopper> only(const sm::event<stopper>& e) {
      return sm::stopping(bl::atom("normal")).reply(e.from, bl::atom("bye"));
    }
    void terminate(const bl::term& reason) { order.push_back("terminate " + reason.to_string()); }
  };
  struct refuser {
    sm::result<refuser> init() { return sm::stopping(bl::atom("no")); }
    sm::result<refuser> only(const sm::event<refuser>&) { return sm::keep_state(); }
  };
  order.clear();
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<stopper>({})).pid();
    EXPECT_EQ(co_await sm::call(m, A("quit")), A("bye"));
    order.push_back("reply");
    auto r = co_await sm::start<refuser>({});
    EXPECT_EQ(r.to_term(), bl::term::parse("{error, no}"));
  });
  EXPECT_EQ(order, strings("terminate normal", "reply"));
}

TEST_P(gen_statem, coroutine_state_functions_may_call_other_servers) {
  struct asker {
    explicit asker(bl::pid other) : other_(other) {}
    sm::result<asker> init() { return sm::next_state(&asker::asking); }
    bl::task<sm::result<asker>> asking(const sm::event<asker>& e) {
      bl::term answer = co_await sm::call(other_, e.content);
      co_return sm::keep_state().reply(e.from, answer);
    }
    bl::pid other_;
  };
  run([&]() -> bl::process {
    bl::pid d = (co_await sm::start<door>({}, std::string("1"))).pid();
    bl::pid a = (co_await sm::start<asker>({}, d)).pid();
    EXPECT_EQ(co_await sm::call(a, A("anything")), A("locked"));
    co_await sm::stop(a);
    co_await sm::stop(d);
  });
}

// One state, with enter calls. `hold` is postponed the first time; `keep` keeps the
// state, `repeat` repeats it.
struct repeater {
  static constexpr bool state_enter = true;
  sm::result<repeater> init() { return sm::next_state(&repeater::only); }
  sm::result<repeater> only(const sm::event<repeater>& e) {
    if (e.type == sm::event_type::enter) {
      log.push_back("enter");
      return sm::keep_state();
    }
    if (e.type != sm::event_type::call) return sm::keep_state();
    if (e.content == bl::term(bl::atom("hold"))) {
      if (!held) {
        held = true;
        log.push_back("postponed hold");
        return sm::keep_state().postpone();
      }
      log.push_back("retried hold");
      return sm::keep_state().reply(e.from, bl::atom("held"));
    }
    if (e.content == bl::term(bl::atom("keep"))) return sm::keep_state().reply(e.from, A("ok"));
    if (e.content == bl::term(bl::atom("repeat"))) return sm::repeat_state().reply(e.from, A("ok"));
    std::vector<bl::term> items;
    for (const auto& l : log) items.push_back(bl::term::binary(l));
    return sm::keep_state().reply(e.from, bl::term::list(std::move(items)));
  }
  bool held = false;
  std::vector<std::string> log;
};

TEST_P(gen_statem, repeat_state_runs_the_enter_call_again_and_retries_postponed_events) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<repeater>({})).pid();
    bl::pid self = bl::self();
    bl::spawn([m, self]() -> bl::process {
      bl::term r = co_await sm::call(m, A("hold"), bl::infinity);
      bl::send(self, r);
    });
    EXPECT_TRUE(co_await eventually(
        [&]() -> bl::task<bool> { co_return (co_await log_of(m)).size() >= 2; }));
    // keep_state: no enter call, nothing retried.
    EXPECT_EQ(co_await sm::call(m, A("keep")), A("ok"));
    EXPECT_EQ(co_await log_of(m), strings("enter", "postponed hold"));
    // repeat_state: the enter call again, then the postponed call.
    EXPECT_EQ(co_await sm::call(m, A("repeat")), A("ok"));
    bl::term held = co_await bl::receive([](bl::term t) { return t; },
                                         bl::after(10s, [] { return bl::term(A("none")); }));
    EXPECT_EQ(held, A("held"));
    EXPECT_EQ(co_await log_of(m), strings("enter", "postponed hold", "enter", "retried hold"));
    co_await sm::stop(m);
  });
}

// handle_event_function mode: the door again, its states terms. `locked`, or
// {open, Who} with the code's owner; {goto, S} moves to any state S. Records what it
// did, with each enter call's previous state.
struct term_door {
  static constexpr auto callback_mode = sm::handle_event_function;
  static constexpr bool state_enter = true;

  sm::result<term_door> init() { return sm::next_state(bl::atom("locked")); }

  sm::result<term_door> handle_event(const sm::event<term_door>& e, const bl::term& state) {
    const bool locked = state == bl::term(bl::atom("locked"));
    switch (e.type) {
      case sm::event_type::enter:
        log.push_back("enter " + state.to_string() + " from " + e.previous.to_string());
        return sm::keep_state();
      case sm::event_type::cast:
        if (locked && e.content == bl::term::binary("1234"))
          return sm::next_state(bl::term::tuple({bl::atom("open"), bl::atom("owner")}));
        log.push_back("cast " + e.content.to_string() + " in " + state.to_string());
        return sm::keep_state();
      case sm::event_type::info:
        log.push_back("info " + e.content.to_string() + " in " + state.to_string());
        return sm::keep_state();
      case sm::event_type::call: {
        const bl::term& c = e.content;
        if (c == bl::term(bl::atom("log"))) return sm::keep_state().reply(e.from, log_term());
        if (c == bl::term(bl::atom("state"))) return sm::keep_state().reply(e.from, state);
        if (c.is_tuple() && c.size() == 2 && c[0] == bl::term(bl::atom("goto")))
          return sm::next_state(c[1]).reply(e.from, bl::atom("ok"));
        if (c == bl::term(bl::atom("walk_in"))) {
          if (locked) {
            log.push_back("postponed walk_in");
            return sm::keep_state().postpone();
          }
          log.push_back("walked in");
          return sm::keep_state().reply(e.from, bl::atom("inside"));
        }
        return sm::keep_state().reply(e.from, locked ? bl::atom("locked") : bl::atom("open"));
      }
      default:
        return sm::keep_state();
    }
  }

  bl::term log_term() const { return binaries(log); }

  std::vector<std::string> log;
};

TEST_P(gen_statem, handle_event_function_machines_take_calls_casts_and_info_in_term_states) {
  run([&]() -> bl::process {
    bl::pid d = (co_await sm::start_link<term_door>({})).pid();
    EXPECT_EQ(co_await sm::call(d, A("walk_out")), A("locked"));
    sm::cast(d, bl::term::binary("0000"));
    bl::send(d, A("knock"));
    sm::cast(d, bl::term::binary("1234"));
    EXPECT_EQ(co_await sm::call(d, A("state")), bl::term::parse("{open, owner}"));
    EXPECT_EQ(co_await sm::call(d, A("walk_out")), A("open"));
    EXPECT_EQ(co_await sm::call(d, bl::term::parse("{goto, [any, term]}")), A("ok"));
    EXPECT_EQ(co_await sm::call(d, A("state")), bl::term::parse("[any, term]"));
    EXPECT_EQ(co_await log_of(d), strings("enter locked from locked", "cast <<\"0000\">> in locked",
                                          "info knock in locked", "enter {open,owner} from locked",
                                          "enter [any,term] from {open,owner}"));
    co_await sm::stop(d);
  });
}

TEST_P(gen_statem, a_postponed_event_is_retried_when_the_term_state_changes_not_when_it_is_equal) {
  run([&]() -> bl::process {
    bl::pid d = (co_await sm::start<term_door>({})).pid();
    bl::pid self = bl::self();
    bl::spawn([d, self]() -> bl::process {
      bl::term r = co_await sm::call(d, A("walk_in"), bl::infinity);
      bl::send(self, r);
    });
    EXPECT_TRUE(co_await eventually([&]() -> bl::task<bool> {
      auto log = co_await log_of(d);
      co_return std::find(log.begin(), log.end(), "postponed walk_in") != log.end();
    }));
    // An equal term (built anew) is no state change: no enter call, nothing retried.
    EXPECT_EQ(co_await sm::call(d, bl::term::parse("{goto, locked}")), A("ok"));
    EXPECT_EQ(co_await log_of(d), strings("enter locked from locked", "postponed walk_in"));
    // A different term is: the enter call, then the postponed call, now let in.
    EXPECT_EQ(co_await sm::call(d, bl::term::parse("{goto, {open, guest}}")), A("ok"));
    bl::term r = co_await bl::receive([](bl::term t) { return t; },
                                      bl::after(10s, [] { return bl::term(A("none")); }));
    EXPECT_EQ(r, A("inside"));
    EXPECT_EQ(co_await log_of(d), strings("enter locked from locked", "postponed walk_in",
                                          "enter {open,guest} from locked", "walked in"));
    co_await sm::stop(d);
  });
}

// The flipper in handle_event_function mode: `go` enters {b, 1} with a state timeout
// and leaves for `a` at once (an inserted event); `stay` enters {b, 1} the same way
// but the inserted event goes to an equal {b, 1}, which is no change, so its state
// timeout fires. `probe` as in flipper.
struct term_flipper {
  static constexpr auto callback_mode = sm::handle_event_function;
  sm::result<term_flipper> init() { return sm::next_state(bl::atom("a")); }
  sm::result<term_flipper> handle_event(const sm::event<term_flipper>& e, const bl::term& state) {
    const bl::term b = bl::term::parse("{b, 1}");
    if (e.type == sm::event_type::call && e.content == bl::term(bl::atom("go")))
      return sm::next_state(b)
          .reply(e.from, bl::atom("ok"))
          .state_timeout(20ms, bl::atom("stale"))
          .next_event(sm::event_type::internal, bl::atom("leave"));
    if (e.type == sm::event_type::call && e.content == bl::term(bl::atom("stay")))
      return sm::next_state(b)
          .reply(e.from, bl::atom("ok"))
          .state_timeout(20ms, bl::atom("fired"))
          .next_event(sm::event_type::internal, bl::atom("same"));
    if (e.type == sm::event_type::call && e.content == bl::term(bl::atom("probe")))
      return sm::keep_state()
          .reply(e.from, bl::atom("ok"))
          .generic_timeout(bl::atom("probe"), 200ms, bl::atom("probe"));
    if (e.type == sm::event_type::call)
      return sm::keep_state().reply(e.from, bl::term::list(std::vector<bl::term>(log)));
    if (e.type == sm::event_type::internal && e.content == bl::term(bl::atom("leave")))
      return sm::next_state(bl::atom("a"));
    if (e.type == sm::event_type::internal && e.content == bl::term(bl::atom("same")))
      return sm::next_state(bl::term::parse("{b, 1}"));
    log.push_back(bl::term::tuple({state, e.content}));
    return sm::next_state(bl::atom("a"));
  }
  std::vector<bl::term> log;
};

TEST_P(gen_statem, a_state_timeout_is_cancelled_by_a_term_state_change_and_kept_by_an_equal_term) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<term_flipper>({})).pid();
    EXPECT_EQ(co_await sm::call(m, A("go")), A("ok"));
    EXPECT_EQ(co_await sm::call(m, A("probe")), A("ok"));
    bl::term log = co_await log_longer_than(m, 0);
    EXPECT_EQ(log, bl::term::parse("[{a, probe}]"));
    EXPECT_EQ(co_await sm::call(m, A("stay")), A("ok"));
    log = co_await log_longer_than(m, 1);
    EXPECT_EQ(log, bl::term::parse("[{a, probe}, {{b, 1}, fired}]"));
    co_await sm::stop(m);
  });
}

// A coroutine handle_event; its state is what the server it asks last answered.
struct term_asker {
  static constexpr auto callback_mode = sm::handle_event_function;
  explicit term_asker(bl::pid other) : other_(other) {}
  sm::result<term_asker> init() { return sm::next_state(bl::atom("nothing_asked")); }
  bl::task<sm::result<term_asker>> handle_event(const sm::event<term_asker>& e,
                                                const bl::term& state) {
    if (e.content == bl::term(bl::atom("state"))) co_return sm::keep_state().reply(e.from, state);
    bl::term answer = co_await sm::call(other_, e.content);
    co_return sm::next_state(answer).reply(e.from, answer);
  }
  bl::pid other_;
};

TEST_P(gen_statem, a_coroutine_handle_event_may_call_other_servers) {
  run([&]() -> bl::process {
    bl::pid d = (co_await sm::start<term_door>({})).pid();
    bl::pid a = (co_await sm::start<term_asker>({}, d)).pid();
    EXPECT_EQ(co_await sm::call(a, A("state")), A("nothing_asked"));
    EXPECT_EQ(co_await sm::call(a, A("anything")), A("locked"));
    EXPECT_EQ(co_await sm::call(a, A("state")), A("locked"));
    co_await sm::stop(a);
    co_await sm::stop(d);
  });
}

TEST_P(gen_statem, next_state_with_a_term_stops_a_state_functions_machine) {
  struct mixed {
    explicit mixed(bool from_init = false) : from_init_(from_init) {}
    sm::result<mixed> init() {
      if (from_init_) return sm::next_state(bl::atom("elsewhere"));
      return sm::next_state(&mixed::only);
    }
    sm::result<mixed> only(const sm::event<mixed>&) {
      return sm::next_state(bl::atom("elsewhere"));  // a term state: not in this mode
    }
    bool from_init_;
  };
  run([&]() -> bl::process {
    auto [m, mon] = co_await [&]() -> bl::task<std::pair<bl::pid, bl::ref>> {
      bl::pid p = (co_await sm::start<mixed>({})).pid();
      co_return std::pair{p, bl::monitor(p)};
    }();
    sm::cast(m, A("go"));
    auto down = co_await bl::receive<bl::down_message>();
    EXPECT_EQ(down.monitor, mon);
    EXPECT_EQ(down.reason,
              bl::term::parse("{bad_return_from_state_function, {next_state, elsewhere}}"));
    auto refused = co_await sm::start<mixed>({}, true);
    EXPECT_EQ(refused.to_term(),
              bl::term::parse("{error, {bad_return_from_init, {next_state, elsewhere}}}"));
  });
}

// hibernate from every place a result comes from: enter calls, a postponing call, a
// call that rearranges its generic timeouts. `hold` is postponed in `resting` and
// answered in `active`.
struct sleeper {
  static constexpr bool state_enter = true;
  sm::result<sleeper> init() { return sm::next_state(&sleeper::resting); }
  sm::result<sleeper> resting(const sm::event<sleeper>& e) {
    if (e.type == sm::event_type::enter) return said("enter resting").hibernate();
    if (e.type == sm::event_type::generic_timeout) return said(e.content.to_string());
    if (e.type != sm::event_type::call) return sm::keep_state();
    if (e.content == bl::term(bl::atom("hold")))
      return said("postponed hold").postpone().hibernate();
    if (e.content == bl::term(bl::atom("sleep")))  // `gone` stopped, `wake` running
      return sm::keep_state()
          .reply(e.from, bl::atom("ok"))
          .generic_timeout(bl::atom("gone"), 10s, bl::atom("gone"))
          .cancel_generic_timeout(bl::atom("gone"))
          .generic_timeout(bl::atom("wake"), 20ms, bl::atom("woke"))
          .hibernate();
    if (e.content == bl::term(bl::atom("up")))
      return sm::next_state(&sleeper::active).reply(e.from, bl::atom("ok")).hibernate();
    return sm::keep_state().reply(e.from, log_term());
  }
  sm::result<sleeper> active(const sm::event<sleeper>& e) {
    if (e.type == sm::event_type::enter) return said("enter active").hibernate();
    if (e.type != sm::event_type::call) return sm::keep_state();
    if (e.content == bl::term(bl::atom("hold")))
      return said("retried hold").reply(e.from, bl::atom("held"));
    return sm::keep_state().reply(e.from, log_term());
  }
  sm::result<sleeper> said(std::string what) {
    log.push_back(std::move(what));
    return sm::keep_state();
  }
  bl::term log_term() const { return binaries(log); }
  std::vector<std::string> log;
};

TEST_P(gen_statem,
       hibernate_keeps_postponed_events_and_running_timeouts_and_the_machine_carries_on) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<sleeper>({})).pid();
    bl::pid self = bl::self();
    bl::spawn([m, self]() -> bl::process {
      bl::term r = co_await sm::call(m, A("hold"), bl::infinity);
      bl::send(self, r);
    });
    EXPECT_TRUE(co_await eventually(
        [&]() -> bl::task<bool> { co_return (co_await log_of(m)).size() >= 2; }));
    EXPECT_EQ(co_await sm::call(m, A("sleep")), A("ok"));
    EXPECT_TRUE(co_await eventually(
        [&]() -> bl::task<bool> { co_return (co_await log_of(m)).size() >= 3; }));
    EXPECT_EQ(co_await sm::call(m, A("up")), A("ok"));
    bl::term held = co_await bl::receive([](bl::term t) { return t; },
                                         bl::after(10s, [] { return bl::term(A("none")); }));
    EXPECT_EQ(held, A("held"));
    EXPECT_EQ(co_await log_of(m),
              strings("enter resting", "postponed hold", "woke", "enter active", "retried hold"));
    co_await sm::stop(m);
  });
}

}  // namespace
