// dirty_pools.cpp: see dirty_pools.hpp.
#include "core/dirty_pools.hpp"

#include <cstdint>
#include <deque>
#include <thread>

#include "beamline/detail/thread_safety.hpp"
#include "core/node_runtime.hpp"
#include "sched/thread_signals.hpp"

namespace beamline::detail {

// Per pool (index 0: cpu, 1: io).
struct dirty_pools::shared {
  shared(node_runtime& n, unsigned cpu_threads, unsigned io_threads)
      : limit{cpu_threads == 0 ? 1 : cpu_threads, io_threads == 0 ? 1 : io_threads}, node(&n) {}

  const unsigned limit[2];  // threads at most

  mutex lock;
  condition_variable work;  // a job queued, or stopping
  std::deque<blocking_job*> queues[2] BL_GUARDED_BY(lock);
  unsigned threads[2] BL_GUARDED_BY(lock) = {0, 0};
  unsigned idle[2] BL_GUARDED_BY(lock) = {0, 0};
  bool stopping BL_GUARDED_BY(lock) = false;

  // Taken by a pool thread to deliver a finished job, so that the node cannot go
  // away during the delivery. Never held with `lock`.
  mutex node_lock;
  node_runtime* node BL_GUARDED_BY(node_lock);  // null once the node is gone
};

dirty_pools::dirty_pools(node_runtime& node, unsigned cpu_threads, unsigned io_threads)
    : state_(std::make_shared<shared>(node, cpu_threads, io_threads)) {}

dirty_pools::~dirty_pools() {
  std::deque<blocking_job*> unstarted;
  {
    lock_guard guard(state_->lock);
    state_->stopping = true;
    for (auto& q : state_->queues) {
      unstarted.insert(unstarted.end(), q.begin(), q.end());
      q.clear();
    }
  }
  state_->work.notify_all();
  {
    lock_guard guard(state_->node_lock);
    state_->node = nullptr;
  }
  for (blocking_job* job : unstarted) job->release();
}

void dirty_pools::submit(dirty_pool pool, blocking_job* job) {
  const int k = pool == dirty_pool::cpu ? 0 : 1;
  bool start_thread = false;
  {
    lock_guard guard(state_->lock);
    state_->queues[k].push_back(job);
    if (state_->idle[k] == 0 && state_->threads[k] < state_->limit[k]) {
      ++state_->threads[k];
      start_thread = true;
    }
  }
  if (!start_thread) {
    state_->work.notify_all();
    return;
  }
  sched::process_signals_blocked for_the_new_thread;
  std::thread([state = state_, k] {
    unique_lock lock(state->lock);
    for (;;) {
      ++state->idle[k];
      while (!state->stopping && state->queues[k].empty()) state->work.wait(lock);
      --state->idle[k];
      if (state->stopping) break;
      blocking_job* next = state->queues[k].front();
      state->queues[k].pop_front();
      lock.unlock();
      next->run();
      next->done.store(true, std::memory_order_release);
      {
        lock_guard guard(state->node_lock);
        if (state->node != nullptr) state->node->wake(next->requester);
      }
      next->release();
      lock.lock();
    }
    --state->threads[k];
  }).detach();
}

void submit_blocking(node_runtime& node, dirty_pool pool, blocking_job* job) {
  node.dirty().submit(pool, job);
}

}  // namespace beamline::detail
