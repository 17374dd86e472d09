// beamline/select.hpp: Go's select, over channels and the process's mailbox at once.
//
//     co_await bl::select(
//         bl::on_receive(jobs, [&](std::optional<job> j) { ... }),   // nullopt: closed
//         bl::on_send(results, r, [&] { ... }),                      // r was sent
//         bl::on_message([&](const bl::exit_message& e) { ... },     // the mailbox: a
//                        bl::when(guard, handler)),                  // receive's handlers
//         bl::after(100ms, [&] { ... }));                            // or bl::on_default
//
// select waits until one of its cases can proceed, does that one, and runs its
// handler; the value of co_await select(...) is the handlers' common result type.
// When several cases are ready one is chosen at random, uniformly among the channel
// cases (Go's rule; the mailbox case takes its turn as described in
// docs/channels.md). A receive case on a closed channel is ready (its handler gets
// nullopt); a send case on a closed channel throws beamline::error
// (send_on_closed_channel), as Go panics. Cases on the nil channel are never ready
// (Go's way to switch a case off). on_default(f) makes select not wait: f runs when
// no case is ready. after(timeout, f) runs f when none became ready in time. A
// select with no case waits for ever.
//
// A process in a select waits like one in a receive: `waiting: channel (file:line)`,
// exit signals reach it, a kill ends it and takes its cases off every channel.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "beamline/chan.hpp"
#include "beamline/receive.hpp"

namespace beamline {

namespace detail {

// (A case names its channel by the chan's core: the chan it was made from lives at
// least as long as the select expression.)
template <class T, class F>
struct receive_case {
  chan_core* core;
  F handler;
};
template <class T, class F>
struct send_case {
  chan_core* core;
  T value;
  F handler;
};
template <class... Handlers>
struct message_case {
  std::tuple<Handlers...> handlers;
};
template <class F>
struct default_case {
  F handler;
};

// A random permutation of 0..n-1 (select's polling order).
void random_order(std::uint8_t* order, std::size_t n) noexcept;
// Locks every distinct channel of `cores` (n of them, nulls skipped), in address
// order; unlocks them.
void lock_channels(chan_core** cores, std::size_t n) noexcept;
void unlock_channels(chan_core** cores, std::size_t n) noexcept;

// The state of one case while select waits.
template <class Case>
class case_state;

// What a receive case and a send case share: the channel, the waiter queued on it,
// the value's cell and how the operation ended.
template <class T, bool Sending>
class channel_case {
 public:
  static constexpr bool on_channel = true;
  static constexpr bool sending = Sending;

  explicit channel_case(chan_core* core) : core_(core) {}
  chan_core* core() const noexcept { return core_; }
  void* slot() noexcept { return cell_.address(); }
  // The channel moved the value in (a receive) or out (a send), or was closed.
  void completed(bool closed) noexcept {
    closed_ = closed;
    if (closed) return;
    if constexpr (Sending)
      cell_.emptied();
    else
      cell_.filled();
  }
  // The buffered common case inline (chan_core::send_fast, receive_fast).
  bool try_fast() {
    if constexpr (Sending) {
      if (!core_->send_fast(cell_.get())) return false;
      cell_.reset();  // moved into the buffer
    } else {
      if (!core_->template receive_fast<T>(cell_.address())) return false;
    }
    completed(false);
    return true;
  }
  chan_waiter waiter;

 protected:
  chan_core* core_;
  value_cell<T> cell_;
  bool closed_ = false;
};

template <class T, class F>
class case_state<receive_case<T, F>> : public channel_case<T, false> {
 public:
  using result = std::invoke_result_t<F&, std::optional<T>>;
  static_assert(std::is_invocable_v<F&, std::optional<T>>,
                "an on_receive handler takes std::optional<T> (nullopt: the channel is closed)");

  explicit case_state(receive_case<T, F> c)
      : channel_case<T, false>(c.core), handler_(std::move(c.handler)) {}
  result run() {
    if (this->closed_) return handler_(std::optional<T>());
    return handler_(std::optional<T>(std::move(this->cell_.get())));
  }

 private:
  F handler_;
};

template <class T, class F>
class case_state<send_case<T, F>> : public channel_case<T, true> {
 public:
  using result = std::invoke_result_t<F&>;
  static_assert(std::is_invocable_v<F&>, "an on_send handler takes no arguments");

