// beamline/otp/async.hpp: Elixir's Task: run a function in its own process and
// collect its result.
//
//     bl::async_task<int> t = bl::async([](int x) { return x * 2; }, 21);
//     int r = co_await t.await();                       // 42; default timeout 5 s
//
//     auto results = co_await bl::async_stream(urls, fetch, {.max_concurrency = 8});
//
// (bl::task<T> is the coroutine type a process awaits; an async_task<T> is a
// process computing a T, Elixir's %Task{}.)
//
// async(f, args...) spawns a process linked to the caller and monitored by it, as
// Elixir's Task.async: if the task crashes, the caller (not trapping exits) goes with
// it; if the caller ends, the task does. f may return a value or a bl::task<T> (to
// receive or call servers). The owner, and only the owner, then:
//   await(timeout)     the result; a crash or a timeout exits the caller with
//                      {Reason, {task, await, [Pid, Timeout]}} (call_exit)
//   yield(timeout)     the result if it is ready within timeout: {ok, V} or
//                      {exit, Reason} (task_result), or nullopt (it keeps running:
//                      yield again, await, or shutdown)
//   shutdown(timeout)  unlinks and stops the task (exit shutdown, then kill after
//                      timeout; brutal_kill at once): its result if it finished
//                      first, {exit, Reason} if it had crashed, nullopt otherwise
// As with gen_server calls, a result that arrives after the owner gave up (await's
// timeout, shutdown) is dropped (call_slot.hpp), never queued to the owner.
//
// async_stream(inputs, f, options) runs f on every input with at most
// max_concurrency tasks alive at once and returns every task_result, in input order
// (or completion order when ordered is false). Each task has `timeout`; on_timeout
// exit (Elixir's default) kills the others and exits the caller, kill_task records
// {exit, timeout} for that input and goes on. It is eager: the results come back
// together (Elixir's stream is lazy).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "beamline/links.hpp"
#include "beamline/messages.hpp"
#include "beamline/otp/call_exit.hpp"
#include "beamline/otp/detail/call_slot.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/otp/supervisor.hpp"
#include "beamline/process.hpp"
#include "beamline/receive.hpp"
#include "beamline/send.hpp"
#include "beamline/spawn.hpp"

namespace beamline {

// {ok, Value} | {exit, Reason}: how a task ended.
template <class T>
class task_result {
 public:
  using stored_type = detail::stored_t<T>;

  static task_result ok(stored_type value) { return task_result(std::move(value)); }
  static task_result exit(term reason) { return task_result(std::move(reason)); }

  bool is_ok() const noexcept { return outcome_.index() == 0; }
  // The value (only when is_ok()).
  stored_type& value() { return std::get<0>(outcome_); }
  const stored_type& value() const { return std::get<0>(outcome_); }
  // The exit reason (only when !is_ok()).
  const term& exit_reason() const { return std::get<1>(outcome_); }

 private:
  explicit task_result(stored_type v) : outcome_(std::in_place_index<0>, std::move(v)) {}
  explicit task_result(term reason) : outcome_(std::in_place_index<1>, std::move(reason)) {}
  std::variant<stored_type, term> outcome_;
};

namespace detail {

template <class V>
struct task_reply {
  ref tag;
  V value;
};

template <class F, class... Args>
using async_output_t = std::invoke_result_t<F&, Args&...>;
template <class F, class... Args>
using async_value_t = typename task_traits<async_output_t<F, Args...>>::value_type;

term task_arguments(const pid& task, std::chrono::milliseconds timeout);
atom task_atom();

// Runs f(args...) (a plain function or one returning a bl::task) and gives its value.
template <class F, class... Args>
task<stored_t<async_value_t<F, Args...>>> run_task_function(F& f, Args&... args) {
  using T = async_value_t<F, Args...>;
  if constexpr (task_traits<async_output_t<F, Args...>>::is_task) {
    if constexpr (std::is_void_v<T>) {
      co_await f(args...);
      co_return std::monostate{};
    } else {
      co_return co_await f(args...);
    }
  } else if constexpr (std::is_void_v<T>) {
    f(args...);
    co_return std::monostate{};
  } else {
    co_return f(args...);
  }
}

// The body of a task process: runs f and sends the result unless the owner gave up.
template <class F, class... Args>
process async_body(pid owner, ref tag, slot_ptr slot, F f, Args... args) {
  using V = stored_t<async_value_t<F, Args...>>;
  V value = co_await run_task_function(f, args...);
  if (slot->try_reply()) send(owner, task_reply<V>{tag, std::move(value)});
}

// Whether the calling process traps exits.
bool caller_traps_exits();

}  // namespace detail

template <class T>
class async_task {
 public:
  using value_type = T;
  using stored_type = detail::stored_t<T>;

