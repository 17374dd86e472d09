// beamline/otp/gen_statem.hpp: Erlang's gen_statem, in both of its callback modes.
//
// The machine object is the state machine's data. In state-functions mode (the
// default) a state is a member function of the machine class; each state function
// handles the events of its state and says what comes next:
//
//     namespace sm = bl::gen_statem;
//     struct door {
//       static constexpr bool state_enter = true;            // enter calls on
//       sm::result<door> init() { return sm::next_state(&door::locked); }
//       sm::result<door> locked(const sm::event<door>& e) {
//         if (e.type == sm::event_type::enter) return sm::keep_state();
//         if (e.type == sm::event_type::call && e.content == bl::term(bl::atom("open")))
//           return sm::next_state(&door::open).reply(e.from, bl::atom("ok"));
//         return sm::keep_state().postpone();                 // handle it once open
//       }
//       sm::result<door> open(const sm::event<door>& e) {
//         if (e.type == sm::event_type::enter)                // relock after 5 s
//           return sm::keep_state().state_timeout(5s, bl::atom("lock"));
//         if (e.type == sm::event_type::state_timeout) return sm::next_state(&door::locked);
//         ...
//       }
//     };
//     auto d = co_await sm::start_link<door>({});
//     bl::term r = co_await sm::call(d.pid(), bl::atom("open"));
//
// In handle_event_function mode a state is any term, and one callback handles every
// event in every state (OTP's handle_event/4):
//
//     struct counter {
//       static constexpr auto callback_mode = sm::handle_event_function;
//       sm::result<counter> init() { return sm::next_state(0); }
//       sm::result<counter> handle_event(const sm::event<counter>& e, const bl::term& state) {
//         if (e.type == sm::event_type::cast) return sm::next_state(state.as_int() + 1);
//         if (e.type == sm::event_type::call) return sm::keep_state().reply(e.from, state);
//         return sm::keep_state();
//       }
//     };
//
// Everything else is the same in both modes; one loop (detail::statem_loop) runs
// both, asking only "which callback, with which state" differently. A state changes
// when the next state differs from the current one: another member function, or in
// handle_event_function mode a term that is not exactly equal (=:=) to the current
// one. Mixing the modes fails clearly: next_state(&M::s) in a handle_event_function
// machine is a static_assert; next_state(term) returned by a state-functions machine
// stops it with {bad_return_from_state_function, {next_state, Term}} (from init the
// start returns {error, {bad_return_from_init, {next_state, Term}}}).
//
// Events are terms, as in Erlang: calls and casts use gen_server's wire shapes
// ({'$gen_call', From, Req}, {'$gen_cast', Msg}), other term messages are `info`,
// and DOWN/EXIT messages arrive as `info` with their term form. The rules follow
// OTP's gen_statem:
// - Enter calls (state_enter = true): after every state change, and on
//   repeat_state and the initial state, the state's callback runs with an `enter`
//   event whose `previous` is the state left (a term in handle_event_function mode;
//   the initial state's enter call sees the initial state). It may keep or repeat
//   the state, stop, reply, set timeouts and hibernate; it may not change state,
//   postpone, or insert events (the machine then stops with
//   {bad_state_enter_return_from_state_function, ...}).
// - postpone(): the event is kept and retried after the next state change, before
//   any event not yet received, in the order they came.
// - next_event(type, content): inserted events are handled before anything else,
//   before the postponed ones too.
// - Timeouts: event_timeout (cancelled by any event), state_timeout (cancelled by a
//   state change), generic_timeout(name, ...) (only by its own cancel). Setting one
//   again replaces it; bl::infinity cancels it; 0 makes its event the next one to
//   handle after those already inserted.
// - hibernate(): OTP's hibernation throws away the process's stack and compacts its
//   heap. beamline has no per-process heap, so, like gen_server's, this compacts no
//   memory; what it does is give back what the loop itself holds between events:
//   the spare capacity of the inserted and postponed event queues, the table entries
//   of generic timeouts that are no longer running, and the content of a state
//   timeout that is no longer running. Then it waits for the next event as usual
//   (with events already queued, it happens before they are handled). Events,
//   running timeouts, the machine object, the mailbox and the process's coroutine
//   frames are untouched; the only cost afterwards is the queues' next growth.
// - A callback may be a coroutine returning bl::task<result<M>>, to receive or call
//   other servers. terminate(reason) runs as in gen_server.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "beamline/messages.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/timer.hpp"

