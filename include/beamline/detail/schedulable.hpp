// beamline/detail/schedulable.hpp: what the scheduler needs to know of a task.
//
// The scheduler (src/sched) runs tasks without knowing what they are; a process
// control block derives from this header. The fields are written by the task's
// owner while it is not queued, and read by the worker that dequeues it.
#pragma once

#include <cstdint>

#include "beamline/priority.hpp"

namespace beamline::detail {

struct schedulable {
  beamline::priority priority = beamline::priority::normal;
  std::uint8_t low_skip = 0;  // turns a low-priority task still gives up (sched owned)
  // Set by the task's owner while it runs: when it yields it stays on the worker
  // it ran on, in a list thieves do not take from (flood affinity,
  // docs/design/scheduler.md). Normal priority only.
  std::uint8_t affine = 0;
};

}  // namespace beamline::detail
