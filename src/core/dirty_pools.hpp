// dirty_pools.hpp: the node's thread pools for bl::blocking calls.
//
// Two pools, `cpu` and `io`, each a FIFO of jobs served by threads started on
// demand up to a limit. A finished job is marked done and its process is woken by
// a signal through its inbox, the same path as a message, so a process waiting on
// a blocking call still handles exit signals.
//
// Lifetime: the pools' shared state is owned by the node and by every pool thread,
// so a call that is still running when the node goes away does not hold the node
// up; it finishes, finds the node detached (under `node_lock`) and delivers nothing.
//
// Pool threads are started by the pools' own starter thread, itself started with
// the node: a thread inherits its creator's OS priority, and a process whose run
// was preempted finishes it at a low one (nice 19: sched/preemption.cpp), which an
// unprivileged thread cannot raise again. A pool thread started by such a process
// would serve every later call at nice 19, and on a loaded machine take seconds
// where it needs milliseconds.
#pragma once

#include <memory>

#include "beamline/blocking.hpp"

namespace beamline::detail {

class node_runtime;

class dirty_pools {
 public:
  dirty_pools(node_runtime& node, unsigned cpu_threads, unsigned io_threads);
  ~dirty_pools();
  dirty_pools(const dirty_pools&) = delete;
  dirty_pools& operator=(const dirty_pools&) = delete;

  void submit(dirty_pool pool, blocking_job* job);

 private:
  struct shared;
  static void serve(const std::shared_ptr<shared>& state, int k);
  static void start_threads(const std::shared_ptr<shared>& state);
  static void finish(shared& state, blocking_job* job);
  std::shared_ptr<shared> state_;
};

}  // namespace beamline::detail
