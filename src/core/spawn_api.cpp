// spawn_api.cpp: spawn.hpp's out-of-line half: a new process's slot, identity,
// link and monitor with its parent, and its first run.
#include "beamline/spawn.hpp"

#include <stdexcept>
#include <string>

#include "beamline/errors.hpp"
#include "beamline/receive.hpp"
#include "beamline/send.hpp"
#include "core/node_runtime.hpp"
#include "core/process_api.hpp"
#include "core/relations.hpp"

namespace beamline::detail {

node_runtime& spawning_node(const char* operation) {
  return sending_node(operation);
}

spawn_result spawn_commit(node_runtime& node, const spawn_options& options,
                          std::coroutine_handle<process::promise_type> body,
                          spawn_closure* closure) {
  process_control* parent = this_thread.node == &node ? this_thread.process : nullptr;
  auto discard = [&] {
    body.destroy();
    if (closure != nullptr) closure->destroy(closure);
  };
  if ((options.link || options.monitor) && parent == nullptr) {
    discard();
    throw std::logic_error(
        "beamline::spawn_link/spawn_monitor must be called from a process (the link or "
        "monitor needs one)");
  }
  std::uint32_t index = node.allocate_slot();
  if (index == 0) {
    discard();
    throw system_limit_error("spawn: the process table is full (node_options::max_processes = " +
                             std::to_string(node.options().max_processes) + ")");
  }
  process_slot& slot = node.table().at(index);
  process_control& p = body.promise();
  p.bind(node, slot, index, body, closure);
  p.priority = options.priority;
  slot.task = &p;

  spawn_result result{p.self(), {}};
  // The child is not running yet, so setting up its side here is still the owner's
  // doing: link and monitor are atomic with the spawn.
  if (options.link) {
    relations_of(*parent).links.insert(result.pid, link_state{true, 0});
    relations_of(p).links.insert(parent->self(), link_state{true, 0});
  }
  if (options.monitor) {
    result.monitor = node_runtime::make_ref();
    parent->set_mark(mark_key(result.monitor));
    relations_of(*parent).monitors.insert(result.monitor, result.pid);
    std::uint64_t key = mark_key(result.monitor);
    if (ref::local(key) == result.monitor) {
      p.watched_from_spawn(key, parent->self());
    } else {
      relations_of(p).monitored_by.insert(result.monitor, parent->self());
    }
  }
  node.count_spawn();
  charge_reduction();
  node.make_runnable(p);
  return result;
}

}  // namespace beamline::detail
