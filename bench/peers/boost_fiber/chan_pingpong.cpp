// C1 chan_pingpong on Boost.Fiber, the peer of bench/workloads/chan_pingpong.cpp:
// the main fiber and a partner, two unbuffered_channels, 1,000,000 round trips.
// The main fiber pushes a counter on `ping`; the partner pushes counter + 1 back
// on `pong`. Closing `ping` ends the partner. RESULT: ns_per_round_trip.
#include "fiber_support.hpp"

using channel_type = boost::fibers::unbuffered_channel<long>;

void partner(channel_type* ping, channel_type* pong) {
  long counter = 0;
  while (ping->pop(counter) == boost::fibers::channel_op_status::success) pong->push(counter + 1);
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long rounds = peer::scaled(args, 1'000'000);
  long counter = 0;
  double ns = 0;
  {
    peer::work_stealing_threads threads(args.threads);
    channel_type ping;
    channel_type pong;
    auto partner_fiber = peer::launch(partner, &ping, &pong);
    auto start = peer::clock_type::now();
    for (long i = 0; i < rounds; ++i) {
      ping.push(counter);
      counter = pong.value_pop();
    }
    ns = peer::milliseconds_between(start, peer::clock_type::now()) * 1e6 /
         static_cast<double>(rounds);
    ping.close();
    partner_fiber.join();
  }
  peer::report("C1", counter == rounds, args, {{"round_trips", rounds}},
               {{"ns_per_round_trip", ns}});
}
