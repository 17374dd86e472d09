// beamline/otp/agent.hpp: Elixir's Agent, state held by a process and changed by
// functions sent to it.
//
//     auto counter = (co_await bl::agent<int>::start_link([] { return 0; })).agent();
//     counter.cast([](int& n) { ++n; });                         // async update
//     co_await counter.update([](int& n) { n += 10; });          // sync update
//     int n = co_await counter.get([](const int& n) { return n; });
//     int old = co_await counter.get_and_update([](int& n) { return std::exchange(n, 0); });
//
// An agent is a gen_server (gen_server.hpp) whose state is a T built in the agent
// process by the start function; every operation is a call or cast carrying the
// function, which runs in the agent process, one at a time. The functions:
//   get(f)             f(const T&) -> R; the call returns R
//   update(f), cast(f) f(T&) -> void mutates the state, or f(const T&) -> T replaces it
//   get_and_update(f)  f(T&) -> R mutates and returns R, or f(const T&) ->
//                      std::pair<R, T> returns R and the new state (Elixir's {get, new})
// Calls default to a 5 s timeout and fail as gen_server calls do (call_exit).
// A function that throws crashes the agent (and, through the link, its starter
// unless it traps exits), as in Elixir. Functions run in another process: what
// they capture must stay valid there (values, not references to the caller's
// locals).
#pragma once

#include <chrono>
#include <type_traits>
#include <utility>

#include "beamline/otp/gen_server.hpp"

namespace beamline {

namespace detail {

template <class T>
struct is_pair : std::false_type {};
template <class A, class B>
struct is_pair<std::pair<A, B>> : std::true_type {};

// The shapes agent's functions must have (checked by agent's static_asserts).
template <class T, class F>
inline constexpr bool agent_get_takes = std::is_invocable_v<F&, const T&>;
template <class T, class F>
constexpr bool agent_update_shape() {
  if constexpr (std::is_invocable_v<F&, T&>) {
    using out = std::invoke_result_t<F&, T&>;
    return std::is_void_v<out> ||
           (std::is_invocable_v<F&, const T&> && std::is_convertible_v<out, T>);
  }
  return false;
}
template <class T, class F>
inline constexpr bool agent_update_takes = agent_update_shape<T, F>();

template <class T>
class agent_server {
  // f(const T&) -> std::pair<R, T>: Elixir's {get, new_state}.
  template <class F>
  static constexpr bool returns_new_state() {
    if constexpr (std::is_invocable_v<F&, const T&>) {
      using out = std::invoke_result_t<F&, const T&>;
      if constexpr (is_pair<out>::value) return std::is_same_v<typename out::second_type, T>;
    }
    return false;
  }

 public:
  template <class Init>
  explicit agent_server(Init init) : state_(init()) {}

  template <class F>
  struct get_request {
    F f;
  };
  template <class F>
  struct update_request {
    F f;
  };
  template <class F>
  struct get_and_update_request {
    F f;
  };
  template <class F>
  struct cast_request {
    F f;
  };

  template <class F>
  auto handle_call(get_request<F> r) {
    return r.f(std::as_const(state_));
  }
  template <class F>
  void handle_call(update_request<F> r) {
    apply(r.f);
  }
  template <class F>
  auto handle_call(get_and_update_request<F> r) {
    if constexpr (returns_new_state<F>()) {
      auto [value, next] = r.f(std::as_const(state_));
      state_ = std::move(next);
      return std::move(value);
    } else {
      return r.f(state_);
    }
  }
  template <class F>
  void handle_cast(cast_request<F> r) {
    apply(r.f);
  }

 private:
  template <class F>
  void apply(F& f) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, T&>>)
      f(state_);
    else
      state_ = f(std::as_const(state_));
  }

  T state_;
};

}  // namespace detail

template <class T>
class agent {
  using server_type = detail::agent_server<T>;

 public:
  class started : public start_result {
   public:
    started(start_result r) : start_result(std::move(r)) {}  // NOLINT(google-explicit-constructor)
    // The handle; beamline::error with the reason if the start failed.
    beamline::agent<T> agent() const { return beamline::agent<T>(pid_or_throw()); }
  };

  agent() = default;
  explicit agent(server_ref ref) : server_(std::move(ref)) {}

  // Starts an agent whose state is init() (run in the new process), linked to the
  // caller. A name in `options` registers it.
  template <class Init>
  static task<started> start_link(Init init, gen_server::start_options options = {}) {
    co_return started(
        co_await gen_server::start_link<server_type>(std::move(options), std::move(init)));
  }
  template <class Init>
  static task<started> start(Init init, gen_server::start_options options = {}) {
    co_return started(co_await gen_server::start<server_type>(std::move(options), std::move(init)));
  }

  // (Each checks the function's shape first, so that a mismatch is one readable
  // static_assert that names the state and function types.)
  template <class F>
  auto get(F f, std::chrono::milliseconds timeout = gen_server::default_timeout) const {
    static_assert(detail::agent_get_takes<T, F>,
                  "agent::get: the function must take the agent's state as `const State&` and "
                  "return the value to get (agent_get_takes<State, Function>)");
    if constexpr (detail::agent_get_takes<T, F>)
      return server_.call(typename server_type::template get_request<F>{std::move(f)}, timeout);
  }
  template <class F>
  auto update(F f, std::chrono::milliseconds timeout = gen_server::default_timeout) const {
    static_assert(detail::agent_update_takes<T, F>,
                  "agent::update: the function must take the agent's state as `State&` and "
                  "change it, or as `const State&` and return the new state "
                  "(agent_update_takes<State, Function>)");
    if constexpr (detail::agent_update_takes<T, F>)
      return server_.call(typename server_type::template update_request<F>{std::move(f)}, timeout);
  }
  template <class F>
  auto get_and_update(F f, std::chrono::milliseconds timeout = gen_server::default_timeout) const {
    static_assert(detail::agent_get_takes<T, F> || std::is_invocable_v<F&, T&>,
                  "agent::get_and_update: the function must take the agent's state as "
                  "`const State&` and return std::pair<Value, State>, or take `State&`, change "
                  "it and return the value");
    if constexpr (detail::agent_get_takes<T, F> || std::is_invocable_v<F&, T&>)
      return server_.call(typename server_type::template get_and_update_request<F>{std::move(f)},
                          timeout);
  }
  // An update that returns at once (gen_server::cast); nothing if the agent is gone.
  template <class F>
  void cast(F f) const {
    static_assert(detail::agent_update_takes<T, F>,
                  "agent::cast: the function must take the agent's state as `State&` and "
                  "change it, or as `const State&` and return the new state "
                  "(agent_update_takes<State, Function>)");
    if constexpr (detail::agent_update_takes<T, F>)
      server_.cast(typename server_type::template cast_request<F>{std::move(f)});
  }
  // Stops the agent (gen_server::stop).
  task<void> stop(term reason = atoms::normal, std::chrono::milliseconds timeout = infinity) const {
    return gen_server::stop(server_.ref(), std::move(reason), timeout);
  }

  const server_ref& ref() const noexcept { return server_.ref(); }

 private:
  server<server_type> server_;
};

}  // namespace beamline