  explicit case_state(send_case<T, F> c)
      : channel_case<T, true>(c.core), handler_(std::move(c.handler)) {
    this->cell_.emplace(std::move(c.value));
  }
  result run() {
    if (this->closed_) throw_send_on_closed();
    return handler_();
  }

 private:
  F handler_;
};

template <class F>
class case_state<default_case<F>> {
 public:
  static constexpr bool on_channel = false;
  using result = std::invoke_result_t<F&>;
  explicit case_state(default_case<F> c) : handler_(std::move(c.handler)) {}
  result run() { return handler_(); }

 private:
  F handler_;
};

template <class Case>
struct is_message_case : std::false_type {};
template <class... H>
struct is_message_case<message_case<H...>> : std::true_type {};
template <class Case>
struct is_default_case : std::false_type {};
template <class F>
struct is_default_case<default_case<F>> : std::true_type {};

template <class Case>
struct case_result {
  using type = typename case_state<Case>::result;
};
template <class... H>
struct case_result<message_case<H...>> {
  using type = typename common_result<handler_result<H>...>::type;
};

template <class After, class... Cases>
class select_awaiter : public wait_base {
  static constexpr std::size_t n = sizeof...(Cases);
  static constexpr std::size_t mailbox_cases =
      (std::size_t{is_message_case<Cases>::value} + ... + 0);
  static constexpr std::size_t default_cases =
      (std::size_t{is_default_case<Cases>::value} + ... + 0);
  static_assert(mailbox_cases <= 1, "a select has at most one on_message case");
  static_assert(default_cases <= 1, "a select has at most one on_default case");
  static_assert(default_cases == 0 || !is_after<After>::value,
                "a select with on_default does not wait: it takes no after clause");
  static constexpr bool has_mailbox = mailbox_cases == 1;

  template <std::size_t... I>
  static constexpr int find_mailbox(std::index_sequence<I...>) {
    int found = -1;
    ((is_message_case<Cases>::value ? (found = static_cast<int>(I)) : 0), ...);
    return found;
  }
  static constexpr int mailbox_index = find_mailbox(std::index_sequence_for<Cases...>{});

  // The mailbox case keeps no state of its own (its handlers are in mailbox_).
  struct no_state {
    template <class C>
    explicit no_state(C&&) noexcept {}
  };
  template <class Case>
  using state_of = std::conditional_t<is_message_case<Case>::value, no_state, case_state<Case>>;

 public:
  using result_type = typename std::conditional_t<
      is_after<After>::value,
      common_result<typename case_result<Cases>::type..., typename after_result<After>::type>,
      common_result<typename case_result<Cases>::type...>>::type;

 private:
  template <class... C>
  static auto make_mailbox(C&... c) {
    if constexpr (has_mailbox) {
      return make_mailbox_from(std::get<mailbox_index>(std::forward_as_tuple(c...)));
    } else {
      return handler_set<result_type>();
    }
  }
  template <class... H>
  static handler_set<result_type, H...> make_mailbox_from(message_case<H...>& m) {
    return std::apply([](H&... h) { return handler_set<result_type, H...>(std::move(h)...); },
                      m.handlers);
  }
  using mailbox_type = decltype(make_mailbox(std::declval<Cases&>()...));

 public:
  select_awaiter(After after, Cases... cases)
      : mailbox_(make_mailbox(cases...)), states_(std::move(cases)...), after_(std::move(after)) {
    wait_base::satisfied = &select_awaiter::is_done;
    reason = wait_reason::channel;
    if constexpr (is_after<After>::value) deadline_ns = timeout_deadline(after_.timeout_ns);
  }
  select_awaiter(const select_awaiter&) = delete;
  select_awaiter& operator=(const select_awaiter&) = delete;
  ~select_awaiter() {
    leave_all(std::index_sequence_for<Cases...>{});
    if (taken_now_ != nullptr) destroy(taken_now_);
  }

