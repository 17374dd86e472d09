// W10 tcp_echo: an echo server and 100 client connections in one node, each client
// doing 10,000 request/response round trips of 64 bytes over loopback.
// RESULT: requests_per_sec (all clients' round trips over the wall time from the
// first request to the last answer), p99_us (of every round trip's latency).
//
// Server: one acceptor process, one process per connection (read_some, write the
// bytes back). Client: one process per connection (write 64 bytes, read_exact 64,
// time it). Both sides set TCP_NODELAY. The peers (bench/peers/go/tcp_echo,
// bench/peers/erlang/tcp_echo.escript) do the same with goroutines and Erlang
// processes in one program.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "../workloads/bench_support.hpp"

namespace bl = beamline;
namespace net = bl::net;

namespace {

constexpr int connections = 100;
constexpr std::size_t message_size = 64;

bl::process serve(net::tcp_socket& socket) {
  (void)socket.set_nodelay(true);
  std::array<char, 4096> buffer;
  for (;;) {
    auto n = co_await socket.read_some(buffer);
    if (!n || *n == 0) co_return;
    if (!co_await socket.write({buffer.data(), *n})) co_return;
  }
}

bl::process accept_all(net::tcp_listener& listener, int count) {
  for (int i = 0; i < count; ++i) {
    auto socket = co_await listener.accept();
    if (!socket) co_return;
    bl::spawn(serve, std::move(*socket));
  }
}

struct client_state {
  std::vector<std::uint32_t> latencies_ns;
  long completed = 0;
  bool ok = true;
};

}  // namespace

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long rounds = bench::scaled(args, 10'000);
  std::vector<client_state> clients(connections);
  for (auto& c : clients) c.latencies_ns.reserve(static_cast<std::size_t>(rounds));
  bench::clock_type::time_point start, end;
  bool listening = true;

  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    auto listener = net::tcp_listener::listen(net::address::loopback_v4(0));
    if (!listener) {
      listening = false;
      co_return;
    }
    std::uint16_t port = listener->local_address()->port();
    bl::spawn([](net::tcp_listener& l) { return accept_all(l, connections); },
              std::move(*listener));
    // Connect everyone first, then start the clock and let them go.
    std::vector<bl::pid> ready;
    bl::pid me = bl::self();
    for (int i = 0; i < connections; ++i) {
      client_state* state = &clients[static_cast<std::size_t>(i)];
      bl::spawn([me, port, state, rounds]() -> bl::process {
        auto socket = co_await net::tcp_socket::connect(net::address::loopback_v4(port));
        if (!socket) {
          state->ok = false;
          bl::send(me, bl::self(), false);
          co_return;
        }
        (void)socket->set_nodelay(true);
        bl::send(me, bl::self(), true);
        co_await bl::receive<bl::atom>();  // go
        std::array<char, message_size> request;
        std::array<char, message_size> answer;
        request.fill('x');
        for (long r = 0; r < rounds; ++r) {
          request[0] = static_cast<char>(r);
          auto sent_at = bench::clock_type::now();
          if (!co_await socket->write({request.data(), request.size()}) ||
              !co_await socket->read_exact(answer) || answer != request) {
            state->ok = false;
            break;
          }
          auto took = bench::clock_type::now() - sent_at;
          state->latencies_ns.push_back(static_cast<std::uint32_t>(
              std::min<std::int64_t>(std::chrono::nanoseconds(took).count(), UINT32_MAX)));
          ++state->completed;
        }
        bl::send(me, bl::atom("done"));
      });
    }
    std::vector<bl::pid> waiting;
    for (int i = 0; i < connections; ++i) {
      auto [client, connected] = co_await bl::receive<bl::pid, bool>();
      if (connected) waiting.push_back(client);
    }
    start = bench::clock_type::now();
    for (const bl::pid& client : waiting) bl::send(client, bl::atom("go"));
    for (std::size_t i = 0; i < waiting.size(); ++i) co_await bl::receive<bl::atom>();
    end = bench::clock_type::now();
  });
  node.run();

  std::vector<std::uint32_t> all;
  long completed = 0;
  bool ok = listening;
  for (auto& c : clients) {
    all.insert(all.end(), c.latencies_ns.begin(), c.latencies_ns.end());
    completed += c.completed;
    ok = ok && c.ok;
  }
  double seconds = bench::ms_between(start, end) / 1e3;
  double p99_us = 0;
  if (!all.empty()) {
    auto at = all.begin() + static_cast<std::ptrdiff_t>(static_cast<double>(all.size() - 1) * 0.99);
    std::nth_element(all.begin(), at, all.end());
    p99_us = *at / 1e3;
  }
  bench::report("tcp_echo", ok && completed == rounds * connections, args,
                {{"connections", std::to_string(connections)},
                 {"round_trips", std::to_string(rounds)},
                 {"message_bytes", std::to_string(message_size)}},
                {{"requests_per_sec", seconds > 0 ? static_cast<double>(completed) / seconds : 0},
                 {"p99_us", p99_us}});
  return ok ? 0 : 1;
}
