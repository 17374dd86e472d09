// beamline/otp/detail/gen_server_impl.hpp: the machinery behind gen_server.hpp.
//
// Part of beamline/otp/gen_server.hpp, which includes it between its public types
// (from, message_types, start_options) and its client API (start, call, cast,
// reply, stop); include gen_server.hpp, never this file on its own. Everything here
// is in beamline::detail:
//   - the messages of the protocol that gen_server.hpp describes: typed replies,
//     refusals, stop requests, init acks, and the typed calls and casts that carry
//     their dispatcher (message_descriptor);
//   - the non-template halves of calls, starts and logging (src/otp/gen_server.cpp);
//   - recognising a server's callbacks (concepts) and running them as a `step`, the
//     loop's next move, awaiting those that are coroutines;
//   - server_loop, the server process's loop, and server_process / start_server,
//     its start.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

#include "beamline/detail/signal.hpp"
#include "beamline/errors.hpp"
#include "beamline/messages.hpp"
#include "beamline/otp/detail/call_slot.hpp"
#include "beamline/otp/detail/next_message.hpp"
#include "beamline/otp/gen_server_results.hpp"
#include "beamline/otp/server_ref.hpp"
#include "beamline/otp/start_result.hpp"
#include "beamline/process.hpp"
#include "beamline/spawn.hpp"

