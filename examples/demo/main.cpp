// demo: the README's tour. A million processes (skynet), then a thousand workers
// of which some crash, watched through monitors, then a supervision tree that
// heals crashed workers until its restart intensity is exceeded.
//
// With --observe (scripts/demo.sh --observe) the observer's dashboard is on (port
// 8080, or any free one if 8080 is taken; --observer PORT chooses) and, after the
// tour, the demo keeps running a small live system to watch until Ctrl-C: a ring
// passing a token, a busy process, a supervised worker that crashes every few
// seconds, and a consumer that falls behind its producer for a while (its mailbox
// alarm is raised, then cleared as it catches up).
#include <beamline/beamline.hpp>
#include <beamline/otp.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

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

// ---- the live system of --observe

bl::process ring_member(bl::pid next) {
  for (;;) {
    const long hops = co_await bl::receive<long>();
    if (hops % 1000 == 0) co_await bl::sleep(1ms);  // a steady, visible load
    bl::send(next, hops + 1);
  }
}

bl::process ring_head(int size) {
  bl::pid next = bl::self();
  for (int i = 1; i < size; ++i) next = bl::spawn_link(ring_member, next);
  bl::send(next, 0L);
  for (;;) {
    const long hops = co_await bl::receive<long>();
    bl::send(next, hops + 1);
  }
}

bl::process busy() {
  for (unsigned long long x = 1;; x = x * 6364136223846793005ULL + 1) co_await bl::check();
}

struct flaky_worker {
  struct tick {};
  int ticks = 0;
  void handle_cast(tick) {
    if (++ticks == 8) throw std::runtime_error("flaky_worker: crashed on purpose");
  }
};

bl::process tick_flaky(bl::pid tree) {
  namespace sup = bl::supervisor;
  for (;;) {
    co_await bl::sleep(500ms);
    for (const sup::child_info& c : co_await sup::which_children(tree))
      if (c.child) bl::server<flaky_worker>(*c.child).cast(flaky_worker::tick{});
  }
}

bl::process supervised() {
  namespace sup = bl::supervisor;
  auto tree = co_await sup::start_link(
      {.strategy = sup::strategy::one_for_one, .intensity = 5, .period = 10s},
      sup::children(sup::worker<flaky_worker>(bl::atom("flaky"))));
  bl::spawn_link(tick_flaky, tree.pid());
  co_await bl::receive([](bl::exit_message) {});
}

// Reads 100 messages a second while its producer sends 300 for ten seconds out of
// every thirty: the queue grows past the alarm's 1,000, then drains.
bl::process slow_consumer() {
  for (;;) {
    co_await bl::receive<int>();
    co_await bl::sleep(10ms);
  }
}

bl::process producer(bl::pid consumer) {
  for (int cycle = 0;; ++cycle) {
    for (int i = 0; i < 3000; ++i) {
      bl::send(consumer, i);
      if (i % 30 == 29) co_await bl::sleep(100ms);
    }
    co_await bl::sleep(20s);
  }
}

bl::task<void> live_system(const std::string& url) {
  bl::register_name(bl::atom("ring"), bl::spawn(ring_head, 1000));
  bl::register_name(bl::atom("busy"), bl::spawn(busy));
  bl::register_name(bl::atom("supervised"), bl::spawn(supervised));
  bl::pid consumer = bl::spawn(slow_consumer);
  bl::register_name(bl::atom("slow_consumer"), consumer);
  bl::register_name(bl::atom("producer"), bl::spawn(producer, consumer));
  std::printf("\nthe dashboard: %s\n", url.c_str());
  std::printf(
      "the demo keeps running a live system to watch (a ring, a busy process, a\n"
      "crashing supervised worker, a consumer that falls behind); Ctrl-C stops it\n");
  std::fflush(stdout);
  co_await bl::receive([](bl::exit_message) {});
}

bl::process main_process(unsigned schedulers, std::string observer_url) {
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
  if (!observer_url.empty()) co_await live_system(observer_url);
}

int main(int argc, char** argv) {
  bl::node_options options = bl::node_options::from_args(argc, argv);
  options.log_crashes = false;  // the monitors report the crashes
  bool observe = false;
  for (int i = 1; i < argc; ++i) observe = observe || std::strcmp(argv[i], "--observe") == 0;
  const bool port_given = options.observer.has_value();
  if (observe && !port_given) options.observer = bl::observer_options{.port = 8080};
  std::unique_ptr<bl::node> node;
  try {
    node = std::make_unique<bl::node>(options);
  } catch (const std::runtime_error& e) {
    if (!observe || port_given) throw;
    options.observer->port = 0;  // 8080 is taken: any free port
    node = std::make_unique<bl::node>(options);
  }
  node->spawn(main_process, options.schedulers, observe ? node->observer_url() : std::string());
  return node->run();
}
