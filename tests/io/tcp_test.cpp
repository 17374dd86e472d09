// tcp_*: TCP sockets through the public API, on nodes of 1, 2, 4 and 8 workers and
// in the deterministic mode: every wait goes through the poller and the scheduler.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace net = bl::net;

class tcp : public node_test {};
BEAMLINE_SWEEP_WORKERS(tcp);

// A listener on an ephemeral loopback port.
net::tcp_listener listen_loopback() {
  auto listener = net::tcp_listener::listen(net::address::loopback_v4(0));
  EXPECT_TRUE(listener) << listener.error().message();
  return std::move(listener).value();
}

std::uint16_t port_of(const net::tcp_listener& l) {
  return l.local_address().value().port();
}

// Echoes every byte on one connection until the peer closes.
bl::process echo_connection(net::tcp_socket& socket) {
  std::array<char, 1024> buffer;
  for (;;) {
    auto n = co_await socket.read_some(buffer);
    if (!n || *n == 0) co_return;
    auto written = co_await socket.write({buffer.data(), *n});
    if (!written) co_return;
  }
}

// Accepts `connections` clients, one process each.
bl::process echo_server(net::tcp_listener& listener, int connections) {
  for (int i = 0; i < connections; ++i) {
    auto socket = co_await listener.accept();
    if (!socket) co_return;
    bl::spawn(echo_connection, std::move(*socket));
  }
}

TEST_P(tcp, echoes_over_an_ephemeral_port) {
  std::string got;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    EXPECT_NE(port, 0);
    bl::spawn([](net::tcp_listener& l) { return echo_server(l, 1); }, std::move(listener));
    auto client = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    EXPECT_TRUE(client) << client.error().message();
    if (!client) co_return;
    EXPECT_TRUE(co_await client->write("hello, beam"));
    std::string buffer(11, '\0');
    auto read = co_await client->read_exact(buffer, 5s);
    EXPECT_TRUE(read) << read.error().message();
    got = buffer;
  });
  EXPECT_EQ(got, "hello, beam");
}

TEST_P(tcp, many_clients_each_served_by_its_own_process) {
  constexpr int clients = 20;
  constexpr int rounds = 50;
  std::atomic<int> ok{0};
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn([](net::tcp_listener& l) { return echo_server(l, clients); }, std::move(listener));
    for (int c = 0; c < clients; ++c) {
      bl::spawn([&ok, port, c]() -> bl::process {
        auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 10s);
        if (!s) co_return;
        for (int i = 0; i < rounds; ++i) {
          std::string message = "client " + std::to_string(c) + " round " + std::to_string(i);
          if (!co_await s->write(message)) co_return;
          std::string back(message.size(), '\0');
          if (!co_await s->read_exact(back, 10s) || back != message) co_return;
        }
        ok.fetch_add(1);
      });
    }
    co_return;
  });
  EXPECT_EQ(ok.load(), clients);
}

TEST_P(tcp, ipv6_listener_takes_ipv4_and_ipv6_clients) {
  int answered = 0;
  bool no_ipv6 = false;
  run([&]() -> bl::process {
    auto listener = net::tcp_listener::listen(net::address::any_v6(0));
    if (!listener) {
      no_ipv6 = true;
      co_return;
    }
    std::uint16_t port = port_of(*listener);
    bl::spawn([](net::tcp_listener& l) { return echo_server(l, 2); }, std::move(*listener));
    for (auto to : {net::address::loopback_v4(port), net::address::loopback_v6(port)}) {
      auto s = co_await net::tcp_socket::connect(to, 5s);
      if (!s) continue;
      EXPECT_EQ(s->peer_address()->port(), port);
      std::array<char, 2> back{};
      if (co_await s->write("ok") && co_await s->read_exact(back, 5s)) ++answered;
    }
  });
  if (no_ipv6) GTEST_SKIP() << "no IPv6 on this machine";
  EXPECT_EQ(answered, 2);
}

