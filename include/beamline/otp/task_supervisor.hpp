// beamline/otp/task_supervisor.hpp: Elixir's Task.Supervisor: tasks started as
// children of a supervisor, so that a crash in one is reported and contained.
//
//     namespace ts = bl::task_supervisor;
//     bl::pid tasks = (co_await ts::start_link(gs::start_options(bl::atom("tasks")))).pid();
//     bl::async_task<int> t = co_await ts::async_nolink(tasks, fetch, url);
//     std::optional<bl::task_result<int>> r = co_await t.yield(1s);  // {exit, R} on a crash
//     co_await ts::start_child(tasks, send_mail, to);             // fire and forget
//     auto all = co_await ts::async_stream_nolink(tasks, urls, fetch, {.max_concurrency = 8});
//
// The supervisor is a simple_one_for_one supervisor whose children are temporary
// (never restarted; Elixir's default), shut down within 5 s each (they are killed
// after that) when it stops. A task is started by the supervisor and linked to it;
// the caller monitors it. Then:
// - async_nolink: the task is not linked to the caller. Its crash reaches the caller
//   only as the monitor's DOWN: await exits the caller as bl::async's does, yield
//   and async_stream_nolink give {exit, Reason} and the caller carries on. This is
//   the form for work that may fail (Elixir's advice, too).
// - async: the task is also linked to the caller, as bl::async's tasks are: a crash
//   takes a caller that does not trap exits down with it, and the caller's end takes
//   the task down. A caller that traps exits sees the crash in await or yield; the
//   'EXIT' message is taken out of its mailbox (async_task::settle).
// - start_child: a task nobody awaits (its result is dropped).
// As in Elixir, a task waits for the caller's monitor before it runs, so a task that
// fails at once still gives its reason (not noproc) in the DOWN.
//
// The start goes through the supervisor (a call): if it is not running the caller
// exits as a gen_server call would ({noproc, ...}); a start the supervisor refuses
// throws beamline::error with the reason.
#pragma once

#include <type_traits>
#include <utility>
#include <vector>

#include "beamline/links.hpp"
#include "beamline/otp/async.hpp"
#include "beamline/otp/gen_server.hpp"
#include "beamline/otp/supervisor.hpp"
#include "beamline/receive.hpp"

namespace beamline::detail {

// The caller's go-ahead: it monitors the task.
struct task_go {
  ref tag;
};

// Waits for the caller's go-ahead; false when the caller ended first.
task<bool> await_go(const pid& owner, const ref& tag);

// A supervised task's body: waits until the owner monitors it, links to the owner
// if asked (an owner that has already ended then ends the task), runs f and sends
// the result unless the owner gave up.
template <class F, class... Args>
process supervised_task_body(pid owner, ref tag, slot_ptr slot, bool link_owner, F f,
                             Args... args) {
  using V = stored_t<async_value_t<F, Args...>>;
  const bool owner_alive = co_await await_go(owner, tag);
  if (link_owner) {
    if (!owner_alive) co_return;
    link(owner);
  }
  V value = co_await run_task_function(f, args...);
  if (slot->try_reply()) send(owner, task_reply<V>{tag, std::move(value)});
}

// start_child's body: runs f; the result is dropped.
template <class F, class... Args>
process fire_and_forget_body(F f, Args... args) {
  co_await run_task_function(f, args...);
}

template <class F, class... Args>
task<async_task<async_value_t<F, Args...>>> start_supervised_task(server_ref sup, bool link_owner,
                                                                  F f, Args... args) {
  slot_ptr slot(call_slot::make());
  const ref tag = make_ref();
  supervisor::child_spec spec;
  spec.restart = supervisor::restart::temporary;
  spec.start = [owner = self(), tag, slot, link_owner, f, args...]() -> task<start_result> {
    co_return start_result::ok(
        spawn_link(&supervised_task_body<F, Args...>, owner, tag, slot, link_owner, f, args...));
  };
  start_result started = co_await supervisor::start_child(std::move(sup), std::move(spec));
  const pid task_pid = started.pid_or_throw();
  const ref watch = monitor(task_pid);
  send(task_pid, task_go{tag});
  co_return async_task<async_value_t<F, Args...>>(task_pid, tag, watch, std::move(slot),
                                                  link_owner);
}

template <class Input, class F>
task<std::vector<task_result<async_value_t<F, Input>>>> stream_supervised(
    server_ref sup, bool link_owner, std::vector<Input> inputs, F f, stream_options options) {
  co_return co_await stream_tasks<async_value_t<F, Input>>(
      std::move(inputs),
      [&sup, link_owner, &f](const Input& input) {
        return start_supervised_task(sup, link_owner, f, input);
      },
      options);
}

}  // namespace beamline::detail

namespace beamline::task_supervisor {

// Starts a task supervisor linked to the caller (name it with options.name).
task<start_result> start_link(gen_server::start_options options = {});

// f(args...) in a task under `sup`, monitored by the caller and not linked to it.
template <class F, class... Args>
task<async_task<detail::async_value_t<F, Args...>>> async_nolink(server_ref sup, F f,
                                                                 Args... args) {
  co_return co_await detail::start_supervised_task(std::move(sup), false, std::move(f),
                                                   std::move(args)...);
}

// f(args...) in a task under `sup`, linked to and monitored by the caller.
template <class F, class... Args>
task<async_task<detail::async_value_t<F, Args...>>> async(server_ref sup, F f, Args... args) {
  co_return co_await detail::start_supervised_task(std::move(sup), true, std::move(f),
                                                   std::move(args)...);
}

// f(args...) in a task under `sup` that nobody awaits: {ok, Pid} or {error, Reason}.
template <class F, class... Args>
task<start_result> start_child(server_ref sup, F f, Args... args) {
  supervisor::child_spec spec;
  spec.restart = supervisor::restart::temporary;
  spec.start = [f, args...]() -> task<start_result> {
    co_return start_result::ok(spawn_link(&detail::fire_and_forget_body<F, Args...>, f, args...));
  };
  co_return co_await supervisor::start_child(std::move(sup), std::move(spec));
}

// bl::async_stream with every task under `sup`, not linked to the caller: a crash is
// that input's {exit, Reason}.
template <class Input, class F>
task<std::vector<task_result<detail::async_value_t<F, Input>>>> async_stream_nolink(
    server_ref sup, std::vector<Input> inputs, F f, stream_options options = {}) {
  co_return co_await detail::stream_supervised(std::move(sup), false, std::move(inputs),
                                               std::move(f), options);
}

// The same with tasks linked to the caller (bl::async_stream's failure semantics).
template <class Input, class F>
task<std::vector<task_result<detail::async_value_t<F, Input>>>> async_stream(
    server_ref sup, std::vector<Input> inputs, F f, stream_options options = {}) {
  co_return co_await detail::stream_supervised(std::move(sup), true, std::move(inputs),
                                               std::move(f), options);
}

// The running tasks.
task<std::vector<pid>> children(server_ref sup);
// Stops a task (exit shutdown, then kill after 5 s): ok or {error, not_found}.
task<status> terminate_child(server_ref sup, pid task);

}  // namespace beamline::task_supervisor
