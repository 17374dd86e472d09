// udp_* and resolve_*: datagrams between processes, and name resolution on the
// dirty IO pool.
#include <array>
#include <string>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace net = bl::net;

class udp : public node_test {};
BEAMLINE_SWEEP_WORKERS(udp);

TEST_P(udp, datagrams_go_both_ways) {
  std::string got;
  run([&]() -> bl::process {
    auto server = net::udp_socket::bind(net::address::loopback_v4(0));
    if (!server) co_return;
    net::address at = server->local_address().value();
    bl::spawn(
        [](net::udp_socket& s) -> bl::process {
          std::array<char, 64> buffer;
          auto d = co_await s.receive_from(buffer, 5s);
          if (!d) co_return;
          std::string answer = "re: " + std::string(buffer.data(), d->size);
          (void)co_await s.send_to(answer, d->from);
        },
        std::move(*server));
    auto client = net::udp_socket::bind(net::address::loopback_v4(0));
    if (!client) co_return;
    EXPECT_TRUE(co_await client->send_to("hello", at));
    std::array<char, 64> buffer;
    auto d = co_await client->receive_from(buffer, 5s);
    EXPECT_TRUE(d) << d.error().message();
    if (!d) co_return;
    EXPECT_EQ(d->from, at);
    EXPECT_FALSE(d->truncated);
    got.assign(buffer.data(), d->size);
  });
  EXPECT_EQ(got, "re: hello");
}

TEST_P(udp, receive_times_out_and_truncation_is_reported) {
  bool timed_out = false, truncated = false;
  run([&]() -> bl::process {
    auto s = net::udp_socket::bind(net::address::loopback_v4(0));
    if (!s) co_return;
    std::array<char, 4> small;
    auto nothing = co_await s->receive_from(small, 20ms);
    timed_out = nothing.error() == std::errc::timed_out;
    net::address self_address = s->local_address().value();
    (void)co_await s->send_to("longer than four", self_address);
    auto d = co_await s->receive_from(small, 5s);
    truncated = d && d->truncated && d->size == 4;
  });
  EXPECT_TRUE(timed_out);
  EXPECT_TRUE(truncated);
}

class resolve : public node_test {};
BEAMLINE_SWEEP_WORKERS(resolve);

TEST_P(resolve, finds_localhost_and_reports_unknown_names) {
  bool found_loopback = false;
  std::error_code unknown;
  run([&]() -> bl::process {
    auto local = co_await net::resolve("localhost", 80);
    if (local)
      for (const net::address& a : *local)
        if (a.ip() == "127.0.0.1" || a.ip() == "::1") found_loopback = a.port() == 80;
    auto numeric = co_await net::resolve("127.0.0.1", 81, net::family::ipv4);
    EXPECT_TRUE(numeric && numeric->size() == 1 && (*numeric)[0].to_string() == "127.0.0.1:81");
    auto none = co_await net::resolve("no-such-host.invalid", 80);
    unknown = none.error();
  });
  EXPECT_TRUE(found_loopback);
  EXPECT_EQ(unknown, std::errc::host_unreachable);
}

}  // namespace
