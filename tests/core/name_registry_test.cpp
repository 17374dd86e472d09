// registry_*: registered names (semantics reference, section 6).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "support/node_fixture.hpp"

namespace {

using namespace beamline_test;
using namespace std::chrono_literals;

class registry : public node_test {};
BEAMLINE_SWEEP_WORKERS(registry);

// The reason and the text of the bl::error that f raises ("no error" if none).
struct raised {
  bl::term reason;
  std::string text = "no error";
};

raised error_of(auto&& f) {
  try {
    f();
  } catch (const bl::error& e) {
    return {e.reason(), e.what()};
  }
  return {};
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

TEST_P(registry, registration_errors_are_badarg_and_say_what_was_wrong) {
  std::vector<std::pair<std::string, raised>> errors;  // (expected text, what was raised)
  run([&]() -> bl::process {
    bl::atom name("taken_name");
    bl::register_name(name, bl::self());
    bl::pid other = bl::spawn([]() -> bl::process { co_await bl::receive<int>(); });
    errors.emplace_back("already registered", error_of([&] { bl::register_name(name, other); }));
    errors.emplace_back("already has the name",
                        error_of([&] { bl::register_name(bl::atom("second"), bl::self()); }));
    errors.emplace_back("undefined",
                        error_of([&] { bl::register_name(bl::atoms::undefined, other); }));
    bl::pid dead = bl::spawn_monitor([]() -> bl::process { co_return; }).first;
    co_await bl::receive<bl::down_message>();
    errors.emplace_back("not alive",
                        error_of([&] { bl::register_name(bl::atom("for_dead"), dead); }));
    errors.emplace_back("not registered", error_of([&] { bl::unregister(bl::atom("never_was")); }));
    errors.emplace_back("nobody_here", error_of([&] { bl::send(bl::atom("nobody_here"), 1); }));
    // None of the failed calls changed anything.
    EXPECT_EQ(bl::whereis(name), bl::self());
    EXPECT_FALSE(bl::whereis(bl::atom("second")).has_value());
    EXPECT_FALSE(bl::whereis(bl::atom("for_dead")).has_value());
    bl::unregister(name);
    EXPECT_FALSE(bl::whereis(name).has_value());
    bl::register_name(name, other);
    EXPECT_EQ(bl::whereis(name), other);
    bl::send(other, 0);
  });
  ASSERT_EQ(errors.size(), 6u);
  for (const auto& [text, e] : errors) {
    EXPECT_EQ(e.reason, bl::term(bl::atoms::badarg)) << "for the error saying " << text;
    EXPECT_NE(e.text.find(text), std::string::npos) << e.text;
  }
}

}  // namespace
