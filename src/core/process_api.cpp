// process_api.cpp: what process.hpp declares (identity, check and yield, exits,
// trap_exit, priority, references) and the helpers the other *_api.cpp files share.
// The rest of the public API is in the file named after its header: link_api.cpp
// (links.hpp), name_api.cpp (registry.hpp), spawn_api.cpp (spawn.hpp), timer_api.cpp
// (timer.hpp); send's inline path ends in node_runtime.cpp (send_signal).
#include <stdexcept>
#include <string>

#include "beamline/errors.hpp"
#include "beamline/links.hpp"
#include "beamline/messages.hpp"
#include "beamline/process.hpp"
#include "beamline/receive.hpp"
#include "beamline/registry.hpp"
#include "beamline/send.hpp"
#include "beamline/spawn.hpp"
#include "beamline/timer.hpp"
#include "core/node_runtime.hpp"
#include "core/process_api.hpp"
#include "core/relations.hpp"
#include "core/signals.hpp"
#include "sched/scheduler.hpp"

namespace beamline {

namespace detail {

void throw_not_in_process(const char* operation) {
  throw std::logic_error(std::string("beamline::") + operation +
                         " must be called from a process (this thread is not running one)");
}

void check_signals(process_control& p) {
  if (p.inbox_nonempty()) p.drain_inbox();
  if (p.exiting()) p.throw_exit();
}

void throw_no_node(const char* operation) {
  throw std::logic_error(std::string("beamline::") + operation +
                         " needs a node: call it from a process, or use node::" + operation);
}

std::int64_t timeout_deadline(std::int64_t timeout_ns) {
  if (timeout_ns <= 0) return 0;  // poll
  return sched::scheduler::now_ns() + timeout_ns;
}

}  // namespace detail

using detail::current_process;
using detail::node_runtime;
using detail::process_control;
using detail::this_thread;

pid self() {
  return current_process("self").self();
}

void check::await_suspend(std::coroutine_handle<> h) noexcept {
  this_thread.process->yield_suspend(h);
}

yield::yield() {
  current_process("yield").charge(1);
}

void yield::await_suspend(std::coroutine_handle<> h) noexcept {
  this_thread.process->yield_suspend(h);
}

void exit(term reason) {
  throw exit_exception(std::move(reason));
}

void exit(const pid& target, term reason) {
  detail::request_exit(detail::sending_node("exit"), this_thread.process, target, reason);
}

bool trap_exit(bool on) {
  process_control& p = current_process("trap_exit");
  return p.set_trap_exit(on);
}

priority set_priority(priority level) {
  process_control& p = current_process("set_priority");
  return std::exchange(p.priority, level);
}

bool is_alive(const pid& target) {
  return detail::sending_node("is_alive").alive(target);
}

void stop_node() {
  detail::sending_node("stop_node").stop();
}

ref make_ref() {
  ref r = node_runtime::make_ref();
  if (process_control* p = this_thread.process) p->set_mark(detail::mark_key(r));
  return r;
}

}  // namespace beamline
