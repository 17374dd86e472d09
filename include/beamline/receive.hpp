// beamline/receive.hpp: selective receive, Erlang style.
//
//     auto n = co_await bl::receive<int>();                 // the first int message
//     co_await bl::receive(
//         [](bl::pid from, int n) { ... },                 // a (pid, int) message
//         bl::when([](const bl::term& t) { return t.is_atom(); },
//                  [](const bl::term& t) { ... }),         // a term message that is an atom
//         bl::after(std::chrono::milliseconds(100), [] { ... }));
//
// A handler's parameter types select the messages it takes: a message sent with
// send(p, a, b) is the tuple of the decayed types of a and b and matches a handler
// whose decayed parameter types are exactly those. when(guard, handler) adds a
// predicate called with the values. Messages are scanned oldest first and, for each,
// the handlers in order; the first accepting handler removes that message and runs
// with the values moved into it. Unmatched messages stay, in order (Erlang's rule).
//
// after(timeout, handler) as the last argument runs the handler if no message
// matched within the timeout, measured from entering the receive; after(0) polls.
// since(r) as the first argument promises that every handler only accepts messages
// that carry the reference r, made by make_ref() or monitor() in this process: the
// scan then starts at the messages that arrived after r was made (the BEAM's
// receive-marker optimisation), so waiting for a reply does not rescan a long queue.
//
// The value of co_await receive(...) is the handlers' common result type (void if
// they all return void). Outside a process, awaiting a receive throws
// std::logic_error.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "beamline/detail/callable_traits.hpp"
#include "beamline/detail/process_control.hpp"
#include "beamline/detail/signal.hpp"
#include "beamline/process.hpp"
#include "beamline/ref.hpp"

namespace beamline {

namespace detail {

template <class Guard, class Handler>
struct guarded_handler {
  Guard guard;
  Handler handler;
};

template <class Handler>
struct after_clause {
  std::int64_t timeout_ns;
  Handler handler;
};

struct no_after {};

struct since_clause {
  ref reference;
};

template <class T>
struct is_guarded : std::false_type {};
template <class G, class H>
struct is_guarded<guarded_handler<G, H>> : std::true_type {};

template <class T>
struct is_after : std::false_type {};
template <class H>
struct is_after<after_clause<H>> : std::true_type {};

// The callable that handles the message, for plain and guarded handlers.
template <class H>
struct handler_info {
  using callable = H;
  static callable& of(H& h) noexcept { return h; }
};
template <class G, class H>
struct handler_info<guarded_handler<G, H>> {
  using callable = H;
  static callable& of(guarded_handler<G, H>& h) noexcept { return h.handler; }
};

template <class H>
using handler_traits = callable_traits<typename handler_info<H>::callable>;

template <class H>
constexpr bool valid_handler() {
  using traits = handler_traits<H>;
  static_assert(traits::known,
                "a receive handler must be a callable with fixed parameter types "
                "(not a generic lambda)");
  static_assert(traits::arity > 0, "a receive handler takes the message's values");
  return true;
}

template <class H>
using handler_result = typename handler_traits<H>::result;

template <class After>
struct after_result {
  using type = void;
};
template <class H>
struct after_result<after_clause<H>> {
  using type = std::invoke_result_t<H&>;
};

template <class... Ts>
struct common_result {
  using type = std::common_type_t<Ts...>;
};
template <class... Ts>
requires(std::is_void_v<Ts>&&...) struct common_result<Ts...> {
  using type = void;
};

// Passes a stored value to a handler parameter of type P: by lvalue for a non-const
// lvalue reference parameter, moved otherwise.
template <class P, class V>
decltype(auto) pass(V& value) noexcept {
  if constexpr (std::is_lvalue_reference_v<P> && !std::is_const_v<std::remove_reference_t<P>>)
    return (value);
  else
    return std::move(value);
}

std::int64_t timeout_deadline(std::int64_t timeout_ns);

// Frees a matched message when the handler returns or throws.
struct signal_owner {
  signal* node;
  ~signal_owner() { destroy(node); }
};

// The same for a message whose payload type is known (a handler accepts only
// messages of exactly its types): no type-erased call.
template <class Values>
struct typed_signal_owner {
  signal* node;
  ~typed_signal_owner() { destroy_signal<Values>(node); }
};

// A receive's handlers: which one accepts a message, and running it on the message's
// values (the handler's result converted to R). select's mailbox case shares it.
template <class R, class... Handlers>
class handler_set {
 public:
  explicit handler_set(Handlers... handlers) : handlers_(std::move(handlers)...) {}

  // The index of the first handler that accepts `node`, or -1.
  int match([[maybe_unused]] signal* node) {
    return match(node, std::index_sequence_for<Handlers...>{});
  }

