// W6 fairness on CAF 0.17, the peer of bench/workloads/fairness.cpp: 4 hog actors
// each spin inside one message handler, in a loop that calls nothing and bumps
// their own counter; first alone for 2 s (the solo rate), then beside a ping-pong
// pair of event-based actors doing 1,000 timed round trips with a 1 ms pause
// between them (a delayed_send to itself, CAF's way of waiting without blocking a
// worker), for at most 20 s. RESULT: p50_us, p99_us, max_us, completed,
// hog_progress (hog iterations/s during the round trips / solo rate),
// sleep_late_us (mean lateness of the 1 ms pauses).
//
// CAF never preempts a running handler: the first two hogs keep the 2 workers for
// good, and the other two hogs and the pinger are never run. So the solo phase is
// timed from the main thread (not a worker), which reads the counters, and a
// watchdog thread reports what was done after the solo phase + 25 s and leaves
// at once (std::_Exit, as ours does): the actor system cannot be shut down while
// its workers spin.
#include <algorithm>
#include <array>
#include <atomic>
#include <thread>

#include "caf_support.hpp"

using spin_atom = caf::atom_constant<caf::atom("spin")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;

namespace {

constexpr int hog_count = 4;

struct alignas(64) hog_counter {
  std::atomic<std::uint64_t> iterations{0};
};
std::array<hog_counter, hog_count> counters;
std::atomic<bool> stop_hogs{false};

std::uint64_t total_iterations() {
  std::uint64_t sum = 0;
  for (auto& counter : counters) sum += counter.iterations.load(std::memory_order_relaxed);
  return sum;
}

}  // namespace

// Calls nothing: a relaxed load and store per iteration, inside one handler.
caf::behavior hog(caf::event_based_actor* self, int index) {
  return {
      [=](spin_atom) {
        auto& n = counters[static_cast<std::size_t>(index)].iterations;
        while (!stop_hogs.load(std::memory_order_relaxed))
          n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        self->quit();
      },
  };
}

caf::behavior pong(caf::event_based_actor* self) {
  return {
      [=](const caf::actor& from, std::int64_t n) {
        self->send(from, n);
        if (n < 0) self->quit();
      },
  };
}

// What the pinger measured; `completed` is also read by the watchdog.
struct fairness_result {
  std::vector<double> rtt_us;
  double late_total_us = 0;
  std::atomic<std::int64_t> completed{0};
  std::uint64_t run_iterations = 0;
  double run_seconds = 0;
};

struct pinger_state {
  caf::actor partner;
  std::int64_t next = 0;
  peer::clock_type::time_point run_start, deadline, sent, sleep_start;
  std::uint64_t iterations_at_start = 0;
  bool finishing = false;  // the final -1 is sent; its answer ends the pinger
};

caf::behavior pinger(caf::stateful_actor<pinger_state>* self, std::int64_t round_trips,
                     fairness_result* result, caf::actor main_thread) {
  auto& state = self->state;
  state.partner = self->spawn(pong);
  state.run_start = peer::clock_type::now();
  state.deadline = state.run_start + std::chrono::seconds(20);
  state.iterations_at_start = total_iterations();
  // Sends ping `next`, or ends the round trips once they are done or time is up.
  auto send_next = [=] {
    auto& state = self->state;
    auto now = peer::clock_type::now();
    if (state.next < round_trips && now < state.deadline) {
      state.sent = now;
      self->send(state.partner, caf::actor_cast<caf::actor>(self), state.next);
      return;
    }
    result->run_iterations = total_iterations() - state.iterations_at_start;
    result->run_seconds = std::chrono::duration<double>(now - state.run_start).count();
    self->send(state.partner, caf::actor_cast<caf::actor>(self), std::int64_t{-1});
    state.partner = nullptr;
    state.finishing = true;
  };
  send_next();
  return {
      [=](std::int64_t) {
        auto& state = self->state;
        if (state.finishing) {
          self->send(main_thread, peer::done_atom::value);
          self->quit();
          return;
        }
        auto now = peer::clock_type::now();
        result->rtt_us.push_back(
            std::chrono::duration<double, std::micro>(now - state.sent).count());
        result->completed.fetch_add(1);
        ++state.next;
        state.sleep_start = peer::clock_type::now();
        self->delayed_send(self, std::chrono::milliseconds(1), wake_atom::value);
      },
      [=](wake_atom) {
        auto& state = self->state;
        result->late_total_us +=
            std::chrono::duration<double, std::micro>(peer::clock_type::now() - state.sleep_start)
                .count() -
            1000.0;
        send_next();
      },
  };
}