namespace beamline::gen_statem {

enum class event_type : std::uint8_t {
  call,             // content: the request; reply to `from`
  cast,             // content: the message
  info,             // content: any other message (as a term)
  timeout,          // the event timeout; content: its content
  state_timeout,    // content: its content
  generic_timeout,  // content: its content; name: its name
  internal,         // inserted with next_event
  enter,            // state enter call; previous: the state left
};

template <class M>
struct event;
template <class M>
class result;

// How a machine's events reach it. A machine picks one with
// `static constexpr auto callback_mode = sm::handle_event_function;`; without it, a
// machine is in state-functions mode.
enum class callback_mode_type : std::uint8_t {
  state_functions,        // a state is a member function, called with each event
  handle_event_function,  // a state is a term; handle_event(event, state) gets every event
};
inline constexpr callback_mode_type state_functions = callback_mode_type::state_functions;
inline constexpr callback_mode_type handle_event_function =
    callback_mode_type::handle_event_function;

// M's callback mode. Read where M is complete (a callback's body, the loop).
template <class M>
constexpr callback_mode_type callback_mode_of() {
  if constexpr (requires { M::callback_mode; }) {
    static_assert(std::is_same_v<std::remove_cv_t<decltype(M::callback_mode)>, callback_mode_type>,
                  "gen_statem: a machine's callback_mode must be sm::state_functions or "
                  "sm::handle_event_function");
    return M::callback_mode;
  } else {
    return callback_mode_type::state_functions;
  }
}
template <class M>
inline constexpr bool handles_events = callback_mode_of<M>() == handle_event_function;

// A state: a state function of M, plain or a coroutine.
template <class M>
class state {
 public:
  using plain = result<M> (M::*)(const event<M>&);
  using coroutine = task<result<M>> (M::*)(const event<M>&);

  state() = default;
  state(plain f) : plain_(f) {}          // NOLINT(google-explicit-constructor)
  state(coroutine f) : coroutine_(f) {}  // NOLINT(google-explicit-constructor)

  bool is_null() const noexcept { return plain_ == nullptr && coroutine_ == nullptr; }
  plain as_plain() const noexcept { return plain_; }
  coroutine as_coroutine() const noexcept { return coroutine_; }

  friend bool operator==(const state& a, const state& b) noexcept {
    return a.plain_ == b.plain_ && a.coroutine_ == b.coroutine_;
  }

 private:
  plain plain_ = nullptr;
  coroutine coroutine_ = nullptr;
};

// The type of M's states: state<M>, or in handle_event_function mode any term.
template <class M>
using state_of = std::conditional_t<handles_events<M>, term, state<M>>;

template <class M>
struct event {
  event_type type = event_type::info;
  term content;
  beamline::from from;   // call: the caller
  term timeout_name;     // generic_timeout: the timer's name
  state_of<M> previous;  // enter: the state left
};

// One thing a state function asks for besides the next state.
struct action {
  enum class kind : std::uint8_t {
    postpone,
    reply,
    event_timeout,
    state_timeout,
    generic_timeout,
    next_event,
    hibernate,
  };
  kind what;
  beamline::from to;                       // reply
  term value;                              // reply: the reply; timeouts, next_event: the content
  term name;                               // generic_timeout
  std::chrono::milliseconds time{0};       // timeouts (bl::infinity cancels)
  event_type type = event_type::internal;  // next_event
};

enum class transition_kind : std::uint8_t { next_state, keep_state, repeat_state, stop, ignore };

// What every transition carries: its kind, the stop reason and the actions.
template <class Derived>
class transition_base {
 public:
  using kind = transition_kind;