  async_task() = default;
  async_task(const beamline::pid& p, const ref& tag, const ref& monitor, detail::slot_ptr slot,
             bool linked = true)
      : pid_(p), tag_(tag), monitor_(monitor), slot_(std::move(slot)), linked_(linked) {}

  const beamline::pid& pid() const noexcept { return pid_; }
  // The reference the result carries (Elixir's task.ref).
  const ref& tag() const noexcept { return tag_; }
  // The caller's monitor of the task.
  const ref& monitor() const noexcept { return monitor_; }
  // Whether the task is linked to its owner (async; not async_nolink).
  bool linked() const noexcept { return linked_; }

  // Once the outcome is known (await, yield and async_stream call it): an owner that
  // traps exits keeps no {'EXIT', Task, _} message from a linked task. After a
  // result the link is removed first, so the task's normal exit sends none; after a
  // crash the 'EXIT' message, queued before the DOWN, is taken out.
  void settle(bool replied) {
    if (!linked_ || !detail::caller_traps_exits()) return;
    if (replied) unlink(pid_);
    detail::flush_exit_from(pid_);
  }

  // The result, waiting up to `timeout`; throws call_exit on a crash or a timeout.
  task<T> await(std::chrono::milliseconds timeout = gen_server::default_timeout) {
    std::optional<stored_type> value;
    std::optional<term> failure;
    bool timed_out = false;
    auto on_reply = reply_handler(value);
    auto on_down = down_handler(failure);
    if (timeout == infinity) {
      co_await receive(since(tag_), on_reply, on_down);
    } else {
      co_await receive(since(tag_), on_reply, on_down, after(timeout, [&] { timed_out = true; }));
      if (timed_out) {
        if (slot_->try_abandon()) {
          detail::end_call(monitor_);
          throw call_exit(atoms::timeout, detail::task_atom(), atom("await"),
                          detail::task_arguments(pid_, timeout));
        }
        co_await receive(since(tag_), on_reply);  // it came as we gave up
      }
    }
    if (failure) {
      settle(false);
      throw call_exit(*failure, detail::task_atom(), atom("await"),
                      detail::task_arguments(pid_, timeout));
    }
    detail::end_call(monitor_);
    settle(true);
    if constexpr (!std::is_void_v<T>) co_return std::move(*value);
  }

  // The outcome if the task ends within `timeout`; nullopt if it is still running.
  task<std::optional<task_result<T>>> yield(
      std::chrono::milliseconds timeout = gen_server::default_timeout) {
    std::optional<stored_type> value;
    std::optional<term> failure;
    auto on_reply = reply_handler(value);
    auto on_down = down_handler(failure);
    if (timeout == infinity)
      co_await receive(since(tag_), on_reply, on_down);
    else
      co_await receive(since(tag_), on_reply, on_down, after(timeout, [] {}));
    if (value) {
      detail::end_call(monitor_);
      settle(true);
      co_return task_result<T>::ok(std::move(*value));
    }
    if (failure) {
      settle(false);
      co_return task_result<T>::exit(std::move(*failure));
    }
    co_return std::nullopt;
  }

