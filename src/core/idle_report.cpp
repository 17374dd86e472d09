// idle_report.cpp: see idle_report.hpp.
#include "core/idle_report.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

#include "beamline/detail/thread_safety.hpp"
#include "core/node_runtime.hpp"
#include "core/outside_spawn.hpp"
#include "core/process_dump.hpp"
#include "sched/thread_signals.hpp"

namespace beamline::detail {

struct idle_watch_state {
  node_runtime* node;
  std::chrono::milliseconds period;

  mutex lock;
  condition_variable wake;
  bool stopping BL_GUARDED_BY(lock) = false;
  bool reporting BL_GUARDED_BY(lock) = false;  // a report process is at work
  bool report_ended BL_GUARDED_BY(lock) = false;
  std::string last_signature BL_GUARDED_BY(lock);               // of the last report
  std::chrono::milliseconds next_after BL_GUARDED_BY(lock){0};  // idle time before the next
};

namespace {

std::string seconds(std::chrono::steady_clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s",
                std::chrono::duration_cast<std::chrono::duration<double>>(d).count());
  return text;
}

process report_idle(std::shared_ptr<idle_watch_state> s, std::chrono::steady_clock::duration idle) {
  process_dump dump = co_await describe_processes(s->node->live_pids());
  std::string out = "beamline: run() has had no runnable process for ";
  out += seconds(idle);
  lock_guard guard(s->lock);
  if (dump.signature == s->last_signature) {
    out += "; every process waits as in the last report\n";
    s->next_after *= 2;
  } else {
    out += "; ";
    out += std::to_string(dump.processes);
    out += dump.processes == 1 ? " process waits:\n" : " processes wait:\n";
    out += dump.lines;
    s->last_signature = std::move(dump.signature);
    s->next_after = s->period;
  }
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
  // The report's own work (this process, each process answering it) is not a sign
  // of life.
  s->report_ended = true;
  s->reporting = false;
  s->wake.notify_all();
}

void watch(const std::shared_ptr<idle_watch_state>& s) {
  sched::scheduler& scheduler = s->node->scheduler();
  const auto step = std::clamp<std::chrono::milliseconds>(
      s->period / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
  std::uint64_t seen = scheduler.runs();
  auto idle_since = std::chrono::steady_clock::now();  // quiet since (or since the last report)
  auto episode_start = idle_since;                     // quiet since, reports aside
  bool idle = false;
  bool recount = false;
  unique_lock guard(s->lock);
  for (;;) {
    if (!s->stopping) s->wake.wait_for(guard, step);
    if (s->stopping) return;
    if (s->reporting) continue;
    const auto now = std::chrono::steady_clock::now();
    const std::uint64_t runs = scheduler.runs();
    // After a report, count from the next look: the report's process ends in a run
    // of its own after it has said so.
    if (std::exchange(s->report_ended, false)) {
      recount = true;
      continue;
    }
    if (std::exchange(recount, false)) {
      seen = runs;
      idle_since = now;
      if (!scheduler.all_parked()) idle = false;
      continue;
    }
    if (runs != seen || !scheduler.all_parked()) {
      seen = runs;
      idle = false;
      s->next_after = s->period;
      s->last_signature.clear();
      continue;
    }
    if (!idle) {
      idle = true;
      idle_since = episode_start = now;
      continue;
    }
    if (now - idle_since < s->next_after) continue;
    s->reporting = true;
    guard.unlock();
    spawn_from_outside(*s->node,
                       [s, idle = now - episode_start]() { return report_idle(s, idle); });
    guard.lock();
  }
}

}  // namespace

idle_watch::idle_watch(node_runtime& node, std::chrono::milliseconds period)
    : state_(std::make_shared<idle_watch_state>()) {
  state_->node = &node;
  state_->period = period;
  state_->next_after = period;
  sched::process_signals_blocked for_the_new_thread;
  thread_ = std::thread([s = state_] { watch(s); });
}

idle_watch::~idle_watch() {
  {
    lock_guard guard(state_->lock);
    state_->stopping = true;
    state_->wake.notify_all();
  }
  thread_.join();
}

}  // namespace beamline::detail