  Derived& postpone() {
    actions_.push_back(action{action::kind::postpone, {}, {}, {}, {}, {}});
    return self();
  }
  Derived& reply(const beamline::from& to, term value) {
    actions_.push_back(action{action::kind::reply, to, std::move(value), {}, {}, {}});
    return self();
  }
  Derived& event_timeout(std::chrono::milliseconds t, term content = atoms::timeout) {
    actions_.push_back(action{action::kind::event_timeout, {}, std::move(content), {}, t, {}});
    return self();
  }
  Derived& state_timeout(std::chrono::milliseconds t, term content = atoms::timeout) {
    actions_.push_back(action{action::kind::state_timeout, {}, std::move(content), {}, t, {}});
    return self();
  }
  Derived& cancel_state_timeout() { return state_timeout(infinity); }
  Derived& generic_timeout(term name, std::chrono::milliseconds t, term content = atoms::timeout) {
    actions_.push_back(
        action{action::kind::generic_timeout, {}, std::move(content), std::move(name), t, {}});
    return self();
  }
  Derived& cancel_generic_timeout(term name) { return generic_timeout(std::move(name), infinity); }
  Derived& next_event(event_type type, term content) {
    actions_.push_back(action{action::kind::next_event, {}, std::move(content), {}, {}, type});
    return self();
  }
  // Before waiting for the next event, give back the loop's idle buffers (see the
  // file comment: no memory is compacted).
  Derived& hibernate() {
    actions_.push_back(action{action::kind::hibernate, {}, {}, {}, {}, {}});
    return self();
  }

  kind what() const noexcept { return kind_; }
  const term& reason() const noexcept { return reason_; }
  std::vector<action>& actions() noexcept { return actions_; }

 protected:
  Derived& self() { return static_cast<Derived&>(*this); }
  kind kind_ = kind::keep_state;
  term reason_{atoms::normal};
  std::vector<action> actions_;
};

// keep_state(), repeat_state(), stopping(reason), ignore() and next_state(term): a
// transition that names no member function, usable as any machine's result.
class transition : public transition_base<transition> {
 public:
  explicit transition(kind k, term reason = atoms::normal) {
    kind_ = k;
    reason_ = std::move(reason);
  }
  template <class M>
  friend class result;
  friend transition next_state(term s);

 private:
  term next_;  // next_state(term): the state
};

template <class M>
class result : public transition_base<result<M>> {
  using base = transition_base<result<M>>;

 public:
  using kind = typename base::kind;

  result(gen_statem::state<M> next) {  // NOLINT(google-explicit-constructor)
    static_assert(!handles_events<M>,
                  "gen_statem::next_state(&M::state_function): this machine's callback_mode is "
                  "handle_event_function, so its states are terms: return next_state(term)");
    this->kind_ = kind::next_state;
    function_next_ = next;
  }
  result(transition t) {  // NOLINT(google-explicit-constructor)
    this->kind_ = t.kind_;
    this->reason_ = std::move(t.reason_);
    this->actions_ = std::move(t.actions_);
    term_next_ = std::move(t.next_);
  }

  // next_state: the state to go to, a state<M> or, in handle_event_function mode, a term.
  decltype(auto) next() const noexcept {
    if constexpr (handles_events<M>)
      return (term_next_);
    else
      return (function_next_);
  }
  // State-functions mode: the result is next_state(term), which this mode cannot follow.
  bool names_a_term_state() const noexcept {
    return !handles_events<M> && this->kind_ == kind::next_state && function_next_.is_null();
  }
  const term& term_state() const noexcept { return term_next_; }

 private:
  gen_statem::state<M> function_next_;  // state-functions mode
  term term_next_;                      // handle_event_function mode
};

// handle_event_function mode: go to state `s`, any term. It is a state change when
// `s` differs (=:=) from the current state.
inline transition next_state(term s) {
  transition t(transition::kind::next_state);
  t.next_ = std::move(s);
  return t;
}
// State-functions mode: {next_state, S, Data}: go to state `s` (a member function of M).
template <class M>
result<M> next_state(result<M> (M::*s)(const event<M>&)) {
  return result<M>(state<M>(s));
}
template <class M>
result<M> next_state(task<result<M>> (M::*s)(const event<M>&)) {
  return result<M>(state<M>(s));
}
inline transition keep_state() {
  return transition(transition::kind::keep_state);
}
// Stay, but as if the state were entered again: enter call, postponed events retried.
inline transition repeat_state() {
  return transition(transition::kind::repeat_state);
}
// (Not `stop`: gen_statem::stop(machine) stops a machine from outside.)
inline transition stopping(term reason = atoms::normal) {
  return transition(transition::kind::stop, std::move(reason));
}
// init only: the start returns `ignore`.
inline transition ignore() {
  return transition(transition::kind::ignore);
}

using gen_server::start_options;

}  // namespace beamline::gen_statem

