// task_supervisor.cpp: the non-template parts of Elixir's Task.Supervisor
// (task_supervisor.hpp): the supervisor itself, its queries and the task's wait for
// its owner's go-ahead.
#include "beamline/otp/task_supervisor.hpp"

namespace beamline::detail {

task<bool> await_go(const pid& owner, const ref& tag) {
  const ref owner_watch = monitor(owner);
  bool owner_alive = true;
  co_await receive(when([&tag](const task_go& go) { return go.tag == tag; }, [](task_go) {}),
                   when([&owner_watch](const down_message& d) { return d.monitor == owner_watch; },
                        [&owner_alive](down_message) { owner_alive = false; }));
  if (owner_alive) demonitor(owner_watch, {.flush = true});
  co_return owner_alive;
}

}  // namespace beamline::detail

namespace beamline::task_supervisor {

task<start_result> start_link(gen_server::start_options options) {
  // Tasks are temporary children: the intensity only counts restarts, which never
  // happen; OTP's defaults are kept.
  supervisor::flags how{.strategy = supervisor::strategy::simple_one_for_one};
  std::vector<supervisor::child_spec> no_children;
  co_return co_await supervisor::start_link(how, std::move(no_children), std::move(options));
}

task<std::vector<pid>> children(server_ref sup) {
  std::vector<pid> running;
  for (const supervisor::child_info& c : co_await supervisor::which_children(std::move(sup)))
    if (c.child) running.push_back(*c.child);
  co_return running;
}

task<status> terminate_child(server_ref sup, pid task) {
  co_return co_await supervisor::terminate_child(std::move(sup), term(task));
}

}  // namespace beamline::task_supervisor
