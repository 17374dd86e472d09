// W7 churn: 1,000,000 processes spawned in batches (at most 10,000 alive), each
// exits at once; the spawner monitors each and collects every DOWN. RESULT: wall_ms.
#include "bench_support.hpp"

namespace bl = beamline;

bl::process short_lived() {
  co_return;
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long total = bench::scaled(args, 1'000'000);
  const long max_alive = 10'000;
  long downs = 0;
  double wall_ms = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    auto start = bench::clock_type::now();
    long spawned = 0;
    while (downs < total) {
      long batch = std::min(max_alive - (spawned - downs), total - spawned);
      for (long i = 0; i < batch; ++i) bl::spawn_monitor(short_lived);
      spawned += batch;
      long target = std::min(total, downs + max_alive / 2);  // refill at half
      while (downs < target) {
        co_await bl::receive<bl::down_message>();
        ++downs;
      }
    }
    wall_ms = bench::ms_between(start, bench::clock_type::now());
  });
  node.run();
  bench::report("churn", downs == total, args, {{"processes", std::to_string(total)}},
                {{"wall_ms", wall_ms}});
}
