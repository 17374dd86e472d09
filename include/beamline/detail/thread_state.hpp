// beamline/detail/thread_state.hpp: what the calling thread is doing for beamline.
//
// One instance per thread. The scheduler sets `worker` and `budget` on its worker
// threads; the core sets `node` and `process` while a process runs. Outside any
// process (a program's main thread, a test thread) `process` is null.
//
// Preemption (docs/design/preemption.md) reads this structure from a signal handler
// running on the same thread, so the fields it reads are lock-free atomics accessed
// with plain (relaxed) loads and stores: no read-modify-write on any hot path.
#pragma once

#include <atomic>
#include <cstdint>

namespace beamline::sched {
class worker;
class timeline_ring;
}  // namespace beamline::sched

namespace beamline::detail {

class process_control;
class node_runtime;
struct worker_state;

struct thread_state {
  sched::worker* worker = nullptr;           // the scheduler worker this thread runs, if any
  node_runtime* node = nullptr;              // the node whose process runs here
  worker_state* node_worker = nullptr;       // that node's per-worker state, on its workers
  process_control* process = nullptr;        // the process running on this thread, if any
  std::int32_t budget = 0;                   // reductions left in the current time slice
  std::uint32_t new_frame_bytes = 0;         // the size of the process frame allocated last
  sched::timeline_ring* timeline = nullptr;  // that worker's timeline, when it keeps one

  // > 0 while the thread runs runtime code that must not lose its worker midway
  // (and always on threads that are not running a process's own code). A
  // preemption signal that arrives then is deferred to the end of the section.
  std::atomic<std::int32_t> critical_depth{1};
  std::atomic<bool> handoff_pending{false};
};

// constinit: no dynamic initialisation, so other files access it without a TLS
// wrapper call (it is read on every send and receive), and a signal handler may.
extern constinit thread_local thread_state this_thread;

// Completes a preemption deferred while the thread was in a critical section.
void complete_deferred_handoff() noexcept;

// Marks runtime code that uses the calling thread's worker (its queues, caches,
// counters): the thread cannot be preempted away from its worker inside it.
class critical_section {
 public:
  critical_section() noexcept {
    auto& d = this_thread.critical_depth;
    d.store(d.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // order against the handler
  }
  ~critical_section() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    auto& d = this_thread.critical_depth;
    std::int32_t depth = d.load(std::memory_order_relaxed) - 1;
    d.store(depth, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (depth == 0 && this_thread.handoff_pending.load(std::memory_order_relaxed))
      complete_deferred_handoff();
  }
  critical_section(const critical_section&) = delete;
  critical_section& operator=(const critical_section&) = delete;
};

}  // namespace beamline::detail
