// demo: the README's tour. A million processes (skynet), then a thousand workers
// of which some crash, watched through monitors, then a supervision tree that
// heals crashed workers until its restart intensity is exceeded.
#include <beamline/beamline.hpp>
#include <beamline/otp.hpp>

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

// A worker of the healing part: crashes when told to; says when it (re)starts.
struct healing_worker {
  struct crash {};
  explicit healing_worker(int id) {
    std::printf("    worker %d up as %s\n", id, bl::self().to_string().c_str());
  }
  void handle_cast(crash) { throw std::runtime_error("crashed on purpose"); }
};

// Three workers under a one_for_one supervisor allowing 3 restarts in 5 s: crashes
// are healed, until a fourth quick crash makes the supervisor give up.
bl::task<void> supervision_demo() {
  namespace sup = bl::supervisor;
  std::printf("a supervision tree heals: 3 workers, at most 3 restarts in 5 s\n");
  bl::trap_exit(true);  // to see the supervisor's own end
  auto tree = co_await sup::start_link(
      {.strategy = sup::strategy::one_for_one, .intensity = 3, .period = 5s},
      sup::children(sup::worker<healing_worker>(bl::atom("w1"), 1),
                    sup::worker<healing_worker>(bl::atom("w2"), 2),
                    sup::worker<healing_worker>(bl::atom("w3"), 3)));
  for (int round = 1; round <= 4; ++round) {
    bl::term id = bl::atom(round % 3 == 1 ? "w1" : round % 3 == 2 ? "w2" : "w3");
    for (const sup::child_info& c : co_await sup::which_children(tree.pid())) {
      if (c.id != id || !c.child) continue;
      std::printf("  crash %d: %s %s\n", round, id.to_string().c_str(),
                  c.child->to_string().c_str());
      bl::server<healing_worker>(*c.child).cast(healing_worker::crash{});
    }
    co_await bl::sleep(20ms);
  }
  auto end = co_await bl::receive<bl::exit_message>();
  std::printf("  the 4th crash exceeded the intensity: supervisor %s exited with %s\n",
              end.from.to_string().c_str(), end.reason.to_string().c_str());
}

bl::process main_process(unsigned schedulers) {
  std::printf("beamline demo on %u schedulers\n", schedulers);

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

  co_await supervision_demo();
}

int main(int argc, char** argv) {
  bl::node_options options = bl::node_options::from_args(argc, argv);
  options.log_crashes = false;  // the monitors report the crashes
  bl::node node(options);
  node.spawn(main_process, options.schedulers);
  return node.run();
}
