// process_api.hpp: what the *_api.cpp files that implement the public API share.
#pragma once

#include "beamline/detail/process_control.hpp"
#include "beamline/detail/thread_state.hpp"

namespace beamline::detail {

// Charges the calling process one reduction (nothing on a thread that is not one).
inline void charge_reduction() noexcept {
  if (process_control* p = this_thread.process) p->charge(1);
}

}  // namespace beamline::detail
