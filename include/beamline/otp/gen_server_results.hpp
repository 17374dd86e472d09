// beamline/otp/gen_server_results.hpp: what gen_server callbacks return.
//
// OTP's callbacks return tuples that say what to do next; the state is the server
// object itself here, so only the decision remains:
//
//   OTP                                  beamline
//   {ok, S} / {ok, S, Action}            init_result::ok() / .after(t) .then_continue(c)
//   {stop, R} / ignore / {error, R}      init_result::stop(r) / ignore() / error(r)
//   {reply, Reply, S}                    return the reply value itself (or call_result<R>)
//   {noreply, S}                         gen_server::noreply()
//   {stop, R, Reply, S}                  gen_server::stopping(r, reply)
//   {stop, R, S}                         gen_server::stopping(r)
//   Action = Timeout | {continue, C}     .after(std::chrono::milliseconds) / .then_continue(term)
//          | hibernate                   .hibernate() (accepted; memory is not compacted)
//
// handle_cast, handle_info and handle_continue return `void` (noreply) or a `result`;
// handle_call returns its reply type R, void (the caller gets no value), or
// call_result<R>, which the others convert to. Any of them may instead be a
// coroutine returning bl::task<...> of the same, to receive or call other servers.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "beamline/term.hpp"

namespace beamline::gen_server {

// What to do after a callback, besides waiting for the next message.
struct action {
  enum class kind : std::uint8_t { none, timeout, continue_with, hibernate };
  kind what = kind::none;
  std::chrono::milliseconds timeout{0};  // kind::timeout: handle_info(timeout) if nothing arrives
  term continue_value;                   // kind::continue_with: handle_continue(value) next
};

}  // namespace beamline::gen_server

namespace beamline::detail {
using gen_server::action;

// The setters every result type shares.
template <class Derived>
class with_action {
 public:
  // If no message arrives within `t`, handle_info receives the atom `timeout`.
  Derived& after(std::chrono::milliseconds t) & {
    action_ = action{action::kind::timeout, t, {}};
    return static_cast<Derived&>(*this);
  }
  Derived&& after(std::chrono::milliseconds t) && { return std::move(after(t)); }
  // handle_continue(value) runs next, before any message is looked at.
  Derived& then_continue(term value) & {
    action_ = action{action::kind::continue_with, {}, std::move(value)};
    return static_cast<Derived&>(*this);
  }
  Derived&& then_continue(term value) && { return std::move(then_continue(std::move(value))); }
  Derived& hibernate() & {
    action_ = action{action::kind::hibernate, {}, {}};
    return static_cast<Derived&>(*this);
  }
  Derived&& hibernate() && { return std::move(hibernate()); }

  const struct action& next_action() const noexcept { return action_; }

 protected:
  struct action action_;
};
}  // namespace beamline::detail

namespace beamline::gen_server {

// The result of handle_cast, handle_info and handle_continue.
class result : public detail::with_action<result> {
 public:
  static result noreply() { return result(false, atoms::normal); }
  static result stop(term reason) { return result(true, std::move(reason)); }

  bool stops() const noexcept { return stop_; }
  const term& reason() const noexcept { return reason_; }

 private:
  result(bool stop, term reason) : stop_(stop), reason_(std::move(reason)) {}
  bool stop_;
  term reason_;
};

inline result noreply() {
  return result::noreply();
}
// (Not `stop`: gen_server::stop(server) stops a server from outside.)
inline result stopping(term reason) {
  return result::stop(std::move(reason));
}

// {stop, Reason, Reply, State}: terminate runs first, then the reply goes out.
template <class V>
struct stop_with_reply {
  term reason;
  V value;
};
template <class V>
stop_with_reply<std::decay_t<V>> stopping(term reason, V&& reply) {
  return {std::move(reason), std::forward<V>(reply)};
}

// The result of handle_call with reply type R (void: the call returns nothing).
template <class R>
class call_result : public detail::with_action<call_result<R>> {
 public:
  using reply_type = R;
  using stored_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  enum class kind : std::uint8_t { reply, noreply, stop, stop_with_reply };

  // {reply, Value, S}
  template <class V>
  requires(!std::is_void_v<R> && std::is_constructible_v<stored_type, V&&> &&
           !std::is_same_v<std::decay_t<V>, call_result> &&
           !std::is_same_v<std::decay_t<V>, result>)
      call_result(V&& value)  // NOLINT(google-explicit-constructor)
      : kind_(kind::reply), value_(std::in_place, std::forward<V>(value)) {}
  // noreply() or stopping(reason)
  call_result(const result& r)  // NOLINT(google-explicit-constructor)
      : kind_(r.stops() ? kind::stop : kind::noreply), reason_(r.reason()) {
    this->action_ = r.next_action();
  }
  // stopping(reason, reply)
  template <class V>
  requires std::is_constructible_v<stored_type, V&&> call_result(
      stop_with_reply<V> s)  // NOLINT(google-explicit-constructor)
      : kind_(kind::stop_with_reply),
        reason_(std::move(s.reason)),
        value_(std::in_place, std::move(s.value)) {}

  static call_result reply() requires std::is_void_v<R> {
    return call_result(kind::reply, atoms::normal, stored_type{});
  }

  enum kind what() const noexcept { return kind_; }
  const term& reason() const noexcept { return reason_; }
  stored_type& value() { return *value_; }

 private:
  call_result(kind k, term reason, stored_type v)
      : kind_(k), reason_(std::move(reason)), value_(std::move(v)) {}

  kind kind_;
  term reason_{atoms::normal};
  std::optional<stored_type> value_;
};

// The result of init (optional: a constructor that returns is `ok`).
class init_result : public detail::with_action<init_result> {
 public:
  enum class kind : std::uint8_t { ok, stop, ignore, error };

  static init_result ok() { return init_result(kind::ok, atoms::ok); }
  // The start fails with {error, Reason}; the process exits with Reason.
  static init_result stop(term reason) { return init_result(kind::stop, std::move(reason)); }
  // The start returns `ignore`; the process exits `normal`.
  static init_result ignore() { return init_result(kind::ignore, atoms::ignore); }
  // OTP 26's {error, Reason}: the start fails with Reason; the process exits `normal`.
  static init_result error(term reason) { return init_result(kind::error, std::move(reason)); }

  enum kind what() const noexcept { return kind_; }
  const term& reason() const noexcept { return reason_; }

 private:
  init_result(kind k, term reason) : kind_(k), reason_(std::move(reason)) {}
  kind kind_;
  term reason_;
};

}  // namespace beamline::gen_server