TEST_P(tcp, reads_lines_and_length_prefixed_packets) {
  std::vector<std::string> got;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn(
        [](net::tcp_listener& l) -> bl::process {
          auto s = co_await l.accept();
          if (!s) co_return;
          // Lines and frames arrive split and merged across writes.
          std::string bytes = "first line\nsecond";
          bytes += " line\n";
          for (unsigned header : {1u, 2u, 4u}) {
            std::string payload = "frame of " + std::to_string(header);
            std::string frame;
            for (unsigned i = 0; i < header; ++i)
              frame += static_cast<char>(i + 1 == header ? payload.size() : 0);
            bytes += frame + payload;
          }
          for (std::size_t i = 0; i < bytes.size(); i += 3) {
            if (!co_await s->write(std::string_view(bytes).substr(i, 3))) co_return;
            co_await bl::sleep(1ms);
          }
          (void)co_await s->read_exact(std::span<char>(bytes.data(), 1),
                                       5s);  // until the client closes
        },
        std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    for (int i = 0; i < 2; ++i) {
      auto line = co_await s->read_until('\n', 5s);
      got.push_back(line ? *line : line.error().message());
    }
    for (unsigned header : {1u, 2u, 4u}) {
      s->set_framing({header, 1024});
      auto packet = co_await s->read_packet(5s);
      got.push_back(packet ? *packet : packet.error().message());
    }
  });
  EXPECT_EQ(got, (std::vector<std::string>{"first line", "second line", "frame of 1", "frame of 2",
                                           "frame of 4"}));
}

