// erlang_tools.cpp: see erlang_tools.hpp.
#include "observer/erlang_tools.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "beamline/dist.hpp"
#include "beamline/messages.hpp"
#include "beamline/observe.hpp"
#include "beamline/process.hpp"
#include "beamline/receive.hpp"
#include "beamline/version.hpp"

namespace beamline::observer {

namespace {

using observe::process_row;

constexpr std::size_t max_listed = 10'000;   // processes per etop sample (below)
constexpr std::size_t procs_chunk = 10'000;  // per procs_info message, as OTP's

std::int64_t integer(std::uint64_t n) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(n, INT64_MAX));
}

// An atom for a printed site, cut to the atom length limit. The texts come from the
// program's own code (function names and file:line), a bounded set.
atom site_atom(std::string_view text) {
  if (text.size() > 255) text = text.substr(0, 255);
  return atom(text);
}

// "worker (src/app.cpp:31)" -> "worker".
std::string_view function_of(std::string_view initial_call) {
  return initial_call.substr(0, initial_call.find(" ("));
}

// "waiting: receive (examples/demo/main.cpp:89)" -> "receive main.cpp:89": what etop
// shows as the current function (a process of this node is in its code, not at an
// Erlang function).
std::string current_of(std::string_view status) {
  if (status.starts_with("waiting: ")) status.remove_prefix(9);
  const std::size_t open = status.find(" (");
  if (open == std::string_view::npos || status.back() != ')') return std::string(status);
  std::string_view site = status.substr(open + 2, status.size() - open - 3);
  const std::size_t slash = site.rfind('/');
  if (slash != std::string_view::npos) site.remove_prefix(slash + 1);
  return std::string(status.substr(0, open)) + " " + std::string(site);
}

// #etop_proc_info{pid, mem, reds, name, runtime, cf, mq}.
term proc_info(const process_row& row) {
  const term name = row.registered_name ? term(*row.registered_name)
                                        : term(site_atom(function_of(row.initial_call)));
  return term::tuple({atom("etop_proc_info"), row.process, integer(row.memory),
                      integer(row.reductions), name, 0, term(site_atom(current_of(row.status))),
                      integer(row.message_queue_len)});
}

// erlang:memory()'s list, in its order (the observer's Load Charts take the values
// in list order): the resident set, the processes' frames and queues, the rest as
// system; beamline has no atom, binary, code or ets areas of their own.
term memory_list(const observe::node_summary& s) {
  auto pair = [](const char* key, std::uint64_t bytes) {
    return term::tuple({atom(key), integer(bytes)});
  };
  const std::uint64_t system =
      s.memory_resident > s.memory_processes ? s.memory_resident - s.memory_processes : 0;
  return term::list({pair("total", s.memory_resident), pair("processes", s.memory_processes),
                     pair("processes_used", s.memory_processes), pair("system", system),
                     pair("atom", 0), pair("atom_used", 0), pair("binary", 0), pair("code", 0),
                     pair("ets", 0)});
}

// {Mega, Sec, Micro}: erlang:timestamp().
term timestamp() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return term::tuple({us / 1'000'000'000'000, us / 1'000'000 % 1'000'000, us % 1'000'000});
}

task<std::vector<process_row>> listed_processes(std::size_t limit) {
  observe::process_query query;
  query.sort = observe::sort_key::reductions_per_second;
  query.limit = limit;
  observe::process_page page = co_await observe::processes(query);
  co_return std::move(page.rows);
}

