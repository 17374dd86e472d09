// registry_*: registered names (semantics reference, section 6).
#include <algorithm>
#include <string>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class registry : public node_test {};
BEAMLINE_SWEEP_WORKERS(registry);

std::string error_text(auto&& f) {
  try {
    f();
  } catch (const bl::error& e) {
    return e.what();
  }
  return "no error";
}

TEST_P(registry, a_registered_name_finds_the_process_and_receives_sends) {
  run([&]() -> bl::process {
    bl::atom name("echo_server");
    bl::pid server = bl::spawn([]() -> bl::process {
      auto [from, n] = co_await bl::receive<bl::pid, int>();
      bl::send(from, n + 1);
    });
    bl::register_name(name, server);
    EXPECT_EQ(bl::whereis(name), server);
    auto names = bl::registered();
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
    bl::send(name, bl::self(), 41);
    EXPECT_EQ(co_await bl::receive<int>(), 42);
  });
}

TEST_P(registry, the_name_is_released_before_links_and_monitors_hear_of_the_death) {
  bool gone_at_down = false;
  run([&]() -> bl::process {
    bl::atom name("short_lived");
    [[maybe_unused]] auto [p, m] =
        bl::spawn_monitor([]() -> bl::process { co_await bl::receive<int>(); });
    bl::register_name(name, p);
    bl::send(name, 1);
    co_await bl::receive<bl::down_message>();
    gone_at_down = !bl::whereis(name).has_value();
  });
  EXPECT_TRUE(gone_at_down);
}

TEST_P(registry, registration_errors_say_what_was_wrong) {
  run([&]() -> bl::process {
    bl::atom name("taken_name");
    bl::register_name(name, bl::self());
    bl::pid other = bl::spawn([]() -> bl::process { co_await bl::receive<int>(); });
    EXPECT_NE(error_text([&] { bl::register_name(name, other); }).find("already registered"),
              std::string::npos);
    EXPECT_NE(error_text([&] {
                bl::register_name(bl::atom("second"), bl::self());
              }).find("already has the name"),
              std::string::npos);
    EXPECT_NE(error_text([&] { bl::register_name(bl::atoms::undefined, other); }).find("undefined"),
              std::string::npos);
    bl::pid dead = bl::spawn_monitor([]() -> bl::process { co_return; }).first;
    co_await bl::receive<bl::down_message>();
    EXPECT_NE(error_text([&] { bl::register_name(bl::atom("for_dead"), dead); }).find("not alive"),
              std::string::npos);
    EXPECT_NE(error_text([&] { bl::unregister(bl::atom("never_was")); }).find("not registered"),
              std::string::npos);
    EXPECT_NE(error_text([&] { bl::send(bl::atom("nobody_here"), 1); }).find("nobody_here"),
              std::string::npos);
    bl::unregister(name);
    EXPECT_FALSE(bl::whereis(name).has_value());
    bl::register_name(name, other);
    EXPECT_EQ(bl::whereis(name), other);
    bl::send(other, 0);
  });
}

}  // namespace
