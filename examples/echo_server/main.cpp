// echo_server: a TCP server that sends every byte back, one process per
// connection, until Ctrl-C or SIGTERM stops it (the node shuts down in order).
//
// The acceptor process waits in accept; each connection gets its own process,
// which owns its socket: when the client goes away (or the process is killed) the
// socket closes with it. No worker thread ever blocks: a process waiting for bytes
// is parked like one waiting for a message, and the node's poller makes it
// runnable when its socket is ready. Thousands of connections cost a coroutine
// frame and a socket each.
//
//   build/release/bin/echo_server [--port PORT] [--schedulers N]
//
// Port 0 (the default) picks a free port and prints it. Try it with
// `nc 127.0.0.1 PORT`; any load generator for echo servers works as well.
#include <beamline/beamline.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bl = beamline;
namespace net = bl::net;

namespace {

bl::process serve(net::tcp_socket& socket) {
  // No Nagle delay on small echoes.
  (void)socket.set_nodelay(true);
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    auto n = co_await socket.read_some(buffer);
    if (!n || *n == 0) co_return;  // end of stream or an error: the socket closes
    if (!co_await socket.write({buffer.data(), *n})) co_return;
  }
}

bl::process acceptor(net::tcp_listener& listener) {
  for (;;) {
    auto socket = co_await listener.accept();
    if (socket) {
      bl::spawn(serve, std::move(*socket));
    } else {
      // Out of file descriptors, say: report it and keep serving the others.
      std::fprintf(stderr, "echo_server: accept: %s\n", socket.error().message().c_str());
      co_await bl::sleep(std::chrono::milliseconds(10));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port = 0;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--port") == 0) port = static_cast<unsigned>(std::atoi(argv[i + 1]));
  if (port > 65535) {
    std::fprintf(stderr, "echo_server: --port must be at most 65535\n");
    return 2;
  }
  bl::node node(bl::node_options::from_args(argc, argv));
  bool listening = false;
  node.spawn([port, &listening]() -> bl::process {
    // IPv6 and IPv4 on one socket where the system allows it, else IPv4 only.
    auto listener =
        net::tcp_listener::listen(net::address::any_v6(static_cast<std::uint16_t>(port)));
    if (!listener)
      listener = net::tcp_listener::listen(net::address::any_v4(static_cast<std::uint16_t>(port)));
    if (!listener) {
      std::fprintf(stderr, "echo_server: listen on port %u: %s\n", port,
                   listener.error().message().c_str());
      co_return;
    }
    listening = true;
    std::printf("echo_server listening on port %u\n", listener->local_address()->port());
    bl::pid accepting = bl::spawn(acceptor, std::move(*listener));
    // What the acceptor is doing, in its own words (bl::process_info_of):
    //   acceptor: waiting: io read (examples/echo_server/main.cpp:40)
    co_await bl::sleep(std::chrono::milliseconds(10));
    if (auto info = co_await bl::process_info_of(accepting))
      std::printf("acceptor: %s\n", info->status.c_str());
    std::fflush(stdout);
  });
  // Until Ctrl-C or SIGTERM: the node shuts down in order and run() returns.
  int status = node.run();
  return listening ? status : 1;
}
