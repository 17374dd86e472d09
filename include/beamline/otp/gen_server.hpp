// beamline/otp/gen_server.hpp: Erlang's gen_server, a server process with callbacks.
//
// A server is a C++ class. Its object lives in the server process and is the
// server's state; the process runs OTP's loop around it:
//
//     struct counter {
//       struct get {};                       // requests and casts are value types
//       struct add { int n; };
//       explicit counter(int start) : n(start) {}          // the constructor is init
//       int handle_call(get) { return n; }                 // the reply type is int
//       void handle_cast(add a) { n += a.n; }
//       int n;
//     };
//
//     auto started = co_await bl::gen_server::start_link<counter>(bl::atom("c"), 0);
//     bl::server<counter> c = started.server();
//     c.cast(counter::add{2});
//     int n = co_await c.call(counter::get{});                 // 2; default timeout 5 s
//
// Callbacks (all optional except what the server is sent; results in
// gen_server_results.hpp; each may be a coroutine returning bl::task<...>):
//   S(args...)                       constructing S is init; throwing fails the start
//   init()                           -> void | init_result        (after the constructor)
//   handle_call(Req[, const from&])  -> Reply | void | call_result<Reply>
//   handle_cast(Msg)                 -> void | result
//   handle_info(T)                   -> void | result   for T = bl::term, bl::down_message,
//                                       bl::exit_message, and the types listed in
//                                       `using info_messages = bl::message_types<...>`
//   handle_continue(const term&)     -> void | result
//   terminate(const term& reason)    -> void
//
// Protocol. A typed call sends one message holding the request and a dispatcher
// instantiated by the caller for (S, Req): the server checks that it is an S (else
// the caller exits with {bad_call, Type}) and runs handle_call. A call whose request
// is a bl::term uses OTP's wire shapes instead: {'$gen_call', {From, Tag}, Request}
// answered by {Tag, Reply}, and {'$gen_cast', Msg}, so that a plain process or a
// later Erlang node can speak to the server and be spoken to. Both kinds of call
// monitor the server, tag the request with the monitor's reference and wait with
// receive(since(tag), ...), which skips the messages already queued; a term call's
// monitor reference is also an alias (alias.hpp), its tag OTP's [alias | Mref], and
// the reply goes to that alias.
//
// Failures (call_exit.hpp): the caller exits with {Reason, {gen_server, call, [Server,
// Request, Timeout]}}, Reason = noproc | timeout | calling_self | the server's exit
// reason. A reply that comes after the caller gave up is dropped (a typed call's by
// its call_slot.hpp, a term call's by its alias), so it never reaches the caller's
// mailbox.
//
// The server loop takes messages first in, first out. A callback that throws ends
// the server: terminate(reason) runs, then the process exits with the reason the
// exception gives (beamline's usual {exception, {Type, What}}, or a bl::error's or
// bl::exit's reason). A kill (exit(pid, kill), or an exit signal while not trapping)
// ends it at once without terminate, as in OTP. To get terminate(shutdown) from a
// supervisor, call bl::trap_exit(true) in init, as in OTP. The parent's exit (the
// process that called start_link) arrives as an exit_message while trapping and ends
// the server with terminate(reason).
#pragma once

#include <chrono>
#include <optional>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

#include "beamline/detail/signal.hpp"
#include "beamline/errors.hpp"
#include "beamline/links.hpp"
#include "beamline/messages.hpp"
#include "beamline/otp/call_exit.hpp"
#include "beamline/otp/detail/call_slot.hpp"
#include "beamline/otp/gen_server_results.hpp"
#include "beamline/otp/server_ref.hpp"
#include "beamline/otp/start_result.hpp"
#include "beamline/priority.hpp"
#include "beamline/process.hpp"
#include "beamline/receive.hpp"
#include "beamline/send.hpp"
#include "beamline/spawn.hpp"

namespace beamline {

// The typed messages a server's handle_info takes besides terms, DOWN and EXIT:
//     using info_messages = bl::message_types<tick, job_done>;
template <class... Ts>
struct message_types {};

namespace detail {
struct from_access;
}

// The caller of a call, waiting for its reply (Erlang's From = {Pid, Tag}). Keep it
// to reply later with gen_server::reply (from any process), after returning
// gen_server::noreply() from handle_call.
class from {
 public:
  from() = default;

  const beamline::pid& caller() const noexcept { return caller_; }
  const term& tag() const noexcept { return tag_; }
  // {Pid, Tag}
  term to_term() const { return term::tuple({caller_, tag_}); }

 private:
  friend struct detail::from_access;
  from(const beamline::pid& caller, term tag, detail::slot_ptr slot,
       const std::type_info* reply_type)
      : caller_(caller), tag_(std::move(tag)), slot_(std::move(slot)), reply_type_(reply_type) {}

