// W2 spawn_idle: spawn 1,000,000 processes that each wait in receive; measure the
// time and the memory; then stop them all. RESULT: spawn_ms, bytes_per_process,
// teardown_ms.
#include <thread>

#include "bench_support.hpp"

namespace bl = beamline;
using namespace std::chrono_literals;

bl::process idle() {
  co_await bl::receive<int>();
}

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long n = bench::scaled(args, 1'000'000);
  double spawn_ms = 0;
  long rss_before = 0, rss_after = 0;
  bench::clock_type::time_point teardown_start;
  long spawned = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    std::vector<bl::pid> pids;
    pids.reserve(static_cast<std::size_t>(n));
    rss_before = bench::resident_bytes() + static_cast<long>(n * sizeof(bl::pid));
    auto start = bench::clock_type::now();
    for (long i = 0; i < n; ++i) pids.push_back(bl::spawn(idle));
    // Every child has run to its receive once the run queues have drained: wait
    // for that at the lowest priority.
    bl::set_priority(bl::priority::low);
    while (node.statistics().live_processes < static_cast<std::uint64_t>(n + 1))
      co_await bl::yield();
    co_await bl::yield();
    spawn_ms = bench::ms_between(start, bench::clock_type::now());
    co_await bl::sleep(50ms);
    rss_after = bench::resident_bytes();
    spawned = static_cast<long>(pids.size());
    teardown_start = bench::clock_type::now();
    for (bl::pid p : pids) bl::send(p, 0);
  });
  node.run();
  double teardown_ms = bench::ms_between(teardown_start, bench::clock_type::now());
  bool ok = spawned == n && node.statistics().live_processes == 0;
  double bytes = static_cast<double>(rss_after - rss_before) / static_cast<double>(n);
  bench::report(
      "spawn_idle", ok, args, {{"processes", std::to_string(n)}},
      {{"spawn_ms", spawn_ms}, {"bytes_per_process", bytes}, {"teardown_ms", teardown_ms}});
}
