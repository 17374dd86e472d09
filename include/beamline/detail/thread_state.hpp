// beamline/detail/thread_state.hpp: what the calling thread is doing for beamline.
//
// One instance per thread. The scheduler sets `worker` and `budget` on its worker
// threads; the core sets `node` and `process` while a process runs. Outside any
// process (a program's main thread, a test thread) `process` is null.
#pragma once

#include <cstdint>

namespace beamline::detail {

class process_control;
class node_runtime;

struct thread_state {
  void* worker = nullptr;              // the sched::worker running on this thread, if any
  node_runtime* node = nullptr;        // the node whose process runs here
  void* node_worker = nullptr;         // that node's per-worker state, on its workers
  process_control* process = nullptr;  // the process running on this thread, if any
  std::int32_t budget = 0;             // reductions left in the current time slice
  std::int32_t critical_depth = 0;     // > 0 inside runtime critical sections
};

// constinit: no dynamic initialisation, so other files access it without a TLS
// wrapper call (it is read on every send and receive).
extern constinit thread_local thread_state this_thread;

}  // namespace beamline::detail
