// dirty_pools.cpp: see dirty_pools.hpp.
#include "core/dirty_pools.hpp"

#include <cstdint>
#include <cstdio>
#include <deque>
#include <system_error>
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
  condition_variable work;   // a job queued, or stopping
  condition_variable start;  // a thread wanted, or stopping
  std::deque<blocking_job*> queues[2] BL_GUARDED_BY(lock);
  unsigned threads[2] BL_GUARDED_BY(lock) = {0, 0};
  unsigned idle[2] BL_GUARDED_BY(lock) = {0, 0};
  unsigned wanted[2] BL_GUARDED_BY(lock) = {0, 0};  // threads for the starter to start
  bool stopping BL_GUARDED_BY(lock) = false;

  // Taken by a pool thread to deliver a finished job, so that the node cannot go
  // away during the delivery. Never held with `lock`.
  mutex node_lock;
  node_runtime* node BL_GUARDED_BY(node_lock);  // null once the node is gone
};

// A job ran (or failed): its process is woken, unless the node is gone.
void dirty_pools::finish(shared& state, blocking_job* job) {
  job->done.store(true, std::memory_order_release);
  {
    lock_guard guard(state.node_lock);
    if (state.node != nullptr) state.node->wake(job->requester);
  }
  job->release();
}

// A pool thread: runs pool k's jobs until the pools stop.
void dirty_pools::serve(const std::shared_ptr<shared>& state, int k) {
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
    finish(*state, next);
    lock.lock();
  }
  --state->threads[k];
}

// The starter: starts the pool threads that submit() asks for, at the node's OS
// priority (dirty_pools.hpp).
void dirty_pools::start_threads(const std::shared_ptr<shared>& state) {
  unique_lock lock(state->lock);
  for (;;) {
    while (!state->stopping && state->wanted[0] == 0 && state->wanted[1] == 0)
      state->start.wait(lock);
    if (state->stopping) return;
    const int k = state->wanted[0] != 0 ? 0 : 1;
    --state->wanted[k];
    lock.unlock();
    try {
      std::thread([state, k] { serve(state, k); }).detach();
      lock.lock();
    } catch (const std::system_error& e) {
      // Out of threads: the calls wait for the pool's other threads; with none,
      // they fail with this error rather than wait for ever.
      std::fprintf(stderr, "beamline: a blocking pool thread could not start: %s\n", e.what());
      std::deque<blocking_job*> failed;
      lock.lock();
      if (--state->threads[k] == 0) failed.swap(state->queues[k]);
      lock.unlock();
      for (blocking_job* job : failed) {
        job->fail(std::make_exception_ptr(e));
        finish(*state, job);
      }
      lock.lock();
    }
  }
}

dirty_pools::dirty_pools(node_runtime& node, unsigned cpu_threads, unsigned io_threads)
    : state_(std::make_shared<shared>(node, cpu_threads, io_threads)) {
  sched::process_signals_blocked for_the_new_threads;  // inherited by the pool threads
  std::thread([state = state_] { start_threads(state); }).detach();
}

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
  state_->start.notify_all();
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
      ++state_->wanted[k];
      start_thread = true;
    }
  }
  if (start_thread)
    state_->start.notify_one();
  else
    state_->work.notify_all();
}

void submit_blocking(node_runtime& node, dirty_pool pool, blocking_job* job) {
  node.dirty().submit(pool, job);
}

}  // namespace beamline::detail
