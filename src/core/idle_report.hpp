// idle_report.hpp: node_options::idle_report: a node whose run() has had no runnable
// process for that long says so on stderr, with what every process is waiting for
// (docs/guide.md, "When nothing runs").
//
// A thread of the node looks every quarter of the period (at most every second)
// whether every worker is parked and no task has run since the last look
// (sched::scheduler::all_parked, runs). After a full period of that it spawns a
// process that describes every process and prints the report; the report's own
// runs (its process, each process answering it) do not count: the watcher counts
// again from its second look after the report. A report that finds
// every process as the previous one did prints one line instead, and the period
// until the next one doubles; any change starts again from the configured period.
#pragma once

#include <chrono>
#include <memory>
#include <thread>

namespace beamline::detail {

class node_runtime;
struct idle_watch_state;

// While alive: `node` runs with its idle report on.
class idle_watch {
 public:
  idle_watch(node_runtime& node, std::chrono::milliseconds period);
  ~idle_watch();
  idle_watch(const idle_watch&) = delete;
  idle_watch& operator=(const idle_watch&) = delete;

 private:
  std::shared_ptr<idle_watch_state> state_;
  std::thread thread_;
};

}  // namespace beamline::detail