  beamline::pid caller_;
  term tag_;
  detail::slot_ptr slot_;                       // the call's late-reply guard, if it has a timeout
  const std::type_info* reply_type_ = nullptr;  // null: Erlang's protocol ({Tag, Reply} terms)
};

template <class S>
class server;

namespace gen_server {

inline constexpr std::chrono::milliseconds default_timeout{5000};

// How to start a server: its name, the init timeout, its priority.
//
//     gs::start_link<kv>({}, args...);                       // no name
//     gs::start_link<kv>(bl::atom("kv"), args...);           // a registered name
//     gs::start_link<kv>(workers.via(key), args...);         // a registry's name
//     gs::start_link<kv>(gs::start_options(bl::atom("kv")).timeout(1s), args...);
//
// (A class rather than an aggregate with designated initializers: g++ 12 destroys
// an aggregate temporary twice when it appears in a co_await expression, and a
// via name holds a shared pointer.)
class start_options {
 public:
  start_options() noexcept {}  // NOLINT(modernize-use-equals-default): not an aggregate
  start_options(atom name) : name_(name) {}                 // NOLINT(google-explicit-constructor)
  start_options(via_name name) : name_(std::move(name)) {}  // NOLINT(google-explicit-constructor)

  // init must finish within this, or the server is killed and the start fails with
  // `timeout` (OTP's {timeout, T} start option). Default: no limit.
  start_options& timeout(std::chrono::milliseconds t) & {
    timeout_ = t;
    return *this;
  }
  start_options&& timeout(std::chrono::milliseconds t) && { return std::move(timeout(t)); }
  start_options& priority(beamline::priority p) & {
    priority_ = p;
    return *this;
  }
  start_options&& priority(beamline::priority p) && { return std::move(priority(p)); }

  // Registered before init runs; a name already taken makes the start fail with
  // {already_started, Pid}.
  const std::variant<std::monostate, atom, via_name>& name() const noexcept { return name_; }
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }
  beamline::priority priority() const noexcept { return priority_; }

 private:
  std::variant<std::monostate, atom, via_name> name_;
  std::chrono::milliseconds timeout_ = infinity;
  beamline::priority priority_ = beamline::priority::normal;
};

// start_result for a server of type S: server() is the typed handle.
template <class S>
class started : public start_result {
 public:
  started(start_result r) : start_result(std::move(r)) {}  // NOLINT(google-explicit-constructor)
  // The typed handle; beamline::error with the reason if the start failed.
  beamline::server<S> server() const { return beamline::server<S>(pid_or_throw()); }
};

}  // namespace gen_server

}  // namespace beamline

// The machinery (namespace detail): the protocol's messages, the callbacks' dispatch,
// the server loop. It needs the types above; the client API below needs it.
#include "beamline/otp/detail/gen_server_impl.hpp"

namespace beamline {

// --- the client API -------------------------------------------------------------------

namespace gen_server {

// Starts a server of type S, constructed from `args` in the new process, and waits
// until its init has finished: {ok, Pid} | ignore | {error, Reason}. start_link also
// links it to the caller (a supervisor's children are started this way).
template <class S, class... Args>
task<started<S>> start(start_options options, Args... args) {
  co_return started<S>(
      co_await detail::start_server<S, Args...>(std::move(options), false, std::move(args)...));
}
template <class S, class... Args>
task<started<S>> start_link(start_options options, Args... args) {
  co_return started<S>(
      co_await detail::start_server<S, Args...>(std::move(options), true, std::move(args)...));
}

// Sends `request` to the server and waits for the reply (default 5 s; bl::infinity
// waits for ever). Throws call_exit as described at the top of this file.
template <class S, class Req>
requires(!std::is_same_v<std::decay_t<Req>, term>) task<detail::checked_call_reply_t<S, Req>> call(
    server<S> target, Req request, std::chrono::milliseconds timeout = default_timeout);
// The same with Erlang's wire shapes; the reply is a term.
task<term> call(server_ref target, term request,
                std::chrono::milliseconds timeout = default_timeout);

// Sends `message` to handle_cast and returns at once; nothing happens if the
// server does not exist (Erlang's cast never fails).
template <class S, class Msg>
requires(!std::is_same_v<std::decay_t<Msg>, term>) void cast(const server<S>& target, Msg message);
void cast(const server_ref& target, term message);

// Replies to a call whose handle_call returned noreply(). R is the reply type the
// handler declared (deduced from the value when omitted); a mismatch throws
// std::logic_error. A reply to a caller that gave up is dropped.
template <class R = void, class V>
void reply(const from& to, V&& value) {
  using type = std::conditional_t<std::is_void_v<R>, std::decay_t<V>, R>;
  detail::send_reply(to, detail::make_reply<type>(to, std::forward<V>(value)));
}
// Replies to a call whose reply type is void.
inline void reply(const from& to) {
  detail::send_reply(to, detail::make_reply<void>(to, std::monostate{}));
}
// OTP's gen_server:reply(From, Reply) for a process that reads the protocol itself:
// `from` is the {Pid, Tag} of a {'$gen_call', From, Request} it received. Sends
// {Tag, Reply}: to the caller's alias when the tag is OTP 24's [alias | Alias] (so a
// reply after the caller gave up is dropped), to Pid otherwise. A `from` of another
// shape is ignored, as Erlang's reply ignores a failed send.
void reply(const term& from, term value);

// Stops the server: terminate(reason) runs in it, and stop returns once it has
// ended. Throws call_exit: noproc if there is no such server, timeout if it did not
// end in time (it is then killed), or the reason it ended with if not `reason`.
task<void> stop(server_ref target, term reason = atoms::normal,
                std::chrono::milliseconds timeout = infinity);

}  // namespace gen_server

// A typed handle to a server of type S: call and cast with S's own request types,
// checked at compile time. Made from start's result, or from a pid or name.
template <class S>
class server {
 public:
  server() = default;
  explicit server(server_ref ref) : ref_(std::move(ref)) {}

