// W7 churn on Boost.Fiber, the peer of bench/workloads/churn.cpp: 1,000,000 fibers
// started in batches (at most 10,000 alive, refilled when half have gone), each
// exits at once; the spawner collects a notice of every exit. RESULT: wall_ms.
//
// Boost.Fiber has no monitors: the equivalent of a DOWN is each fiber pushing its
// id into the spawner's mailbox as it ends; the fibers are detached. The mailbox
// holds 16,383 notices (more than can be alive), so an ending fiber never waits.
//
// Fibers are started with launch::dispatch: each runs to its end at once and its
// stack goes straight back to the allocator for the next. With launch::post a
// batch of 10,000 16 KiB stacks is allocated, touched and freed (and trimmed back
// to the kernel) at a time, which made the run about 12x slower here.
#include <algorithm>

#include "fiber_support.hpp"

using down_mailbox_type = boost::fibers::buffered_channel<long>;

void short_lived(long id, down_mailbox_type* down) { down->push(id); }

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long total = peer::scaled(args, 1'000'000);
  const long max_alive = 10'000;
  long downs = 0;
  double wall_ms = 0;
  {
    peer::work_stealing_threads threads(args.threads);
    down_mailbox_type down(16 * 1024);
    auto start = peer::clock_type::now();
    long spawned = 0;
    while (downs < total) {
      long batch = std::min(max_alive - (spawned - downs), total - spawned);
      for (long i = 0; i < batch; ++i) peer::launch(boost::fibers::launch::dispatch, short_lived, spawned + i, &down).detach();
      spawned += batch;
      long target = std::min(total, downs + max_alive / 2);  // refill at half
      while (downs < target) {
        down.value_pop();
        ++downs;
      }
    }
    wall_ms = peer::milliseconds_between(start, peer::clock_type::now());
  }
  peer::report("churn", downs == total, args, {{"processes", total}}, {{"wall_ms", wall_ms}});
}