namespace beamline::detail {

template <class R>
using stored_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

// A reply to a typed call.
template <class V>
struct typed_reply {
  term tag;
  V value;
};
// The answer to a typed call that reached a server of another type.
struct call_refused {
  term tag;
  term reason;
};
// gen_server::stop's request (OTP's sys:terminate).
struct stop_request {
  term reason;
};
// What a starting server tells its starter.
struct init_ack {
  term tag;
  start_result result;
};

struct from_access {
  static from make(const pid& caller, term tag, slot_ptr slot, const std::type_info* reply_type) {
    return from(caller, std::move(tag), std::move(slot), reply_type);
  }
  static const slot_ptr& slot(const from& f) noexcept { return f.slot_; }
  static const std::type_info* reply_type(const from& f) noexcept { return f.reply_type_; }
};

// --- non-template parts (src/otp/gen_server.cpp) ---------------------------------

// Sends a reply message unless the caller gave up (then frees it). Never throws.
void send_reply(const from& to, signal* message) noexcept;
// The reason a caught exception gives, as the core computes it for a crash.
term exception_reason(const std::exception_ptr& e);
// Whether the calling process has been ended by an exit signal (no callbacks run).
bool current_process_exiting() noexcept;
// An atom naming a C++ type, for error reasons ({bad_call, 'counter::get'}).
term type_name_term(const std::type_info& type);
inline atom gen_server_atom() {
  return atom("gen_server");
}
// The caller-side halves of a call.
// Resolves the server, refuses to call oneself, monitors the server and makes the
// late-reply slot (finite timeouts only). On noproc or calling_self, `failure` says
// so and nothing was set up.
struct call_start {
  pid target;
  ref tag;
  slot_ptr slot;
  std::optional<term> failure;
};
call_start begin_call(const server_ref& server, std::chrono::milliseconds timeout);
// After a reply: drops the monitor and a DOWN it may already have queued.
void end_call(const ref& tag) noexcept;
// Throws the call_exit for a failed call.
[[noreturn]] void call_failed(term failure, const server_ref& server, const term& request,
                              std::chrono::milliseconds timeout, atom module, atom function);
term timeout_term(std::chrono::milliseconds timeout);
// Logging, when the node logs crashes.
void report_unexpected_message(const signal* s) noexcept;
void report_termination(const term& reason) noexcept;
// Removes the first queued message accepted by `accept` (scanning from the mark of
// `since`, or from the head when null); returns it, or null. Does not suspend.
signal* take_queued(const ref* since, bool (*accept)(signal*, const void*), const void* context);
void flush_exit_from(const pid& from) noexcept;

// --- the server's start ----------------------------------------------------------

struct start_context {
  pid starter;
  term tag;    // the starter's reference: the init_ack carries it
  pid parent;  // start_link: the starter; start: null
  std::variant<std::monostate, atom, via_name> name;
};

// Registers the server's name; on a clash acks {error, {already_started, Pid}} and
// returns false (the process then ends `normal`).
task<bool> claim_name(const start_context& ctx);
void release_name(const start_context& ctx) noexcept;
void ack_start(const start_context& ctx, start_result result);
// The starter's side: waits for the ack (or the child's DOWN, or the init timeout).
task<start_result> await_start(start_context ctx, spawn_result spawned,
                               std::chrono::milliseconds timeout);

// --- recognising and running callbacks ----------------------------------------------

template <class T>
struct task_traits {
  static constexpr bool is_task = false;
  using value_type = T;
};
template <class T>
struct task_traits<task<T>> {
  static constexpr bool is_task = true;
  using value_type = T;
};

template <class T>
struct call_reply_of {
  using type = T;
};
template <class R>
struct call_reply_of<gen_server::call_result<R>> {
  using type = R;
};

template <class T>
struct is_call_result : std::false_type {};
template <class R>
struct is_call_result<gen_server::call_result<R>> : std::true_type {};

template <class S, class Req>
concept call_takes_from = requires(S& s, Req& r, from& f) {
  s.handle_call(std::move(r), f);
};
template <class S, class Req>
concept call_without_from = requires(S& s, Req& r) {
  s.handle_call(std::move(r));
};
template <class S, class Req>
concept handles_call = call_takes_from<S, Req> || call_without_from<S, Req>;
template <class S, class Msg>
concept handles_cast = requires(S& s, Msg& m) {
  s.handle_cast(std::move(m));
};
template <class S, class M>
concept handles_info = requires(S& s, M& m) {
  s.handle_info(std::move(m));
};
template <class S>
concept handles_continue = requires(S& s, const term& c) {
  s.handle_continue(c);
};
template <class S>
concept has_init = requires(S& s) {
  s.init();
};
template <class S>
concept has_terminate = requires(S& s, const term& r) {
  s.terminate(r);
};

// (Two overloads with trailing return types, not one `decltype(auto)`: a request
// type the server has no handler for must be a substitution failure, so that
// gen_server::call's overloads stay selectable.)
template <class S, class Req>
requires call_takes_from<S, Req>
auto invoke_call(S& s, Req& request, from& caller)
    -> decltype(s.handle_call(std::move(request), caller)) {
  return s.handle_call(std::move(request), caller);
}
template <class S, class Req>
requires(!call_takes_from<S, Req> && call_without_from<S, Req>) auto invoke_call(S& s, Req& request,
                                                                                 from&)
    -> decltype(s.handle_call(std::move(request))) {
  return s.handle_call(std::move(request));
}

template <class S, class Req>
using call_output_t = std::decay_t<decltype(invoke_call(std::declval<S&>(), std::declval<Req&>(),
                                                        std::declval<from&>()))>;
// The reply type of S's handle_call for Req.
template <class S, class Req>
using call_reply_t =
    typename call_reply_of<typename task_traits<call_output_t<S, Req>>::value_type>::type;

// For call's and cast's static_asserts: as bools (not concepts), the compiler's
// message names the two types on its first line.
template <class S, class Req>
inline constexpr bool server_has_handle_call_for = handles_call<S, Req>;
template <class S, class Msg>
inline constexpr bool server_has_handle_cast_for = handles_cast<S, Msg>;

// call's reply type, or void when S has no handle_call for Req: call is then still
// chosen, and its static_assert says what is missing (instead of a list of
// candidates that did not match).
template <class S, class Req, bool = handles_call<S, Req>>
struct checked_call_reply {
  using type = void;
};
template <class S, class Req>
struct checked_call_reply<S, Req, true> {
  using type = call_reply_t<S, Req>;
};
template <class S, class Req>
using checked_call_reply_t = typename checked_call_reply<S, Req>::type;

// What the loop does after a callback.
struct step {
  bool stop = false;
  term reason{atoms::normal};
  gen_server::action next;
  signal* deferred_reply = nullptr;  // {stop, R, Reply, S}: sent after terminate (owned)
  from deferred_to;

