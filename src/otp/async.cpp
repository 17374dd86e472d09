// async.cpp: the non-template parts of tasks (async.hpp): names for exit reasons
// and the default concurrency of async_stream.
#include <thread>

#include "beamline/otp/async.hpp"
#include "core/runtime_access.hpp"

namespace beamline::detail {

atom task_atom() {
  return atom("task");
}

term task_arguments(const pid& task, std::chrono::milliseconds timeout) {
  return term::list({task, timeout_term(timeout)});
}

bool caller_traps_exits() {
  return current_process("await").traps_exit();
}

std::size_t default_concurrency() {
  unsigned n =
      this_thread.node != nullptr ? node_schedulers() : std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace beamline::detail
