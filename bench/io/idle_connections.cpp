// idle_connections: what an idle node with many open connections costs.
// RESULT: cpu_percent (of one core, over --seconds, default 5), with 10,000
// connections each held by a process waiting in a read.
//
// The clients live in a child process (the descriptor limit is per process), made
// before the node starts; they connect, then stay silent. Once every connection
// has its process, the node's CPU time (getrusage: user + system, all threads) is
// read before and after a quiet interval. Nothing runs then but the runtime
// itself: a worker waiting in the poller, the others parked, and the preemption
// monitor's ticks.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <vector>

#include "../workloads/bench_support.hpp"

namespace bl = beamline;
namespace net = bl::net;

namespace {

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

bl::process hold(net::tcp_socket& socket, std::atomic<long>& held) {
  held.fetch_add(1);
  std::array<char, 64> buffer;
  (void)co_await socket.read_some(buffer);  // the clients never send
}

bl::process accept_all(net::tcp_listener& listener, std::atomic<long>& held) {
  for (;;) {
    auto socket = co_await listener.accept();
    if (!socket) co_return;
    bl::spawn([&held](net::tcp_socket& s) { return hold(s, held); }, std::move(*socket));
  }
}

// The child: `count` silent connections, kept until the parent closes `stop`.
[[noreturn]] void clients(int port_pipe, int stop, std::vector<int>& fds) {
  std::uint16_t port = 0;
  if (::read(port_pipe, &port, sizeof port) != sizeof port) ::_exit(2);
  for (int& fd : fds) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) ::_exit(3);
  }
  char byte;
  while (::read(stop, &byte, 1) != 0) {
  }
  ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long count = bench::scaled(args, 10'000);
  double seconds = 5;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);

  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < static_cast<rlim_t>(count) + 100) {
    std::fprintf(stderr, "idle_connections: RLIMIT_NOFILE %lu is too low for %ld connections\n",
                 static_cast<unsigned long>(limit.rlim_cur), count);
    return 1;
  }
  int port_pipe[2], stop_pipe[2];
  if (::pipe(port_pipe) != 0 || ::pipe(stop_pipe) != 0) return 1;
  std::vector<int> fds(static_cast<std::size_t>(count), -1);
  pid_t child = ::fork();
  if (child < 0) return 1;
  if (child == 0) {
    ::close(stop_pipe[1]);
    clients(port_pipe[0], stop_pipe[0], fds);
  }
  ::close(stop_pipe[0]);

  std::atomic<long> held{0};
  double percent = -1;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    auto listener = net::tcp_listener::listen(net::address::loopback_v4(0), {.backlog = 4096});
    if (!listener) co_return;
    std::uint16_t port = listener->local_address()->port();
    bl::spawn([&held](net::tcp_listener& l) { return accept_all(l, held); }, std::move(*listener));
    if (::write(port_pipe[1], &port, sizeof port) != sizeof port) co_return;
    while (held.load() < count) co_await bl::sleep(std::chrono::milliseconds(10));
    co_await bl::sleep(std::chrono::milliseconds(500));  // settle
    double cpu_before = cpu_seconds();
    auto wall_before = bench::clock_type::now();
    co_await bl::sleep(std::chrono::duration<double>(seconds));
    double cpu = cpu_seconds() - cpu_before;
    double wall = bench::ms_between(wall_before, bench::clock_type::now()) / 1e3;
    percent = 100.0 * cpu / wall;
    node.stop();  // the rest of the processes die with the node
  });
  node.run();
  node.shut_down();
  ::close(stop_pipe[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  const bool ok = percent >= 0 && held.load() == count;
  bench::report("idle_connections", ok, args, {{"connections", std::to_string(count)}},
                {{"cpu_percent", percent}, {"seconds", seconds}});
  return ok ? 0 : 1;
}
