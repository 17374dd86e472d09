// server.hpp: the observer's web server, a few processes of the node it observes.
//
// start() binds the listening socket at once (so that a port in use is an error
// the program sees, not a line in a log) and spawns the server: an acceptor, one
// process per connection (at most max_connections; more are answered 503 and
// closed), and a sampler that keeps the last ten minutes of the node's figures,
// once a second, while someone has asked for anything in the last 30 s (otherwise
// it ends the processes' publishing: observe::end()). They are the node's services:
// run() returns once only they are left, as it would without them. See
// docs/observer.md and docs/design/observer.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "beamline/detail/thread_safety.hpp"
#include "beamline/node.hpp"
#include "beamline/observe.hpp"
#include "beamline/process.hpp"
#include "observer/http.hpp"

namespace beamline::observer {

// One second of the node's history.
struct sample {
  std::int64_t uptime_ms = 0;
  std::vector<double> utilization;        // per worker
  double program_cores = 0;               // the whole program's CPU, in cores
  std::vector<std::uint32_t> run_queues;  // per worker, then the global queue
  std::uint64_t processes = 0;
  std::uint64_t runnable = 0;
  std::uint64_t messages_queued = 0;
  double reductions_per_second = 0;
  double spawns_per_second = 0;
  std::uint64_t memory_resident = 0;
  std::uint64_t memory_processes = 0;
  double io_in_per_second = 0;  // bytes, the node's sockets
  double io_out_per_second = 0;
  double dist_messages_per_second = 0;  // received and sent
};

// A process whose mailbox grew past alarm_raise messages; it stays alarmed until its
// queue falls under alarm_clear (hysteresis: a queue that hovers at the threshold
// does not make the alarm blink).
struct mailbox_alarm {
  pid process;
  std::optional<atom> registered_name;
  std::string initial_call;
  std::uint32_t message_queue_len = 0;
  std::uint32_t peak = 0;
  double growth_per_second = 0;  // since the previous sample
  std::int64_t raised_uptime_ms = 0;
};

inline constexpr std::uint32_t alarm_raise = 1000;
inline constexpr std::uint32_t alarm_clear = 100;
inline constexpr std::size_t alarm_rows = 50;  // the sampler's top by queue length

// The mailbox alarms after a sample: raised for a queue of alarm_raise messages or
// more, cleared under alarm_clear, or when the process is gone. `top` is the
// processes with the longest queues, longest first (alarm_rows of them, or all
// there are if fewer); `seconds` since the previous sample (0: none).
void update_alarms(std::vector<mailbox_alarm>& alarms, const std::vector<observe::process_row>& top,
                   std::int64_t uptime_ms, double seconds);

struct server_state {
  observer_options options;
  bool token_required = false;
  std::atomic<int> connections{0};
  std::atomic<std::int64_t> last_request_ns{0};
  detail::mutex history_lock;
  std::deque<sample> history BL_GUARDED_BY(history_lock);
  // The sampler's last summary and when it was taken: /api/summary answers with it
  // while it is younger than a sampling interval, rather than scan the node again.
  observe::node_summary last_summary BL_GUARDED_BY(history_lock);
  std::int64_t last_summary_ns BL_GUARDED_BY(history_lock) = 0;
  std::vector<mailbox_alarm> alarms BL_GUARDED_BY(history_lock);
  // The flight recorder (recorder.cpp): alarms raised so far, and when it last wrote.
  std::atomic<std::uint64_t> alarms_raised{0};
  std::atomic<std::int64_t> last_record_ns{0};
};

inline constexpr int max_connections = 64;
inline constexpr std::size_t history_length = 600;  // samples: ten minutes
inline constexpr std::chrono::seconds watched_for{30};

// Starts the server on `node` (before node.run()) and returns its URL (the one it
// prints); throws std::runtime_error if the address is not numeric or cannot be
// listened on.
std::string start(node& node, const observer_options& options);

// The server's processes do not keep run() going (node_runtime::mark_service).
void become_service();

// The flight recorder (recorder.cpp): while options.record_dir is set, writes the
// timeline there when a process is preempted or a mailbox alarm is raised, at most
// once every record_interval and max_records times in all.
process record_timeline(std::shared_ptr<server_state> state);
inline constexpr std::chrono::seconds record_interval{10};
inline constexpr int max_records = 20;
// Writes the timeline to a new file of options.record_dir now, named after `why`:
// its path, or why it could not.
struct record_result {
  bool written = false;
  std::string text;  // the path, or the error
};
task<record_result> record_now(server_state& state, std::string why);

// The answer to one request (api.cpp).
struct reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};
task<reply> answer(const http_request& request, server_state& state);

// Why a request may not be answered (a Host header not naming the loopback, a
// token missing), or nullopt if it may; the WebSocket upgrade checks it too.
std::optional<reply> refusal(const http_request& request, const server_state& state);

// One WebSocket update: {"type":"update","summary":…,"sample":…,"alarms":…,"nodes":…}.
task<std::string> live_update(server_state& state);

// The dashboard's files, compiled into the library (dashboard/, assets.cpp is
// generated from them at build time).
struct asset {
  std::string_view path;  // "/", "/app.js", …
  std::string_view content_type;
  std::string_view body;
};
std::span<const asset> dashboard_assets() noexcept;

}  // namespace beamline::observer
