// io_wait.cpp: see beamline/detail/io_wait.hpp and sched/poller.hpp (the handshake).
#include "beamline/detail/io_wait.hpp"

#include <unistd.h>

#include "beamline/process.hpp"
#include "core/runtime_access.hpp"
#include "sched/poller.hpp"

namespace beamline::detail {

io_wait::io_wait(io::poll_descriptor* descriptor, int side, std::chrono::nanoseconds timeout,
                 attempt_function attempt, const io_request& request) noexcept
    : request_(request),
      descriptor_(descriptor),
      attempt_(attempt),
      timeout_ns_(timeout == std::chrono::nanoseconds::max() ? -1
                  : timeout.count() < 0                      ? 0
                                                             : timeout.count()),
      side_(side) {
  satisfied = &check;
  reason = wait_reason::io;
  io_side = static_cast<std::uint8_t>(side);
}

io_wait::~io_wait() {
  // A socket that accept or connect made and nobody took (the process was killed
  // while it waited, or the operation failed after the socket was made).
  if (request_.fd >= 0) {
    if (request_.made != nullptr) request_.poller->release(*request_.made, request_.fd, false);
    ::close(request_.fd);
  }
}

bool io_wait::await_ready(const char* site_file, unsigned site_line) {
  where = wait_site{site_file, site_line};
  if (descriptor_ != nullptr) seen_ = descriptor_->sequence[side_].load(std::memory_order_acquire);
  if (attempt_(request_)) {
    finished_ = true;
    return true;
  }
  if (timeout_ns_ == 0) return true;  // a poll: not finished means timed out
  process_ = &current_process("a socket operation");
  return false;
}

void io_wait::await_suspend(std::coroutine_handle<> h) noexcept {
  process_control& p = *process_;
  pid me = p.self();
  token_ = (std::uint64_t{me.id} << 32) | me.serial;
  deadline_ns = timeout_ns_ < 0 ? -1 : runtime_now_ns() + timeout_ns_;
  if (deadline_ns == 0) deadline_ns = 1;  // 0 means "poll" to receive
  // As a receive that found nothing: the run loop now runs check() before it
  // blocks the process, and again whenever a signal wakes it.
  p.timed_wait_suspend(*this, h);
}

bool io_wait::check(wait_base& base, process_control&) {
  auto& w = static_cast<io_wait&>(base);
  io::poll_descriptor& d = *w.descriptor_;
  for (;;) {
    // seq_cst: the process's half of the handshake (poller.hpp).
    d.waiter[w.side_].store(w.token_, std::memory_order_seq_cst);
    std::uint32_t now = d.sequence[w.side_].load(std::memory_order_seq_cst);
    if (now == w.seen_) return false;  // no edge since the last EAGAIN: block
    w.seen_ = now;
    if (w.attempt_(w.request_)) {
      w.finished_ = true;
      return true;
    }
  }
}

bool io_wait::finish() noexcept {
  if (process_ != nullptr) {
    process_->receive_take(*this);  // cancels the timer
    // Relaxed: only this process sets the waiter; a poller that still reads the
    // old token sends a wake-up the process ignores.
    descriptor_->waiter[side_].store(0, std::memory_order_relaxed);
    process_ = nullptr;
  }
  return finished_;
}

}  // namespace beamline::detail