  bool await_ready(BL_WAIT_SITE_PARAMETERS) {
    process_ = &current_process("select");
    process_->charge(1);
    where = wait_site{site_file, site_line};
    std::array<std::uint8_t, n + 1> order{};
    random_order(order.data(), n);
    // The mailbox takes its turn at the place the random order gives it: it goes
    // first if it comes before every channel case (checked without the channels'
    // locks: its guards are the program's code).
    if constexpr (has_mailbox) {
      if (order[0] == mailbox_index && try_mailbox_now()) return true;
    }
    // First each case alone, under its own channel's lock: when a case is ready
    // (the common case under load) select costs one lock, as a plain send or
    // receive does.
    int fired = -1;
    for (std::size_t k = 0; k < n && fired < 0; ++k) fired = poll_alone(order[k]);
    if (fired >= 0) {
      group_.fired.store(fired, std::memory_order_relaxed);
      group_.ready.store(1, std::memory_order_relaxed);
      return true;
    }
    const bool may_wait = default_cases == 0 && deadline_ns != 0;
    if (!may_wait) {
      // No channel case is ready and select may not wait: the mailbox's turn, then
      // on_default or after(0)'s clause.
      if constexpr (has_mailbox) {
        if (try_mailbox_now()) return true;
      }
      timed_out = deadline_ns == 0;
      return true;
    }
    // Then under every channel's lock at once: poll again (a case may have become
    // ready meanwhile), and if none is, queue a waiter on each channel before any
    // lock is released, so that no operation slips in between. (The wait is set up
    // only now: a select that finds a case ready at once needs none of it.)
    group_.node = &process_->node();
    group_.process = process_->self();
    bind_waiters(std::index_sequence_for<Cases...>{});
    std::array<chan_core*, n + 1> cores{};
    collect_cores(cores.data(), std::index_sequence_for<Cases...>{});
    chan_wakes wakes;
    {
      critical_section critical;  // not moved off the worker while holding the locks
      lock_channels(cores.data(), n);
      for (std::size_t k = 0; k < n && fired < 0; ++k) fired = poll(order[k], wakes);
      if (fired < 0) enqueue_all(std::index_sequence_for<Cases...>{});
      unlock_channels(cores.data(), n);
    }
    wakes.deliver();
    if (fired >= 0) {  // done at once: nothing was queued, no one else can claim it
      group_.fired.store(fired, std::memory_order_relaxed);
      group_.ready.store(1, std::memory_order_relaxed);
      return true;
    }
    waiting_ = true;
    return process_->receive_ready(*this);
  }
  void await_suspend(std::coroutine_handle<> h) noexcept { process_->receive_suspend(*this, h); }

  result_type await_resume() {
    signal* node = nullptr;
    if (waiting_) {
      node = process_->receive_take(*this);
      leave_all(std::index_sequence_for<Cases...>{});
    }
    if (taken_now_ != nullptr) node = std::exchange(taken_now_, nullptr);
    if (node != nullptr) return mailbox_.dispatch(node, matched_index);
    const int fired = group_.is_ready() ? group_.fired.load(std::memory_order_acquire) : -1;
    if (fired >= 0 && fired != mailbox_index) return run_case<0>(fired);
    if constexpr (is_after<After>::value) {
      if (timed_out) return static_cast<result_type>(after_.handler());
    }
    if constexpr (default_cases == 1) return run_default<0>();
    std::terminate();  // unreachable: a select resumes on a case, its timeout or its default
  }

 private:
  // Whether a case completed the wait; the mailbox case claims it when a message
  // matches (a channel case may have claimed it first: then the message stays).
  static bool is_done(wait_base& base, process_control& p) {
    auto& self = static_cast<select_awaiter&>(base);
    if (self.group_.is_ready()) return true;
    if constexpr (has_mailbox) {
      int found = -1;
      signal** link = p.messages().scan([&](signal* node) {
        found = self.mailbox_.match(node);
        return found >= 0;
      });
      if (link != nullptr && self.group_.claim(mailbox_index)) {
        base.matched = link;
        base.matched_index = found;
        self.group_.ready.store(1, std::memory_order_release);
        return true;
      }
    } else {
      (void)p;
    }
    return false;
  }

  // The mailbox case alone, before anything else (see await_ready).
  bool try_mailbox_now() {
    process_control& p = *process_;
    if (!p.receive_fast_ready() || p.messages().empty()) return false;
    int found = -1;
    taken_now_ = p.messages().take_if(0, [&](signal* node) {
      found = mailbox_.match(node);
      return found >= 0;
    });
    if (taken_now_ == nullptr) return false;
    matched_index = found;
    group_.fired.store(mailbox_index, std::memory_order_relaxed);
    return true;
  }

