// global_api: bl::names::global on one distributed node (no EPMD): registration and
// its refusals, lookups, send, re-registration, unregistration, a holder's end,
// locks, and a gen_server named {via, global, Name}. Across nodes (with Erlang's global):
// global_interop_test.py and global_partition_test.py.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "beamline/beamline.hpp"
#include "beamline/dist.hpp"
#include "beamline/global.hpp"
#include "beamline/otp.hpp"

namespace {

namespace bl = beamline;
namespace global = bl::names::global;
namespace gs = bl::gen_server;
using namespace std::chrono_literals;

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct echo {
  bl::term handle_call(const bl::term& request, const bl::from&) { return request; }
};

bl::process holder() {
  co_await bl::receive([](bl::atom) {});
}

bl::term name(const char* text) {
  return bl::term::parse(text);
}

bl::process checks(bool* done) {
  // The API waits for the name server; sync() returns at once with no other node.
  co_await global::sync();
  const bl::pid a = bl::spawn(holder), b = bl::spawn(holder);

  EXPECT_TRUE(co_await global::register_name(name("{svc, 1}"), a));
  EXPECT_EQ(global::whereis_name(name("{svc, 1}")), a);
  EXPECT_FALSE(co_await global::register_name(name("{svc, 1}"), b));  // taken
  EXPECT_FALSE(co_await global::register_name(name("other"), a));     // a has a name
  EXPECT_EQ(global::whereis_name(name("other")), std::nullopt);
  EXPECT_EQ(global::registered_names(), std::vector<bl::term>{name("{svc, 1}")});

  // send: to the holder; nobody: bl::error {badarg, {Name, Msg}}.
  EXPECT_EQ(global::send(name("{svc, 1}"), bl::atom("hello")), a);
  try {
    global::send(name("nobody"), bl::atom("hello"));
    ADD_FAILURE() << "send to a name nobody holds did not throw";
  } catch (const bl::error& e) {
    EXPECT_EQ(e.reason(), name("{badarg, {nobody, hello}}"));
  }

  // re_register_name replaces the holder; unregister_name removes the name.
  co_await global::re_register_name(name("{svc, 1}"), b);
  EXPECT_EQ(global::whereis_name(name("{svc, 1}")), b);
  co_await global::unregister_name(name("{svc, 1}"));
  EXPECT_EQ(global::whereis_name(name("{svc, 1}")), std::nullopt);
  co_await global::unregister_name(name("{svc, 1}"));             // nothing to do
  EXPECT_TRUE(co_await global::register_name(name("other"), a));  // a is free again

  // A holder's end removes its name.
  bl::send(a, bl::atom("stop"));
  for (int i = 0; i < 1000 && global::whereis_name(name("other")); ++i) co_await bl::sleep(1ms);
  EXPECT_EQ(global::whereis_name(name("other")), std::nullopt);
  EXPECT_TRUE(global::registered_names().empty());

  // Locks: one requester id at a time per resource; the same id is shared. (The
  // empty node list is a named vector: g++ 12 and braced lists in co_await.)
  const std::vector<bl::atom> everywhere;
  EXPECT_TRUE(co_await global::set_lock(name("{res, me}")));
  EXPECT_TRUE(co_await global::set_lock(name("{res, me}")));                    // again: held
  EXPECT_FALSE(co_await global::set_lock(name("{res, them}"), everywhere, 0));  // no retry
  co_await global::del_lock(name("{res, me}"));
  EXPECT_TRUE(co_await global::set_lock(name("{res, them}"), everywhere, 0));
  co_await global::del_lock(name("{res, them}"));
  // trans: the lock is held while the body runs, and let go after, also when the
  // body throws.
  bool ran = false;
  std::function<bl::task<void>()> body = [&]() -> bl::task<void> {
    ran = true;
    EXPECT_FALSE(co_await global::set_lock(name("{res, them}"), everywhere, 0));
  };
  EXPECT_TRUE(co_await global::trans(name("{res, me}"), body));
  EXPECT_TRUE(ran);
  EXPECT_TRUE(co_await global::set_lock(name("{res, them}"), everywhere, 0));
  std::function<bl::task<void>()> nothing = []() -> bl::task<void> { co_return; };
  EXPECT_FALSE(co_await global::trans(name("{res, me}"), nothing, everywhere, 0));  // aborted
  co_await global::del_lock(name("{res, them}"));
  std::function<bl::task<void>()> throws = []() -> bl::task<void> {
    throw std::runtime_error("boom");
    co_return;
  };
  bool thrown = false;
  try {
    co_await global::trans(name("{res, me}"), throws);
  } catch (const std::runtime_error&) {
    thrown = true;
  }
  EXPECT_TRUE(thrown);
  EXPECT_TRUE(co_await global::set_lock(name("{res, them}"), everywhere, 0));  // let go
  co_await global::del_lock(name("{res, them}"));

  bool refused = false;
  try {
    co_await global::set_lock(name("not_a_pair"));
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  EXPECT_TRUE(refused);

  // {via, global, Name} for a gen_server: registered before init, called by name,
  // refused a second time, and the name goes with the server.
  auto started = co_await gs::start<echo>(global::via(name("{echo, 1}")));
  EXPECT_TRUE(started.is_ok());
  EXPECT_EQ(global::whereis_name(name("{echo, 1}")), started.pid());
  bl::term reply = co_await gs::call(global::via(name("{echo, 1}")), bl::atom("ping"));
  EXPECT_EQ(reply, bl::term(bl::atom("ping")));
  auto again = co_await gs::start<echo>(global::via(name("{echo, 1}")));
  EXPECT_FALSE(again.is_ok());  // {already_started, Pid}
  EXPECT_EQ(global::via(name("{echo, 1}")).to_term(), name("{via, global, {echo, 1}}"));
  co_await gs::stop(started.pid());
  for (int i = 0; i < 1000 && global::whereis_name(name("{echo, 1}")); ++i) co_await bl::sleep(1ms);
  EXPECT_EQ(global::whereis_name(name("{echo, 1}")), std::nullopt);

  bl::send(b, bl::atom("stop"));
  *done = true;
  bl::stop_node();
}

TEST(global_api, on_one_node) {
  bl::node node;
  bl::dist::options o;
  o.name = "global_api_" + std::to_string(::getpid()) + "@127.0.0.1";
  o.cookie = "global_api";
  o.epmd = false;
  o.port_min = o.port_max = free_port();
  bl::dist::start(node, o);
  bool done = false;
  node.spawn(checks, &done);
  node.run();
  EXPECT_TRUE(done);
}

}  // namespace