  step() = default;
  step(step&& other) noexcept
      : stop(other.stop),
        reason(std::move(other.reason)),
        next(std::move(other.next)),
        deferred_reply(std::exchange(other.deferred_reply, nullptr)),
        deferred_to(std::move(other.deferred_to)) {}
  step& operator=(step&& other) noexcept {
    if (this != &other) {
      if (deferred_reply != nullptr) destroy(deferred_reply);
      stop = other.stop;
      reason = std::move(other.reason);
      next = std::move(other.next);
      deferred_reply = std::exchange(other.deferred_reply, nullptr);
      deferred_to = std::move(other.deferred_to);
    }
    return *this;
  }
  ~step() {
    if (deferred_reply != nullptr) destroy(deferred_reply);
  }
};

// A callback's outcome: ready, or a coroutine the loop still has to await.
struct dispatch_result {
  step done;
  std::optional<task<step>> pending;
};

// A reply message for `to`, in the protocol of its call.
template <class R, class V>
signal* make_reply(const from& to, V&& value) {
  using stored = stored_t<R>;
  if (from_access::reply_type(to) == nullptr) {  // Erlang's protocol: {Tag, Reply}
    if constexpr (std::is_void_v<R>) {
      return make_message(term::tuple({to.tag(), term(atoms::ok)}));
    } else if constexpr (std::is_constructible_v<term, stored>) {
      return make_message(term::tuple({to.tag(), term(stored(std::forward<V>(value)))}));
    } else {
      throw std::logic_error(
          "gen_server::reply: a call made with a bl::term request needs a reply that converts "
          "to bl::term");
    }
  }
  if (*from_access::reply_type(to) != typeid(R))
    throw std::logic_error(std::string("gen_server::reply: the caller expects a reply of type ") +
                           from_access::reply_type(to)->name() + ", not " + typeid(R).name());
  return make_message(typed_reply<stored>{to.tag(), stored(std::forward<V>(value))});
}

template <class R>
step call_step(gen_server::call_result<R>&& r, from& caller) {
  using kind = typename gen_server::call_result<R>::kind;
  step st;
  switch (r.what()) {
    case kind::reply:
      send_reply(caller, make_reply<R>(caller, std::move(r.value())));
      st.next = r.next_action();
      break;
    case kind::noreply:
      st.next = r.next_action();
      break;
    case kind::stop:
      st.stop = true;
      st.reason = r.reason();
      break;
    case kind::stop_with_reply:
      st.stop = true;
      st.reason = r.reason();
      st.deferred_reply = make_reply<R>(caller, std::move(r.value()));
      st.deferred_to = caller;
      break;
  }
  return st;
}

// A handle_call output (a value, void, or call_result) as a step.
template <class Out>
step call_output_step(Out&& out, from& caller) {
  using O = std::decay_t<Out>;
  if constexpr (is_call_result<O>::value)
    return call_step<typename O::reply_type>(std::move(out), caller);
  else
    return call_step<O>(gen_server::call_result<O>(std::forward<Out>(out)), caller);
}

inline step result_step(const gen_server::result& r) {
  step st;
  st.stop = r.stops();
  st.reason = r.reason();
  st.next = r.next_action();
  return st;
}

template <class T>
task<step> await_call_task(task<T> t, from& caller) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(t);
    co_return call_step<void>(gen_server::call_result<void>::reply(), caller);
  } else {
    co_return call_output_step(co_await std::move(t), caller);
  }
}

template <class S, class Req>
dispatch_result run_call(S& s, Req& request, from& caller) {
  using out = call_output_t<S, Req>;
  dispatch_result r;
  if constexpr (task_traits<out>::is_task) {
    r.pending.emplace(await_call_task(invoke_call(s, request, caller), caller));
  } else if constexpr (std::is_void_v<out>) {
    invoke_call(s, request, caller);
    r.done = call_step<void>(gen_server::call_result<void>::reply(), caller);
  } else {
    r.done = call_output_step(invoke_call(s, request, caller), caller);
  }
  return r;
}

template <class T>
task<step> await_result_task(task<T> t) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(t);
    co_return step{};
  } else {
    co_return result_step(co_await std::move(t));
  }
}

// Runs a callback whose output is void, result, or a task of either.
template <class Invoke>
dispatch_result run_noreply(Invoke&& invoke) {
  using out = std::decay_t<decltype(invoke())>;
  dispatch_result r;
  if constexpr (task_traits<out>::is_task) {
    r.pending.emplace(await_result_task(invoke()));
  } else if constexpr (std::is_void_v<out>) {
    invoke();
  } else {
    r.done = result_step(invoke());
  }
  return r;
}

