// Must not compile: a shared_ptr to mutable data would share state.
#include <beamline/beamline.hpp>
#include <memory>
beamline::process p() {
  beamline::send(beamline::self(), std::make_shared<int>(1));
  co_return;
}
int main() {}
