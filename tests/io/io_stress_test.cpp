// io_stress_*: whole-node IO under pressure: a storm of 10,000 connections (their
// client side in a child process, which has its own descriptor limit), processes
// killed in mid-wait while readiness keeps arriving, descriptor exhaustion, and a
// reader too slow for its writer. Sizes shrink with BEAMLINE_STRESS_SCALE.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace net = bl::net;

bl::node_options two_workers() {
  bl::node_options o;
  o.schedulers = 2;
  o.log_crashes = false;
  return o;
}

std::uint16_t port_of(const net::tcp_listener& l) {
  return l.local_address().value().port();
}

bl::process echo(net::tcp_socket& socket, std::atomic<int>& served) {
  std::array<char, 256> buffer;
  for (;;) {
    auto n = co_await socket.read_some(buffer);
    if (!n || *n == 0) break;
    if (!co_await socket.write({buffer.data(), *n})) break;
  }
  served.fetch_add(1);
}

// Accepts forever, one echo process per connection; reports accept errors to
// `observer` (as the error's value) and keeps going.
bl::process acceptor(net::tcp_listener& listener, std::atomic<int>& served, bl::pid observer) {
  for (;;) {
    auto socket = co_await listener.accept();
    if (socket) {
      bl::spawn([&served](net::tcp_socket& s) { return echo(s, served); }, std::move(*socket));
    } else {
      bl::send(observer, socket.error().value());
      co_await bl::sleep(2ms);
    }
  }
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// A blocking loopback client socket (plain system calls: usable after fork).
int connect_blocking(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The child side of the storm: opens `count` connections, then sends and reads
// back 8 bytes on each while all are open, then closes them. Exit status 0 if all
// went well. Only system calls and memory allocated before fork.
[[noreturn]] void storm_client(int port_pipe, std::vector<int>& fds) {
  std::uint16_t port = 0;
  if (::read(port_pipe, &port, sizeof port) != sizeof port) ::_exit(2);
  for (int& fd : fds)
    if ((fd = connect_blocking(port)) < 0) ::_exit(3);
  const char message[8] = {'s', 't', 'o', 'r', 'm', '!', '!', '\n'};
  for (int fd : fds)
    if (::write(fd, message, sizeof message) != sizeof message) ::_exit(4);
  for (int fd : fds) {
    char back[8];
    std::size_t got = 0;
    while (got < sizeof back) {
      ssize_t n = ::read(fd, back + got, sizeof back - got);
      if (n <= 0) ::_exit(5);
      got += static_cast<std::size_t>(n);
    }
  }
  for (int fd : fds) ::close(fd);
  ::_exit(0);
}

TEST(io_stress, a_storm_of_connections_all_served_at_once) {
  const long count = scaled(10'000);
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  const rlim_t needed = static_cast<rlim_t>(count) + open_descriptors() + 64;
  if (limit.rlim_max < needed)
    GTEST_SKIP() << "RLIMIT_NOFILE's hard limit " << limit.rlim_max << " is below the " << needed
                 << " descriptors this storm needs";
  const rlimit saved = limit;
  if (limit.rlim_cur < needed) {
    limit.rlim_cur = limit.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  int port_pipe[2];
  ASSERT_EQ(::pipe(port_pipe), 0);
  std::vector<int> client_fds(static_cast<std::size_t>(count), -1);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) storm_client(port_pipe[0], client_fds);
  ::close(port_pipe[0]);

  std::atomic<int> served{0};
  int child_status = -1;
  bl::node node(two_workers());
  node.spawn([&]() -> bl::process {
    auto listener = net::tcp_listener::listen(net::address::loopback_v4(0), {.backlog = 4096});
    if (!listener) co_return;
    std::uint16_t port = port_of(*listener);
    bl::pid me = bl::self();
    bl::pid accepting =
        bl::spawn([&served, me](net::tcp_listener& l) { return acceptor(l, served, me); },
                  std::move(*listener));
    EXPECT_EQ(::write(port_pipe[1], &port, sizeof port), static_cast<ssize_t>(sizeof port));
    // The child's exit, waited for on the dirty IO pool.
    auto wait_child = [child] {
      int status = 0;
      while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      return status;
    };
    child_status = co_await bl::blocking(wait_child, bl::dirty_pool::io);
    // Every connection's process ends when its client closes.
    for (int i = 0; i < 3000 && served.load() < count; ++i) co_await bl::sleep(10ms);
    bl::exit(accepting, bl::atom("kill"));
  });
  node.run();
  ::close(port_pipe[1]);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_TRUE(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0)
      << "client child status " << child_status;
  EXPECT_EQ(served.load(), count);
}

TEST(io_stress, processes_killed_in_mid_wait_leave_nothing_behind) {
  // Readiness keeps arriving for sockets whose owners were killed while they
  // waited (ASan and TSan builds check that nothing touches them afterwards).
  const long count = scaled(500);
  long answered = 0;
  bl::node node(two_workers());
  node.spawn([&]() -> bl::process {
    auto listener = net::tcp_listener::listen(net::address::loopback_v4(0), {.backlog = 4096});
    if (!listener) co_return;
    std::uint16_t port = port_of(*listener);
    std::vector<net::tcp_socket> clients;
    std::vector<bl::pid> waiters;
    for (long i = 0; i < count; ++i) {
      auto c = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 10s);
      auto s = co_await listener->accept(10s);
      if (!c || !s) co_return;
      clients.push_back(std::move(*c));
      waiters.push_back(bl::spawn(
          [](net::tcp_socket& socket) -> bl::process {
            std::array<char, 4> buffer;
            (void)co_await socket.read_exact(buffer);  // waits: nothing comes before the kill
          },
          std::move(*s)));
    }
    co_await bl::sleep(20ms);
    for (long i = 0; i < count; ++i) {
      bl::exit(waiters[static_cast<std::size_t>(i)], bl::atom("kill"));
      (void)co_await clients[static_cast<std::size_t>(i)].write("late");  // readiness after death
    }
    // Every killed owner closed its socket: each client sees the end of stream (or
    // a reset, where the late bytes arrived after the close).
    for (auto& c : clients) {
      std::array<char, 8> buffer;
      auto n = co_await c.read_some(buffer, 10s);
      if ((n && *n == 0) || (!n && n.error() == std::errc::connection_reset)) ++answered;
    }
  });
  node.run();
  EXPECT_EQ(answered, count);
}

TEST(io_stress, running_out_of_descriptors_is_an_error_and_the_node_keeps_serving) {
  std::vector<int> emfile_errors;
  bool served_during = false, served_after = false;
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  std::atomic<int> served{0};
  // One worker and no preemption: no thread of the node starts while descriptors
  // are exhausted (the worker's thread starts before any process runs). The
  // asan-ubsan build's vptr check tests a new type's vtable with pipe(), which fails
  // then, and reports a thread starting in that window (the preemption monitor, or a
  // second worker, late under load) as an object with an invalid vptr.
  bl::node_options options = two_workers();
  options.schedulers = 1;
  options.preemption = false;
  bl::node node(options);
  node.spawn([&]() -> bl::process {
    auto listener = net::tcp_listener::listen(net::address::loopback_v4(0));
    if (!listener) co_return;
    std::uint16_t port = port_of(*listener);
    bl::pid me = bl::self();
    // One connection served before the limit comes down.
    auto first = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    auto first_served = co_await listener->accept(5s);
    if (!first || !first_served) co_return;
    bl::spawn([&served](net::tcp_socket& s) { return echo(s, served); }, std::move(*first_served));
    std::array<char, 2> back{};
    EXPECT_TRUE(co_await first->write("a1"));
    EXPECT_TRUE(co_await first->read_exact(back, 5s));
    // Connections waiting in the backlog, then no descriptor left to accept them,
    // and only then an acceptor.
    std::vector<int> pending;
    for (int i = 0; i < 4; ++i) pending.push_back(connect_blocking(port));
    rlimit low = saved;
    low.rlim_cur = open_descriptors() - 1;  // the directory listing's own is closed again
    ::setrlimit(RLIMIT_NOFILE, &low);
    bl::pid accepting =
        bl::spawn([&served, me](net::tcp_listener& l) { return acceptor(l, served, me); },
                  std::move(*listener));
    co_await bl::receive([&](int error) { emfile_errors.push_back(error); }, bl::after(10s, [] {}));
    // The node still serves the connection it has.
    served_during = co_await first->write("b2") && co_await first->read_exact(back, 5s) &&
                    std::string_view(back.data(), 2) == "b2";
    ::setrlimit(RLIMIT_NOFILE, &saved);
    // And, with descriptors again, the connections that waited.
    int answered = 0;
    for (int fd : pending) {
      auto socket = net::tcp_socket::adopt(fd);
      if (!socket) continue;
      if (co_await socket->write("c3") && co_await socket->read_exact(back, 5s)) ++answered;
    }
    served_after = answered == 4;
    // Errors reported meanwhile are in the mailbox: take them.
    for (;;) {
      bool more = co_await bl::receive(
          [&](int error) {
            emfile_errors.push_back(error);
            return true;
          },
          bl::after(0ms, [] { return false; }));
      if (!more) break;
    }
    bl::exit(accepting, bl::atom("kill"));
  });
  node.run();
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_FALSE(emfile_errors.empty());
  for (int e : emfile_errors) EXPECT_TRUE(e == EMFILE || e == ENFILE) << "accept error " << e;
  EXPECT_TRUE(served_during);
  EXPECT_TRUE(served_after);
}

TEST(io_stress, a_slow_reader_slows_its_writer_and_no_one_else) {
  long chunks_before_blocked = -1;
  bool others_served = false, drained = false;
  std::atomic<int> served{0};  // outlives the processes that count in it
  bl::node node(two_workers());
  node.spawn([&]() -> bl::process {
    auto listener = net::tcp_listener::listen(net::address::loopback_v4(0));
    if (!listener) co_return;
    std::uint16_t port = port_of(*listener);
    auto slow = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    auto writer = co_await listener->accept(5s);
    if (!slow || !writer) co_return;
    EXPECT_TRUE(slow->set_receive_buffer_size(16 * 1024));
    EXPECT_TRUE(writer->set_send_buffer_size(16 * 1024));
    // The reader does not read: the writer waits once the kernel's buffers are
    // full, and nothing else buffers for it.
    std::string chunk(64 * 1024, 'w');
    long sent = 0;
    for (; sent < 1024; ++sent) {
      auto w = co_await writer->write(chunk, 100ms);
      if (!w) {
        EXPECT_EQ(w.error(), std::errc::timed_out);
        break;
      }
    }
    chunks_before_blocked = sent;
    // Meanwhile another connection of the node is served as usual.
    bl::pid me = bl::self();
    bl::pid accepting =
        bl::spawn([&served, me](net::tcp_listener& l) { return acceptor(l, served, me); },
                  std::move(*listener));
    auto other = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    std::array<char, 5> back{};
    others_served = other && co_await other->write("quick") && co_await other->read_exact(back, 5s);
    // Once the reader reads, the writer's next chunk goes through.
    bl::pid reader = bl::spawn(
        [](net::tcp_socket& s) -> bl::process {
          std::array<char, 64 * 1024> buffer;
          for (;;) {
            auto n = co_await s.read_some(buffer, 5s);
            if (!n || *n == 0) co_return;
          }
        },
        std::move(*slow));
    drained = static_cast<bool>(co_await writer->write(chunk, 5s));
    writer->close();
    bl::exit(accepting, bl::atom("kill"));
    (void)reader;  // ends at the writer's end of stream
    if (other) other->close();
  });
  node.run();
  EXPECT_GE(chunks_before_blocked, 0);
  EXPECT_LT(chunks_before_blocked, 1024) << "64 MiB went into a socket nobody reads";
  EXPECT_TRUE(others_served);
  EXPECT_TRUE(drained);
}

TEST(io_stress, garbage_and_silence_cost_their_own_connection_only) {
  const long bad_clients = scaled(50);
  long refused = 0;
  bool good_served = false;
  bl::node node(two_workers());
  node.spawn([&]() -> bl::process {
    auto listener = net::tcp_listener::listen(net::address::loopback_v4(0));
    if (!listener) co_return;
    std::uint16_t port = port_of(*listener);
    bl::pid me = bl::self();
    // A packet server: 4-byte length prefixes, at most 1 KiB per frame, 200 ms
    // for a frame to arrive.
    bl::pid server = bl::spawn(
        [me](net::tcp_listener& l) -> bl::process {
          for (;;) {
            auto s = co_await l.accept();
            if (!s) co_return;
            bl::spawn(
                [me](net::tcp_socket& socket) -> bl::process {
                  socket.set_framing({4, 1024});
                  for (;;) {
                    auto frame = co_await socket.read_packet(200ms);
                    if (!frame) {
                      bl::send(me, frame.error().value());
                      co_return;
                    }
                    if (!co_await socket.write_packet(*frame)) co_return;
                  }
                },
                std::move(*s));
          }
        },
        std::move(*listener));
    std::vector<net::tcp_socket> bad;
    for (long i = 0; i < bad_clients; ++i) {
      auto c = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
      if (!c) co_return;
      if (i % 2 == 0) {
        std::string garbage(64, static_cast<char>(0x80 + i % 64));  // a huge length prefix
        (void)co_await c->write(garbage);
      }  // odd ones connect and never send
      bad.push_back(std::move(*c));
    }
    auto good = co_await net::tcp_socket::connect(net::address::loopback_v4(port), 5s);
    if (!good) co_return;
    good->set_framing({4, 1024});
    for (int i = 0; i < 20; ++i) {
      if (!co_await good->write_packet("fine " + std::to_string(i))) co_return;
      auto back = co_await good->read_packet(5s);
      if (!back || *back != "fine " + std::to_string(i)) co_return;
    }
    good_served = true;
    for (long i = 0; i < bad_clients; ++i) {
      int error = co_await bl::receive<int>();
      if (error == static_cast<int>(net::error::frame_too_large) ||
          error == static_cast<int>(std::errc::timed_out))
        ++refused;
    }
    good->close();
    co_await bl::receive<int>();  // the good connection's end
    bl::exit(server, bl::atom("kill"));
  });
  node.run();
  EXPECT_TRUE(good_served);
  EXPECT_EQ(refused, bad_clients);
}

}  // namespace
