// The names docs/otp.md's fragments use without defining them, so that the
// fragments compile as a reader would use them (tests/docs/CMakeLists.txt).
#pragma once

#include <beamline/otp.hpp>

#include <string>
#include <vector>

namespace bl = beamline;
namespace gs = bl::gen_server;

struct cache {  // a gen_server, started with a capacity
  explicit cache(int capacity) : capacity(capacity) {}
  int capacity;
};
struct job {  // a simple_one_for_one template's gen_server: started with the extra term
  explicit job(bl::term extra) : what(std::move(extra)) {}
  bl::term what;
};
struct worker {  // a gen_server with a via name
};
inline bl::process ticker_body() {
  co_await bl::sleep(std::chrono::seconds(1));
}

struct page {
  std::string body;
};
inline page fetch(std::string url) {
  return page{std::move(url)};
}
inline void send_mail(std::string to) {
  (void)to;
}
inline std::string url = "http://example.org/";
inline std::string address = "ops@example.org";
inline std::vector<std::string> urls;
inline std::vector<std::string> inputs;
inline std::vector<bl::async_task<int>> tasks;
inline bl::registry reg;
