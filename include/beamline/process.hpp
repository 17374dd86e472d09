// beamline/process.hpp: processes and tasks, and what a process can ask of itself.
//
// A process body is a coroutine returning beamline::process:
//
//     bl::process worker(bl::pid parent, int n) {
//       auto [x] = co_await bl::receive<int>();
//       bl::send(parent, x * n);
//     }
//
// It starts with spawn (spawn.hpp), runs until its body returns (reason `normal`),
// an exception escapes it (reason {exception, {Type, What}}), it calls exit(reason),
// or an exit signal kills it. Helpers that suspend (receive inside them) are
// coroutines returning task<T>, awaited with co_await.
//
// Lifetime rules (docs/coroutines.md): a process's parameters are copied into its
// frame; spawn copies a callable object and its arguments into storage the process
// owns, so lambdas with captures are safe to spawn. A task's parameters follow the
// usual coroutine rules: pass by value what must outlive the first suspension.
#pragma once

#include <coroutine>
#include <exception>
#include <utility>
#include <variant>

#include "beamline/detail/allocation.hpp"
#include "beamline/detail/process_control.hpp"
#include "beamline/detail/thread_state.hpp"
#include "beamline/detail/toolchain.hpp"
#include "beamline/errors.hpp"
#include "beamline/pid.hpp"
#include "beamline/priority.hpp"
#include "beamline/ref.hpp"
#include "beamline/term.hpp"

namespace beamline {

class [[nodiscard]] process {
 public:
  struct promise_type : detail::process_control {
    // The default arguments are evaluated where the compiler constructs the promise:
    // in the process body, whose name, file and line they give (its initial call).
    // (The tag first: the compiler also tries the body's own parameters as the
    // promise's constructor arguments, and none of them can be an initial_call_tag.)
    struct initial_call_tag {};
    explicit promise_type(initial_call_tag = {}, const char* function = __builtin_FUNCTION(),
                          const char* file = __builtin_FILE(),
                          unsigned line = __builtin_LINE()) noexcept
        : process_control(function, file, line) {}
    process get_return_object() noexcept {
      return process(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { record_exception(std::current_exception()); }

    static void* operator new(std::size_t size) {
      void* frame = detail::frame_allocate(size);
      detail::this_thread.new_frame_bytes = static_cast<std::uint32_t>(size);
      return frame;
    }
    static void operator delete(void* frame, std::size_t size) noexcept {
      detail::frame_deallocate(frame, size);
    }
  };

  process(process&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  process& operator=(process&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  ~process() {
    if (handle_) handle_.destroy();  // never spawned: ends without a trace
  }

  // For spawn: takes ownership of the coroutine.
  std::coroutine_handle<promise_type> release() noexcept { return std::exchange(handle_, {}); }

 private:
  explicit process(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  std::coroutine_handle<promise_type> handle_;
};

// A coroutine a process awaits: lazily started, resumed with symmetric transfer,
// its result (or exception) handed to the awaiter.
template <class T = void>
class [[nodiscard]] task {
 public:
  struct promise_base {
    std::coroutine_handle<> continuation;
    std::exception_ptr exception;

    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() noexcept { return false; }
      template <class P>
      std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
        return h.promise().continuation;
      }
      void await_resume() noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }

    static void* operator new(std::size_t size) { return detail::frame_allocate(size); }
    static void operator delete(void* frame, std::size_t size) noexcept {
      detail::frame_deallocate(frame, size);
    }
  };

  struct promise_value : promise_base {
    std::variant<std::monostate, T> value;
    template <class U>
    void return_value(U&& v) {
      value.template emplace<1>(std::forward<U>(v));
    }
  };
  struct promise_void : promise_base {
    void return_void() noexcept {}
  };

  struct promise_type : std::conditional_t<std::is_void_v<T>, promise_void, promise_value> {
    task get_return_object() noexcept {
      return task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };

  task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  task& operator=(task&&) = delete;
  ~task() {
    if (handle_) handle_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    handle_.promise().continuation = awaiting;
    return handle_;
  }
  T await_resume() {
    auto& p = handle_.promise();
    if (p.exception) std::rethrow_exception(p.exception);
    if constexpr (!std::is_void_v<T>) return std::move(std::get<1>(p.value));
  }

 private:
  explicit task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  std::coroutine_handle<promise_type> handle_;
};

namespace detail {
// Throws std::logic_error: `operation` needs a process and none runs on this thread.
[[noreturn]] void throw_not_in_process(const char* operation);
// The running process; throws std::logic_error naming `operation` outside one.
inline process_control& current_process(const char* operation) {
  process_control* p = this_thread.process;
  if (p == nullptr) [[unlikely]]
    throw_not_in_process(operation);
  return *p;
}
// check()'s slow path: signals are pending or the process is exiting.
void check_signals(process_control& p);
}  // namespace detail

// The calling process's pid. Outside a process: std::logic_error.
pid self();

// Counts a reduction and ends the process here if an exit signal has killed it.
// Awaited (co_await check()), it also yields when the time slice is spent.
class check {
 public:
  check() {
    detail::process_control& p = detail::current_process("check");
    p.charge(1);
    if (p.inbox_nonempty() || p.exiting()) [[unlikely]]
      detail::check_signals(p);
  }
  bool await_ready() const noexcept { return detail::this_thread.budget > 0; }
  void await_suspend(std::coroutine_handle<> h) noexcept;
  void await_resume() const noexcept {}
};

// Lets other runnable processes of the same or higher priority run first.
class yield {
 public:
  yield();
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept;
  void await_resume() const noexcept {}
};

// Ends the calling process with `reason` (throws exit_exception; Erlang's exit/1).
[[noreturn]] void exit(term reason);

// Sends an exit signal to `target` (Erlang's exit/2). Reason `kill` cannot be
// trapped; `normal` is ignored by a process that does not trap exits (unless it is
// the caller itself). Works from any thread of a running node.
void exit(const pid& target, term reason);

// Sets whether exit signals become exit_message messages; returns the old value.
bool trap_exit(bool on);

// Sets the calling process's priority; returns the old one.
beamline::priority set_priority(beamline::priority p);

// Whether `target` names a live process of this node. A process with exit signals
// still in flight to it may read as alive (Erlang orders this check after the
// caller's earlier signals; beamline does not, see docs/semantics.md).
bool is_alive(const pid& target);

// Asks the calling process's node to stop: its run() returns (node::stop()).
void stop_node();

// A reference unique on this node. Inside a process it also marks the message
// queue, so that receive(since(r), ...) scans only messages that arrived after it.
ref make_ref();

}  // namespace beamline
