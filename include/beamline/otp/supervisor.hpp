// beamline/otp/supervisor.hpp: Erlang's supervisor: processes that restart processes.
//
//     namespace sup = bl::supervisor;
//     auto top = co_await sup::start_link(
//         {.strategy = sup::strategy::one_for_one, .intensity = 3, .period = 5s},
//         sup::children(sup::worker<cache>(bl::atom("cache"), 1000),     // a gen_server child
//                       sup::process_child(bl::atom("ticker"), ticker),  // a plain process
//                       sup::supervisor_child(bl::atom("pool"),          // a supervisor
//                                             {.strategy = sup::strategy::simple_one_for_one},
//                                             sup::children(sup::worker<job>(bl::atom("job"))))));
//
// Semantics are OTP's (shared reference section 11), with the state in the
// supervisor process:
// - Children start left to right, each start function run inside the supervisor
//   (it must start a process linked to its caller: gen_server::start_link,
//   bl::spawn_link, another supervisor::start_link). A child that fails to start
//   at init stops the start: the children already started are shut down in reverse
//   order and the start fails with {shutdown, {failed_to_start_child, Id, Reason}}.
// - A child's exit is restarted by its restart type: permanent always, transient
//   unless normal/shutdown/{shutdown, _}, temporary never (its spec is then removed).
//   one_for_one restarts it alone; one_for_all shuts the others down (reverse start
//   order) and starts all again; rest_for_one does that for the children started
//   after it. A restart whose start fails is retried later through a message to the
//   supervisor itself, and every attempt counts as a restart.
// - More than `intensity` restarts within `period` seconds (OTP's exact algorithm):
//   the supervisor shuts every child down in reverse start order and exits with
//   reason `shutdown`, so its own supervisor decides what happens next.
// - Shutting a child down: monitor it, exit(child, shutdown) and wait for it
//   `shutdown` ms (bl::infinity: for ever) before exit(child, kill); brutal_kill
//   kills at once. A gen_server child runs terminate only if it traps exits.
// - simple_one_for_one: dynamic children, added by start_child, none at init; either
//   one template spec whose `start_with(extra)` start_child(sup, extra) calls (OTP's
//   form), or no template and whole specs given to start_child (Elixir's
//   DynamicSupervisor). They stop in parallel, under one shutdown timer.
//
// Errors are values where OTP returns them ({error, not_found}, {error, running},
// {already_started, Pid}, ...: start_result and status); a bad child spec or flag
// fails the start with OTP's reason ({start_spec, {duplicate_child_name, Id}},
// {supervisor_data, {invalid_intensity, -1}}, ...).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "beamline/otp/gen_server.hpp"
#include "beamline/otp/server_ref.hpp"
#include "beamline/otp/start_result.hpp"
#include "beamline/process.hpp"
#include "beamline/spawn.hpp"
#include "beamline/term.hpp"

namespace beamline::supervisor {

enum class strategy : std::uint8_t { one_for_one, one_for_all, rest_for_one, simple_one_for_one };
enum class restart : std::uint8_t { permanent, transient, temporary };
enum class child_type : std::uint8_t { worker, supervisor };

// A shutdown of brutal_kill: the child is killed at once (exit(child, kill)).
inline constexpr std::chrono::milliseconds brutal_kill{-1};

// Starts the child, linked to the calling process (the supervisor).
using start_function = std::function<task<start_result>()>;
// simple_one_for_one's template: starts a child with start_child's extra argument.
using start_with_function = std::function<task<start_result>(term extra)>;

// (It has constructors, so that it is not an aggregate: g++ 12 destroys an
// aggregate temporary twice inside a co_await expression.)
struct child_spec {
  child_spec() noexcept {}  // NOLINT(modernize-use-equals-default): not an aggregate
  child_spec(term child_id, start_function start_child)
      : id(std::move(child_id)), start(std::move(start_child)) {}

  term id;  // unique among the supervisor's children (ignored for dynamic ones)
  start_function start;
  start_with_function start_with;  // simple_one_for_one templates only
  enum restart restart = restart::permanent;
  // A time, brutal_kill or bl::infinity. Default: 5000 ms for a worker, infinity for
  // a supervisor (OTP's defaults).
  std::optional<std::chrono::milliseconds> shutdown;
  child_type type = child_type::worker;
};

struct flags {
  enum strategy strategy = strategy::one_for_one;
  int intensity = 1;               // restarts allowed...
  std::chrono::seconds period{5};  // ...within this many seconds
};

// One row of which_children: {Id, Child | restarting | undefined, Type, Modules}.
struct child_info {
  term id;                   // `undefined` for dynamic children
  std::optional<pid> child;  // the running process, if any
  bool restarting = false;   // a restart is pending (its start failed)
  child_type type = child_type::worker;
  // How many times the supervisor restarted it because it ended (describe() only;
  // not part of which_children's OTP shape).
  std::uint64_t restarts = 0;

