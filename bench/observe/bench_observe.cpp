// bench_observe: what the observer costs a node with many processes.
//
//     bench_observe [--processes N] [--queries K] [--schedulers N]
//
// Spawns N processes (1,000,000 by default) that wait in a receive, then times, from
// one process: the first snapshot (it wakes every process, which publishes its
// figures, and waits for them: observe::processes's settle, here up to 10 s), then
// K top-20 queries by reductions and K summaries (medians and maxima). Meanwhile two
// other processes play ping-pong, one round trip a millisecond, and the longest
// round trip during the first snapshot (a million processes made runnable at once)
// and during the queries is compared with the longest before them. Prints one
// RESULT line (JSON).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "beamline/beamline.hpp"

namespace bl = beamline;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct never {};
struct ball {
  bl::pid from;
};
struct report_max {
  bl::pid to;
};
struct max_round_trip {
  double us;
};

bl::process wait_forever() {
  co_await bl::receive([](never) {});
}

bl::process echo() {
  for (;;) {
    ball b = co_await bl::receive<ball>();
    bl::send(b.from, ball{bl::self()});
  }
}

// Round trips to an echo process, 1 ms apart; answers report_max with the longest
// since the last report.
bl::process pinger(bl::pid echo_pid) {
  double longest = 0;
  for (;;) {
    const auto start = clock_type::now();
    bl::send(echo_pid, ball{bl::self()});
    co_await bl::receive<ball>();
    longest = std::max(
        longest, std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
    co_await bl::receive(
        [&](report_max r) {
          bl::send(r.to, max_round_trip{longest});
          longest = 0;
        },
        bl::after(1ms));
  }
}

double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

bl::task<double> longest_round_trip(bl::pid ping) {
  bl::send(ping, report_max{bl::self()});
  max_round_trip m = co_await bl::receive<max_round_trip>();
  co_return m.us;
}

}  // namespace

int main(int argc, char** argv) {
  long processes = 1'000'000;
  int queries = 5;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--processes") == 0) processes = std::atol(argv[i + 1]);
    if (std::strcmp(argv[i], "--queries") == 0) queries = std::max(1, std::atoi(argv[i + 1]));
  }
  bl::node_options options = bl::node_options::from_args(argc, argv);
  options.max_processes = static_cast<std::uint32_t>(processes + 1000);
  bl::node node(options);
  double spawn_ms = 0, first_ms = 0, idle_rt_us = 0, first_rt_us = 0, busy_rt_us = 0;
  std::vector<double> top_ms, summary_ms;
  std::uint64_t matched = 0, published = 0;
  node.spawn([&]() -> bl::process {
    auto start = clock_type::now();
    for (long i = 0; i < processes; ++i) bl::spawn(wait_forever);
    spawn_ms = ms_since(start);
    bl::pid echo_pid = bl::spawn(echo);
    bl::pid ping = bl::spawn(pinger, echo_pid);
    co_await bl::sleep(1s);
    idle_rt_us = co_await longest_round_trip(ping);

    start = clock_type::now();
    bl::observe::process_page first = co_await bl::observe::processes({.limit = 20}, 10s);
    first_ms = ms_since(start);
    matched = first.matched;
    first_rt_us = co_await longest_round_trip(ping);
    for (int q = 0; q < queries; ++q) {
      start = clock_type::now();
      bl::observe::process_page page = co_await bl::observe::processes({.limit = 20});
      top_ms.push_back(ms_since(start));
      start = clock_type::now();
      bl::observe::node_summary s = co_await bl::observe::summary();
      summary_ms.push_back(ms_since(start));
      published = s.runnable + s.waiting;
    }
    busy_rt_us = co_await longest_round_trip(ping);
    bl::exit(ping, bl::atom("kill"));
    bl::exit(echo_pid, bl::atom("kill"));
    node.stop();
  });
  node.run();
  std::printf(
      "RESULT {\"workload\":\"observe\",\"system\":\"beamline\",\"processes\":%ld,"
      "\"schedulers\":%u,\"spawn_ms\":%.1f,\"matched\":%llu,\"published\":%llu,"
      "\"first_snapshot_ms\":%.1f,\"top20_ms_median\":%.1f,\"top20_ms_max\":%.1f,"
      "\"summary_ms_median\":%.1f,\"round_trip_us_max_before\":%.1f,"
      "\"round_trip_us_max_first_snapshot\":%.1f,\"round_trip_us_max_during\":%.1f}\n",
      processes, options.schedulers, spawn_ms, static_cast<unsigned long long>(matched),
      static_cast<unsigned long long>(published), first_ms, median(top_ms),
      *std::max_element(top_ms.begin(), top_ms.end()), median(summary_ms), idle_rt_us, first_rt_us,
      busy_rt_us);
  std::fflush(stdout);
  node.shut_down();
}
