// C1 chan_pingpong: two processes, two unbuffered channels, 1,000,000 round trips.
// The main process sends a counter on `ping`; its partner receives it and sends
// counter + 1 back on `pong`. Closing `ping` ends the partner. RESULT:
// ns_per_round_trip.
#include "bench_support.hpp"

namespace bl = beamline;

bl::process partner(bl::chan<long> ping, bl::chan<long> pong) {
  while (std::optional<long> counter = co_await ping.receive()) co_await pong.send(*counter + 1);
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long rounds = bench::scaled(args, 1'000'000);
  long counter = 0;
  double ns = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    auto ping = bl::make_chan<long>(0);
    auto pong = bl::make_chan<long>(0);
    bl::spawn(partner, ping, pong);
    auto start = bench::clock_type::now();
    for (long i = 0; i < rounds; ++i) {
      co_await ping.send(counter);
      counter = (co_await pong.receive()).value_or(-1);
    }
    ns = bench::ms_between(start, bench::clock_type::now()) * 1e6 / static_cast<double>(rounds);
    ping.close();
  });
  node.run();
  bench::report("C1", counter == rounds, args, {{"round_trips", std::to_string(rounds)}},
                {{"ns_per_round_trip", ns}});
}
