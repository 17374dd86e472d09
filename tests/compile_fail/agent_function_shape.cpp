// Must not compile: an agent's update function must take the agent's state.
#include <beamline/otp.hpp>
#include <string>
beamline::process p() {
  auto a = (co_await beamline::agent<int>::start_link([] { return 1; })).agent();
  co_await a.update([](std::string& s) { s += "x"; });
}
int main() {}
