// demo: the README's tour. A million processes (skynet), then a thousand workers
// of which some crash, watched through monitors.
#include <beamline/beamline.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace bl = beamline;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point start) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

// skynet: each process spawns 10 children until a million leaves, which send their
// number up; every parent sums what it gets and sends the sum to its own parent.
bl::process skynet(bl::pid parent, long number, long size) {
  if (size == 1) {
    bl::send(parent, number);
    co_return;
  }
  long child_size = size / 10;
  for (long i = 0; i < 10; ++i) bl::spawn(skynet, bl::self(), number + i * child_size, child_size);
  long sum = 0;
  for (int i = 0; i < 10; ++i) sum += co_await bl::receive<long>();
  bl::send(parent, sum);
}

// A worker computes a little and reports; every seventh one crashes instead.
bl::process worker(bl::pid boss, int id) {
  co_await bl::sleep(std::chrono::microseconds(100 * (id % 50)));
  if (id % 7 == 3) throw std::runtime_error("worker " + std::to_string(id) + " failed");
  bl::send(boss, id, id * 2);
}

bl::process main_process() {
  std::printf("beamline demo on %u schedulers\n", bl::node_options::default_schedulers());

  auto start = clock_type::now();
  bl::spawn(skynet, bl::self(), 0L, 1'000'000L);
  long sum = co_await bl::receive<long>();
  std::printf("skynet: 1,111,111 processes spawned and ended, sum %ld (%s) in %.0f ms\n", sum,
              sum == 499999500000L ? "correct" : "WRONG", ms_since(start));

  start = clock_type::now();
  constexpr int workers = 1000;
  for (int id = 0; id < workers; ++id) bl::spawn_monitor(worker, bl::self(), id);
  int results = 0, normal = 0, crashed = 0;
  bl::term first_crash;
  while (normal + crashed < workers) {
    co_await bl::receive([&](int, int) { ++results; },
                         [&](const bl::down_message& down) {
                           if (down.reason == bl::term(bl::atoms::normal)) {
                             ++normal;
                           } else {
                             if (crashed++ == 0) first_crash = down.to_term();
                           }
                         });
  }
  std::printf("workers: %d started, %d results, %d ended normally, %d crashed (in %.1f ms)\n",
              workers, results, normal, crashed, ms_since(start));
  std::printf("  the first crash seen: %s\n", first_crash.to_string().c_str());
  std::printf("  each crash ended only its own process; the node kept running\n");
}

int main(int argc, char** argv) {
  bl::node_options options = bl::node_options::from_args(argc, argv);
  options.log_crashes = false;  // the monitors report the crashes
  bl::node node(options);
  node.spawn(main_process);
  return node.run();
}
