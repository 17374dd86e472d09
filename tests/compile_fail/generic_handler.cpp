// Must not compile: a generic lambda gives receive no types to select messages by.
#include <beamline/beamline.hpp>
beamline::process p() {
  co_await beamline::receive([](auto x) { (void)x; });
}
int main() {}
