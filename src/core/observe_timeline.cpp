// observe_timeline.cpp: observe::timeline, the workers' timeline rings read back
// as runs on lanes (sched/timeline.hpp says what a ring holds; docs/design/timeline.md
// why runs carry no time of their own).
#include <algorithm>
#include <unordered_set>

#include "beamline/detail/thread_state.hpp"
#include "beamline/observe.hpp"
#include "core/node_runtime.hpp"
#include "core/observe_timeline.hpp"
#include "core/process_stats.hpp"
#include "sched/timeline.hpp"

namespace beamline::observe {

namespace {

using sched::trace_event;
using sched::trace_kind;

// One worker's ring as a lane. Runs between two timed marks share the time between
// them evenly; runs before the ring's first mark have no time and are left out.
timeline_lane lane_of(unsigned worker, const std::vector<trace_event>& events, std::int64_t now) {
  timeline_lane lane;
  lane.worker = worker;
  std::vector<trace_event> pending;  // runs since the last mark
  std::optional<std::int64_t> last;  // the last mark's time
  std::int64_t parked_at = -1;       // asleep since (-1: awake)
  auto place = [&](std::int64_t until, bool handed_off) {
    if (pending.empty()) return;
    if (last) {
      const std::int64_t from = std::min(*last, until);
      const std::int64_t span = until - from;
      const auto n = static_cast<std::int64_t>(pending.size());
      for (std::int64_t i = 0; i < n; ++i) {
        const trace_event e = pending[static_cast<std::size_t>(i)];
        timeline_run run;
        run.process = pid{e.slot(), e.serial(), 0, 0};
        run.start_ns = from + span * i / n;
        run.end_ns = from + span * (i + 1) / n;
        run.handed_off = handed_off && i == n - 1;
        lane.runs.push_back(run);
      }
    }
    pending.clear();
  };
  for (const trace_event e : events) {
    const trace_kind kind = e.kind();
    if (kind == trace_kind::run) {
      pending.push_back(e);
      continue;
    }
    const std::int64_t at = std::min(e.time(now), now);
    place(at, kind == trace_kind::handoff);
    switch (kind) {
      case trace_kind::park:
        parked_at = at;
        break;
      case trace_kind::unpark:
        if (parked_at >= 0) lane.parked.emplace_back(parked_at, at);
        parked_at = -1;
        break;
      case trace_kind::steal:
        lane.steals.emplace_back(at, e.aux());
        break;
      default:
        break;
    }
    last = at;
  }
  place(now, false);
  if (parked_at >= 0) lane.parked.emplace_back(parked_at, now);
  return lane;
}

// Drops what ended before `from` and merges neighbouring runs shorter than
// `resolution` (each merged span named after its longest run).
void trim(timeline_lane& lane, std::int64_t from, std::int64_t resolution) {
  std::vector<timeline_run> kept;
  std::int64_t longest = 0;
  for (const timeline_run& run : lane.runs) {
    if (run.end_ns < from) continue;
    const std::int64_t length = run.end_ns - run.start_ns;
    if (!kept.empty() && resolution > 0) {
      timeline_run& prev = kept.back();
      const bool short_ones = prev.end_ns - prev.start_ns < resolution && length < resolution;
      if (short_ones && run.start_ns - prev.end_ns < resolution) {
        if (length > longest) {
          longest = length;
          prev.process = run.process;
        }
        prev.end_ns = run.end_ns;
        prev.handed_off = run.handed_off;
        prev.runs += run.runs;
        continue;
      }
    }
    kept.push_back(run);
    longest = length;
  }
  lane.runs = std::move(kept);
  std::erase_if(lane.parked, [from](const auto& p) { return p.second < from; });
  std::erase_if(lane.steals, [from](const auto& s) { return s.first < from; });
}

// A process's label: its registered name, else the function it started in.
std::string label_of(beamline::detail::node_runtime& node, const pid& p) {
  const beamline::detail::process_slot& slot = node.table().at(p.id);
  const std::uint32_t serial = slot.serial.load(std::memory_order_acquire);
  if ((serial & 0x7fffffff) != p.serial) return {};  // gone
  if (const std::uint32_t name = slot.name.load(std::memory_order_acquire); name != 0)
    return std::string(atom::from_index(name - 1).name());
  if (const beamline::detail::stats_table* stats = node.stats()) {
    const beamline::detail::process_stats& s = stats->at(p.id);
    if (s.serial.load(std::memory_order_acquire) == serial + 1)
      if (const char* f = s.initial_function.load(std::memory_order_relaxed)) return f;
  }
  return {};
}

}  // namespace

namespace detail {

timeline_copy copy_timeline() {
  timeline_copy copy;
  copy.node = beamline::detail::this_thread.node;
  if (copy.node == nullptr)
    copy.node = &beamline::detail::current_process("observe::timeline").node();
  sched::scheduler& scheduler = copy.node->scheduler();
  for (unsigned i = 0; i < scheduler.worker_count(); ++i)
    copy.rings.push_back(scheduler.timeline(i));
  copy.now_ns = sched::scheduler::now_ns();  // after the copies: no event is newer
  return copy;
}

scheduling_timeline lanes_of(const timeline_copy& copy, std::chrono::milliseconds window,
                             std::chrono::nanoseconds resolution) {
  scheduling_timeline out;
  out.now_ns = copy.now_ns;
  out.from_ns = out.now_ns - std::chrono::nanoseconds(window).count();
  std::unordered_set<std::uint64_t> seen;
  for (unsigned i = 0; i < copy.rings.size(); ++i) {
    timeline_lane lane = lane_of(i, copy.rings[i], out.now_ns);
    trim(lane, out.from_ns, resolution.count());
    for (const timeline_run& run : lane.runs) {
      const std::uint64_t key = std::uint64_t{run.process.serial} << 32 | run.process.id;
      if (seen.insert(key).second)
        out.labels.emplace_back(run.process, label_of(*copy.node, run.process));
    }
    out.lanes.push_back(std::move(lane));
  }
  return out;
}

}  // namespace detail

scheduling_timeline timeline(std::chrono::milliseconds window,
                             std::chrono::nanoseconds resolution) {
  return detail::lanes_of(detail::copy_timeline(), window, resolution);
}

}  // namespace beamline::observe
