// observed_node: a node with known processes for the observer's API tests
// (observer_api_test.py). Takes the node's options (--observer PORT and the rest),
// starts:
//   - `loaded`: registered, waits for a message none of the five queued ones match;
//   - `busy`: registered, runs without waiting (check() in a loop);
//   - `victim`: registered, waits forever (for the kill action);
//   - `linked_a` and `linked_b`: registered, linked to each other;
//   - `--idle N` more processes that wait (default 100);
//   - with `--flood N`, `flooded`: registered, N messages queued that it never
//     reads (a mailbox alarm);
//   - with `--hog`, `hog`: registered, runs native code for 5 ms without yielding
//     (preempted each time), then sleeps 100 ms, over and over;
//   - with `--supervisors`, a supervision tree: `observed_sup` (one_for_one, 5
//     restarts in 10 s) over a worker `steady` (registered `steady`) and a
//     supervisor `inner` (one_for_all) over two workers, `left` and `right`;
// prints "observed_node: ready" on stdout and runs until stopped (SIGTERM/SIGINT).
// With --quit it starts one process that sleeps 200 ms and ends: the observer's
// own processes must not keep the node running.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "beamline/beamline.hpp"
#include "beamline/otp.hpp"

namespace bl = beamline;
using namespace std::chrono_literals;

namespace {

struct never {};

bl::process wait_forever() {
  co_await bl::receive([](never) {});
}

bl::process spin() {
  for (;;) co_await bl::check();
}

bl::process linked_pair() {
  bl::pid partner = bl::spawn_link(wait_forever);
  bl::register_name(bl::atom("linked_b"), partner);
  co_await bl::receive([](never) {});
}

struct idle_worker {};

bl::process hog() {
  for (;;) {
    const auto until = std::chrono::steady_clock::now() + 5ms;
    volatile std::uint64_t spins = 0;
    while (std::chrono::steady_clock::now() < until) spins = spins + 1;
    co_await bl::sleep(100ms);
  }
}

bl::process supervised_tree() {
  namespace sup = bl::supervisor;
  namespace gs = bl::gen_server;
  auto inner = sup::supervisor_child(
      bl::atom("inner"), {.strategy = sup::strategy::one_for_all, .intensity = 5, .period = 10s},
      sup::children(sup::worker<idle_worker>(bl::atom("left")),
                    sup::worker<idle_worker>(bl::atom("right"))));
  auto tree = co_await sup::start_link(
      {.strategy = sup::strategy::one_for_one, .intensity = 5, .period = 10s},
      sup::children(
          sup::worker<idle_worker>(bl::atom("steady"), gs::start_options(bl::atom("steady"))),
          inner),
      gs::start_options(bl::atom("observed_sup")));
  if (!tree.is_ok()) std::fprintf(stderr, "observed_node: the supervisor did not start\n");
  co_await bl::receive([](never) {});
}

bl::process start(int idle, int flood, bool supervisors, bool hogging) {
  bl::pid loaded = bl::spawn(wait_forever);
  bl::register_name(bl::atom("loaded"), loaded);
  for (int i = 0; i < 5; ++i) bl::send(loaded, std::string("queued ") + std::to_string(i));
  bl::register_name(bl::atom("busy"), bl::spawn(spin));
  bl::register_name(bl::atom("victim"), bl::spawn(wait_forever));
  bl::register_name(bl::atom("linked_a"), bl::spawn(linked_pair));
  for (int i = 0; i < idle; ++i) bl::spawn(wait_forever);
  if (flood > 0) {
    bl::pid flooded = bl::spawn(wait_forever);
    bl::register_name(bl::atom("flooded"), flooded);
    for (int i = 0; i < flood; ++i) bl::send(flooded, i);
  }
  if (hogging) bl::register_name(bl::atom("hog"), bl::spawn(hog));
  if (supervisors) {
    bl::spawn(supervised_tree);
    while (!bl::whereis(bl::atom("steady"))) co_await bl::sleep(std::chrono::milliseconds(1));
  }
  std::printf("observed_node: ready\n");
  std::fflush(stdout);
  co_await bl::receive([](never) {});
}

}  // namespace

int main(int argc, char** argv) {
  int idle = 100;
  int flood = 0;
  bool supervisors = false;
  bool hogging = false;
  bool quit = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--idle") == 0 && i + 1 < argc) idle = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--flood") == 0 && i + 1 < argc) flood = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--quit") == 0) quit = true;
    if (std::strcmp(argv[i], "--supervisors") == 0) supervisors = true;
    if (std::strcmp(argv[i], "--hog") == 0) hogging = true;
  }
  try {
    bl::node node(bl::node_options::from_args(argc, argv));
    if (quit)
      node.spawn([]() -> bl::process { co_await bl::sleep(std::chrono::milliseconds(200)); });
    else
      node.spawn(start, idle, flood, supervisors, hogging);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "observed_node: %s\n", e.what());
    return 2;
  }
}
