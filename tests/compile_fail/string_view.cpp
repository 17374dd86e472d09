// Must not compile: a view refers to memory the sender owns.
#include <beamline/beamline.hpp>
#include <string_view>
beamline::process p() {
  beamline::send(beamline::self(), std::string_view("hello"));
  co_return;
}
int main() {}