namespace beamline::detail {

// A state or generic timer's message to its machine.
struct statem_timer {
  std::uint64_t generation;  // stale unless it matches the timer's current generation
};

// Drops a pending timer; false if it had already fired (its message may be queued).
void cancel_statem_timer(const ref& timer) noexcept;
term bad_enter_reason(const char* what);
// next_state(term) from a state-functions machine: the error that stops it, and the
// reason a start fails with when init returned it.
error term_state_in_state_functions_mode(const term& state);
term bad_init_term_state_reason(const term& state);

// A handle_event_function machine's one callback, plain or a coroutine.
template <class M>
concept machine_has_handle_event = requires(M& m, const gen_statem::event<M>& e, const term& s) {
  m.handle_event(e, s);
};

// Runs a machine in either callback mode: the mode decides only which callback an
// event goes to and what a state is (state_t); everything else is shared.
template <class M>
class statem_loop {
  using event_t = gen_statem::event<M>;
  using result_t = gen_statem::result<M>;
  using state_t = gen_statem::state_of<M>;
  using kind = typename result_t::kind;
  static constexpr bool handles_events = gen_statem::handles_events<M>;

  static_assert(!handles_events || machine_has_handle_event<M>,
                "gen_statem: a machine whose callback_mode is handle_event_function needs "
                "result<M> handle_event(const event<M>&, const bl::term& state), or a coroutine "
                "returning bl::task<result<M>>");

  struct timer {
    ref id;
    std::uint64_t generation = 0;
    term content;
    bool armed = false;
  };

 public:
  statem_loop(M& machine, const pid& parent) : machine_(machine), parent_(parent) {}

  // Runs init's result, then events until the machine stops (never returns).
  task<void> run(result_t first) {
    std::exception_ptr crash;
    term reason;
    try {
      current_ = first.next();
      co_await apply_actions(first, nullptr);
      if constexpr (has_state_enter()) co_await enter(current_);
      for (;;) {
        if (std::exchange(hibernate_requested_, false)) release_idle_buffers();
        event_t e = co_await next_event();
        co_await handle(std::move(e));
      }
    } catch (const stopping&) {
      reason = stop_reason_;
    } catch (...) {
      crash = std::current_exception();
    }
    if (crash) {
      if (!current_process_exiting()) co_await run_terminate(exception_reason(crash));
      std::rethrow_exception(crash);
    }
    co_await run_terminate(reason);
    for (auto& [to, value] : stop_replies_) gen_server::reply(to, std::move(value));
    report_termination(reason);
    beamline::exit(reason);
  }

 private:
  struct stopping {};

  static constexpr bool has_state_enter() {
    if constexpr (requires { M::state_enter; })
      return M::state_enter;
    else
      return false;
  }

  // The callback for event `e` in state `s`: the state function, or handle_event.
  // A state-functions result naming a term state stops the machine here.
  task<result_t> call_state(const state_t& s, const event_t& e) {
    if constexpr (handles_events) {
      using out = std::decay_t<decltype(machine_.handle_event(e, s))>;
      if constexpr (task_traits<out>::is_task)
        co_return co_await machine_.handle_event(e, s);
      else
        co_return machine_.handle_event(e, s);
    } else {
      std::optional<result_t> r;
      if (auto f = s.as_plain())
        r.emplace((machine_.*f)(e));
      else
        r.emplace(co_await (machine_.*s.as_coroutine())(e));
      if (r->names_a_term_state()) throw term_state_in_state_functions_mode(r->term_state());
      co_return std::move(*r);
    }
  }

  // The next event: inserted ones first, then the mailbox (with the event timeout).
  task<event_t> next_event() {
    for (;;) {
      if (!queue_.empty()) {
        event_t e = std::move(queue_.front());
        queue_.pop_front();
        event_timeout_.reset();
        co_return e;
      }
      std::int64_t timeout_ns = -1;
      if (event_timeout_)
        timeout_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(event_timeout_->first).count();
      signal* s = co_await next_message(timeout_ns);
      if (s == nullptr) {
        event_t e;
        e.type = gen_statem::event_type::timeout;
        e.content = std::move(event_timeout_->second);
        event_timeout_.reset();
        co_return e;
      }
      signal_owner owner{s};
      std::optional<event_t> e = decode(s);
      if (e) {
        event_timeout_.reset();
        co_return std::move(*e);
      }
    }
  }

