// W3 ring on Boost.Fiber, the peer of bench/workloads/ring.cpp: 10,000 fibers in a
// ring (the main fiber leads), a token counting down from 1,000,000 hops goes
// round 100 times; a member that sees the count reach zero passes it on and
// exits, so the ring unwinds behind it. RESULT: ns_per_hop.
//
// Each member's mailbox is a buffered_channel of two slots (room for the one
// token), so a push does not wait for the receiver to be scheduled.
#include <memory>

#include "fiber_support.hpp"

using mailbox_type = boost::fibers::buffered_channel<long>;

void member(mailbox_type* mailbox, mailbox_type* next) {
  for (;;) {
    long left = mailbox->value_pop();
    next->push(left - 1);
    if (left <= 0) return;
  }
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long size = 10'000;
  const long hops = peer::scaled(args, 1'000'000);
  long counted = 0;
  double ns_per_hop = 0;
  {
    peer::work_stealing_threads threads(args.threads);
    std::vector<std::unique_ptr<mailbox_type>> mailboxes;
    std::vector<boost::fibers::fiber> members;
    mailboxes.push_back(std::make_unique<mailbox_type>(2));
    mailbox_type* leader = mailboxes.back().get();
    mailbox_type* next = leader;
    for (long i = 1; i < size; ++i) {
      mailboxes.push_back(std::make_unique<mailbox_type>(2));
      members.push_back(peer::launch(member, mailboxes.back().get(), next));
      next = mailboxes.back().get();
    }
    auto start = peer::clock_type::now();
    next->push(hops - 1);
    counted = 1;
    for (;;) {
      long left = leader->value_pop();
      ++counted;
      next->push(left - 1);
      if (left <= 0) break;
    }
    ns_per_hop = peer::milliseconds_between(start, peer::clock_type::now()) * 1e6 / static_cast<double>(hops);
    for (auto& fiber : members) fiber.join();
  }
  // The leader handles one hop in `size`: hops / size + 1 receives plus its send.
  peer::report("ring", counted == hops / size + 1, args, {{"processes", size}, {"hops", hops}},
               {{"ns_per_hop", ns_per_hop}});
}
