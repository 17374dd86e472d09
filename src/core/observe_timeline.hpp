// observe_timeline.hpp: observe::timeline in two steps, for a caller that reads the
// rings on its worker and builds the lanes elsewhere (the observer builds them on a
// blocking thread: a busy ring is tens of milliseconds of work, and a run that long
// on a worker is preempted and finishes at a low OS priority).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "beamline/observe.hpp"
#include "sched/timeline.hpp"

namespace beamline::detail {
class node_runtime;
}

namespace beamline::observe::detail {

// Every worker's ring as it is now.
struct timeline_copy {
  beamline::detail::node_runtime* node = nullptr;
  std::vector<std::vector<sched::trace_event>> rings;  // one per worker
  std::int64_t now_ns = 0;                             // read after the copies
};

// On a thread of the node (a process, or a thread that runs the node).
timeline_copy copy_timeline();
// On any thread while the node runs.
scheduling_timeline lanes_of(const timeline_copy& copy, std::chrono::milliseconds window,
                             std::chrono::nanoseconds resolution);

}  // namespace beamline::observe::detail
