// beamline/blocking.hpp: running blocking or long native calls off the schedulers.
//
//     std::string text = co_await bl::blocking([path] { return read_whole_file(path); },
//                                              bl::dirty_pool::io);
//
// The call runs on one of the node's dirty pools (like the BEAM's dirty
// schedulers): `cpu` for long computations (one thread per scheduler by default),
// `io` for calls that wait (ten threads by default); node_options sets both. The
// process waits, as in a receive, and resumes with the call's result, or with its
// exception rethrown. Signals still reach it while it waits: a kill ends it at once
// (the call itself cannot be interrupted; it finishes on its pool thread and its
// result is dropped). The callable is moved to the pool: capture by value.
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "beamline/detail/process_control.hpp"
#include "beamline/process.hpp"

namespace beamline {

enum class dirty_pool : std::uint8_t { cpu, io };

namespace detail {

// A call handed to a dirty pool; shared by the waiting process and the pool thread
// (two references: whichever lets go last frees it).
struct blocking_job {
  virtual ~blocking_job() = default;
  virtual void run() noexcept = 0;
  // Instead of run() when the call cannot be made (no pool thread could start).
  virtual void fail(std::exception_ptr why) noexcept = 0;
  void release() noexcept {
    if (references.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  std::atomic<int> references{2};
  std::atomic<bool> done{false};
  pid requester;
};

void submit_blocking(node_runtime& node, dirty_pool pool, blocking_job* job);

template <class F>
class blocking_awaiter {
 public:
  using result_type = std::invoke_result_t<F&>;

  blocking_awaiter(F fn, dirty_pool pool) : job_(new job(std::move(fn))), pool_(pool) {
    wait_.satisfied = [](wait_base& base, process_control&) {
      return static_cast<wait&>(base).owner->done.load(std::memory_order_acquire);
    };
    wait_.owner = job_;
    wait_.reason = wait_reason::blocking;
  }
  blocking_awaiter(const blocking_awaiter&) = delete;
  blocking_awaiter& operator=(const blocking_awaiter&) = delete;
  ~blocking_awaiter() { job_->release(); }

  bool await_ready(BL_WAIT_SITE_PARAMETERS) noexcept {
    wait_.where = wait_site{site_file, site_line};
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    process_control& p = current_process("blocking");
    job_->requester = p.self();
    p.wait_suspend(wait_, h);
    submit_blocking(p.node(), pool_, job_);
  }
  result_type await_resume() {
    process_control& p = current_process("blocking");
    p.receive_take(wait_);
    // Take the exception out of the job: the pool thread may free the job while
    // this process is still handling the exception.
    if (job_->error) std::rethrow_exception(std::exchange(job_->error, nullptr));
    if constexpr (!std::is_void_v<result_type>) return std::move(*job_->result);
  }

 private:
  struct job final : blocking_job {
    explicit job(F f) : fn(std::in_place, std::move(f)) {}
    void run() noexcept override {
      try {
        if constexpr (std::is_void_v<result_type>)
          (*fn)();
        else
          result.emplace((*fn)());
      } catch (...) {
        error = std::current_exception();
      }
      // What the call captured goes with it, on this thread and before the process
      // is woken: not whenever the last reference to the job lets go.
      fn.reset();
    }
    void fail(std::exception_ptr why) noexcept override {
      error = std::move(why);
      fn.reset();
    }
    std::optional<F> fn;
    std::optional<std::conditional_t<std::is_void_v<result_type>, std::monostate, result_type>>
        result;
    std::exception_ptr error;
  };
  struct wait : wait_base {
    blocking_job* owner = nullptr;
  };

  job* job_;
  dirty_pool pool_;
  wait wait_;
};

template <class Function, class... Args>
struct bound_call {
  Function function;
  std::tuple<Args...> arguments;
  auto operator()() { return std::apply(function, arguments); }
};

}  // namespace detail

template <class F>
auto blocking(F fn, dirty_pool pool = dirty_pool::cpu) {
  static_assert(std::is_invocable_v<F&>, "blocking takes a callable with no arguments");
  return detail::blocking_awaiter<F>(std::move(fn), pool);
}

// blocking(function, arguments...) on the cpu pool, and blocking_io(...) on the io
// pool: the arguments are copied into the call. No lambda is needed, which also
// avoids a g++ 12 bug with capturing lambdas inside co_await (docs/coroutines.md).
template <class Function, class First, class... Rest>
requires std::is_invocable_v < Function&, std::decay_t<First>
&, std::decay_t<Rest>&... > auto blocking(Function fn, First&& first, Rest&&... rest) {
  return blocking(detail::bound_call<Function, std::decay_t<First>, std::decay_t<Rest>...>{
      std::move(fn), {std::forward<First>(first), std::forward<Rest>(rest)...}});
}

template <class Function, class... Args>
auto blocking_io(Function fn, Args&&... args) {
  return blocking(
      detail::bound_call<Function, std::decay_t<Args>...>{std::move(fn),
                                                          {std::forward<Args>(args)...}},
      dirty_pool::io);
}

}  // namespace beamline