  // Stops the task (see the top of this file). `timeout` may be
  // supervisor::brutal_kill.
  task<std::optional<task_result<T>>> shutdown(
      std::chrono::milliseconds timeout = gen_server::default_timeout) {
    std::optional<stored_type> value;
    std::optional<term> failure;
    auto on_reply = reply_handler(value);
    auto on_down = down_handler(failure);
    unlink(pid_);
    exit(pid_, timeout == supervisor::brutal_kill ? atoms::kill : atoms::shutdown);
    if (timeout == infinity || timeout == supervisor::brutal_kill) {
      co_await receive(since(tag_), on_reply, on_down);
    } else {
      bool timed_out = false;
      co_await receive(since(tag_), on_reply, on_down, after(timeout, [&] { timed_out = true; }));
      if (timed_out) {
        exit(pid_, atoms::kill);
        co_await receive(since(tag_), on_reply, on_down);
      }
    }
    slot_->try_abandon();
    detail::flush_exit_from(pid_);
    if (value) {
      detail::end_call(monitor_);
      co_return task_result<T>::ok(std::move(*value));
    }
    if (failure && *failure != term(atoms::shutdown) && *failure != term(atoms::killed))
      co_return task_result<T>::exit(std::move(*failure));
    co_return std::nullopt;
  }

 private:
  auto reply_handler(std::optional<stored_type>& value) const {
    const ref tag = tag_;
    return when([tag](const detail::task_reply<stored_type>& r) { return r.tag == tag; },
                [&value](detail::task_reply<stored_type> r) { value.emplace(std::move(r.value)); });
  }
  auto down_handler(std::optional<term>& failure) const {
    const ref monitor = monitor_;
    return when([monitor](const down_message& d) { return d.monitor == monitor; },
                [&failure](down_message d) { failure = std::move(d.reason); });
  }