  term to_term() const;
};

struct child_counts {
  long specs = 0;
  long active = 0;  // running
  long supervisors = 0;
  long workers = 0;
};

// --- starting ------------------------------------------------------------------------

// A list of child specs. (A braced list `{spec, spec}` written inside a co_await
// expression does not compile with g++ 12, whose coroutines cannot keep an
// initializer list's array across a suspension: build the vector with this, or
// before the co_await.)
template <class... Specs>
std::vector<child_spec> children(Specs... specs) {
  std::vector<child_spec> list;
  list.reserve(sizeof...(Specs));
  (list.push_back(std::move(specs)), ...);
  return list;
}

// Starts a supervisor linked to the caller, with its children (none for
// simple_one_for_one); returns when they have all started. Name it with
// options.name. Exits of its parent (the caller) stop it and its children.
task<start_result> start_link(flags how, std::vector<child_spec> children,
                              gen_server::start_options options = {});

// --- child specs ---------------------------------------------------------------------

// A gen_server child: gen_server::start_link<S>(options, args...) with OTP's
// defaults (permanent, 5000 ms, worker). Adjust the fields of the result as needed.
// As a simple_one_for_one template, start_child(sup, extra) starts S(args...,
// extra). The options give a registered name (an atom, or a registry's via name;
// restarts register the new process under it), init's timeout and the priority:
//
//     sup::worker<cache>(bl::atom("cache"), gs::start_options(bl::atom("cache")), 1000)
//
// (A simple_one_for_one template with a name would start a second child under a
// taken name: each dynamic child fails with {already_started, Pid} after the first.)
template <class S, class... Args>
child_spec worker(term id, gen_server::start_options options, Args... args) {
  static_assert(std::is_constructible_v<S, Args...> || std::is_constructible_v<S, Args..., term>,
                "the server cannot be constructed from these arguments (nor with an extra term)");
  child_spec spec;
  spec.id = std::move(id);
  if constexpr (std::is_constructible_v<S, Args...>) {
    spec.start = [options, args...]() -> task<start_result> {
      co_return co_await gen_server::start_link<S>(options, args...);
    };
  }
  if constexpr (std::is_constructible_v<S, Args..., term>) {
    spec.start_with = [options, args...](term extra) -> task<start_result> {
      co_return co_await gen_server::start_link<S>(options, args..., std::move(extra));
    };
  }
  return spec;
}

// The same with the default options (no name): gen_server::start_link<S>({}, args...).
template <class S, class... Args>
child_spec worker(term id, Args... args) {
  return worker<S>(std::move(id), gen_server::start_options{}, std::move(args)...);
}

// A plain process child: bl::spawn_link(body, args...) from the supervisor (as a
// template: body(args..., extra)).
template <class F, class... Args>
child_spec process_child(term id, F body, Args... args) {
  child_spec spec;
  spec.id = std::move(id);
  if constexpr (std::is_invocable_r_v<process, F&, Args&...>) {
    spec.start = [body, args...]() -> task<start_result> {
      co_return start_result::ok(spawn_link(body, args...));
    };
  }
  if constexpr (std::is_invocable_r_v<process, F&, Args&..., term>) {
    spec.start_with = [body, args...](term extra) -> task<start_result> {
      co_return start_result::ok(spawn_link(body, args..., std::move(extra)));
    };
  }
  return spec;
}

// A child that is itself a supervisor (type supervisor, shutdown infinity).
child_spec supervisor_child(term id, flags how, std::vector<child_spec> children);

// --- operations (all calls to the supervisor, without timeout, as OTP's) -------------

// Adds and starts a child (after the existing ones): {ok, Pid}, ignore (the spec is
// kept, not running), or {error, already_present | {already_started, Pid} | Reason}.
// On a simple_one_for_one supervisor, starts a dynamic child from the spec.
task<start_result> start_child(server_ref sup, child_spec spec);
// simple_one_for_one: starts a child from the template, with `extra`.
task<start_result> start_child(server_ref sup, term extra);
// Shuts the child down, keeping its spec (a temporary one's is removed): ok or
// {error, not_found}. A dynamic child is named by its pid; an id gives
// {error, simple_one_for_one}.
task<status> terminate_child(server_ref sup, term id_or_pid);
// Starts a child that is not running: {ok, Pid} | ignore | {error, running |
// restarting | not_found | simple_one_for_one | Reason}.
task<start_result> restart_child(server_ref sup, term id);
// Removes a stopped child's spec: ok or {error, running | restarting | not_found |
// simple_one_for_one}.
task<status> delete_child(server_ref sup, term id);
task<std::vector<child_info>> which_children(server_ref sup);
task<child_counts> count_children(server_ref sup);

// What the observer shows of a supervisor: its flags, the restarts that count
// against its intensity now, and its children with their restart counts.
struct description {
  flags how;
  std::size_t restarts_in_period = 0;  // of at most how.intensity before it gives up
  std::uint64_t restarts = 0;          // since it started
  std::vector<child_info> children;
};
// Throws call_exit (noproc, timeout, ...) as a call does.
task<description> describe(server_ref sup,
                           std::chrono::milliseconds timeout = gen_server::default_timeout);
std::string_view to_string(strategy s) noexcept;

// Every supervisor's initial call, as process_info and the observer show it.
extern const char* const supervisor_initial_call;

// Stops the supervisor (its children in reverse start order, each within its
// shutdown time) and returns once it has ended: OTP's supervisor:stop/1,3, which is
// gen_server::stop. Throws call_exit as gen_server::stop does.
inline task<void> stop(server_ref sup, term reason = atoms::normal,
                       std::chrono::milliseconds timeout = infinity) {
  return gen_server::stop(std::move(sup), std::move(reason), timeout);
}

}  // namespace beamline::supervisor
