// Must not compile: a string literal decays to const char*, a pointer.
#include <beamline/beamline.hpp>
beamline::process p() {
  beamline::send(beamline::self(), "hello");
  co_return;
}
int main() {}