TEST_P(tcp, write_packet_and_read_packet_round_trip) {
  std::vector<std::string> got;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn(
        [](net::tcp_listener& l) -> bl::process {
          auto s = co_await l.accept();
          if (!s) co_return;
          s->set_framing({2, 100'000});
          for (;;) {
            auto p = co_await s->read_packet(5s);
            if (!p) co_return;
            if (!co_await s->write_packet("echo:" + *p)) co_return;
          }
        },
        std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    s->set_framing({2, 100'000});
    std::string big(60'000, 'x');
    for (std::string message : {std::string("a"), std::string(), big}) {
      if (!co_await s->write_packet(message)) co_return;
      auto p = co_await s->read_packet(5s);
      got.push_back(p ? *p : p.error().message());
    }
    // Too long for a 2-byte prefix: refused before anything is sent.
    auto too_long = co_await s->write_packet(std::string(70'000, 'y'));
    EXPECT_EQ(too_long.error(), net::error::frame_too_large);
  });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "echo:a");
  EXPECT_EQ(got[1], "echo:");
  EXPECT_EQ(got[2], "echo:" + std::string(60'000, 'x'));
}

TEST_P(tcp, an_oversized_frame_is_an_error_not_an_allocation) {
  std::error_code got;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn(
        [](net::tcp_listener& l) -> bl::process {
          auto s = co_await l.accept();
          if (!s) co_return;
          // A 4-byte prefix announcing 2 GiB.
          (void)co_await s->write(std::string_view("\x7f\xff\xff\xff", 4));
          std::array<char, 1> end{};
          (void)co_await s->read_some(end, 5s);
        },
        std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    s->set_framing({4, 1 << 20});
    auto p = co_await s->read_packet(5s);
    got = p.error();
    EXPECT_LE(s->buffered(), 4u);
  });
  EXPECT_EQ(got, net::error::frame_too_large);
}

TEST_P(tcp, a_line_longer_than_the_limit_is_an_error) {
  std::error_code got;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn(
        [](net::tcp_listener& l) -> bl::process {
          auto s = co_await l.accept();
          if (!s) co_return;
          std::string garbage(10'000, '\x01');
          (void)co_await s->write(garbage);
          std::array<char, 1> end{};
          (void)co_await s->read_some(end, 5s);
        },
        std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    s->set_framing({0, 1000});
    auto line = co_await s->read_until('\n', 5s);
    got = line.error();
    EXPECT_LE(s->buffered(), 4096u);
  });
  EXPECT_EQ(got, net::error::line_too_long);
}

TEST_P(tcp, a_line_longer_than_the_limit_is_an_error_even_when_it_arrives_whole) {
  // The line and its delimiter come in one write, so one read takes both: the
  // delimiter lies beyond max_size + 1 bytes and must not be searched for.
  std::vector<std::string> got;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn(
        [](net::tcp_listener& l) -> bl::process {
          auto s = co_await l.accept();
          if (!s) co_return;
          (void)co_await s->write("0123456789abcdef\nshort\n");
          std::array<char, 1> end{};
          (void)co_await s->read_some(end, 5s);
        },
        std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    s->set_framing({0, 10});
    auto line = co_await s->read_until('\n', 5s);
    got.push_back(line ? *line : line.error().message());
    // Exactly max_size bytes is still a line.
    s->set_framing({0, 16});
    line = co_await s->read_until('\n', 5s);
    got.push_back(line ? *line : line.error().message());
  });
  EXPECT_EQ(got, (std::vector<std::string>{make_error_code(net::error::line_too_long).message(),
                                           "0123456789abcdef"}));
}

// Every header_bytes but 0, 1, 2 and 4, and every max_size outside 1..2^32-1.
std::vector<net::framing> invalid_framings() {
  std::vector<net::framing> bad;
  for (unsigned header : {3u, 5u, 6u, 7u, 8u, 9u, 16u, 63u, 64u, 65u, 128u, 0x7fffffffu,
                          0x80000000u, std::numeric_limits<unsigned>::max()})
    bad.push_back({header, 1024});
  for (unsigned header : {0u, 1u, 2u, 4u}) {
    bad.push_back({header, 0});
    bad.push_back({header, net::framing::largest_max_size + 1});
    bad.push_back({header, std::numeric_limits<std::size_t>::max()});
  }
  bad.push_back({8, 0});
  return bad;
}

TEST(tcp_framing, only_header_bytes_0_1_2_4_and_max_size_1_to_2_pow_32_are_valid) {
  for (unsigned header = 0; header <= 256; ++header)
    EXPECT_EQ((net::framing{header, 1024}.valid()),
              header == 0 || header == 1 || header == 2 || header == 4)
        << header;
  for (const net::framing& f : invalid_framings())
    EXPECT_FALSE(f.valid()) << f.header_bytes << " " << f.max_size;
  for (std::size_t size : {std::size_t{1}, std::size_t{4096}, net::framing::largest_max_size})
    EXPECT_TRUE((net::framing{4, size}.valid())) << size;
  EXPECT_TRUE(net::framing{}.valid());
}

TEST(tcp_framing, set_framing_refuses_an_invalid_framing_and_keeps_the_old_one) {
  net::tcp_socket closed;
  closed.set_framing({2, 500});
  for (const net::framing& f : invalid_framings()) {
    EXPECT_THROW(closed.set_framing(f), std::invalid_argument)
        << f.header_bytes << " " << f.max_size;
    EXPECT_EQ(closed.current_framing().header_bytes, 2u);
    EXPECT_EQ(closed.current_framing().max_size, 500u);
  }
  try {
    closed.set_framing({5, 1024});
    ADD_FAILURE() << "header_bytes 5 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("header_bytes must be 0, 1, 2 or 4, not 5"),
              std::string::npos)
        << e.what();
  }
  try {
    closed.set_framing({4, 0});
    ADD_FAILURE() << "max_size 0 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("max_size must be from 1 to 4294967295, not 0"),
              std::string::npos)
        << e.what();
  }
}

TEST_P(tcp, packets_after_a_refused_framing_use_the_framing_before_it) {
  // An invalid framing never reaches write_packet or read_packet: after each refusal
  // a frame still goes out and comes back under the 2-byte framing set before.
  std::vector<std::string> got;
  std::size_t refused = 0;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn([](net::tcp_listener& l) { return echo_server(l, 1); }, std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    s->set_framing({2, 1000});
    for (const net::framing& f : invalid_framings()) {
      try {
        s->set_framing(f);
      } catch (const std::invalid_argument&) {
        ++refused;
      }
      const std::string payload = std::to_string(f.header_bytes) + "/" + std::to_string(f.max_size);
      if (!co_await s->write_packet(payload, 5s)) co_return;
      // The echo carries the prefix too: read it raw, then as a frame.
      std::array<char, 2> prefix{};
      if (!co_await s->read_exact(prefix, 5s)) co_return;
      got.push_back(std::to_string(static_cast<unsigned char>(prefix[0]) * 256 +
                                   static_cast<unsigned char>(prefix[1])));
      std::string body(payload.size(), '\0');
      if (!co_await s->read_exact(body, 5s)) co_return;
      got.back() += ":" + body;
    }
    // And read_packet, under the same framing.
    if (!co_await s->write_packet("last", 5s)) co_return;
    auto last = co_await s->read_packet(5s);
    got.push_back(last ? *last : last.error().message());
  });
  std::vector<std::string> expected;
  for (const net::framing& f : invalid_framings()) {
    const std::string payload = std::to_string(f.header_bytes) + "/" + std::to_string(f.max_size);
    expected.push_back(std::to_string(payload.size()) + ":" + payload);
  }
  expected.push_back("last");
  EXPECT_EQ(refused, invalid_framings().size());
  EXPECT_EQ(got, expected);
}

TEST_P(tcp, waits_time_out) {
  std::error_code accept_error, read_error, connect_error;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    auto before = std::chrono::steady_clock::now();
    auto nobody = co_await listener.accept(30ms);
    accept_error = nobody.error();
    EXPECT_GE(std::chrono::steady_clock::now() - before, 25ms);
    // A client that connects and never sends.
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    auto served = co_await listener.accept(5s);
    if (!s || !served) co_return;
    std::array<char, 8> buffer{};
    auto silent = co_await served->read_some(buffer, 30ms);
    read_error = silent.error();
    // A zero timeout only polls.
    auto poll = co_await served->read_some(buffer, 0ms);
    EXPECT_EQ(poll.error(), std::errc::timed_out);
    // A listener that never accepts and has a full backlog drops new SYNs: a
    // connect then times out.
    auto full = net::tcp_listener::listen(net::address::loopback_v4(0), {.backlog = 0});
    if (!full) co_return;
    std::vector<net::tcp_socket> queued;
    for (int i = 0; i < 16 && !connect_error; ++i) {
      auto c = co_await net::tcp_socket::connect(net::address::loopback_v4(port_of(*full)), 50ms);
      if (c)
        queued.push_back(std::move(*c));
      else
        connect_error = c.error();
    }
  });
  EXPECT_EQ(accept_error, std::errc::timed_out);
  EXPECT_EQ(read_error, std::errc::timed_out);
  EXPECT_EQ(connect_error, std::errc::timed_out);
}

