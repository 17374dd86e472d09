// gen_statem_*: state functions, enter calls, postpone, inserted events, event,
// state and generic timeouts, calls and stop.
#include <string>
#include <vector>

#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace sm = bl::gen_statem;

class gen_statem : public node_test {};
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

  bl::term log_term() const {
    std::vector<bl::term> items;
    for (const auto& s : log) items.push_back(bl::term::binary(s));
    return bl::term::list(std::move(items));
  }

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
    co_await bl::sleep(10ms);
    sm::cast(d, bl::term::binary("1234"));
    EXPECT_EQ(co_await bl::receive<bl::term>(), A("inside"));
    EXPECT_EQ(co_await log_of(d),
              strings("enter locked", "postponed walk_in", "enter open from locked", "walked in"));
    co_await sm::stop(d);
  });
}

TEST_P(gen_statem, a_state_timeout_fires_in_its_state_and_is_cancelled_by_leaving_it) {
  run([&]() -> bl::process {
    bl::pid d =
        (co_await sm::start<door>({}, std::string("1"), std::chrono::milliseconds(20))).pid();
    sm::cast(d, bl::term::binary("1"));
    co_await bl::sleep(60ms);
    auto log = co_await log_of(d);
    EXPECT_EQ(log, strings("enter locked", "enter open from locked", "state_timeout relock",
                           "enter locked"));
    // Leaving `open` before the timeout cancels it: no second relock.
    sm::cast(d, bl::term::binary("1"));
    EXPECT_EQ(co_await sm::call(d, A("close")), A("closed"));
    co_await bl::sleep(60ms);
    auto after = co_await log_of(d);
    EXPECT_EQ(after.size(), log.size() + 2);  // enter open, enter locked; no state_timeout
    co_await sm::stop(d);
  });
}

// A machine for timeouts and inserted events: one state, `idle`.
struct timers {
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
              .cancel_generic_timeout(bl::atom("b"));
        if (c == bl::term(bl::atom("insert")))
          return sm::keep_state()
              .reply(e.from, bl::atom("ok"))
              .next_event(sm::event_type::internal, bl::atom("first"))
              .next_event(sm::event_type::internal, bl::atom("second"));
        return sm::keep_state().reply(e.from, bl::atom("?"));
      }
      case sm::event_type::timeout:
        log.push_back(bl::term::tuple({bl::atom("timeout"), e.content}));
        return sm::keep_state();
      case sm::event_type::generic_timeout:
        log.push_back(bl::term::tuple({e.timeout_name, e.content}));
        return sm::keep_state();
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
  std::vector<bl::term> log;
};

TEST_P(gen_statem, an_event_timeout_fires_when_nothing_arrives_and_any_event_cancels_it) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<timers>({})).pid();
    EXPECT_EQ(co_await sm::call(m, A("event_timeout")), A("ok"));
    co_await bl::sleep(60ms);
    EXPECT_EQ(co_await sm::call(m, A("log")), bl::term::parse("[{timeout, idle}]"));
    EXPECT_EQ(co_await sm::call(m, A("event_timeout")), A("ok"));
    bl::send(m, A("poke"));  // an event before the timeout: cancelled
    co_await bl::sleep(60ms);
    EXPECT_EQ(co_await sm::call(m, A("log")), bl::term::parse("[{timeout, idle}, {info, poke}]"));
    co_await sm::stop(m);
  });
}

TEST_P(gen_statem, generic_timeouts_are_named_and_cancellable) {
  run([&]() -> bl::process {
    bl::pid m = (co_await sm::start<timers>({})).pid();
    EXPECT_EQ(co_await sm::call(m, A("generic")), A("ok"));
    co_await bl::sleep(60ms);
    EXPECT_EQ(co_await sm::call(m, A("log")), bl::term::parse("[{a, fired_a}]"));
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

}  // namespace
