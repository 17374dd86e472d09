// Must not compile: a message holding a raw pointer would share memory.
#include <beamline/beamline.hpp>
beamline::process p() {
  int x = 0;
  beamline::send(beamline::self(), &x);
  co_return;
}
int main() {}
