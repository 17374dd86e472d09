// W4 pingpong on Boost.Fiber, the peer of bench/workloads/pingpong.cpp: the main
// fiber and a partner, 1,000,000 round trips; each ping carries the mailbox to
// answer on and a counter, the partner answers counter + 1.
// RESULT: ns_per_round_trip.
#include "fiber_support.hpp"

using reply_mailbox_type = boost::fibers::buffered_channel<long>;

struct ping {
  reply_mailbox_type* from;
  long counter;
};

using ping_mailbox_type = boost::fibers::buffered_channel<ping>;

void pong(ping_mailbox_type* mailbox) {
  for (;;) {
    ping message = mailbox->value_pop();
    message.from->push(message.counter + 1);
    if (message.counter < 0) return;
  }
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long rounds = peer::scaled(args, 1'000'000);
  long counter = 0;
  double ns = 0;
  {
    peer::work_stealing_threads threads(args.threads);
    reply_mailbox_type self(2);
    ping_mailbox_type partner_mailbox(2);
    auto partner = peer::launch(pong, &partner_mailbox);
    auto start = peer::clock_type::now();
    for (long i = 0; i < rounds; ++i) {
      partner_mailbox.push(ping{&self, counter});
      counter = self.value_pop();
    }
    ns = peer::milliseconds_between(start, peer::clock_type::now()) * 1e6 / static_cast<double>(rounds);
    partner_mailbox.push(ping{&self, -1});
    self.value_pop();
    partner.join();
  }
  peer::report("pingpong", counter == rounds, args, {{"round_trips", rounds}}, {{"ns_per_round_trip", ns}});
}
