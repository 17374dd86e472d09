// error_log_*: what a node prints on stderr when a process ends abnormally or a
// gen_server drops a message (node_options::log_crashes, on by default): one line
// per crash naming the process (pid, registered name, initial call) and the reason
// as a term, as Erlang's error logger does; the dropped message printed as a value.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;
namespace gs = bl::gen_server;

class error_log : public node_test {
 protected:
  // Runs `body` on a node that logs crashes; returns what it printed on stderr.
  template <class F>
  std::string logged(F&& body) {
    bl::node_options o = options();
    o.log_crashes = true;
    ::testing::internal::CaptureStderr();
    {
      bl::node node(o);
      node.spawn(std::forward<F>(body));
      node.run();
    }
    return ::testing::internal::GetCapturedStderr();
  }
  static int lines(const std::string& text) {
    int n = 0;
    for (char c : text) n += c == '\n';
    return n;
  }
};
BEAMLINE_SWEEP_WORKERS(error_log);

std::string site(int line) {
  return std::string(__FILE__) + ":" + std::to_string(line);
}

bl::process thrower() {
  throw std::runtime_error("boom");
  co_return;
}
const int thrower_line = __LINE__ - 4;

TEST_P(error_log, an_exception_gives_one_line_with_the_pid_initial_call_and_reason) {
  bl::pid crashed;
  std::string out = logged([&]() -> bl::process {
    auto [p, monitor] = bl::spawn_monitor(thrower);
    crashed = p;
    co_await bl::receive([](const bl::down_message&) {});
  });
  EXPECT_EQ(out, "beamline: process " + crashed.to_string() + " crashed (initial call thrower (" +
                     site(thrower_line) + ")): {exception,{'std::runtime_error',<<\"boom\">>}}\n");
}

TEST_P(error_log, an_abnormal_exit_of_a_named_process_names_it) {
  bl::pid ended;
  std::string out = logged([&]() -> bl::process {
    auto [p, monitor] = bl::spawn_monitor([]() -> bl::process {
      bl::register_name(bl::atom("error_log_named"), bl::self());
      bl::exit(bl::term::tuple({bl::atom("bad_state"), 42}));
      co_return;
    });
    ended = p;
    co_await bl::receive([](const bl::down_message&) {});
  });
  EXPECT_NE(out.find("beamline: process " + ended.to_string() +
                     " registered as error_log_named exited (initial call operator() ("),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(")): {bad_state,42}\n"), std::string::npos) << out;
  EXPECT_EQ(lines(out), 1) << out;
}

TEST_P(error_log, normal_and_shutdown_ends_and_deaths_by_exit_signals_print_nothing) {
  std::string out = logged([&]() -> bl::process {
    std::vector<bl::term> reasons{bl::atom("normal"), bl::atom("shutdown"),
                                  bl::term::tuple({bl::atom("shutdown"), bl::atom("done")})};
    for (const bl::term& reason : reasons) {
      bl::spawn_monitor([reason]() -> bl::process {
        bl::exit(reason);
        co_return;
      });
      co_await bl::receive([](const bl::down_message&) {});
    }
    // Killed, and ended by a linked process's crash: the signal's sender is the
    // one that crashed, and only it is reported (here it ends with kill: nothing).
    auto [victim, m] = bl::spawn_monitor([]() -> bl::process { co_await bl::receive<int>(); });
    bl::exit(victim, bl::atom("kill"));
    co_await bl::receive([](const bl::down_message&) {});
    auto [other, m2] = bl::spawn_monitor([]() -> bl::process { co_await bl::receive<int>(); });
    bl::exit(other, bl::atom("some_reason"));
    co_await bl::receive([](const bl::down_message&) {});
  });
  EXPECT_EQ(out, "");
}

struct quiet_server {
  struct stop_with {
    bl::term reason;
  };
  struct ping {};
  std::string handle_call(ping) { return "pong"; }
  gs::call_result<bl::atom> handle_call(stop_with s) {
    return gs::stopping(s.reason, bl::atom("ok"));
  }
};

TEST_P(error_log, a_gen_server_prints_the_value_of_a_message_it_drops) {
  std::string out = logged([&]() -> bl::process {
    auto s = (co_await gs::start<quiet_server>({})).server();
    bl::pid p = *s.ref().as_pid();
    // A behaviour's initial call names its callback type, not its loop.
    auto info = co_await bl::process_info_of(p);
    CO_ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->initial_call, "(anonymous namespace)::quiet_server (gen_server)");
    bl::send(p, 42);
    bl::send(p, std::string("hello"), std::vector<int>{1, 2, 3});
    bl::send(p, bl::term::tuple({bl::atom("a"), 1}));
    EXPECT_EQ(co_await s.call(quiet_server::ping{}), "pong");
    co_await gs::stop(s);
  });
  EXPECT_NE(out.find("dropped a message it has no handler for: 42 ("), std::string::npos) << out;
  EXPECT_NE(out.find("dropped a message it has no handler for: {\"hello\",[1,2,3]} ("),
            std::string::npos)
      << out;
  EXPECT_EQ(lines(out), 2) << out;  // a term goes to handle_info's default: dropped silently
}

TEST_P(error_log, a_gen_server_that_stops_abnormally_is_reported_once) {
  std::string out = logged([&]() -> bl::process {
    auto s = (co_await gs::start<quiet_server>({})).server();
    co_await s.call(quiet_server::stop_with{bl::atom("broken")});
  });
  EXPECT_NE(out.find(") terminating: broken\n"), std::string::npos) << out;
  EXPECT_EQ(lines(out), 1) << out;
}

}  // namespace
