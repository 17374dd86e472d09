// W6 fairness on Boost.Fiber, the peer of bench/workloads/fairness.cpp: 4 hog
// fibers spin in a loop that calls nothing, bumping their own counter; first alone
// for 2 s (the solo rate), then beside a ping-pong pair of fibers doing 1,000
// timed round trips with a boost::this_fiber::sleep_for(1 ms) between them, for at most 20 s.
// RESULT: p50_us, p99_us, max_us, completed, hog_progress (hog iterations/s during the round trips
// / solo rate), sleep_late_us (mean lateness of the 1 ms sleeps).
//
// Fibers are never preempted: once a hog runs, its thread runs nothing else, and a
// fiber waiting for a timer or a message on that thread is never resumed. So the
// phases are driven from outside the scheduler, by an ordinary thread (the
// observer): it times the solo phase by reading the counters, then tells the
// pinger fiber (waiting on a channel since before the hogs started) to begin the
// round trips. After the solo phase + 25 s it is also the watchdog, as ours has one: it
// reports what was done and leaves at once (std::_Exit), since the hogs' threads
// cannot be stopped or joined.
#include <algorithm>
#include <array>
#include <atomic>

#include "fiber_support.hpp"

namespace {

constexpr int hog_count = 4;

struct alignas(64) hog_counter {
  std::atomic<std::uint64_t> iterations{0};
};
std::array<hog_counter, hog_count> counters;
std::atomic<bool> stop_hogs{false};

// Calls nothing: a relaxed load and store per iteration.
void hog(int index) {
  auto& n = counters[static_cast<std::size_t>(index)].iterations;
  while (!stop_hogs.load(std::memory_order_relaxed))
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::uint64_t total_iterations() {
  std::uint64_t sum = 0;
  for (auto& counter : counters) sum += counter.iterations.load(std::memory_order_relaxed);
  return sum;
}

using reply_mailbox_type = boost::fibers::buffered_channel<long>;

struct ping {
  reply_mailbox_type* from;
  long n;
};

using ping_mailbox_type = boost::fibers::buffered_channel<ping>;

void pong(ping_mailbox_type* mailbox) {
  for (;;) {
    ping message = mailbox->value_pop();
    message.from->push(message.n);
    if (message.n < 0) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const long round_trips = peer::scaled(args, 1000);
  const auto solo_time = std::chrono::duration<double>(2.0 * std::min(1.0, args.scale * 10));
  const std::vector<std::pair<std::string, long>> parameters{{"hogs", hog_count},
                                                             {"round_trips", round_trips}};
  const auto limit = peer::clock_type::now() +
                     std::chrono::duration_cast<peer::clock_type::duration>(solo_time) +
                     std::chrono::seconds(25);
  std::vector<double> rtt_us;
  double late_total_us = 0;
  std::atomic<long> completed{0};
  double solo_rate = 0, run_rate = 0;
  std::atomic<bool> finished{false};
  boost::fibers::buffered_channel<int> start_round_trips(2);

  // The observer: the solo phase, then the go-ahead, then the watchdog.
  std::thread observer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the hogs start
    auto t0 = peer::clock_type::now();
    std::uint64_t i0 = total_iterations();
    std::this_thread::sleep_for(solo_time);
    auto t1 = peer::clock_type::now();
    std::uint64_t i1 = total_iterations();
    solo_rate = static_cast<double>(i1 - i0) / std::chrono::duration<double>(t1 - t0).count();
    start_round_trips.push(1);

    // A starved ping-pong never ends: report what was done and leave.
    while (!finished.load() && peer::clock_type::now() < limit)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (finished.load()) return;
    peer::report("fairness", false, args, parameters,
                 {{"p50_us", 0.0},
                  {"p99_us", 0.0},
                  {"max_us", 0.0},
                  {"completed", static_cast<double>(completed.load())},
                  {"hog_progress", 0.0},
                  {"sleep_late_us", 0.0}});
    std::_Exit(0);
  });

  {
    peer::work_stealing_threads threads(args.threads);
    reply_mailbox_type self(2);
    ping_mailbox_type partner_mailbox(2);
    auto partner = peer::launch(pong, &partner_mailbox);
    // The pinger is a fiber of its own, not the main fiber (which is pinned to the
    // main thread): any thread of the scheduler may run it.
    auto pinger = peer::launch([&] {
      // Phase 1: the hogs alone, timed by the observer.
      start_round_trips.value_pop();

      // Phase 2: timed round trips beside the hogs.
      auto deadline = peer::clock_type::now() + std::chrono::seconds(20);
      auto r0 = peer::clock_type::now();
      std::uint64_t j0 = total_iterations();
      for (long i = 0; i < round_trips && peer::clock_type::now() < deadline; ++i) {
        auto start = peer::clock_type::now();
        partner_mailbox.push(ping{&self, i});
        self.value_pop();
        rtt_us.push_back(
            std::chrono::duration<double, std::micro>(peer::clock_type::now() - start).count());
        ++completed;
        auto sleep_start = peer::clock_type::now();
        boost::this_fiber::sleep_for(std::chrono::milliseconds(1));
        late_total_us +=
            std::chrono::duration<double, std::micro>(peer::clock_type::now() - sleep_start)
                .count() -
            1000.0;
      }
      auto r1 = peer::clock_type::now();
      std::uint64_t j1 = total_iterations();
      run_rate = static_cast<double>(j1 - j0) / std::chrono::duration<double>(r1 - r0).count();
      partner_mailbox.push(ping{&self, -1});
      self.value_pop();
      stop_hogs.store(true);
    });
    std::vector<boost::fibers::fiber> hogs;
    for (int i = 0; i < hog_count; ++i) hogs.push_back(peer::launch(hog, i));
    pinger.join();
    partner.join();
    for (auto& hog_fiber : hogs) hog_fiber.join();
  }
  finished = true;
  observer.join();

  std::sort(rtt_us.begin(), rtt_us.end());
  auto percentile = [&](double p) {
    if (rtt_us.empty()) return 0.0;
    std::size_t k = std::min(rtt_us.size() - 1,
                             static_cast<std::size_t>(p * static_cast<double>(rtt_us.size())));
    return rtt_us[k];
  };
  const long done = completed.load();
  peer::report("fairness", done == round_trips, args, parameters,
               {{"p50_us", percentile(0.50)},
                {"p99_us", percentile(0.99)},
                {"max_us", rtt_us.empty() ? 0.0 : rtt_us.back()},
                {"completed", static_cast<double>(done)},
                {"hog_progress", solo_rate > 0 ? run_rate / solo_rate : 0.0},
                {"sleep_late_us", done > 0 ? late_total_us / static_cast<double>(done) : 0.0}});
}
