// ping_pong: two processes pass a counter back and forth.
//
//   build/release/bin/ping_pong [rounds]
#include <beamline/beamline.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace bl = beamline;

bl::process pong() {
  for (;;) {
    auto [from, n] = co_await bl::receive<bl::pid, long>();
    if (n < 0) co_return;  // the game is over
    bl::send(from, n + 1);
  }
}

bl::process ping(long rounds) {
  bl::pid partner = bl::spawn(pong);
  auto start = std::chrono::steady_clock::now();
  long n = 0;
  for (long i = 0; i < rounds; ++i) {
    bl::send(partner, bl::self(), n);
    n = co_await bl::receive<long>();
  }
  std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  bl::send(partner, bl::self(), -1L);
  std::printf("ping %s and pong %s: %ld round trips, counter %ld, %.0f ns per round trip\n",
              bl::self().to_string().c_str(), partner.to_string().c_str(), rounds, n,
              took.count() / static_cast<double>(rounds));
}

int main(int argc, char** argv) {
  // ping_pong [ROUNDS] [node options: --schedulers N, --observer PORT...]
  long rounds = argc > 1 && argv[1][0] != '-' ? std::atol(argv[1]) : 1'000'000;
  bl::node node(bl::node_options::from_args(argc, argv));
  node.spawn(ping, rounds);
  return node.run();
}