// --- typed calls and casts: messages that carry their dispatcher --------------------

// (Constructors: clang 14 has no parenthesized aggregate initialization, which
// make_signal uses.)
template <class Req>
struct call_payload {
  call_payload(beamline::from f, Req r) : from(std::move(f)), request(std::move(r)) {}
  beamline::from from;
  Req request;
};
template <class Msg>
struct cast_payload {
  explicit cast_payload(Msg m) : message(std::move(m)) {}
  Msg message;
};

using dispatch_fn = dispatch_result (*)(void* server, signal* s);

// A typed call or cast's signal_type. `base` comes first, so a signal's `type`
// pointer is also a pointer to the descriptor (standard layout). Its `payload` is
// typeid(descriptor_marker), which tells these messages from every other: no
// bl::receive handler ever matches them, only a gen_server loop takes them.
struct descriptor_marker {};
struct message_descriptor {
  signal_type base;
  bool is_call;
  const void* server_tag;  // &server_tag_of<S>
  dispatch_fn dispatch;    // runs S's handler
  const std::type_info* request;
  const from* (*caller)(signal*);  // calls: the from
};

template <class S>
inline constexpr char server_tag_of = 0;

inline const message_descriptor* descriptor_of(const signal* s) noexcept {
  if (s->type->payload != &typeid(descriptor_marker)) return nullptr;
  return reinterpret_cast<const message_descriptor*>(s->type);
}

template <class S, class Req>
dispatch_result dispatch_call(void* server, signal* s) {
  auto& p = payload_of<call_payload<Req>>(s);
  return run_call(*static_cast<S*>(server), p.request, p.from);
}
template <class S, class Msg>
dispatch_result dispatch_cast(void* server, signal* s) {
  S& state = *static_cast<S*>(server);
  auto& p = payload_of<cast_payload<Msg>>(s);
  return run_noreply([&]() -> decltype(auto) { return state.handle_cast(std::move(p.message)); });
}
template <class Req>
const from* caller_of(signal* s) {
  return &payload_of<call_payload<Req>>(s).from;
}

// A request or message as text (the "dropped a message" line).
template <class Req>
std::string print_call(const signal* s) {
  std::string out;
  print_value(out, static_cast<const signal_node<call_payload<Req>>*>(s)->payload.request);
  return out;
}
template <class Msg>
std::string print_cast(const signal* s) {
  std::string out;
  print_value(out, static_cast<const signal_node<cast_payload<Msg>>*>(s)->payload.message);
  return out;
}

template <class S, class Req>
inline constexpr message_descriptor call_descriptor_of{
    {&destroy_signal<call_payload<Req>>, &typeid(descriptor_marker),
     sizeof(signal_node<call_payload<Req>>), &print_call<Req>},
    true,
    &server_tag_of<S>,
    &dispatch_call<S, Req>,
    &typeid(Req),
    &caller_of<Req>};
template <class S, class Msg>
inline constexpr message_descriptor cast_descriptor_of{
    {&destroy_signal<cast_payload<Msg>>, &typeid(descriptor_marker),
     sizeof(signal_node<cast_payload<Msg>>), &print_cast<Msg>},
    false,
    &server_tag_of<S>,
    &dispatch_cast<S, Msg>,
    &typeid(Msg),
    nullptr};

// A typed call that reached a server of another type: the caller exits with
// {bad_call, RequestType}.
void refuse_call(signal* s, const message_descriptor& d) noexcept;

// --- the loop ----------------------------------------------------------------------

template <class S>
class server_loop {
 public:
  server_loop(S& state, const pid& parent) : state_(state), parent_(parent) {}

