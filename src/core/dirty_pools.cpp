// dirty_pools.cpp: see dirty_pools.hpp.
#include "core/dirty_pools.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "core/node_runtime.hpp"
#include "core/signals.hpp"

namespace beamline::detail {

struct dirty_pools::shared {
  std::mutex lock;
  std::condition_variable work;
  std::deque<blocking_job*> queues[2];
  unsigned limit[2] = {1, 1};
  unsigned threads[2] = {0, 0};
  unsigned idle[2] = {0, 0};
  bool stopping = false;

  std::mutex node_lock;
  node_runtime* node = nullptr;  // null once the node is gone
};

dirty_pools::dirty_pools(node_runtime& node, unsigned cpu_threads, unsigned io_threads)
    : state_(std::make_shared<shared>()) {
  state_->node = &node;
  state_->limit[0] = cpu_threads == 0 ? 1 : cpu_threads;
  state_->limit[1] = io_threads == 0 ? 1 : io_threads;
}

dirty_pools::~dirty_pools() {
  std::deque<blocking_job*> unstarted;
  {
    std::lock_guard guard(state_->lock);
    state_->stopping = true;
    for (auto& q : state_->queues) {
      unstarted.insert(unstarted.end(), q.begin(), q.end());
      q.clear();
    }
  }
  state_->work.notify_all();
  {
    std::lock_guard guard(state_->node_lock);
    state_->node = nullptr;
  }
  for (blocking_job* job : unstarted) job->release();
}

void dirty_pools::submit(dirty_pool pool, blocking_job* job) {
  const int k = pool == dirty_pool::cpu ? 0 : 1;
  bool start_thread = false;
  {
    std::lock_guard guard(state_->lock);
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
  std::thread([state = state_, k] {
    std::unique_lock lock(state->lock);
    for (;;) {
      ++state->idle[k];
      state->work.wait(lock, [&] { return state->stopping || !state->queues[k].empty(); });
      --state->idle[k];
      if (state->stopping) break;
      blocking_job* next = state->queues[k].front();
      state->queues[k].pop_front();
      lock.unlock();
      next->run();
      next->done.store(true, std::memory_order_release);
      {
        std::lock_guard guard(state->node_lock);
        if (state->node != nullptr)
          state->node->deliver(next->requester, make_control_signal(signal_kind::timeout, pid{}, {},
                                                                    wake_only_epoch));
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
