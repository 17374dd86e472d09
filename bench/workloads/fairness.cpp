// W6 fairness: 4 hog processes spin in a loop that calls nothing, counting
// iterations; first alone for 2 s (the solo rate), then beside a ping-pong pair
// doing 1,000 timed round trips with a 1 ms sleep (receive-after) between them.
// RESULT: p50_us, p99_us, max_us, completed (round trips done within 20 s),
// hog_progress (hog iterations/s during the run / solo rate), sleep_late_us (mean
// lateness of the 1 ms sleeps).
#include <algorithm>
#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "bench_support.hpp"

namespace bl = beamline;
using namespace std::chrono_literals;

namespace {

constexpr int hog_count = 4;

struct alignas(64) hog_counter {
  std::atomic<std::uint64_t> iterations{0};
};
std::array<hog_counter, hog_count> counters;
std::atomic<bool> stop_hogs{false};

// Calls nothing: a relaxed store and a relaxed load per iteration.
bl::process hog(int index) {
  auto& n = counters[static_cast<std::size_t>(index)].iterations;
  while (!stop_hogs.load(std::memory_order_relaxed))
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  co_return;
}

std::uint64_t total_iterations() {
  std::uint64_t sum = 0;
  for (auto& c : counters) sum += c.iterations.load(std::memory_order_relaxed);
  return sum;
}

bl::process pong() {
  for (;;) {
    auto [from, n] = co_await bl::receive<bl::pid, int>();
    bl::send(from, n);
    if (n < 0) co_return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const int round_trips = static_cast<int>(bench::scaled(args, 1000));
  const auto solo_time = std::chrono::duration<double>(2.0 * std::min(1.0, args.scale * 10));
  std::vector<double> rtt_us;
  double late_total_us = 0;
  std::atomic<int> completed{0};
  double solo_rate = 0, run_rate = 0;

  // A starved ping-pong never ends: after the solo phase and 20 s, report what was
  // done and leave (the hogs cannot be stopped from outside).
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    auto limit = bench::clock_type::now() + solo_time + 25s;
    while (!finished.load() && bench::clock_type::now() < limit) std::this_thread::sleep_for(10ms);
    if (finished.load()) return;
    bench::report(
        "fairness", false, args,
        {{"hogs", std::to_string(hog_count)}, {"round_trips", std::to_string(round_trips)}},
        {{"p50_us", 0.0},
         {"p99_us", 0.0},
         {"max_us", 0.0},
         {"completed", static_cast<double>(completed.load())},
         {"hog_progress", 0.0},
         {"sleep_late_us", 0.0}});
    std::_Exit(0);
  });

  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    for (int i = 0; i < hog_count; ++i) bl::spawn(hog, i);
    // Phase 1: the hogs alone.
    co_await bl::sleep(100ms);  // let them start
    auto t0 = bench::clock_type::now();
    std::uint64_t i0 = total_iterations();
    co_await bl::sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(solo_time));
    auto t1 = bench::clock_type::now();
    std::uint64_t i1 = total_iterations();
    solo_rate = static_cast<double>(i1 - i0) / std::chrono::duration<double>(t1 - t0).count();

    // Phase 2: timed round trips beside the hogs.
    bl::pid partner = bl::spawn(pong);
    auto deadline = bench::clock_type::now() + 20s;
    auto r0 = bench::clock_type::now();
    std::uint64_t j0 = total_iterations();
    for (int i = 0; i < round_trips && bench::clock_type::now() < deadline; ++i) {
      auto start = bench::clock_type::now();
      bl::send(partner, bl::self(), i);
      co_await bl::receive<int>();
      rtt_us.push_back(
          std::chrono::duration<double, std::micro>(bench::clock_type::now() - start).count());
      ++completed;
      auto sleep_start = bench::clock_type::now();
      co_await bl::sleep(1ms);
      late_total_us +=
          std::chrono::duration<double, std::micro>(bench::clock_type::now() - sleep_start)
              .count() -
          1000.0;
    }
    auto r1 = bench::clock_type::now();
    std::uint64_t j1 = total_iterations();
    run_rate = static_cast<double>(j1 - j0) / std::chrono::duration<double>(r1 - r0).count();
    bl::send(partner, bl::self(), -1);
    co_await bl::receive<int>();
    stop_hogs.store(true);
  });
  node.run();
  finished = true;
  watchdog.join();

  std::sort(rtt_us.begin(), rtt_us.end());
  auto percentile = [&](double p) {
    if (rtt_us.empty()) return 0.0;
    std::size_t k = std::min(rtt_us.size() - 1,
                             static_cast<std::size_t>(p * static_cast<double>(rtt_us.size())));
    return rtt_us[k];
  };
  bench::report("fairness", completed == round_trips, args,
                {{"hogs", std::to_string(hog_count)}, {"round_trips", std::to_string(round_trips)}},
                {{"p50_us", percentile(0.50)},
                 {"p99_us", percentile(0.99)},
                 {"max_us", rtt_us.empty() ? 0.0 : rtt_us.back()},
                 {"completed", static_cast<double>(completed.load())},
                 {"hog_progress", solo_rate > 0 ? run_rate / solo_rate : 0.0},
                 {"sleep_late_us", completed > 0 ? late_total_us / completed : 0.0}});
}