  // Never returns: the server ends by an exit (stop, crash, parent exit, kill).
  task<void> run(gen_server::action next) {
    for (;;) {
      step st;
      std::exception_ptr crash;
      try {
        if (next.what == gen_server::action::kind::continue_with) {
          dispatch_result r = run_continue(next.continue_value);
          if (r.pending) {
            task<step>& pending = *r.pending;
            st = co_await pending;
          } else {
            st = std::move(r.done);
          }
        } else {
          std::int64_t timeout_ns = -1;
          if (next.what == gen_server::action::kind::timeout)
            timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(next.timeout).count();
          signal* s = co_await next_message(timeout_ns);
          if (s == nullptr) {
            info_term_ = atoms::timeout;
            dispatch_result r = run_info_term();
            if (r.pending) {
              task<step>& pending = *r.pending;
              st = co_await pending;
            } else {
              st = std::move(r.done);
            }
          } else {
            signal_owner owner{s};
            dispatch_result r = handle(s);
            // Most callbacks are plain functions: no coroutine frame on this path.
            // (Awaited through a reference: g++ 12 copies `co_await *r.pending`.)
            if (r.pending) {
              task<step>& pending = *r.pending;
              st = co_await pending;
            } else {
              st = std::move(r.done);
            }
          }
        }
      } catch (...) {
        crash = std::current_exception();
      }
      if (crash) co_await crashed(crash);
      if (st.stop) co_await stopping(std::move(st));
      next = std::move(st.next);
    }
  }

 private:
  dispatch_result handle(signal* s) {
    if (const message_descriptor* d = descriptor_of(s)) {
      if (d->server_tag == &server_tag_of<S>) return d->dispatch(&state_, s);
      if (d->is_call) refuse_call(s, *d);
      return {};
    }
    if (s->type == &signal_type_of<std::tuple<term>>)
      return handle_term(std::get<0>(payload_of<std::tuple<term>>(s)));
    if (s->type == &signal_type_of<std::tuple<exit_message>>) {
      exit_message& e = std::get<0>(payload_of<std::tuple<exit_message>>(s));
      if (e.from == parent_ && !parent_.is_null()) return stop_with(e.reason);
      return run_info(e, s);
    }
    if (s->type == &signal_type_of<std::tuple<down_message>>)
      return run_info(std::get<0>(payload_of<std::tuple<down_message>>(s)), s);
    if (s->type == &signal_type_of<std::tuple<stop_request>>)
      return stop_with(std::get<0>(payload_of<std::tuple<stop_request>>(s)).reason);
    if constexpr (requires { typename S::info_messages; }) {
      std::optional<dispatch_result> r;
      if (typed_info(s, r, typename S::info_messages{})) return std::move(*r);
    }
    report_unexpected_message(s);
    return {};
  }

  template <class... Ts>
  bool typed_info(signal* s, std::optional<dispatch_result>& r, message_types<Ts...>) {
    return ((s->type == &signal_type_of<std::tuple<Ts>>
                 ? (r.emplace(run_info(std::get<0>(payload_of<std::tuple<Ts>>(s)), s)), true)
                 : false) ||
            ...);
  }

  static dispatch_result stop_with(term reason) {
    dispatch_result r;
    r.done.stop = true;
    r.done.reason = std::move(reason);
    return r;
  }

  template <class M>
  dispatch_result run_info(M& message, signal* s) {
    if constexpr (handles_info<S, M>) {
      return run_noreply(
          [&]() -> decltype(auto) { return state_.handle_info(std::move(message)); });
    } else if constexpr (requires { message.to_term(); } && handles_info<S, term>) {
      info_term_ = message.to_term();
      return run_info_term();
    } else {
      report_unexpected_message(s);
      return {};
    }
  }

  dispatch_result run_info_term() {
    if constexpr (handles_info<S, term>)
      return run_noreply([&]() -> decltype(auto) { return state_.handle_info(info_term_); });
    else
      return {};
  }

  dispatch_result run_continue(const term& value) {
    if constexpr (handles_continue<S>) {
      continue_term_ = value;
      return run_noreply(
          [&]() -> decltype(auto) { return state_.handle_continue(continue_term_); });
    } else {
      throw error(
          term::tuple({atoms::undef, atom("handle_continue")}),
          "gen_server: a callback asked to continue, but the server has no handle_continue");
    }
  }