// observer_backend:etop_collect(Collector): Collector ! {self(), #etop_info{}}. The
// busiest `max_listed` processes by reductions per second (the BEAM lists every
// process; etop shows the top few by the change since its last sample).
// wall_clock and runtime are {Total, SinceLast} pairs: etop's CPU figure is
// runtime/wall_clock, here the workers' mean utilization.
task<term> etop_collect(term arguments) {
  if (!arguments.is_proper_list() || arguments.length() != 1 ||
      !arguments.as_list().begin()->is_pid())
    throw error(atoms::badarg, "observer_backend:etop_collect: not a pid");
  const pid collector = arguments.as_list().begin()->as_pid();
  observe::node_summary s = co_await observe::summary();
  std::vector<process_row> rows = co_await listed_processes(max_listed);
  double busy = 0;
  for (const auto& w : s.workers) busy += w.utilization;
  const std::int64_t permille =
      s.workers.empty()
          ? 0
          : static_cast<std::int64_t>(1000 * busy / static_cast<double>(s.workers.size()));
  std::vector<term> procs;
  procs.reserve(rows.size());
  for (const process_row& row : rows)
    if (row.process != self()) procs.push_back(proc_info(row));  // as OTP's: not the collector
  const term info =
      term::tuple({atom("etop_info"), timestamp(), integer(s.processes), term::tuple({0, 1000}),
                   term::tuple({0, permille}), integer(s.runnable), term::nil(), memory_list(s),
                   term::list(procs)});
  send(collector, term::tuple({self(), info}));
  co_return atoms::ok;
}

// observer_backend:procs_info(Collector): {procs_info, self(), Chunk} messages of
// #etop_proc_info{} records, then a normal end (the observer reads the link's exit
// as "done").
task<term> procs_info(term arguments) {
  if (!arguments.is_proper_list() || arguments.length() != 1 ||
      !arguments.as_list().begin()->is_pid())
    throw error(atoms::badarg, "observer_backend:procs_info: not a pid");
  const pid collector = arguments.as_list().begin()->as_pid();
  std::vector<process_row> rows = co_await listed_processes(1'000'000);
  std::vector<term> chunk;
  for (const process_row& row : rows) {
    if (row.process == self()) continue;  // not the collector, as OTP's
    chunk.push_back(proc_info(row));
    if (chunk.size() == procs_chunk) {
      send(collector, term::tuple({atom("procs_info"), self(), term::list(chunk)}));
      chunk.clear();
    }
  }
  if (!chunk.empty()) send(collector, term::tuple({atom("procs_info"), self(), term::list(chunk)}));
  co_return atoms::ok;
}

// observer_backend:fetch_stats(Parent, Time), the feed of the observer's Load
// Charts: every Time ms, Parent ! {stats, 1, SchedulerWallTime, {{input, In},
// {output, Out}}, Memory}, until any message comes (the parent's exit included: it
// traps exits, as OTP's). SchedulerWallTime is [{Id, Active, Total}] per worker in
// nanoseconds, summed from each summary's utilization (the share of the time since
// the node's previous summary that the worker's thread ran), so the observer's
// (Active1 - Active0) / (Total1 - Total0) is that share.
task<term> fetch_stats(term arguments) {
  std::vector<term> given;
  if (arguments.is_proper_list())
    for (const term& t : arguments.as_list()) given.push_back(t);
  if (given.size() != 2 || !given[0].is_pid() || !given[1].is_integer() || given[1].as_int() <= 0)
    throw error(atoms::badarg, "observer_backend:fetch_stats: not a pid and a time in ms");
  const pid parent = given[0].as_pid();
  const std::chrono::milliseconds interval(given[1].as_int());
  trap_exit(true);
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  std::vector<std::int64_t> active;
  std::int64_t total = 0;
  std::int64_t last_ns = now_ns();
  for (;;) {
    bool stop = false;
    co_await receive([&](const exit_message&) { stop = true; }, [&](const term&) { stop = true; },
                     after(interval, [] {}));
    if (stop) co_return atoms::ok;
    observe::node_summary s = co_await observe::summary();
    const std::int64_t now = now_ns();
    const std::int64_t elapsed = std::max<std::int64_t>(now - last_ns, 1);
    last_ns = now;
    total += elapsed;
    active.resize(s.workers.size(), 0);
    std::vector<term> wall;
    for (std::size_t i = 0; i < s.workers.size(); ++i) {
      active[i] +=
          static_cast<std::int64_t>(s.workers[i].utilization * static_cast<double>(elapsed));
      wall.push_back(term::tuple({integer(i + 1), active[i], total}));
    }
    const term io = term::tuple({term::tuple({atom("input"), integer(s.io_bytes_in)}),
                                 term::tuple({atom("output"), integer(s.io_bytes_out)})});
    send(parent, term::tuple({atom("stats"), 1, term::list(wall), io, memory_list(s)}));
  }
}