int main(int argc, char** argv) {
  auto args = peer::parse(argc, argv);
  const std::int64_t round_trips = peer::scaled(args, 1000);
  const auto solo_time = std::chrono::duration<double>(2.0 * std::min(1.0, args.scale * 10));
  const std::vector<std::pair<std::string, std::int64_t>> parameters{{"hogs", hog_count},
                                                                     {"round_trips", round_trips}};
  fairness_result result;
  double solo_rate = 0;

  // A starved ping-pong never ends: after the solo phase and 25 s, report what was
  // done and leave (the hogs cannot be stopped from outside).
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    auto limit = peer::clock_type::now() + solo_time + std::chrono::seconds(25);
    while (!finished.load() && peer::clock_type::now() < limit)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (finished.load()) return;
    peer::report("fairness", false, args, parameters,
                 {{"p50_us", 0.0},
                  {"p99_us", 0.0},
                  {"max_us", 0.0},
                  {"completed", static_cast<double>(result.completed.load())},
                  {"hog_progress", 0.0},
                  {"sleep_late_us", 0.0}});
    std::_Exit(0);
  });

  {
    peer::config configuration(args);
    caf::actor_system system(configuration);
    caf::scoped_actor main_thread(system, true);
    std::vector<caf::actor> hogs;
    for (int i = 0; i < hog_count; ++i) {
      hogs.push_back(system.spawn(hog, i));
      main_thread->send(hogs.back(), spin_atom::value);
    }
    // Phase 1: the hogs alone.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let them start
    auto t0 = peer::clock_type::now();
    std::uint64_t i0 = total_iterations();
    std::this_thread::sleep_for(solo_time);
    auto t1 = peer::clock_type::now();
    std::uint64_t i1 = total_iterations();
    solo_rate = static_cast<double>(i1 - i0) / std::chrono::duration<double>(t1 - t0).count();

    // Phase 2: timed round trips beside the hogs.
    auto pinger_actor =
        system.spawn(pinger, round_trips, &result, caf::actor_cast<caf::actor>(main_thread));
    main_thread->receive([](peer::done_atom) {});
    stop_hogs.store(true);
  }
  finished = true;
  watchdog.join();

  auto& rtt_us = result.rtt_us;
  std::sort(rtt_us.begin(), rtt_us.end());
  auto percentile = [&](double p) {
    if (rtt_us.empty()) return 0.0;
    std::size_t k = std::min(rtt_us.size() - 1,
                             static_cast<std::size_t>(p * static_cast<double>(rtt_us.size())));
    return rtt_us[k];
  };
  const std::int64_t completed = result.completed.load();
  double run_rate =
      result.run_seconds > 0 ? static_cast<double>(result.run_iterations) / result.run_seconds : 0;
  peer::report("fairness", completed == round_trips, args, parameters,
               {{"p50_us", percentile(0.50)},
                {"p99_us", percentile(0.99)},
                {"max_us", rtt_us.empty() ? 0.0 : rtt_us.back()},
                {"completed", static_cast<double>(completed)},
                {"hog_progress", solo_rate > 0 ? run_rate / solo_rate : 0.0},
                {"sleep_late_us",
                 completed > 0 ? result.late_total_us / static_cast<double>(completed) : 0.0}});
}