  // A term message: Erlang's call and cast shapes, or an info.
  dispatch_result handle_term(term& t) {
    if (t.is_tuple() && t.size() == 3 && t[0] == term(atoms::gen_call) && t[1].is_tuple() &&
        t[1].size() == 2 && t[1][0].is_pid()) {
      if constexpr (handles_call<S, term>) {
        term_caller_ = from_access::make(t[1][0].as_pid(), t[1][1], {}, nullptr);
        term_request_ = t[2];
        return run_call(state_, term_request_, term_caller_);
      } else {
        throw error(term::tuple({atom("bad_call"), t[2]}),
                    "gen_server: a bl::term call reached a server without handle_call(bl::term)");
      }
    }
    if (t.is_tuple() && t.size() == 2 && t[0] == term(atoms::gen_cast)) {
      if constexpr (handles_cast<S, term>) {
        term_request_ = t[1];
        return run_noreply(
            [&]() -> decltype(auto) { return state_.handle_cast(std::move(term_request_)); });
      } else {
        throw error(term::tuple({atom("bad_cast"), t[1]}),
                    "gen_server: a bl::term cast reached a server without handle_cast(bl::term)");
      }
    }
    if constexpr (handles_info<S, term>) {
      info_term_ = std::move(t);
      return run_info_term();
    } else {
      return {};
    }
  }

  task<void> run_terminate(const term& reason) {
    if constexpr (has_terminate<S>) {
      using out = std::decay_t<decltype(state_.terminate(reason))>;
      if constexpr (task_traits<out>::is_task)
        co_await state_.terminate(reason);
      else
        state_.terminate(reason);
    }
    co_return;
  }

  // A callback threw: terminate(reason), then end with the same exception.
  task<void> crashed(std::exception_ptr crash) {
    if (!current_process_exiting()) {
      term reason = exception_reason(crash);
      co_await run_terminate(reason);  // if terminate throws, that exception ends the server
    }
    std::rethrow_exception(crash);
  }

  // A callback asked to stop: terminate(reason), the deferred reply, then exit.
  task<void> stopping(step st) {
    co_await run_terminate(st.reason);
    if (st.deferred_reply != nullptr)
      send_reply(st.deferred_to, std::exchange(st.deferred_reply, nullptr));
    report_termination(st.reason);
    beamline::exit(st.reason);
  }

  S& state_;
  pid parent_;
  term info_term_;      // the term a pending handle_info(term) refers to
  term continue_term_;  // the value a pending handle_continue refers to
  term term_request_;   // the request of a pending term call or cast
  from term_caller_;    // the caller of a pending term call
};

// "kv (gen_server)": a behaviour process's initial call names its module, the
// callback type, as Erlang's '$initial_call' does, rather than the loop that runs it.
template <class S>
const char* behaviour_initial_call(const char* behaviour) {
  static const std::string name = type_name(typeid(S)) + " (" + behaviour + ")";
  return name.c_str();
}

template <class S, class... Args>
process server_process(start_context ctx, Args... args) {
  current_process("gen_server").set_initial_call(behaviour_initial_call<S>("gen_server"));
  if (!co_await claim_name(ctx)) co_return;
  std::optional<S> state;
  gen_server::init_result outcome = gen_server::init_result::ok();
  std::exception_ptr crash;
  try {
    state.emplace(std::move(args)...);
    if constexpr (has_init<S>) {
      using out = std::decay_t<decltype(state->init())>;
      if constexpr (task_traits<out>::is_task) {
        if constexpr (std::is_void_v<typename task_traits<out>::value_type>)
          co_await state->init();
        else
          outcome = co_await state->init();
      } else if constexpr (std::is_void_v<out>) {
        state->init();
      } else {
        outcome = state->init();
      }
    }
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
  using kind = gen_server::init_result::kind;
  switch (outcome.what()) {
    case kind::ok:
      break;
    case kind::stop:
      release_name(ctx);
      ack_start(ctx, start_result::error(outcome.reason()));
      beamline::exit(outcome.reason());
    case kind::ignore:
      release_name(ctx);
      ack_start(ctx, start_result::ignore());
      co_return;
    case kind::error:
      release_name(ctx);
      ack_start(ctx, start_result::error(outcome.reason()));
      co_return;
  }
  ack_start(ctx, start_result::ok(self()));
  server_loop<S> loop(*state, ctx.parent);
  co_await loop.run(outcome.next_action());
}

template <class S, class... Args>
task<start_result> start_server(gen_server::start_options options, bool link, Args... args) {
  start_context ctx{self(), make_ref(), link ? self() : pid{}, options.name()};
  spawn_result spawned = spawn_opt({.link = link, .monitor = true, .priority = options.priority()},
                                   &server_process<S, Args...>, ctx, std::move(args)...);
  co_return co_await await_start(std::move(ctx), spawned, options.timeout());
}

}  // namespace beamline::detail
