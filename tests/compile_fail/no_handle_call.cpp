// Must not compile: the server has no handle_call for the request's type. The error's
// first line is a static_assert naming both types, not a list of candidates.
#include <beamline/otp.hpp>
struct kv {
  struct put {
    int key;
  };
  struct erase {
    int key;
  };
  void handle_call(put) {}
};
beamline::process p() {
  auto s = (co_await beamline::gen_server::start_link<kv>({})).server();
  co_await s.call(kv::erase{1});
}
int main() {}