  template <std::size_t... I>
  void bind_waiters(std::index_sequence<I...>) {
    (bind_waiter<I>(), ...);
  }
  template <std::size_t I>
  void bind_waiter() {
    auto& s = std::get<I>(states_);
    if constexpr (std::is_same_v<std::decay_t<decltype(s)>, no_state>) {
      // the mailbox case
    } else if constexpr (std::decay_t<decltype(s)>::on_channel) {
      s.waiter.group = &group_;
      s.waiter.index = static_cast<int>(I);
      s.waiter.slot = s.slot();
    }
  }

  template <std::size_t... I>
  void collect_cores(chan_core** cores, std::index_sequence<I...>) {
    ((cores[I] = core_of<I>()), ...);
  }
  template <std::size_t I>
  chan_core* core_of() {
    auto& s = std::get<I>(states_);
    if constexpr (std::is_same_v<std::decay_t<decltype(s)>, no_state>)
      return nullptr;
    else if constexpr (std::decay_t<decltype(s)>::on_channel)
      return s.core();
    else
      return nullptr;
  }

  // Case `index` if it can proceed now, taking its channel's lock alone: its index,
  // or -1.
  int poll_alone(std::size_t index) { return poll_alone_at<0>(index); }
  template <std::size_t I>
  int poll_alone_at(std::size_t index) {
    if constexpr (I < n) {
      if (index != I) return poll_alone_at<I + 1>(index);
      auto& s = std::get<I>(states_);
      using S = std::decay_t<decltype(s)>;
      if constexpr (std::is_same_v<S, no_state>) {
        return -1;
      } else if constexpr (S::on_channel) {
        chan_core* core = s.core();
        if (core == nullptr) return -1;
        if (!(S::sending ? core->may_send() : core->may_receive()))
          return -1;  // not ready a moment ago: the locked pass will tell
        if (s.try_fast()) return static_cast<int>(I);
        chan_core::outcome o = S::sending ? core->try_send(s.slot()) : core->try_receive(s.slot());
        if (o == chan_core::outcome::would_block) return -1;
        s.completed(o == chan_core::outcome::closed);
        return static_cast<int>(I);
      } else {
        return -1;
      }
    } else {
      return -1;
    }
  }

  // Case `index` if it can proceed now (under every channel's lock): its index, or -1.
  int poll(std::size_t index, chan_wakes& wakes) BL_NO_THREAD_SAFETY_ANALYSIS {
    return poll_at<0>(index, wakes);
  }
  // (Every channel is locked by lock_channels, which the analysis cannot follow.)
  template <std::size_t I>
  int poll_at(std::size_t index, chan_wakes& wakes) BL_NO_THREAD_SAFETY_ANALYSIS {
    if constexpr (I < n) {
      if (index != I) return poll_at<I + 1>(index, wakes);
      auto& s = std::get<I>(states_);
      using S = std::decay_t<decltype(s)>;
      if constexpr (std::is_same_v<S, no_state>) {
        return -1;  // the mailbox: checked before the locks, or while waiting
      } else if constexpr (S::on_channel) {
        chan_core* core = s.core();
        if (core == nullptr) return -1;  // the nil channel
        chan_core::outcome o = S::sending ? core->send_locked(s.slot(), nullptr, wakes)
                                          : core->receive_locked(s.slot(), nullptr, wakes);
        if (o == chan_core::outcome::would_block) return -1;
        s.completed(o == chan_core::outcome::closed);
        return static_cast<int>(I);
      } else {
        return -1;  // the default: not a case to poll
      }
    } else {
      return -1;
    }
  }

  template <std::size_t... I>
  void enqueue_all(std::index_sequence<I...>) {
    (enqueue_at<I>(), ...);
  }
  template <std::size_t I>
  void enqueue_at() BL_NO_THREAD_SAFETY_ANALYSIS {
    auto& s = std::get<I>(states_);
    using S = std::decay_t<decltype(s)>;
    if constexpr (!std::is_same_v<S, no_state>) {
      if constexpr (S::on_channel) {
        if (s.core() != nullptr) s.core()->enqueue_locked(s.waiter, S::sending);
      }
    }
  }

  // Every case off its channel; a completion under way has ended once this returns.
  // Then the fired case (if a channel's) learns how it ended.
  template <std::size_t... I>
  void leave_all(std::index_sequence<I...>) noexcept {
    if (!waiting_ || left_) return;
    left_ = true;
    (leave_at<I>(), ...);
  }
  template <std::size_t I>
  void leave_at() noexcept {
    auto& s = std::get<I>(states_);
    using S = std::decay_t<decltype(s)>;
    if constexpr (!std::is_same_v<S, no_state>) {
      if constexpr (S::on_channel) {
        // (Whether it is still queued is read under the channel's lock, in leave.)
        if (s.core() != nullptr) s.core()->leave(s.waiter);
        if (group_.is_ready() &&
            group_.fired.load(std::memory_order_acquire) == static_cast<int>(I) && !settled_) {
          s.completed(group_.closed);
          settled_ = true;
        }
      }
    }
  }