TEST_P(tcp, connection_refused_is_an_error_value) {
  // A port bound but not listening refuses connections. (A port merely closed again
  // is not enough: the connecting socket may be given it as its own ephemeral port
  // and connect to itself, TCP's simultaneous open.)
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in bound{};
  bound.sin_family = AF_INET;
  bound.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof bound;
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&bound), sizeof bound), 0);
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&bound), &length), 0);
  const std::uint16_t port = ntohs(bound.sin_port);
  std::error_code got;
  bool connected = false;
  run([&]() -> bl::process {
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    connected = s.has_value();
    if (!connected) got = s.error();
  });
  ::close(holder);
  EXPECT_FALSE(connected);
  EXPECT_EQ(got, std::errc::connection_refused);
}

TEST_P(tcp, half_closed_sockets_still_carry_the_other_direction) {
  std::string got;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn(
        [](net::tcp_listener& l) -> bl::process {
          auto s = co_await l.accept();
          if (!s) co_return;
          // Read everything until the client's end of stream, then answer.
          std::string all;
          std::array<char, 64> buffer;
          for (;;) {
            auto n = co_await s->read_some(buffer, 5s);
            if (!n) co_return;
            if (*n == 0) break;
            all.append(buffer.data(), *n);
          }
          (void)co_await s->write("got " + all);
        },
        std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    (void)co_await s->write("request");
    EXPECT_TRUE(s->shutdown(net::shutdown_how::write));
    // Writing after our shutdown fails; reading still works.
    auto late = co_await s->write("more");
    EXPECT_EQ(late.error(), std::errc::broken_pipe);
    std::array<char, 64> buffer;
    for (;;) {
      auto n = co_await s->read_some(buffer, 5s);
      if (!n || *n == 0) break;
      got.append(buffer.data(), *n);
    }
  });
  EXPECT_EQ(got, "got request");
}

