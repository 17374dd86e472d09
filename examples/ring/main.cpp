// ring: N processes in a ring pass a token M times around.
//
//   build/release/bin/ring [processes] [laps]
#include <beamline/beamline.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace bl = beamline;

// Each member forwards the token to the next one; the token counts down the hops.
bl::process member(bl::pid next) {
  for (;;) {
    long hops_left = co_await bl::receive<long>();
    bl::send(next, hops_left - 1);
    if (hops_left <= 0) co_return;
  }
}

bl::process leader(long size, long laps) {
  // Build the ring backwards: each new member points at the one made before it.
  bl::pid next = bl::self();
  for (long i = 1; i < size; ++i) next = bl::spawn(member, next);
  long hops = size * laps;
  auto start = std::chrono::steady_clock::now();
  bl::send(next, hops - 1);
  for (;;) {
    long left = co_await bl::receive<long>();
    if (left <= 0) {
      bl::send(next, left - 1);  // lets the rest of the ring end too
      break;
    }
    bl::send(next, left - 1);
  }
  std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  std::printf("%ld processes, %ld laps: %ld hops, %.1f ns per hop\n", size, laps, hops,
              took.count() / static_cast<double>(hops));
}

int main(int argc, char** argv) {
  // ring [SIZE [LAPS]] [node options: --schedulers N, --observer PORT...]
  const bool size_given = argc > 1 && argv[1][0] != '-';
  long size = size_given ? std::atol(argv[1]) : 10'000;
  long laps = size_given && argc > 2 && argv[2][0] != '-' ? std::atol(argv[2]) : 100;
  bl::node node(bl::node_options::from_args(argc, argv));
  node.spawn(leader, size, laps);
  return node.run();
}