  // Runs handler `index` on `node`, which it accepted, and frees the node.
  R dispatch(signal* node, int index) {
    if constexpr (sizeof...(Handlers) > 0)
      return dispatch<0>(node, index);
    else
      std::terminate();  // unreachable: no handler, no match
  }

 private:
  template <std::size_t... I>
  int match([[maybe_unused]] signal* node, std::index_sequence<I...>) {
    int found = -1;
    (void)((accepts<I>(node) ? (found = static_cast<int>(I), true) : false) || ...);
    return found;
  }

  template <std::size_t I>
  bool accepts(signal* node) {
    using H = std::tuple_element_t<I, std::tuple<Handlers...>>;
    using values = typename handler_traits<H>::values;
    if (node->kind != signal_kind::message || node->type != &signal_type_of<values>) return false;
    if constexpr (is_guarded<H>::value) {
      auto& guard = std::get<I>(handlers_).guard;
      return std::apply([&](const auto&... v) -> bool { return static_cast<bool>(guard(v...)); },
                        payload_of<values>(node));
    } else {
      return true;
    }
  }

  template <std::size_t I>
  R dispatch(signal* node, int index) {
    if constexpr (I + 1 < sizeof...(Handlers)) {
      if (index != static_cast<int>(I)) return dispatch<I + 1>(node, index);
    }
    using H = std::tuple_element_t<I, std::tuple<Handlers...>>;
    using traits = handler_traits<H>;
    typed_signal_owner<typename traits::values> owner{node};
    auto& handler = handler_info<H>::of(std::get<I>(handlers_));
    auto& values = payload_of<typename traits::values>(node);
    return invoke<typename traits::params>(handler, values,
                                           std::make_index_sequence<traits::arity>{});
  }

  template <class Params, class F, class Values, std::size_t... I>
  R invoke(F& handler, Values& values, std::index_sequence<I...>) {
    if constexpr (std::is_void_v<R>) {
      handler(pass<std::tuple_element_t<I, Params>>(std::get<I>(values))...);
    } else {
      return static_cast<R>(handler(pass<std::tuple_element_t<I, Params>>(std::get<I>(values))...));
    }
  }

  std::tuple<Handlers...> handlers_;
};

template <class After, class... Handlers>
class receive_awaiter : public wait_base {
 public:
  using result_type = typename std::conditional_t<
      is_after<After>::value,
      common_result<handler_result<Handlers>..., typename after_result<After>::type>,
      common_result<handler_result<Handlers>...>>::type;

  receive_awaiter(std::uint64_t since, After after, Handlers... handlers)
      : handlers_(std::move(handlers)...), after_(std::move(after)) {
    wait_base::satisfied = &receive_awaiter::scan_queue;
    since_key = since;
    if constexpr (is_after<After>::value) deadline_ns = timeout_deadline(after_.timeout_ns);
  }

  bool await_ready(BL_WAIT_SITE_PARAMETERS) {
    process_control& p = current_process("receive");
    process_ = &p;
    // The common case inline: the first message in the queue is accepted.
    if (since_key == 0 && p.receive_fast_ready() && !p.messages().empty()) {
      int found = handlers_.match(p.messages().first());
      if (found >= 0) {
        matched_index = found;
        at_head = true;
        return true;
      }
    }
    // The slow way, which may wait: what for, and where (process_info shows them;
    // the fast path above never waits and does not pay for them).
    where = wait_site{site_file, site_line};
    if constexpr (sizeof...(Handlers) == 0) reason = wait_reason::sleep;
    if (since_key != 0) reason = wait_reason::call;  // a reply to a request tagged with a reference
    return p.receive_ready(*this);
  }
  void await_suspend(std::coroutine_handle<> h) noexcept { process_->receive_suspend(*this, h); }

  result_type await_resume() {
    signal* node = at_head ? process_->take_first() : process_->receive_take(*this);
    if (node == nullptr) {
      if constexpr (is_after<After>::value) {
        return static_cast<result_type>(after_.handler());
      } else {
        std::terminate();  // unreachable: without after, receive only resumes on a match
      }
    } else {
      return handlers_.dispatch(node, matched_index);
    }
  }

 private:
  static bool scan_queue(wait_base& base, process_control& p) {
    auto& self = static_cast<receive_awaiter&>(base);
    int found = -1;
    signal** link = p.messages().scan([&](signal* node) {
      found = self.handlers_.match(node);
      return found >= 0;
    });
    if (link == nullptr) return false;
    base.matched = link;
    base.matched_index = found;
    return true;
  }

