// bench_dist_server: the serving node of W8 and W9 (BENCHMARKS.md).
//
//   bench_dist_server --name NAME --cookie C [--schedulers N]
//
// Registers `calls`, a gen_server answering {echo, X} with X, and `sink`, which
// counts {From, {msg, _}} messages and sends From ! {ack, Count} every 10,000th; on
// {From, reset} it sets the count to 0 and answers From ! reset_ok. Prints
// "serving NAME" once both are registered; runs until killed.
#include <cstdio>

#include "beamline/beamline.hpp"
#include "beamline/otp/gen_server.hpp"

namespace bl = beamline;
namespace gs = bl::gen_server;

namespace {

struct calls_server {
  bl::term handle_call(const bl::term& request) {
    if (request.is_tuple() && request.size() == 2) return request[1];
    return bl::atom("badarg");
  }
};

bl::process sink() {
  bl::register_name(bl::atom("sink"), bl::self());
  const bl::term msg(bl::atom("msg")), reset(bl::atom("reset")), ack(bl::atom("ack")),
      reset_ok(bl::atom("reset_ok"));
  long count = 0;
  for (;;) {
    co_await bl::receive([&](const bl::term& t) {
      if (!t.is_tuple() || t.size() != 2 || !t[0].is_pid()) return;
      if (t[1] == reset) {
        count = 0;
        bl::send(t[0].as_pid(), reset_ok);
      } else if (t[1].is_tuple() && t[1].size() == 2 && t[1][0] == msg) {
        if (++count % 10'000 == 0) bl::send(t[0].as_pid(), bl::term::tuple({ack, count}));
      }
    });
  }
}

bl::process serve() {
  auto started = co_await gs::start<calls_server>(gs::start_options(bl::atom("calls")));
  if (!started) {
    std::fprintf(stderr, "bench_dist_server: calls did not start\n");
    bl::stop_node();
    co_return;
  }
  bl::spawn(sink);
  co_await bl::sleep(std::chrono::milliseconds(1));  // sink has registered
  std::printf("serving %s\n", std::string(bl::dist::node_name().name()).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bl::node_options options = bl::node_options::from_args(argc, argv);
    options.log_crashes = false;
    bl::node node(options);
    auto dist = bl::dist::options::from_args(argc, argv);
    if (!dist) {
      std::fprintf(stderr, "usage: bench_dist_server --name NAME --cookie C\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    node.spawn(serve);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dist_server: %s\n", e.what());
    return 1;
  }
}