std::string architecture() {
  utsname u{};
  if (::uname(&u) != 0) return "unknown";
  return std::string(u.machine) + "-" + u.sysname;
}

// observer_backend:sys_info(): the System tab's proplist. Limits are never 0 (the
// tab divides by them).
task<term> sys_info(term) {
  observe::node_summary s = co_await observe::summary();
  const auto cores = static_cast<std::int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  auto pair = [](const char* key, term value) {
    return term::tuple({atom(key), std::move(value)});
  };
  const auto schedulers = static_cast<std::int64_t>(s.schedulers);
  std::vector<term> items = {
      pair("uptime", s.uptime.count()),
      pair("run_queue", integer(s.runnable)),
      pair("io_input", integer(s.io_bytes_in)),
      pair("io_output", integer(s.io_bytes_out)),
      pair("logical_processors", cores),
      pair("logical_processors_online", cores),
      pair("logical_processors_available", cores),
      pair("schedulers", schedulers),
      pair("schedulers_online", schedulers),
      pair("schedulers_available", schedulers),
      pair("otp_release", term::string("beamline " BEAMLINE_VERSION_STRING)),
      pair("version", term::string(BEAMLINE_VERSION_STRING)),
      pair("system_architecture", term::string(architecture())),
      pair("kernel_poll", true),
      pair("smp_support", true),
      pair("threads", true),
      pair("thread_pool_size", 0),
      pair("wordsize_internal", 8),
      pair("wordsize_external", 8),
      pair("alloc_info", term::nil()),
      pair("process_count", integer(s.processes)),
      pair("process_limit", integer(std::max<std::uint64_t>(1, s.process_limit))),
      pair("atom_count", integer(s.atoms)),
      pair("atom_limit", integer(atom::max_count)),
      pair("port_count", 0),
      pair("port_limit", 65536),
      pair("ets_count", 0),
      pair("ets_limit", 8192),
      pair("dist_buf_busy_limit", 1 << 20),
      pair("total", integer(s.memory_resident)),
      pair("processes", integer(s.memory_processes)),
      pair("processes_used", integer(s.memory_processes)),
      pair("system",
           integer(s.memory_resident > s.memory_processes ? s.memory_resident - s.memory_processes
                                                          : 0)),
      pair("atom", 0),
      pair("atom_used", 0),
      pair("binary", 0),
      pair("code", 0),
      pair("ets", 0),
  };
  co_return term::list(items);
}

}  // namespace

void export_erlang_tools() {
  dist::export_function("observer_backend", "vsn", [](const term&) -> term {
    return term::tuple({atoms::ok, term::string("beamline " BEAMLINE_VERSION_STRING)});
  });
  dist::export_task("observer_backend", "etop_collect", etop_collect);
  dist::export_task("observer_backend", "procs_info", procs_info);
  dist::export_task("observer_backend", "sys_info", sys_info);
  dist::export_task("observer_backend", "fetch_stats", fetch_stats);
  // The observer checks that observer_backend is there and has procs_info/1.
  dist::export_function("code", "ensure_loaded", [](const term& args) -> term {
    const term module = args.is_proper_list() && !args.is_nil() ? *args.as_list().begin() : args;
    if (module == term(atom("observer_backend"))) return term::tuple({atom("module"), module});
    return term::tuple({atoms::error, atom("nofile")});
  });
  dist::export_function("erlang", "function_exported", [](const term& args) -> term {
    if (!args.is_proper_list() || args.length() != 3) return false;
    auto it = args.as_list().begin();
    const term module = *it++;
    const term function = *it++;
    const term arity = *it;
    return module == term(atom("observer_backend")) && arity.is_integer() &&
           ((function == term(atom("procs_info")) && arity == term(1)) ||
            (function == term(atom("etop_collect")) && arity == term(1)) ||
            (function == term(atom("sys_info")) && arity == term(0)) ||
            (function == term(atom("fetch_stats")) && arity == term(2)) ||
            (function == term(atom("vsn")) && arity == term(0)));
  });
}

}  // namespace beamline::observer