  // A message as an event, or nothing (a stale timer, an unexpected type).
  std::optional<event_t> decode(signal* s) {
    event_t e;
    if (s->type == &signal_type_of<std::tuple<term>>) {
      term& t = std::get<0>(payload_of<std::tuple<term>>(s));
      if (t.is_tuple() && t.size() == 3 && t[0] == term(atoms::gen_call) && t[1].is_tuple() &&
          t[1].size() == 2 && t[1][0].is_pid()) {
        e.type = gen_statem::event_type::call;
        e.from = from_access::make(t[1][0].as_pid(), t[1][1], {}, nullptr);
        e.content = t[2];
      } else if (t.is_tuple() && t.size() == 2 && t[0] == term(atoms::gen_cast)) {
        e.type = gen_statem::event_type::cast;
        e.content = t[1];
      } else {
        e.content = std::move(t);
      }
      return e;
    }
    if (s->type == &signal_type_of<std::tuple<statem_timer>>) {
      const std::uint64_t generation =
          std::get<0>(payload_of<std::tuple<statem_timer>>(s)).generation;
      if (state_timer_.armed && state_timer_.generation == generation) {
        state_timer_.armed = false;
        e.type = gen_statem::event_type::state_timeout;
        e.content = std::move(state_timer_.content);
        return e;
      }
      for (auto& [name, t] : generic_timers_) {
        if (t.armed && t.generation == generation) {
          t.armed = false;
          e.type = gen_statem::event_type::generic_timeout;
          e.timeout_name = name;
          e.content = std::move(t.content);
          return e;
        }
      }
      return std::nullopt;  // cancelled or replaced
    }
    if (s->type == &signal_type_of<std::tuple<exit_message>>) {
      exit_message& x = std::get<0>(payload_of<std::tuple<exit_message>>(s));
      if (x.from == parent_ && !parent_.is_null()) stop_now(x.reason);
      e.content = x.to_term();
      return e;
    }
    if (s->type == &signal_type_of<std::tuple<down_message>>) {
      e.content = std::get<0>(payload_of<std::tuple<down_message>>(s)).to_term();
      return e;
    }
    if (s->type == &signal_type_of<std::tuple<stop_request>>)
      stop_now(std::get<0>(payload_of<std::tuple<stop_request>>(s)).reason);
    if (const message_descriptor* d = descriptor_of(s)) {
      if (d->is_call) refuse_call(s, *d);
      return std::nullopt;
    }
    report_unexpected_message(s);
    return std::nullopt;
  }

  [[noreturn]] void stop_now(term reason) {
    stop_reason_ = std::move(reason);
    throw stopping{};
  }

  task<void> handle(event_t e) {
    result_t r = co_await call_state(current_, e);
    if (r.what() == kind::stop) {
      for (gen_statem::action& a : r.actions())
        if (a.what == gen_statem::action::kind::reply)
          stop_replies_.emplace_back(a.to, std::move(a.value));
      stop_now(r.reason());
    }
    const bool postponed = has_action(r, gen_statem::action::kind::postpone);
    co_await apply_actions(r, postponed ? &e : nullptr);
    state_t next = current_;
    if (r.what() == kind::next_state) next = r.next();
    const bool changed = !(next == current_);
    if (changed || r.what() == kind::repeat_state) {
      state_t previous = current_;
      current_ = next;
      if (changed) {
        if (!timer_set_by(r, gen_statem::action::kind::state_timeout)) cancel(state_timer_);
      }
      // Postponed events are retried first, after those just inserted.
      std::deque<event_t> retry;
      for (event_t& p : postponed_) retry.push_back(std::move(p));
      postponed_.clear();
      std::size_t inserted = inserted_now_;
      auto at = queue_.begin() + static_cast<std::ptrdiff_t>(std::min(inserted, queue_.size()));
      queue_.insert(at, std::make_move_iterator(retry.begin()),
                    std::make_move_iterator(retry.end()));
      if constexpr (has_state_enter()) co_await enter(previous);
    }
  }

