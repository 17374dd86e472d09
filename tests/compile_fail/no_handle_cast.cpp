// Must not compile: the server has no handle_cast for the message's type.
#include <beamline/otp.hpp>
struct counter {
  struct add {
    int n;
  };
  void handle_cast(add a) { n += a.n; }
  int n = 0;
};
beamline::process p() {
  auto s = (co_await beamline::gen_server::start_link<counter>({})).server();
  s.cast(1.5);
}
int main() {}