  beamline::pid pid_;
  ref tag_;
  ref monitor_;
  detail::slot_ptr slot_;
  bool linked_ = true;
};

// Runs f(args...) in a new process linked to and monitored by the caller.
template <class F, class... Args>
async_task<detail::async_value_t<std::decay_t<F>, std::decay_t<Args>...>> async(F&& f,
                                                                                Args&&... args) {
  using Fn = std::decay_t<F>;
  detail::slot_ptr slot(detail::call_slot::make());
  const ref tag = make_ref();  // the result carries it; receive marks start here
  spawn_result r = spawn_opt(
      {.link = true, .monitor = true}, &detail::async_body<Fn, std::decay_t<Args>...>, self(), tag,
      slot, Fn(std::forward<F>(f)), std::decay_t<Args>(std::forward<Args>(args))...);
  return {r.pid, tag, r.monitor, std::move(slot)};
}

// Awaits every task, within one overall timeout (Elixir's Task.await_many).
template <class T>
task<std::vector<detail::stored_t<T>>> await_many(
    std::vector<async_task<T>> tasks,
    std::chrono::milliseconds timeout = gen_server::default_timeout) {
  std::vector<detail::stored_t<T>> results;
  results.reserve(tasks.size());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (async_task<T>& t : tasks) {
    std::chrono::milliseconds left = infinity;
    if (timeout != infinity)
      left =
          std::max(std::chrono::milliseconds(0), std::chrono::ceil<std::chrono::milliseconds>(
                                                     deadline - std::chrono::steady_clock::now()));
    if constexpr (std::is_void_v<T>) {
      co_await t.await(left);
      results.emplace_back();
    } else {
      results.push_back(co_await t.await(left));
    }
  }
  co_return results;
}

struct stream_options {
  std::size_t max_concurrency = 0;                                  // 0: the number of schedulers
  std::chrono::milliseconds timeout = gen_server::default_timeout;  // per task
  bool ordered = true;  // results in input order (else in completion order)
  enum class on_timeout_action : std::uint8_t { exit, kill_task };
  on_timeout_action on_timeout = on_timeout_action::exit;
};

// Short spellings: {.on_timeout = bl::kill_task} (Elixir's on_timeout: :kill_task).
inline constexpr stream_options::on_timeout_action kill_task =
    stream_options::on_timeout_action::kill_task;

namespace detail {

std::size_t default_concurrency();

// async_stream's loop; start(input) gives the input's async_task<T> (or a bl::task of
// one: the task supervisor's start is a call).
template <class T, class Input, class Start>
task<std::vector<task_result<T>>> stream_tasks(std::vector<Input> inputs, Start start,
                                               stream_options options) {
  using V = stored_t<T>;
  const std::size_t limit =
      options.max_concurrency == 0 ? default_concurrency() : options.max_concurrency;
  struct running {
    async_task<T> task;
    std::size_t index;
    std::chrono::steady_clock::time_point deadline;
  };
  std::vector<std::optional<task_result<T>>> by_index(inputs.size());
  std::vector<task_result<T>> in_completion_order;
  std::unordered_map<ref, running> alive;  // by the result's tag
  std::unordered_map<ref, ref> tag_of;     // monitor -> tag
  std::size_t next = 0;

  auto finish = [&](std::size_t index, task_result<T> r) {
    if (options.ordered)
      by_index[index].emplace(std::move(r));
    else
      in_completion_order.push_back(std::move(r));
  };

  while (next < inputs.size() || !alive.empty()) {
    while (next < inputs.size() && alive.size() < limit) {
      async_task<T> t;
      if constexpr (task_traits<std::invoke_result_t<Start&, Input&>>::is_task)
        t = co_await start(inputs[next]);
      else
        t = start(inputs[next]);
      ref tag = t.tag();
      tag_of.emplace(t.monitor(), tag);
      alive.emplace(
          tag, running{std::move(t), next, std::chrono::steady_clock::now() + options.timeout});
      ++next;
    }
    std::optional<std::pair<ref, V>> reply;
    std::optional<std::pair<ref, term>> down;
    auto on_reply = when([&](const task_reply<V>& r) { return alive.count(r.tag) != 0; },
                         [&](task_reply<V> r) { reply.emplace(r.tag, std::move(r.value)); });
    auto on_down = when([&](const down_message& d) { return tag_of.count(d.monitor) != 0; },
                        [&](down_message d) { down.emplace(d.monitor, std::move(d.reason)); });
    if (options.timeout == infinity) {
      co_await receive(on_reply, on_down);
    } else {
      auto earliest = std::chrono::steady_clock::time_point::max();
      for (const auto& [tag, r] : alive) earliest = std::min(earliest, r.deadline);
      auto left =
          std::chrono::ceil<std::chrono::milliseconds>(earliest - std::chrono::steady_clock::now());
      co_await receive(on_reply, on_down, after(std::max(left, std::chrono::milliseconds(0))));
    }
    if (reply) {
      auto it = alive.find(reply->first);
      end_call(it->second.task.monitor());
      it->second.task.settle(true);
      tag_of.erase(it->second.task.monitor());
      finish(it->second.index, task_result<T>::ok(std::move(reply->second)));
      alive.erase(it);
    } else if (down) {
      auto it = alive.find(tag_of[down->first]);
      it->second.task.settle(false);
      tag_of.erase(down->first);
      finish(it->second.index, task_result<T>::exit(std::move(down->second)));
      alive.erase(it);
    } else {
      // Timed out: the tasks past their deadline.
      const auto now = std::chrono::steady_clock::now();
      std::vector<ref> late;
      for (const auto& [tag, r] : alive)
        if (r.deadline <= now) late.push_back(tag);
      for (const ref& tag : late) {
        auto it = alive.find(tag);
        if (options.on_timeout == stream_options::on_timeout_action::exit) {
          pid late_pid = it->second.task.pid();
          for (auto& [other, r] : alive) co_await r.task.shutdown(supervisor::brutal_kill);
          throw call_exit(atoms::timeout, task_atom(), atom("async_stream"),
                          task_arguments(late_pid, options.timeout));
        }
        std::optional<task_result<T>> last =
            co_await it->second.task.shutdown(supervisor::brutal_kill);
        finish(it->second.index,
               last && last->is_ok() ? std::move(*last) : task_result<T>::exit(atoms::timeout));
        tag_of.erase(it->second.task.monitor());
        alive.erase(it);
      }
    }
  }
  std::vector<task_result<T>> results;
  if (options.ordered) {
    results.reserve(by_index.size());
    for (auto& r : by_index) results.push_back(std::move(*r));
  } else {
    results = std::move(in_completion_order);
  }
  co_return results;
}

}  // namespace detail

// Runs f(input) for every input in tasks of their own, at most max_concurrency at
// a time; see the top of this file.
template <class Input, class F>
task<std::vector<task_result<detail::async_value_t<F, Input>>>> async_stream(
    std::vector<Input> inputs, F f, stream_options options = {}) {
  using T = detail::async_value_t<F, Input>;
  co_return co_await detail::stream_tasks<T>(
      std::move(inputs), [&f](const Input& input) { return async(f, input); }, options);
}

}  // namespace beamline
