// gen_statem.cpp: the non-template parts of gen_statem (gen_statem.hpp).
#include "beamline/otp/gen_statem.hpp"

namespace beamline::detail {

void cancel_statem_timer(const ref& timer) noexcept {
  try {
    cancel_timer(timer);
  } catch (...) {
  }
}

term bad_enter_reason(const char* what) {
  return term::tuple({atom("bad_state_enter_return_from_state_function"), term::binary(what)});
}

}  // namespace beamline::detail
