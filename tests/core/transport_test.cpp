// transport_*: signals for a pid of another node leave through the node's transport
// (core/transport.hpp), and the link, monitor and exit protocol is the same code for
// local and remote partners. The transport here plays another node in memory: it
// records what it is given and, when asked, answers as that node would when its
// process ends (an exit signal for each link, a DOWN for each monitor), delivering
// them through the same node_runtime::deliver that carries local signals.
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/node_runtime.hpp"
#include "core/signals.hpp"
#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
using bl::detail::signal;
using bl::detail::signal_kind;

class transport : public node_test {
 public:
  using node_test::run;
};
BEAMLINE_SWEEP_WORKERS(transport);

// What the remote node was given.
struct received {
  bl::pid to;
  signal_kind kind;
  bl::pid from;                    // link, unlink, monitor, demonitor: the requester
  bl::ref monitor;                 // monitor, demonitor
  std::optional<int> value;        // a message of one int
  std::optional<bl::term> reason;  // an exit signal
};

class fake_node final : public bl::detail::signal_transport {
 public:
  explicit fake_node(bl::atom name) : name_(name) {}

  // Becomes the transport of the calling process's node.
  void install() {
    local_ = bl::detail::current_node();
    local_->set_transport(this);
  }

  bool send(const bl::pid& to, signal* s) noexcept override {
    if (to.node != name_.index()) {  // a node this transport cannot reach
      bl::detail::destroy(s);
      return false;
    }
    received r{to, s->kind, {}, {}, {}, {}};
    switch (s->kind) {
      case signal_kind::message:
        if (*s->type->payload == typeid(std::tuple<int>))
          r.value = std::get<0>(static_cast<bl::detail::signal_node<std::tuple<int>>*>(s)->payload);
        break;
      case signal_kind::exit:
        r.reason =
            std::get<0>(
                static_cast<bl::detail::signal_node<std::tuple<bl::exit_message>>*>(s)->payload)
                .reason;
        break;
      default: {
        auto& c = static_cast<bl::detail::signal_node<bl::detail::control_payload>*>(s)->payload;
        r.from = c.from;
        r.monitor = c.monitor;
      }
    }
    bl::detail::destroy(s);
    std::lock_guard guard(lock_);
    log_.push_back(r);
    return true;
  }

  // The remote process `who` ends with `reason`: every process linked to it or
  // monitoring it (as recorded so far) hears of it.
  void end(const bl::pid& who, const bl::term& reason) {
    std::vector<received> log = this->log();
    for (const received& r : log) {
      if (r.to != who) continue;
      if (r.kind == signal_kind::link)
        local_->deliver(r.from, bl::detail::make_exit_signal(who, reason, true));
      else if (r.kind == signal_kind::monitor)
        local_->deliver(r.from, bl::detail::make_down_signal(r.monitor, who, reason));
    }
  }

  std::vector<received> log() {
    std::lock_guard guard(lock_);
    return log_;
  }

 private:
  bl::detail::node_runtime* local_ = nullptr;
  bl::atom name_;
  std::mutex lock_;
  std::vector<received> log_;
};

// A pid of node `name`, as the distribution decoder would make it.
bl::pid remote_pid(bl::atom name, std::uint32_t id) {
  return bl::pid{id, 0, name.index(), 7};
}

TEST_P(transport, a_message_to_a_remote_pid_goes_to_the_transport) {
  const bl::atom name("other@host");
  fake_node other(name);
  run([&]() -> bl::process {
    other.install();
    bl::send(remote_pid(name, 1), 42);
    co_return;
  });
  std::vector<received> log = other.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].kind, signal_kind::message);
  EXPECT_EQ(log[0].to, remote_pid(name, 1));
  EXPECT_EQ(log[0].value, 42);
}

TEST_P(transport, a_remote_link_is_requested_and_its_exit_arrives_as_a_local_one_would) {
  const bl::atom name("other@host");
  fake_node other(name);
  const bl::pid far = remote_pid(name, 2);
  std::optional<bl::exit_message> got;
  run([&]() -> bl::process {
    other.install();
    bl::trap_exit(true);
    bl::link(far);  // no error: the transport took the request
    other.end(far, bl::atom("gone"));
    co_await bl::receive([&](const bl::exit_message& e) { got = e; });
  });
  std::vector<received> log = other.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].kind, signal_kind::link);
  EXPECT_EQ(log[0].to, far);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->from, far);
  EXPECT_EQ(got->reason, bl::term(bl::atom("gone")));
}

TEST_P(transport, a_remote_monitor_gets_its_down_through_the_transport) {
  const bl::atom name("other@host");
  fake_node other(name);
  const bl::pid far = remote_pid(name, 3);
  std::optional<bl::down_message> got;
  bl::ref monitor;
  run([&]() -> bl::process {
    other.install();
    monitor = bl::monitor(far);
    other.end(far, bl::atom("gone"));
    co_await bl::receive([&](const bl::down_message& d) { got = d; });
  });
  std::vector<received> log = other.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].kind, signal_kind::monitor);
  EXPECT_EQ(log[0].monitor, monitor);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->monitor, monitor);
  EXPECT_EQ(got->from, far);
  EXPECT_EQ(got->reason, bl::term(bl::atom("gone")));
}

TEST_P(transport, unlink_demonitor_and_exit_to_a_remote_pid_are_signals_too) {
  const bl::atom name("other@host");
  fake_node other(name);
  const bl::pid far = remote_pid(name, 4);
  run([&]() -> bl::process {
    other.install();
    bl::link(far);
    bl::unlink(far);
    bl::ref m = bl::monitor(far);
    EXPECT_TRUE(bl::demonitor(m));
    bl::exit(far, bl::atom("stop"));
    co_return;
  });
  std::vector<received> log = other.log();
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[0].kind, signal_kind::link);
  EXPECT_EQ(log[1].kind, signal_kind::unlink);
  EXPECT_EQ(log[2].kind, signal_kind::monitor);
  EXPECT_EQ(log[3].kind, signal_kind::demonitor);
  EXPECT_EQ(log[3].monitor, log[2].monitor);
  EXPECT_EQ(log[4].kind, signal_kind::exit);
  EXPECT_EQ(log[4].reason, bl::term(bl::atom("stop")));
}

// Links to and monitors `far`, whose node cannot be reached: the link fails at once,
// the monitor's DOWN comes at once, both with reason noconnection (as in Erlang).
void expect_unreachable(transport& test, const bl::pid& far, fake_node* installed) {
  std::optional<bl::term> link_error, down_reason;
  test.run([&]() -> bl::process {
    if (installed != nullptr) installed->install();
    try {
      bl::link(far);
    } catch (const bl::error& e) {
      link_error = e.reason();
    }
    bl::ref m = bl::monitor(far);
    co_await bl::receive([&](const bl::down_message& d) {
      if (d.monitor == m) down_reason = d.reason;
    });
  });
  ASSERT_TRUE(link_error.has_value());
  EXPECT_EQ(*link_error, bl::term(bl::atom("noconnection")));
  ASSERT_TRUE(down_reason.has_value());
  EXPECT_EQ(*down_reason, bl::term(bl::atom("noconnection")));
}

TEST_P(transport, without_a_transport_another_node_is_unreachable) {
  expect_unreachable(*this, remote_pid(bl::atom("other@host"), 1), nullptr);
}

TEST_P(transport, a_node_the_transport_cannot_reach_fails_with_noconnection) {
  fake_node other(bl::atom("other@host"));
  expect_unreachable(*this, remote_pid(bl::atom("down@host"), 1), &other);
  EXPECT_TRUE(other.log().empty());
}

}  // namespace
