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

error term_state_in_state_functions_mode(const term& state) {
  return error(term::tuple({atom("bad_return_from_state_function"),
                            term::tuple({atom("next_state"), state})}),
               "gen_statem: next_state(" + state.to_string() +
                   ") names a term state, which needs callback_mode = handle_event_function; "
                   "a state-functions machine goes to next_state(&M::state_function)");
}

term bad_init_term_state_reason(const term& state) {
  return term::tuple({atom("bad_return_from_init"), term::tuple({atom("next_state"), state})});
}

}  // namespace beamline::detail