TEST_P(tcp, a_peer_vanishing_mid_message_is_end_of_stream) {
  std::error_code exact, packet;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn(
        [](net::tcp_listener& l) -> bl::process {
          for (int i = 0; i < 2; ++i) {
            auto s = co_await l.accept();
            if (!s) co_return;
            // Half a message, then gone.
            (void)co_await s->write(std::string_view("\x00\x00\x00\x10half", 8));
          }
        },
        std::move(listener));
    auto a = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!a) co_return;
    std::array<char, 100> buffer;
    exact = (co_await a->read_exact(buffer, 5s)).error();
    auto b = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!b) co_return;
    b->set_framing({4, 1000});
    packet = (co_await b->read_packet(5s)).error();
  });
  EXPECT_EQ(exact, net::error::end_of_stream);
  EXPECT_EQ(packet, net::error::end_of_stream);
}

TEST_P(tcp, a_killed_owner_closes_its_socket) {
  std::size_t got = 1;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::pid me = bl::self();
    // The owner waits in a read when it is killed.
    bl::pid owner = bl::spawn(
        [me](net::tcp_listener& l) -> bl::process {
          auto s = co_await l.accept();
          if (!s) co_return;
          bl::send(me, bl::atom("accepted"));
          std::array<char, 16> buffer;
          (void)co_await s->read_exact(buffer);
        },
        std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    co_await bl::receive([](bl::atom) {});
    co_await bl::sleep(5ms);  // let it suspend in the read
    bl::exit(owner, bl::atom("kill"));
    // Readiness for the dead process's socket arrives after its death.
    (void)co_await s->write("too late");
    std::array<char, 16> buffer;
    auto n = co_await s->read_some(buffer, 5s);
    if (n)
      got = *n;
    else if (n.error() == std::errc::connection_reset)
      got = 0;
  });
  EXPECT_EQ(got, 0u);
}

TEST_P(tcp, writev_sends_the_pieces_in_order) {
  std::string got;
  run([&]() -> bl::process {
    auto listener = listen_loopback();
    std::uint16_t port = port_of(listener);
    bl::spawn([](net::tcp_listener& l) { return echo_server(l, 1); }, std::move(listener));
    auto s = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!s) co_return;
    EXPECT_TRUE(s->set_nodelay(true));
    EXPECT_TRUE(s->set_keepalive(true));
    EXPECT_TRUE(s->set_send_buffer_size(64 * 1024));
    EXPECT_TRUE(s->set_receive_buffer_size(64 * 1024));
    std::array<std::string_view, 3> pieces{"one ", "two ", "three"};
    EXPECT_TRUE(co_await s->writev(pieces));
    std::string back(13, '\0');
    if (co_await s->read_exact(back, 5s)) got = back;
  });
  EXPECT_EQ(got, "one two three");
}

TEST_P(tcp, a_closed_socket_reports_not_open) {
  std::error_code read_error, write_error;
  run([&]() -> bl::process {
    net::tcp_socket s;
    std::array<char, 4> buffer;
    read_error = (co_await s.read_some(buffer)).error();
    write_error = (co_await s.write("x")).error();
    EXPECT_EQ(s.set_nodelay(true).error(), net::error::not_open);
  });
  EXPECT_EQ(read_error, net::error::not_open);
  EXPECT_EQ(write_error, net::error::not_open);
}

TEST(tcp_address, parses_and_prints) {
  EXPECT_EQ(net::address::parse("127.0.0.1", 80)->to_string(), "127.0.0.1:80");
  EXPECT_EQ(net::address::parse("::1", 443)->to_string(), "[::1]:443");
  EXPECT_EQ(net::address::parse("::1", 443)->family(), net::family::ipv6);
  EXPECT_EQ(net::address::parse("nonsense", 1).error(), std::errc::invalid_argument);
  EXPECT_EQ(net::address::loopback_v4(7).with_port(9).port(), 9);
  EXPECT_EQ(net::address::loopback_v4(7), *net::address::parse("127.0.0.1", 7));
}

}  // namespace