  // The enter call of the current state, after leaving `previous`.
  task<void> enter(state_t previous) {
    event_t e;
    e.type = gen_statem::event_type::enter;
    e.content = atoms::undefined;
    e.previous = previous;
    for (;;) {
      result_t r = co_await call_state(current_, e);
      if (r.what() == kind::stop) {
        for (gen_statem::action& a : r.actions())
          if (a.what == gen_statem::action::kind::reply)
            stop_replies_.emplace_back(a.to, std::move(a.value));
        stop_now(r.reason());
      }
      if ((r.what() == kind::next_state && !(r.next() == current_)) ||
          has_action(r, gen_statem::action::kind::postpone) ||
          has_action(r, gen_statem::action::kind::next_event))
        throw error(bad_enter_reason("a state enter call may only keep or repeat the state, stop, "
                                     "reply and set timeouts"),
                    "gen_statem: bad return from a state enter call");
      co_await apply_actions(r, nullptr);
      if (r.what() != kind::repeat_state) co_return;
      e.previous = current_;
    }
  }

  static bool has_action(result_t& r, gen_statem::action::kind k) {
    for (const gen_statem::action& a : r.actions())
      if (a.what == k) return true;
    return false;
  }
  static bool timer_set_by(result_t& r, gen_statem::action::kind k) { return has_action(r, k); }

  task<void> apply_actions(result_t& r, event_t* postponed) {
    inserted_now_ = 0;
    std::vector<event_t> inserted;
    for (gen_statem::action& a : r.actions()) {
      switch (a.what) {
        case gen_statem::action::kind::postpone:
          break;
        case gen_statem::action::kind::reply:
          gen_server::reply(a.to, std::move(a.value));
          break;
        case gen_statem::action::kind::event_timeout:
          if (a.time == infinity)
            event_timeout_.reset();
          else
            event_timeout_.emplace(a.time, std::move(a.value));
          break;
        case gen_statem::action::kind::state_timeout:
          arm(state_timer_, a.time, std::move(a.value), gen_statem::event_type::state_timeout, {},
              inserted);
          break;
        case gen_statem::action::kind::generic_timeout:
          arm(generic_timers_[a.name], a.time, std::move(a.value),
              gen_statem::event_type::generic_timeout, a.name, inserted);
          break;
        case gen_statem::action::kind::next_event: {
          event_t e;
          e.type = a.type;
          e.content = std::move(a.value);
          inserted.push_back(std::move(e));
          break;
        }
        case gen_statem::action::kind::hibernate:
          hibernate_requested_ = true;
          break;
      }
    }
    if (postponed != nullptr) postponed_.push_back(std::move(*postponed));
    // Inserted events go first, in the order given.
    queue_.insert(queue_.begin(), std::make_move_iterator(inserted.begin()),
                  std::make_move_iterator(inserted.end()));
    inserted_now_ = inserted.size();
    co_return;
  }

  void cancel(timer& t) {
    if (!t.armed) return;
    t.armed = false;
    ++t.generation;  // a message already on its way is now stale
    cancel_statem_timer(t.id);
  }

  void arm(timer& t, std::chrono::milliseconds time, term content, gen_statem::event_type type,
           term name, std::vector<event_t>& inserted) {
    cancel(t);
    if (time == infinity) return;
    if (time.count() <= 0) {  // fires "now": the next event after those inserted
      event_t e;
      e.type = type;
      e.content = std::move(content);
      e.timeout_name = std::move(name);
      inserted.push_back(std::move(e));
      return;
    }
    t.generation = ++generations_;
    t.content = std::move(content);
    t.armed = true;
    t.id = send_after(time, self(), statem_timer{t.generation});
  }

  // hibernate: what the loop holds between events and can give back. Queued and
  // postponed events and running timers stay; only spare capacity and the leftovers of
  // stopped timers go. (A libstdc++ deque keeps one block even when empty.)
  void release_idle_buffers() {
    queue_.shrink_to_fit();
    postponed_.shrink_to_fit();
    std::unordered_map<term, timer> running;
    for (auto& [name, t] : generic_timers_)
      if (t.armed) running.emplace(name, std::move(t));
    generic_timers_.swap(running);  // a stale message finds no timer of its generation
    if (!state_timer_.armed) state_timer_.content = term();
  }

  task<void> run_terminate(const term& reason) {
    cancel(state_timer_);
    for (auto& [name, t] : generic_timers_) cancel(t);
    if constexpr (requires(M & m) { m.terminate(reason); }) {
      using out = std::decay_t<decltype(machine_.terminate(reason))>;
      if constexpr (task_traits<out>::is_task)
        co_await machine_.terminate(reason);
      else
        machine_.terminate(reason);
    }
    co_return;
  }

