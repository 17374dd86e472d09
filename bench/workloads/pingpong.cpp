// W4 pingpong: two processes, 1,000,000 round trips. RESULT: ns_per_round_trip.
#include "bench_support.hpp"

namespace bl = beamline;

bl::process pong() {
  for (;;) {
    auto [from, n] = co_await bl::receive<bl::pid, long>();
    bl::send(from, n + 1);
    if (n < 0) co_return;
  }
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long rounds = bench::scaled(args, 1'000'000);
  long counter = 0;
  double ns = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    bl::pid partner = bl::spawn(pong);
    auto start = bench::clock_type::now();
    for (long i = 0; i < rounds; ++i) {
      bl::send(partner, bl::self(), counter);
      counter = co_await bl::receive<long>();
    }
    ns = bench::ms_between(start, bench::clock_type::now()) * 1e6 / static_cast<double>(rounds);
    bl::send(partner, bl::self(), -1L);
    co_await bl::receive<long>();
  });
  node.run();
  bench::report("pingpong", counter == rounds, args, {{"round_trips", std::to_string(rounds)}},
                {{"ns_per_round_trip", ns}});
}
