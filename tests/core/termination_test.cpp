// termination_*: what a process does when it ends, as one explicit step; memory
// exhaustion while it sends its exit signals and DOWNs degrades (the signal that
// cannot be made is lost and logged) instead of ending the node.
#include <optional>
#include <string>

#include "core/relations.hpp"
#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class termination : public node_test {
 public:
  template <class F>
  void run_body(F&& body) {
    run(std::forward<F>(body));
  }
};
BEAMLINE_SWEEP_WORKERS(termination);

struct report {
  bl::pid to;
};
struct go {};

// A partner that traps exits and, when asked, tells whether an exit from `from`
// reached it before the question (pushes into one inbox keep their order).
bl::process partner() {
  bl::trap_exit(true);
  report r = co_await bl::receive<report>();
  bool got = false;
  co_await bl::receive([&](const bl::exit_message&) { got = true; }, bl::after(0ms));
  bl::send(r.to, got);
}

// A child linked to a partner and monitored by the test's process exits with `boom`;
// with fail_first, the first signal its termination allocates (the exit to the
// partner: links come first) fails as if memory had run out.
struct exit_outcome {
  std::optional<bl::term> down_reason;
  std::optional<bool> partner_got_exit;
};

exit_outcome end_a_linked_and_monitored_child(termination& test, bool fail_first) {
  exit_outcome out;
  test.run_body([&]() -> bl::process {
    bl::pid p = bl::spawn(partner);
    auto [child, monitor] = bl::spawn_monitor([p, fail_first]() -> bl::process {
      bl::link(p);
      co_await bl::receive([](go) {});
      if (fail_first) bl::detail::fail_exit_signal_allocations(1);
      bl::exit(bl::atom("boom"));
    });
    bl::send(child, go{});
    co_await bl::receive([&, m = monitor](const bl::down_message& d) {
      if (d.monitor == m) out.down_reason = d.reason;
    });
    bl::send(p, report{bl::self()});
    out.partner_got_exit = co_await bl::receive<bool>();
  });
  return out;
}

TEST_P(termination, an_exit_signal_that_cannot_be_allocated_is_lost_and_logged_not_fatal) {
  testing::internal::CaptureStderr();
  exit_outcome out = end_a_linked_and_monitored_child(*this, true);
  std::string log = testing::internal::GetCapturedStderr();
  bl::detail::fail_exit_signal_allocations(0);
  ASSERT_TRUE(out.down_reason.has_value());  // the DOWN after the lost exit was sent
  EXPECT_EQ(*out.down_reason, bl::term(bl::atom("boom")));
  ASSERT_TRUE(out.partner_got_exit.has_value());
  EXPECT_FALSE(*out.partner_got_exit);
  EXPECT_NE(log.find("out of memory"), std::string::npos) << log;
  EXPECT_NE(log.find("without sending its exit signal"), std::string::npos) << log;
}

TEST_P(termination, with_memory_the_same_exit_reaches_the_link_and_the_monitor) {
  exit_outcome out = end_a_linked_and_monitored_child(*this, false);
  ASSERT_TRUE(out.down_reason.has_value());
  EXPECT_EQ(*out.down_reason, bl::term(bl::atom("boom")));
  ASSERT_TRUE(out.partner_got_exit.has_value());
  EXPECT_TRUE(*out.partner_got_exit);
}

}  // namespace