  M& machine_;
  pid parent_;
  state_t current_;
  std::deque<event_t> queue_;       // inserted and retried events, before the mailbox
  std::vector<event_t> postponed_;  // postponed in the current state, oldest first
  std::size_t inserted_now_ = 0;    // how many of queue_'s first events the last result inserted
  std::optional<std::pair<std::chrono::milliseconds, term>> event_timeout_;
  timer state_timer_;
  std::unordered_map<term, timer> generic_timers_;
  std::uint64_t generations_ = 0;
  term stop_reason_;
  std::vector<std::pair<from, term>> stop_replies_;
  bool hibernate_requested_ = false;  // the last transition asked to hibernate
};

// The statem's process body: gen_server's start protocol around statem_loop.
template <class M, class... Args>
process statem_process(start_context ctx, Args... args) {
  current_process("gen_statem").set_initial_call(behaviour_initial_call<M>("gen_statem"));
  if (!co_await claim_name(ctx)) co_return;
  std::optional<M> machine;
  std::optional<gen_statem::result<M>> first;
  std::exception_ptr crash;
  try {
    machine.emplace(std::move(args)...);
    using out = std::decay_t<decltype(machine->init())>;
    if constexpr (task_traits<out>::is_task)
      first.emplace(co_await machine->init());
    else
      first.emplace(machine->init());
  } catch (...) {
    crash = std::current_exception();
  }
  if (crash) {
    if (!current_process_exiting()) {
      release_name(ctx);
      ack_start(ctx, start_result::error(exception_reason(crash)));
    }
    std::rethrow_exception(crash);
  }
  using kind = typename gen_statem::result<M>::kind;
  if (first->what() == kind::stop) {
    release_name(ctx);
    ack_start(ctx, start_result::error(first->reason()));
    beamline::exit(first->reason());
  }
  if (first->what() == kind::ignore) {
    release_name(ctx);
    ack_start(ctx, start_result::ignore());
    co_return;
  }
  if (first->what() != kind::next_state || first->names_a_term_state()) {
    term reason =
        first->names_a_term_state()
            ? bad_init_term_state_reason(first->term_state())
            : term::tuple({atom("bad_return_from_init"), atom("init must return next_state")});
    release_name(ctx);
    ack_start(ctx, start_result::error(reason));
    beamline::exit(reason);
  }
  ack_start(ctx, start_result::ok(self()));
  statem_loop<M> loop(*machine, ctx.parent);
  co_await loop.run(std::move(*first));
}

template <class M, class... Args>
task<start_result> start_statem(gen_server::start_options options, bool link, Args... args) {
  start_context ctx{self(), make_ref(), link ? self() : pid{}, options.name()};
  spawn_result spawned = spawn_opt({.link = link, .monitor = true, .priority = options.priority()},
                                   &statem_process<M, Args...>, ctx, std::move(args)...);
  co_return co_await await_start(std::move(ctx), spawned, options.timeout());
}

}  // namespace beamline::detail

namespace beamline::gen_statem {

// Starts a machine of type M, constructed from `args`, whose init() returns the
// first state (next_state), stopping(reason) or ignore(): {ok, Pid} | ignore |
// {error, Reason}, as gen_server's start.
template <class M, class... Args>
task<start_result> start(start_options options, Args... args) {
  co_return co_await detail::start_statem<M, Args...>(std::move(options), false,
                                                      std::move(args)...);
}
template <class M, class... Args>
task<start_result> start_link(start_options options, Args... args) {
  co_return co_await detail::start_statem<M, Args...>(std::move(options), true, std::move(args)...);
}

// Calls and casts: gen_server's, whose wire shapes a machine shares.
inline task<term> call(server_ref machine, term request,
                       std::chrono::milliseconds timeout = gen_server::default_timeout) {
  return gen_server::call(std::move(machine), std::move(request), timeout);
}
inline void cast(const server_ref& machine, term message) {
  gen_server::cast(machine, std::move(message));
}
inline task<void> stop(server_ref machine, term reason = atoms::normal,
                       std::chrono::milliseconds timeout = infinity) {
  return gen_server::stop(std::move(machine), std::move(reason), timeout);
}

}  // namespace beamline::gen_statem
