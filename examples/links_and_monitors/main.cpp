// links_and_monitors: a parent starts workers under monitors and watches what
// becomes of them: results arrive as messages, endings as DOWN messages, and a
// crash in one worker touches no one else. Then the same with a link, trapped.
#include <beamline/beamline.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace bl = beamline;
using namespace std::chrono_literals;

bl::process worker(bl::pid parent, int n) {
  co_await bl::sleep(std::chrono::milliseconds(10 * n));
  if (n == 3) throw std::runtime_error("worker 3 cannot count");
  if (n == 4) bl::exit(bl::atom("gave_up"));
  bl::send(parent, bl::self(), n * n);
}

bl::process parent() {
  std::printf("parent %s starts 5 workers under monitors\n", bl::self().to_string().c_str());
  for (int n = 1; n <= 5; ++n) {
    [[maybe_unused]] auto [pid, monitor] = bl::spawn_monitor(worker, bl::self(), n);
    std::printf("  started %s, monitor %s\n", pid.to_string().c_str(), monitor.to_string().c_str());
  }
  for (int events = 0; events < 8;) {
    co_await bl::receive(
        [&](bl::pid from, int result) {
          std::printf("  result from %s: %d\n", from.to_string().c_str(), result);
          ++events;
        },
        [&](const bl::down_message& down) {
          std::printf("  DOWN %s\n", down.to_term().to_string().c_str());
          ++events;
        });
  }

  std::printf("parent traps exits and links to a worker that crashes\n");
  bl::trap_exit(true);
  bl::pid linked = bl::spawn_link(worker, bl::self(), 3);
  auto exit = co_await bl::receive<bl::exit_message>();
  std::printf("  %s (from %s): the parent lives on\n", exit.to_term().to_string().c_str(),
              linked.to_string().c_str());
}

int main(int argc, char** argv) {
  bl::node_options options = bl::node_options::from_args(argc, argv);  // --observer PORT...
  options.log_crashes = false;  // the DOWN messages show the crashes
  bl::node node(options);
  node.spawn(parent);
  return node.run();
}
