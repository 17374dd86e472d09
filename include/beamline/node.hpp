// beamline/node.hpp: a node owns schedulers and processes.
//
//     int main(int argc, char** argv) {
//       bl::node node(bl::node_options::from_args(argc, argv));
//       node.spawn(body, args...);
//       return node.run();   // until every process has ended, or stop()
//     }
//
// run() starts one worker thread per scheduler and returns when no process is left
// or stop() was called (from any thread or process). Destroying the node destroys
// every process still there (their frames, so their RAII cleanup runs). A program
// may have several nodes one after another, or at once; pids are meaningful only on
// the node that made them.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "beamline/detail/signal.hpp"
#include "beamline/pid.hpp"
#include "beamline/ref.hpp"
#include "beamline/send.hpp"
#include "beamline/spawn.hpp"

namespace beamline {

// The observer's web server (docs/observer.md): a JSON API under /api/ that
// beamline-top and scripts read, served by the node itself.
struct observer_options {
  // The port (0: any free one). The URL is printed on stderr when the node starts.
  std::uint16_t port = 0;
  // The address to listen on. On any but a loopback address every request must
  // carry the token (Authorization: Bearer TOKEN, or ?token=TOKEN).
  std::string address = "127.0.0.1";
  // Allows the actions: killing a process, sending it an exit, reading its queued
  // messages. Off: the API only reads figures.
  bool manage = false;
  // The token; empty: a random one is made when one is needed (and printed).
  std::string token;
  // The flight recorder (docs/observer.md, "Timeline"): a directory where the last
  // seconds of the scheduling timeline are written when a process is preempted (a
  // hog), when a mailbox alarm is raised, and on request (POST /api/timeline/record).
  // Empty: off.
  std::string record_dir;
};

struct node_options {
  // Worker threads (schedulers); default: one per core.
  unsigned schedulers = default_schedulers();
  // Process table size: spawning beyond it fails with system_limit_error.
  std::uint32_t max_processes = 1u << 22;
  // Reductions a process may spend before it yields at its next suspension point.
  std::int32_t reductions_per_slice = 4000;
  // How long an idle worker keeps looking for work before it parks.
  std::chrono::microseconds spin_before_park{50};
  // One worker that picks runnable processes in a random order seeded by
  // shuffle_seed: a reproducible schedule that exposes ordering assumptions.
  bool deterministic = false;
  std::uint64_t shuffle_seed = 0;
  // Print a line on stderr when a process ends because of an uncaught exception
  // (not for exit() or exit signals), as Erlang's error logger does.
  bool log_crashes = true;
  // Threads of the dirty pools that run bl::blocking calls (0: one per scheduler
  // for cpu; 10 for io, as the BEAM's dirty IO schedulers).
  unsigned dirty_cpu_threads = 0;
  unsigned dirty_io_threads = 10;
  // Flood affinity (docs/design/scheduler.md): a process that spends a time slice
  // sending into a large backlog (1,024 messages or more) of a process on another
  // worker, its sends at most flood_send_cost apart on average, moves to that
  // worker and stays there, out of reach of work stealing, while it keeps
  // flooding; the receiver reads the messages from its own cache, and the
  // penalty on sends into a backlog slows the senders down. Off: processes stay
  // where work stealing puts them.
  bool flood_affinity = true;
  std::chrono::nanoseconds flood_send_cost{128};
  // SIGTERM and SIGINT shut the node down in order, as Erlang's init:stop(): the
  // processes spawned with node::spawn, newest first, are sent exit(shutdown) and
  // waited for with the processes linked to them (a supervision tree stops its
  // children in reverse start order, each within its shutdown time), then run()
  // returns; a second signal stops it at once. SIGQUIT prints every process with
  // what it waits for, and where, on stderr. Off: the signals keep the program's
  // own handling. (Handled while run() runs.)
  bool handle_os_signals = true;
  // How long the shutdown waits for each process spawned with node::spawn and the
  // processes linked to it; none: as long as they take (Erlang's default).
  std::optional<std::chrono::milliseconds> shutdown_timeout;
  // Opt-in: when run() has had no runnable process for this long (every process
  // waits: a receive nothing will answer, a forgotten timer...), say so on stderr
  // with what each process waits for and where; repeated for as long as it lasts,
  // one line while nothing changes, half as often each time. 0: off.
  std::chrono::milliseconds idle_report{0};
  // Asynchronous preemption (docs/design/preemption.md): a process that runs for
  // longer than preempt_after without reaching a suspension point keeps running on
  // its own thread at a lower OS priority while its worker moves on. At most
  // max_preempted_threads such threads exist at once; beyond that, long-running
  // processes keep their workers (with a warning). The signal is SIGURG unless
  // preemption_signal names another.
  bool preemption = true;
  std::chrono::microseconds preempt_after{2000};
  unsigned max_preempted_threads = 256;
  int preemption_signal = 0;
  // The scheduling timeline (docs/observer.md, "Timeline"): each worker keeps its
  // last timeline_events runs, parks, steals and hand-offs in a ring (8 bytes each;
  // rounded up to a power of two; 0: no timeline). On by default: 9 instructions a
  // run, 1 to 1.5 % of the lightest runs (docs/design/timeline.md).
  std::size_t timeline_events = 65536;
  // The observer's web server: off unless set. It runs as processes of the node
  // that do not keep run() going: a program ends when its own processes have, as
  // without it. Off, it costs nothing.
  std::optional<observer_options> observer;

