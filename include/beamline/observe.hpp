// beamline/observe.hpp: a running node seen from inside, as Erlang's observer sees
// one (docs/observer.md).
//
//     bl::observe::process_page top = co_await bl::observe::processes(
//         {.sort = bl::observe::sort_key::message_queue_len, .limit = 10});
//     for (const auto& row : top.rows) std::cout << row.process << " " << row.status << "\n";
//
// Snapshots, never a stop-the-world: while a node is observed, each process
// publishes its own figures each time it suspends (it waits or yields), and a
// snapshot reads what was published, a chunk at a time, yielding between chunks as
// any process's loop does (docs/design/observer.md).
// A process shows its figures as of its last suspension: one that runs without
// suspending (a long computation, preempted) shows them as of before it started.
// Until a node is first observed, and after end(), nothing is published and the
// processes pay nothing for it. A young process (under 1,000 reductions) publishes
// only when a snapshot asks it.
//
// Every call here runs inside a process (std::logic_error elsewhere) and reads the
// calling process's node.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/pid.hpp"
#include "beamline/priority.hpp"
#include "beamline/process.hpp"
#include "beamline/process_info.hpp"

namespace beamline::observe {

// One process in a list: what process_info gives, without the relations' pids.
struct process_row {
  pid process;
  std::optional<atom> registered_name;
  // "worker (examples/demo/main.cpp:31)", or "unknown" (process_info's initial_call).
  std::string initial_call;
  // "runnable", "waiting: receive (file:line)" (the reasons of process_info's
  // status), or "new" for a process that has not suspended since the node was first
  // observed (it has published nothing yet).
  std::string status;
  std::uint64_t reductions = 0;
  // Reductions per second since the last snapshot that looked at it (at least
  // 200 ms before); 0 the first time a snapshot looks.
  double reductions_per_second = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint32_t message_queue_len = 0;
  // Bytes: its frame and its queued messages (their number times the first one's
  // size: an estimate).
  std::size_t memory = 0;
  beamline::priority priority = beamline::priority::normal;
  bool trap_exit = false;
  std::uint32_t links = 0;
  std::uint32_t monitors = 0;
  // Runs of it preempted (its worker handed to a spare thread after 2 ms without
  // yielding: docs/design/preemption.md) while the node was observed, and how long
  // ago the last one was (nullopt: none). The "hogs".
  std::uint32_t preemptions = 0;
  std::optional<std::chrono::milliseconds> last_preempted;
};

enum class sort_key : std::uint8_t {
  pid,
  name,  // registered name ("" for none), then pid
  reductions,
  reductions_per_second,
  memory,
  message_queue_len,
  messages_in,
  messages_out,
  preemptions,
};

// The key's name as the JSON API spells it ("pid", "name", "reductions",
// "reductions_per_second", "memory", "message_queue_len", "messages_in",
// "messages_out"), and back (nullopt: no such key).
std::string_view to_string(sort_key key) noexcept;
std::optional<sort_key> sort_key_from(std::string_view name) noexcept;

struct process_query {
  sort_key sort = sort_key::reductions;
  bool descending = true;
  std::size_t offset = 0;
  std::size_t limit = 50;
  // Keeps only the processes whose registered name, initial call or status
  // contains this text (empty: all).
  std::string filter;
};

struct process_page {
  std::uint64_t matched = 0;  // processes the filter kept, of which rows is a page
  // Processes found waiting that had not published yet (status "new", initial call
  // "unknown": a filter on their initial call or status cannot keep them). The next
  // snapshot asks them, so it sees them.
  std::uint64_t unpublished = 0;
  std::vector<process_row> rows;
};

struct worker_summary {
  std::uint64_t runs = 0;  // processes it has run (each start or resumption)
  // The share of the time since the previous summary this worker spent running
  // processes or looking for work, from 0 to 1 (its first summary: since start).
  double utilization = 0;
  // Processes waiting in its run queues at the moment of the summary.
  std::uint32_t run_queue = 0;
};

struct node_summary {
  std::chrono::milliseconds uptime{0};
  unsigned schedulers = 0;
  std::uint64_t processes = 0;      // alive now
  std::uint32_t process_limit = 0;  // node_options::max_processes
  std::uint64_t processes_spawned = 0;
  std::uint64_t processes_exited = 0;
  std::uint64_t preemptions = 0;
  std::uint32_t preempted_threads = 0;
  std::uint64_t flood_migrations = 0;
  // From the processes' published figures (see above).
  std::uint64_t runnable = 0;
  std::uint64_t waiting = 0;
  std::uint64_t unpublished = 0;      // status "new"
  std::uint64_t reductions = 0;       // total of the live processes'
  std::uint64_t messages_queued = 0;  // total of their queue lengths
  // Memory, bytes: the program's resident set (the OS's figure), and the live
  // processes' frames and queued messages.
  std::size_t memory_resident = 0;
  std::size_t memory_processes = 0;
  std::uint64_t atoms = 0;
  // Bytes the node's sockets have read and written since it started, the
  // distribution's included (erlang:statistics(io)); and what the distribution's
  // connections carried (dist::total_traffic: bytes once up, and control messages).
  std::uint64_t io_bytes_in = 0;
  std::uint64_t io_bytes_out = 0;
  std::uint64_t dist_bytes_in = 0;
  std::uint64_t dist_bytes_out = 0;
  std::uint64_t dist_messages_in = 0;
  std::uint64_t dist_messages_out = 0;
  std::vector<worker_summary> workers;
  std::uint64_t global_run_queue = 0;  // runnable processes in no worker's queue yet
  // The whole program's CPU time since the previous summary, in cores (1.5: one
  // and a half cores busy): the workers, and the threads they do not count, those
  // running preempted processes (docs/design/preemption.md) and the blocking pools.
  double program_cores = 0;
};

// The node's figures, from every process's published ones.
//
// The first snapshot (and the first after end()) starts the publishing: it wakes
// the processes whose figures are not current (each checks its wait again, which
// changes nothing for it, and publishes) and gives them up to `settle` to do it;
// those that have not by then show the status "new" and no figures.
task<node_summary> summary(std::chrono::milliseconds settle = std::chrono::milliseconds(100));

// A page of the process list, sorted and filtered as asked (settle: as summary's).
// The query is read while the call runs (co_await it where it is made).
task<process_page> processes(const process_query& query = {},
                             std::chrono::milliseconds settle = std::chrono::milliseconds(100));

// Stops the publishing until the next snapshot: the processes no longer pay for it
// (the web observer calls it when nobody has asked for a while).
void end();

// ---- the supervision tree

struct supervisor_child {
  std::string id;              // the child spec's id, printed (`undefined` when dynamic)
  std::optional<pid> process;  // while it runs
  bool supervisor = false;     // its child type: a supervisor (its tree is in `supervisors`)
  bool restarting = false;     // a restart is pending (its start failed)
  std::uint64_t restarts = 0;  // restarted this many times because it ended
};

struct supervisor_view {
  pid process;
  std::optional<atom> registered_name;
  // false: it did not answer within the timeout (busy starting or stopping a child,
  // say); only its pid and name are known.
  bool answered = false;
  std::string strategy;  // "one_for_one", ...
  int intensity = 0;
  std::chrono::seconds period{0};
  std::size_t restarts_in_period = 0;  // the intensity used: it gives up above `intensity`
  std::uint64_t restarts = 0;          // since it started
  std::vector<supervisor_child> children;
};

struct supervision {
  std::vector<supervisor_view> supervisors;  // in pid order
  // The supervisors that no other one lists as a child: the trees' roots.
  std::vector<pid> roots;
};

// Every supervisor of the node (bl::supervisor's, found by their initial call with
// one process-table scan) and what each says of itself (supervisor::describe, each
// given `timeout`): the supervision trees, as Erlang's observer draws them.
task<supervision> supervisors(std::chrono::milliseconds timeout = std::chrono::seconds(1));

// ---- the timeline (docs/observer.md, "Timeline")

// A process's run on a worker, or several short ones drawn as one.
struct timeline_run {
  pid process;                // (its serial's low 24 bits: the ring keeps no more)
  std::int64_t start_ns = 0;  // std::chrono::steady_clock, in nanoseconds
  std::int64_t end_ns = 0;
  // Preempted, or a blocking call: it went on off the worker, which a new thread
  // took over at end_ns.
  bool handed_off = false;
  // Runs this span stands for: more than 1 when runs shorter than the resolution
  // asked for were drawn as one (then `process` is the one that ran longest).
  std::uint32_t runs = 1;
};

struct timeline_lane {
  unsigned worker = 0;
  std::vector<timeline_run> runs;
  std::vector<std::pair<std::int64_t, std::int64_t>> parked;  // asleep, from and to
  std::vector<std::pair<std::int64_t, unsigned>> steals;      // when, and from whom
};

struct scheduling_timeline {
  std::int64_t from_ns = 0;
  std::int64_t now_ns = 0;
  std::vector<timeline_lane> lanes;  // one per worker
  // What to call each process in the runs: its registered name, or the function
  // it started in ("" when it is gone and was never observed).
  std::vector<std::pair<pid, std::string>> labels;
};

// Each worker's scheduling over the last `window` (as far back as its ring goes:
// node_options::timeline_events), from its timeline ring: a copy, no process is
// stopped or asked. Runs carry no time of their own (a clock read would cost more
// than the lightest runs): they are spread evenly between the timed marks around
// them (at least every millisecond while a worker is busy, and at every park,
// wake, steal and hand-off). Runs shorter than `resolution` that follow one another
// are merged. Empty lanes when the node keeps no timeline.
scheduling_timeline timeline(std::chrono::milliseconds window = std::chrono::seconds(5),
                             std::chrono::nanoseconds resolution = std::chrono::nanoseconds(0));

// The timeline in the Trace Event format that chrome://tracing and Perfetto open:
// a thread per worker, a slice per run named after its process.
std::string to_trace_json(const scheduling_timeline& timeline);

// The flight recorder: writes the last `window` of the timeline to `path`
// (to_trace_json). Throws std::system_error when it cannot.
void write_timeline(const std::string& path,
                    std::chrono::milliseconds window = std::chrono::seconds(5));
void write_timeline(const std::string& path, const scheduling_timeline& timeline);

// One process in detail: process_info (links, monitors) with up to max_messages of
// its queued messages printed; nullopt if it is not alive or does not answer within
// the timeout (a process that runs without suspending answers at its next
// suspension).
task<std::optional<process_info>> process(
    pid target, std::size_t max_messages = 100,
    std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace beamline::observe
