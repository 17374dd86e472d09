// beamline/spawn.hpp: starting processes.
//
//     bl::pid p = bl::spawn(body, args...);           // body returns bl::process
//     bl::pid q = bl::spawn_link(body, args...);      // linked to the caller, atomically
//     auto [r, mon] = bl::spawn_monitor(body, args...);
//     bl::spawn_opt({.priority = bl::priority::high}, body, args...);
//
// `body` is a function or any callable returning bl::process; the callable and its
// arguments are copied (or moved) into storage the new process owns, so lambdas
// with captures and reference parameters stay valid for the process's life. A
// function pointer whose parameters are all values is called directly (its
// arguments live in the coroutine frame: no extra allocation).
//
// The child runs next on the caller's worker (depth-first, which keeps trees of
// processes small in memory) unless another worker steals it first.
//
// Errors: std::bad_alloc when memory runs out and system_limit_error when the
// process table is full (node_options::max_processes); the node keeps running.
// Spawning from a thread that is not running a process: use node::spawn.
#pragma once

#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "beamline/detail/allocation.hpp"
#include "beamline/detail/callable_traits.hpp"
#include "beamline/pid.hpp"
#include "beamline/priority.hpp"
#include "beamline/process.hpp"
#include "beamline/ref.hpp"

namespace beamline {

struct spawn_options {
  bool link = false;     // link the child to the caller (spawn_link)
  bool monitor = false;  // monitor the child from the caller (spawn_monitor)
  beamline::priority priority = beamline::priority::normal;
};

struct spawn_result {
  beamline::pid pid;
  ref monitor;  // null unless spawn_options::monitor
};

namespace detail {

class node_runtime;

node_runtime& spawning_node(const char* operation);

// Takes ownership of the frame and the closure, gives the process a slot and a pid,
// sets up the link/monitor, and makes it runnable. On failure (system_limit) it
// destroys both and throws.
spawn_result spawn_commit(node_runtime& node, const spawn_options& options,
                          std::coroutine_handle<process::promise_type> body,
                          spawn_closure* closure);

template <class F>
struct direct_spawn : std::false_type {};
template <class... P>
struct direct_spawn<process (*)(P...)> : std::bool_constant<(!std::is_reference_v<P> && ...)> {};

template <class Fn, class... A>
struct closure_of final : spawn_closure {
  std::tuple<Fn, A...> values;

  template <class F, class... Args>
  explicit closure_of(F&& f, Args&&... args)
      : spawn_closure{&destroy_closure}, values(std::forward<F>(f), std::forward<Args>(args)...) {}

  static void destroy_closure(spawn_closure* c) noexcept {
    auto* self = static_cast<closure_of*>(c);
    self->~closure_of();
    pool_deallocate(self, sizeof(closure_of));
  }
};

template <class F, class... Args>
spawn_result spawn_in(node_runtime& node, const spawn_options& options, F&& f, Args&&... args) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_r_v<process, Fn&, std::decay_t<Args>&...>,
                "spawn needs a callable returning beamline::process for these arguments");
  if constexpr (direct_spawn<Fn>::value) {
    process p = std::invoke(f, std::decay_t<Args>(std::forward<Args>(args))...);
    return spawn_commit(node, options, p.release(), nullptr);
  } else {
    using closure = closure_of<Fn, std::decay_t<Args>...>;
    void* memory = pool_allocate(sizeof(closure));
    closure* c;
    try {
      c = ::new (memory) closure(std::forward<F>(f), std::forward<Args>(args)...);
    } catch (...) {
      pool_deallocate(memory, sizeof(closure));
      throw;
    }
    std::coroutine_handle<process::promise_type> body;
    try {
      body = std::apply([](auto& fn, auto&... a) { return std::invoke(fn, a...); }, c->values)
                 .release();
    } catch (...) {
      closure::destroy_closure(c);
      throw;
    }
    return spawn_commit(node, options, body, c);
  }
}

}  // namespace detail

template <class F, class... Args>
spawn_result spawn_opt(const spawn_options& options, F&& f, Args&&... args) {
  return detail::spawn_in(detail::spawning_node("spawn"), options, std::forward<F>(f),
                          std::forward<Args>(args)...);
}

template <class F, class... Args>
pid spawn(F&& f, Args&&... args) {
  return spawn_opt({}, std::forward<F>(f), std::forward<Args>(args)...).pid;
}

template <class F, class... Args>
pid spawn_link(F&& f, Args&&... args) {
  return spawn_opt({.link = true}, std::forward<F>(f), std::forward<Args>(args)...).pid;
}

template <class F, class... Args>
std::pair<pid, ref> spawn_monitor(F&& f, Args&&... args) {
  spawn_result r = spawn_opt({.monitor = true}, std::forward<F>(f), std::forward<Args>(args)...);
  return {r.pid, r.monitor};
}

}  // namespace beamline
