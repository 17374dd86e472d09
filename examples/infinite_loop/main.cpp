// infinite_loop: one process loops forever in native code that calls nothing, and
// the others keep answering. Every 100 ms a pinger measures a round trip to an
// echo process and prints it; after a second, the loop is killed.
//
//   build/release/bin/infinite_loop [--schedulers N]
#include <beamline/beamline.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace bl = beamline;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Spins forever. The non-awaited check() never yields: it only lets a kill end
// the loop (native code that never checks cannot be ended from outside).
bl::process infinite_loop() {
  volatile unsigned long long spins = 0;
  for (;;) {
    for (int i = 0; i < 1'000'000; ++i) spins = spins + 1;
    bl::check();
  }
  co_return;  // never reached, but it makes this function a coroutine
}

bl::process echo() {
  for (;;) {
    auto [from, n] = co_await bl::receive<bl::pid, int>();
    bl::send(from, n);
  }
}

bl::process pinger(bl::pid loop, bl::pid partner) {
  std::vector<double> latencies_us;
  for (int i = 0; i < 10; ++i) {
    co_await bl::sleep(100ms);
    auto start = clock_type::now();
    bl::send(partner, bl::self(), i);
    co_await bl::receive<int>();
    double us = std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
    latencies_us.push_back(us);
    std::printf("round trip %d to %s while %s loops: %.1f us\n", i, partner.to_string().c_str(),
                loop.to_string().c_str(), us);
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  std::printf("worst round trip: %.1f us\n", latencies_us.back());

  bl::ref watch = bl::monitor(loop);
  bl::exit(loop, bl::atoms::kill);
  auto down = co_await bl::receive<bl::down_message>();
  std::printf("the loop is gone: %s\n", down.to_term().to_string().c_str());
  bl::exit(partner, bl::atoms::kill);
  (void)watch;
}

int main(int argc, char** argv) {
  bl::node node(bl::node_options::from_args(argc, argv));
  bl::pid loop = node.spawn(infinite_loop);
  bl::pid partner = node.spawn(echo);
  node.spawn(pinger, loop, partner);
  node.run();
  auto stats = node.statistics();
  std::printf("preemptions: %llu\n", static_cast<unsigned long long>(stats.preemptions));
}
