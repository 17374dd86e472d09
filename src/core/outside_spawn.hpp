// outside_spawn.hpp: spawning a process from a runtime thread that runs none (the
// signal reader, the idle watcher).
#pragma once

#include <cstdio>
#include <exception>
#include <utility>

#include "core/node_runtime.hpp"

namespace beamline::detail {

// Spawns `body` on `node`; says so on stderr if it cannot.
template <class F>
void spawn_from_outside(node_runtime& node, F body) {
  node_runtime* previous = this_thread.node;
  worker_state* previous_worker = this_thread.node_worker;
  this_thread.node = &node;
  this_thread.node_worker = nullptr;
  try {
    spawn_in(node, {}, std::move(body));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "beamline: cannot spawn a runtime process: %s\n", e.what());
  }
  this_thread.node = previous;
  this_thread.node_worker = previous_worker;
}

}  // namespace beamline::detail
