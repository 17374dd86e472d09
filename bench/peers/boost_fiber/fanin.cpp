// W5 fanin on Boost.Fiber, the peer of bench/workloads/fanin.cpp: 100 fibers each
// push the integers 0 .. 99,999 into the main fiber's mailbox, which sums all
// 10,000,000. The clock runs from the first fiber started to the last receive.
// RESULT: msgs_per_sec.
//
// A buffered_channel is bounded where a mailbox is not: the receiver's holds 1,023
// values (capacity 1,024, a power of two as Boost requires), the same as the Go
// peer's channel, enough that senders rarely wait on it.
#include "fiber_support.hpp"

using mailbox_type = boost::fibers::buffered_channel<long>;
constexpr std::size_t mailbox_capacity = 1024;

void sender(mailbox_type* to, long count) {
  for (long i = 0; i < count; ++i) to->push(i);
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long senders = 100;
  const long per_sender = peer::scaled(args, 100'000);
  long sum = 0;
  double seconds = 0;
  {
    peer::work_stealing_threads threads(args.threads);
    mailbox_type mailbox(mailbox_capacity);
    std::vector<boost::fibers::fiber> fibers;
    auto start = peer::clock_type::now();
    for (long s = 0; s < senders; ++s) fibers.push_back(peer::launch(sender, &mailbox, per_sender));
    for (long k = 0; k < senders * per_sender; ++k) sum += mailbox.value_pop();
    seconds = peer::milliseconds_between(start, peer::clock_type::now()) / 1000.0;
    for (auto& fiber : fibers) fiber.join();
  }
  long expected = senders * (per_sender * (per_sender - 1) / 2);
  peer::report("fanin", sum == expected, args, {{"senders", senders}, {"per_sender", per_sender}},
               {{"msgs_per_sec", static_cast<double>(senders * per_sender) / seconds}});
}