  static unsigned default_schedulers() noexcept {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
  }
  // Reads --schedulers N, --max-processes N, --deterministic SEED, --no-preemption,
  // --no-flood-affinity, --idle-report SECONDS, --timeline-events N and the observer's --observer
  // PORT,
  // --observer-address ADDRESS, --observer-manage, --observer-token TOKEN and
  // --observer-record DIR
  // (ignored without --observer) from the command line (other arguments are left
  // for the program).
  static node_options from_args(int argc, char** argv);
};

struct node_statistics {
  std::uint64_t processes_spawned;
  std::uint64_t processes_exited;
  std::uint64_t live_processes;
  std::uint64_t preemptions;        // times a worker moved on without its running process
  std::uint32_t preempted_threads;  // threads now running a preempted process
  std::uint32_t spare_threads;      // threads ready to take a worker over
  std::uint64_t flood_migrations;   // processes moved to the worker they flood
};

class node {
 public:
  explicit node(node_options options = {});
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Spawns a process from outside (any thread); it runs once run() is going.
  template <class F, class... Args>
  pid spawn(F&& f, Args&&... args) {
    return spawn_opt({}, std::forward<F>(f), std::forward<Args>(args)...).pid;
  }
  template <class F, class... Args>
  spawn_result spawn_opt(const spawn_options& options, F&& f, Args&&... args) {
    entered_api guard(*runtime_);
    spawn_result spawned =
        detail::spawn_in(*runtime_, options, std::forward<F>(f), std::forward<Args>(args)...);
    note_root(spawned.pid);
    return spawned;
  }

  // Sends from outside any process (to a pid, or to a process alias).
  template <class... Ts>
  void send(const pid& to, Ts&&... values) {
    entered_api guard(*runtime_);
    beamline::send(to, std::forward<Ts>(values)...);
  }
  template <class... Ts>
  void send(const ref& alias, Ts&&... values) {
    entered_api guard(*runtime_);
    beamline::send(alias, std::forward<Ts>(values)...);
  }

  // Runs until every process has ended or stop() is called; returns 0.
  int run();
  // Asks run() to return (from any thread or process); processes stay until the
  // node is destroyed or run() is called again.
  void stop() noexcept;

  ref make_ref();
  node_statistics statistics() const noexcept;
  // The processes alive now, in pid order (a snapshot; bl::processes() inside one).
  std::vector<pid> processes() const;
  const node_options& options() const noexcept;
  // The dashboard's address, as printed when the node started ("http://127.0.0.1:
  // PORT/", with "?token=..." when one is needed); empty when the observer is off.
  const std::string& observer_url() const noexcept { return observer_url_; }

  // Kills every remaining process (their frames are destroyed, RAII runs) without
  // running the node; run() must not be active.
  void shut_down() noexcept;

  detail::node_runtime& runtime() noexcept { return *runtime_; }

 private:
  // Remembers a process spawned from outside (the orderly shutdown stops these).
  void note_root(const pid& p);

  // Makes the calling thread send/spawn through this node while in scope.
  class entered_api {
   public:
    explicit entered_api(detail::node_runtime& node) noexcept;
    ~entered_api();

   private:
    detail::node_runtime* previous_;
    detail::worker_state* previous_worker_;
  };

  std::unique_ptr<detail::node_runtime> runtime_;
  std::string observer_url_;
};

}  // namespace beamline
