// W1 skynet on Boost.Fiber, the peer of bench/workloads/skynet.cpp: a root fiber
// starts 10 children, each 10 more, down to 1,000,000 leaves (at --scale 1; the
// tree stays a power of ten, so scale picks the depth); leaf i pushes i into its
// parent's mailbox, parents sum their 10 children and push up. RESULT: wall_ms.
//
// A parent's mailbox is a buffered_channel on its own stack with room for all 10
// children, so a child's push never waits. Children are started with
// launch::dispatch (the child runs at once, the parent goes back to the ready
// queue): depth-first, like CAF, so the live tree stays small. With launch::post
// the whole tree of 1.1 million fibers is alive at once (about 9 GB of stacks).
#include "fiber_support.hpp"

using mailbox_type = boost::fibers::buffered_channel<long>;

void skynet(mailbox_type* parent, long number, long size) {
  if (size == 1) {
    parent->push(number);
    return;
  }
  long child = size / 10;
  mailbox_type mailbox(16);  // a power of two; holds 15
  for (long i = 0; i < 10; ++i)
    peer::launch(boost::fibers::launch::dispatch, skynet, &mailbox, number + i * child, child).detach();
  long sum = 0;
  for (int i = 0; i < 10; ++i) sum += mailbox.value_pop();
  parent->push(sum);
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  long leaves = 1;
  while (leaves * 10 <= peer::scaled(args, 1'000'000)) leaves *= 10;
  long sum = -1;
  double wall_ms = 0;
  {
    peer::work_stealing_threads threads(args.threads);
    auto start = peer::clock_type::now();
    mailbox_type result(2);
    peer::launch(skynet, &result, 0L, leaves).detach();
    sum = result.value_pop();
    wall_ms = peer::milliseconds_between(start, peer::clock_type::now());
  }
  peer::report("skynet", sum == leaves * (leaves - 1) / 2, args, {{"leaves", leaves}}, {{"wall_ms", wall_ms}});
}