  process_control* process_ = nullptr;
  handler_set<result_type, Handlers...> handlers_;
  [[no_unique_address]] After after_;
};

template <class T>
using clause_t = std::remove_cvref_t<T>;

// The receive-mark key of a local reference (its counter; an alias's too: its first
// three words are a fresh reference's); 0 for any other.
inline std::uint64_t mark_key(const ref& r) noexcept {
  if (r.node != 0 || (r.length != 3 && r.length != 5)) return 0;
  return std::uint64_t{r.words[0]} | (std::uint64_t{r.words[1]} << 18) |
         (std::uint64_t{r.words[2] & 0x3fff} << 50);
}

// The handler of receive<T>(): the value itself.
template <class T>
struct take_value {
  T operator()(T value) const { return value; }
};

template <class After, class Tuple, std::size_t... I>
auto make_receive(std::uint64_t since, After after, Tuple&& args, std::index_sequence<I...>) {
  return receive_awaiter<After, clause_t<std::tuple_element_t<I, std::remove_cvref_t<Tuple>>>...>(
      since, std::move(after), std::get<I>(std::forward<Tuple>(args))...);
}

template <std::size_t Offset, class Tuple, std::size_t... I>
auto slice(Tuple&& t, std::index_sequence<I...>) {
  return std::forward_as_tuple(std::get<Offset + I>(std::forward<Tuple>(t))...);
}

}  // namespace detail

// when(guard, handler): the handler takes a message only if guard(values...) is true.
template <class Guard, class Handler>
auto when(Guard&& guard, Handler&& handler) {
  return detail::guarded_handler<std::decay_t<Guard>, std::decay_t<Handler>>{
      std::forward<Guard>(guard), std::forward<Handler>(handler)};
}

// after(timeout, handler): the last clause of a receive. The timeout is rounded up
// to whole nanoseconds and must not be negative.
template <class Rep, class Period, class Handler>
auto after(std::chrono::duration<Rep, Period> timeout, Handler&& handler) {
  auto ns = std::chrono::ceil<std::chrono::nanoseconds>(timeout).count();
  return detail::after_clause<std::decay_t<Handler>>{ns < 0 ? 0 : static_cast<std::int64_t>(ns),
                                                     std::forward<Handler>(handler)};
}
template <class Rep, class Period>
auto after(std::chrono::duration<Rep, Period> timeout) {
  return after(timeout, [] {});
}

// since(r): the first clause of a receive whose handlers all require reference r.
inline detail::since_clause since(const ref& r) {
  return detail::since_clause{r};
}

template <class... Args>
auto receive(Args&&... args) {
  constexpr std::size_t n = sizeof...(Args);
  static_assert(n > 0, "receive needs at least one handler or an after clause");
  using first = detail::clause_t<std::tuple_element_t<0, std::tuple<Args...>>>;
  using last = detail::clause_t<std::tuple_element_t<n - 1, std::tuple<Args...>>>;
  constexpr bool has_since = std::is_same_v<first, detail::since_clause>;
  constexpr bool has_after = detail::is_after<last>::value;
  constexpr std::size_t handler_count = n - (has_since ? 1 : 0) - (has_after ? 1 : 0);
  auto all = std::forward_as_tuple(std::forward<Args>(args)...);
  std::uint64_t since_key = 0;
  if constexpr (has_since) since_key = detail::mark_key(std::get<0>(all).reference);
  auto handlers = detail::slice < has_since
                      ? 1
                      : 0 > (std::move(all), std::make_index_sequence<handler_count>{});
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    using handler_types =
        std::tuple<detail::clause_t<std::tuple_element_t<I, decltype(handlers)>>...>;
    static_assert(((!std::is_same_v<std::tuple_element_t<I, handler_types>, detail::since_clause> &&
                    !detail::is_after<std::tuple_element_t<I, handler_types>>::value) &&
                   ...),
                  "since() must be the first argument of receive and after() the last");
    (void)(detail::valid_handler<std::tuple_element_t<I, handler_types>>() && ...);
  }
  (std::make_index_sequence<handler_count>{});
  if constexpr (has_after) {
    return detail::make_receive(since_key, last(std::get<n - 1>(all)), std::move(handlers),
                                std::make_index_sequence<handler_count>{});
  } else {
    return detail::make_receive(since_key, detail::no_after{}, std::move(handlers),
                                std::make_index_sequence<handler_count>{});
  }
}

// receive<T...>(): the first message of exactly these types; its value (one type) or
// a std::tuple of its values (several types, ready for structured bindings).
template <class... Ts>
requires(sizeof...(Ts) > 0) auto receive() {
  if constexpr (sizeof...(Ts) == 1)
    return receive(detail::take_value<Ts...>{});
  else
    return receive([](Ts... values) { return std::tuple<Ts...>(std::move(values)...); });
}

// Suspends the calling process for `duration` (a receive with no handler).
template <class Rep, class Period>
auto sleep(std::chrono::duration<Rep, Period> duration) {
  return receive(after(duration));
}

}  // namespace beamline
