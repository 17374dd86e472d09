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
// prints "observed_node: ready" on stdout and runs until stopped (SIGTERM/SIGINT).
// With --quit it starts one process that sleeps 200 ms and ends: the observer's
// own processes must not keep the node running.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "beamline/beamline.hpp"

namespace bl = beamline;

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

bl::process start(int idle, int flood) {
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
  std::printf("observed_node: ready\n");
  std::fflush(stdout);
  co_await bl::receive([](never) {});
}

}  // namespace

int main(int argc, char** argv) {
  int idle = 100;
  int flood = 0;
  bool quit = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--idle") == 0 && i + 1 < argc) idle = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--flood") == 0 && i + 1 < argc) flood = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--quit") == 0) quit = true;
  }
  try {
    bl::node node(bl::node_options::from_args(argc, argv));
    if (quit)
      node.spawn([]() -> bl::process { co_await bl::sleep(std::chrono::milliseconds(200)); });
    else
      node.spawn(start, idle, flood);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "observed_node: %s\n", e.what());
    return 2;
  }
}