  const server_ref& ref() const noexcept { return ref_; }
  operator const server_ref&() const noexcept { return ref_; }  // NOLINT

  template <class Req>
  auto call(Req&& request, std::chrono::milliseconds timeout = gen_server::default_timeout) const {
    return gen_server::call(*this, std::forward<Req>(request), timeout);
  }
  template <class Msg>
  void cast(Msg&& message) const {
    gen_server::cast(*this, std::forward<Msg>(message));
  }

  friend bool operator==(const server&, const server&) = default;

 private:
  server_ref ref_;
};

namespace gen_server {

template <class S, class Req>
requires(!std::is_same_v<std::decay_t<Req>, term>) task<detail::checked_call_reply_t<S, Req>> call(
    server<S> target, Req request, std::chrono::milliseconds timeout) {
  static_assert(detail::server_has_handle_call_for<S, Req>,
                "gen_server::call: the server type has no handle_call for the request type "
                "(server_has_handle_call_for<Server, Request>): give the server a "
                "`Reply handle_call(Request)`, or call it with a request type it handles");
  if constexpr (detail::handles_call<S, Req>) {  // (else: only the static_assert's error)
    using R = detail::call_reply_t<S, Req>;
    using V = detail::stored_t<R>;
    detail::call_start c = detail::begin_call(target.ref(), timeout);
    if (c.failure)
      detail::call_failed(*c.failure, target.ref(), detail::type_name_term(typeid(Req)), timeout,
                          detail::gen_server_atom(), atoms::call);
    const term tag(c.tag);
    {
      detail::signal* s = detail::make_signal<detail::call_payload<Req>>(
          detail::signal_kind::message, detail::from_access::make(self(), tag, c.slot, &typeid(R)),
          std::move(request));
      s->type = &detail::call_descriptor_of<S, Req>.base;
      detail::send_signal(detail::sending_node("call"), c.target, s);
    }
    std::optional<V> value;
    std::optional<term> failure;
    bool monitor_fired = false;
    bool timed_out = false;
    auto on_reply = when([&](const detail::typed_reply<V>& r) { return r.tag == tag; },
                         [&](detail::typed_reply<V> r) { value.emplace(std::move(r.value)); });
    auto on_refused = when([&](const detail::call_refused& r) { return r.tag == tag; },
                           [&](detail::call_refused r) { failure = std::move(r.reason); });
    auto on_down = when([&](const down_message& d) { return d.monitor == c.tag; },
                        [&](down_message d) {
                          failure = std::move(d.reason);
                          monitor_fired = true;
                        });
    if (timeout == infinity) {
      co_await receive(since(c.tag), on_reply, on_refused, on_down);
    } else {
      co_await receive(since(c.tag), on_reply, on_refused, on_down,
                       after(timeout, [&] { timed_out = true; }));
      if (timed_out) {
        if (c.slot->try_abandon()) {
          detail::end_call(c.tag);
          detail::call_failed(atoms::timeout, target.ref(), detail::type_name_term(typeid(Req)),
                              timeout, detail::gen_server_atom(), atoms::call);
        }
        // The server replied as we gave up: the reply is queued or in flight.
        co_await receive(since(c.tag), on_reply, on_refused);
      }
    }
    if (!monitor_fired) detail::end_call(c.tag);
    if (failure)
      detail::call_failed(*failure, target.ref(), detail::type_name_term(typeid(Req)), timeout,
                          detail::gen_server_atom(), atoms::call);
    if constexpr (!std::is_void_v<R>) co_return std::move(*value);
  }
}

template <class S, class Msg>
requires(!std::is_same_v<std::decay_t<Msg>, term>) void cast(const server<S>& target, Msg message) {
  static_assert(detail::server_has_handle_cast_for<S, Msg>,
                "gen_server::cast: the server type has no handle_cast for the message type "
                "(server_has_handle_cast_for<Server, Message>): give the server a "
                "`void handle_cast(Message)`, or cast a message type it handles");
  if constexpr (detail::handles_cast<S, Msg>) {
    std::optional<pid> to = target.ref().resolve();
    if (!to) return;
    detail::signal* s = detail::make_signal<detail::cast_payload<Msg>>(detail::signal_kind::message,
                                                                       std::move(message));
    s->type = &detail::cast_descriptor_of<S, Msg>.base;
    detail::send_signal(detail::sending_node("cast"), *to, s);
  }
}

}  // namespace gen_server

}  // namespace beamline
