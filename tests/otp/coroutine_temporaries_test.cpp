// temporaries_*: natural code that writes temporaries inside a co_await expression,
// the shapes g++ 12 miscompiles (it destroys such a temporary twice), run with the
// supported compilers (cmake/toolchain.cmake). Every temporary here is counted: the
// tests check that each one is destroyed exactly as often as it was made, and the
// sanitizer builds check that nothing is freed twice.
#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "beamline/otp.hpp"
#include "support/otp_helpers.hpp"

namespace {

using namespace beamline_test;
namespace gs = bl::gen_server;

// Counts its live copies; `lowest` catches a count that went below zero (a double
// destruction) even when a later construction brings it back.
struct counted {
  static inline std::atomic<long> live{0};
  static inline std::atomic<long> lowest{0};
  std::string payload = std::string(64, 'p');  // a destructor that frees memory
  counted() { ++live; }
  counted(const counted& other) : payload(other.payload) { ++live; }
  counted(counted&& other) noexcept : payload(std::move(other.payload)) { ++live; }
  counted& operator=(const counted&) = default;
  counted& operator=(counted&&) = default;
  ~counted() {
    long now = --live;
    long seen = lowest.load();
    while (now < seen && !lowest.compare_exchange_weak(seen, now)) {
    }
  }
};

class temporaries : public node_test {
 protected:
  void SetUp() override {
    node_test::SetUp();
    counted::live = 0;
    counted::lowest = 0;
  }
  static void expect_balanced() {
    EXPECT_EQ(counted::live.load(), 0) << "made and destroyed differ";
    EXPECT_EQ(counted::lowest.load(), 0) << "destroyed more often than made";
  }
};
BEAMLINE_SWEEP_WORKERS(temporaries);

// The server of the report that found the g++ 12 bug, as a newcomer writes it.
struct kv {
  struct put {
    std::string key, value;
  };
  struct get {
    std::string key;
  };
  void handle_call(put p) { m[p.key] = p.value; }
  std::string handle_call(get g) { return m[g.key]; }
  std::map<std::string, std::string> m;
};

TEST_P(temporaries, a_request_built_in_a_gen_server_call_is_destroyed_once) {
  run([&]() -> bl::process {
    auto s = (co_await gs::start_link<kv>({})).server();
    for (int i = 0; i < 1000; ++i)
      co_await s.call(kv::put{"key" + std::to_string(i), std::string(100, 'x')});
    EXPECT_EQ(co_await s.call(kv::get{"key" + std::to_string(999)}), std::string(100, 'x'));
    EXPECT_EQ(co_await s.call(kv::get{"key" + std::to_string(1000)}), "");
    co_await gs::stop(s);
  });
}

TEST_P(temporaries, a_capturing_lambda_given_to_an_agent_is_destroyed_once) {
  run([&]() -> bl::process {
    using map_t = std::map<std::string, std::string>;
    auto store = (co_await bl::agent<map_t>::start_link([] { return map_t{}; })).agent();
    for (int i = 0; i < 200; ++i) {
      std::string key = "key" + std::to_string(i), value(100, 'v');
      co_await store.update([key, value, c = counted{}](map_t& m) { m[key] = value; });
    }
    auto size = co_await store.get([probe = counted{}](const map_t& m) { return m.size(); });
    EXPECT_EQ(size, 200u);
    co_await store.stop();
  });
  expect_balanced();
}

TEST_P(temporaries, a_capture_of_an_async_stream_function_is_destroyed_once) {
  run([&]() -> bl::process {
    std::vector<int> in{1, 2, 3, 4, 5, 6, 7, 8};
    counted probe;
    auto results = co_await bl::async_stream(in, [probe](int x) -> bl::task<int> {
      co_return x* static_cast<int>(probe.payload.size());
    });
    CO_ASSERT_TRUE(results.size() == in.size());
    for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(results[i].value(), in[i] * 64);
  });
  expect_balanced();
}

TEST_P(temporaries, a_capturing_lambda_given_to_blocking_and_to_receive_is_destroyed_once) {
  run([&]() -> bl::process {
    std::string path = "a/path";
    auto length = co_await bl::blocking([path, c = counted{}] { return path.size(); });
    EXPECT_EQ(length, path.size());
    bl::send(bl::self(), 7);
    int got = co_await bl::receive([c = counted{}](int n) { return n + 1; });
    EXPECT_EQ(got, 8);
  });
  expect_balanced();
}

}  // namespace