  template <std::size_t I>
  result_type run_case(int index) {
    if constexpr (I < n) {
      if (index != static_cast<int>(I)) return run_case<I + 1>(index);
      auto& s = std::get<I>(states_);
      using S = std::decay_t<decltype(s)>;
      if constexpr (std::is_same_v<S, no_state>) {
        std::terminate();  // the mailbox case runs through dispatch
      } else {
        return static_cast<result_type>(s.run());
      }
    } else {
      std::terminate();
    }
  }

  template <std::size_t I>
  result_type run_default() {
    if constexpr (I < n) {
      if constexpr (is_default_case<std::tuple_element_t<I, std::tuple<Cases...>>>::value)
        return static_cast<result_type>(std::get<I>(states_).run());
      else
        return run_default<I + 1>();
    } else {
      std::terminate();
    }
  }

  process_control* process_ = nullptr;
  chan_group group_;
  mailbox_type mailbox_;
  std::tuple<state_of<Cases>...> states_;
  [[no_unique_address]] After after_;
  signal* taken_now_ = nullptr;  // the mailbox case matched before any wait
  bool waiting_ = false;         // went through the receive machinery (it may wait)
  bool settled_ = false;
  bool left_ = false;  // every case has left its channel
};

template <class Tuple, std::size_t... I>
auto make_select(Tuple&& args, std::index_sequence<I...>) {
  constexpr std::size_t count = std::tuple_size_v<std::remove_cvref_t<Tuple>>;
  using last = std::remove_cvref_t<std::tuple_element_t<count - 1, std::remove_cvref_t<Tuple>>>;
  if constexpr (is_after<last>::value) {
    return select_awaiter<
        last, std::remove_cvref_t<std::tuple_element_t<I, std::remove_cvref_t<Tuple>>>...>(
        std::move(std::get<count - 1>(args)), std::move(std::get<I>(args))...);
  } else {
    return select_awaiter<
        no_after, std::remove_cvref_t<std::tuple_element_t<I, std::remove_cvref_t<Tuple>>>...>(
        no_after{}, std::move(std::get<I>(args))...);
  }
}

}  // namespace detail

// A case that receives from `ch`; f(std::optional<T>) runs with the value, or
// nullopt if the channel is closed.
template <class T, class F>
detail::receive_case<T, std::decay_t<F>> on_receive(const chan<T>& ch, F&& f) {
  return {ch.core(), std::forward<F>(f)};
}
// A case that sends `value` on `ch`; f() runs once it is sent.
template <class T, class V, class F>
detail::send_case<T, std::decay_t<F>> on_send(const chan<T>& ch, V&& value, F&& f) {
  return {ch.core(), T(std::forward<V>(value)), std::forward<F>(f)};
}
// The mailbox as one case: a receive's handlers (and when(...) clauses).
template <class... Handlers>
detail::message_case<std::decay_t<Handlers>...> on_message(Handlers&&... handlers) {
  return {std::tuple<std::decay_t<Handlers>...>(std::forward<Handlers>(handlers)...)};
}
// Go's `default`: select does not wait; f runs when no case is ready.
template <class F>
detail::default_case<std::decay_t<F>> on_default(F&& f) {
  return {std::forward<F>(f)};
}

// co_await select(cases..., [after(timeout, f)]): see the top of this file.
template <class... Clauses>
auto select(Clauses&&... clauses) {
  if constexpr (sizeof...(Clauses) == 0) {
    return detail::select_awaiter<detail::no_after>(detail::no_after{});
  } else {
    constexpr std::size_t count = sizeof...(Clauses);
    using last = std::remove_cvref_t<std::tuple_element_t<count - 1, std::tuple<Clauses...>>>;
    auto args = std::forward_as_tuple(std::forward<Clauses>(clauses)...);
    if constexpr (detail::is_after<last>::value)
      return detail::make_select(args, std::make_index_sequence<count - 1>{});
    else
      return detail::make_select(args, std::make_index_sequence<count>{});
  }
}

}  // namespace beamline
