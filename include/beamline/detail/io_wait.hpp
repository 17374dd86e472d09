// beamline/detail/io_wait.hpp: a process waiting for a socket operation.
//
// Every socket operation is an awaitable io_wait: it names the operation's step
// function (`attempt`: one non-blocking try, true when finished, with a value or an
// error) and a socket side (read or write). Awaiting it:
//
//   1. await_ready tries once (most operations finish here: data is already there).
//   2. Otherwise the process suspends like a receive: its wait's check (satisfied)
//      registers the process as the side's waiter and tries again whenever the
//      side's readiness sequence has moved (src/sched/poller.hpp, the handshake). The
//      poller's wake-up is a signal to the process, so the process still handles
//      exit signals while it waits, and a receive timer bounds the wait.
//   3. await_resume ends the wait and builds the result (operation<R>, net/tcp.hpp).
//
// All the state of a wait lives in this object, in the awaiting coroutine's frame;
// it is trivially destructible but for a socket made by the operation and not yet
// handed over (accept, connect), which its destructor closes: a process killed in
// the middle of an operation leaks nothing, and the poller never refers to the
// frame (it only knows the pid, see poller.hpp).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

#include "beamline/detail/process_control.hpp"
#include "beamline/net/address.hpp"

namespace beamline::io {
struct poll_descriptor;
class poller;
}  // namespace beamline::io

namespace beamline::detail {

// What one operation works on and has done so far (plain data).
struct io_request {
  void* object = nullptr;                    // the socket
  char* data = nullptr;                      // the caller's buffer
  std::size_t size = 0;                      // its size
  std::size_t done = 0;                      // bytes moved so far
  const std::string_view* pieces = nullptr;  // writev: the pieces
  std::size_t count = 0;                     // writev: how many
  const net::address* to = nullptr;          // send_to
  net::address from;                         // receive_from, accept
  std::error_code error;                     // the failure, if it failed
  int fd = -1;                               // accept/connect: the new socket until handed over
  io::poll_descriptor* made = nullptr;
  io::poller* poller = nullptr;
  unsigned char header[4] = {};  // write_packet: the length prefix
  unsigned header_size = 0;
  char delimiter = 0;
};

class io_wait : public wait_base {
 public:
  using attempt_function = bool (*)(io_request&) noexcept;

  io_wait(io::poll_descriptor* descriptor, int side, std::chrono::nanoseconds timeout,
          attempt_function attempt, const io_request& request) noexcept;
  io_wait(const io_wait&) = delete;
  io_wait& operator=(const io_wait&) = delete;
  ~io_wait();

  bool await_ready(BL_WAIT_SITE_PARAMETERS);
  void await_suspend(std::coroutine_handle<> h) noexcept;

 protected:
  // Ends the wait (first thing in await_resume): true if the operation finished,
  // false if the timeout came first.
  bool finish() noexcept;

  io_request request_;

 private:
  static bool check(wait_base& base, process_control& p);

  io::poll_descriptor* descriptor_;
  attempt_function attempt_;
  std::int64_t timeout_ns_;
  process_control* process_ = nullptr;  // set once the process waits
  std::uint64_t token_ = 0;
  std::uint32_t seen_ = 0;  // the readiness sequence before the last attempt
  int side_;
  bool finished_ = false;
};

}  // namespace beamline::detail
