// beamline/net/socket.hpp: what every socket type shares: the awaitable operation
// type, timeouts, and the owned file descriptor.
//
// Ownership (like an Erlang port, whose owner is a process): a socket object owns
// its file descriptor and closes it when destroyed. Made inside a process, it lives
// in that process's coroutine frame (or in the arguments it was spawned with), so
// it closes when the process ends, whatever the reason: a kill destroys the frame.
// To give a socket to another process, move it into the new process's arguments:
// `bl::spawn(serve, std::move(socket))` with `bl::process serve(net::tcp_socket&
// socket)` (spawn keeps the arguments as long as the process lives, and hands the
// body references to them). The object's owner is the socket's owner; there is
// no controlling_process call to make. Only one process may use a socket at a time.
//
// A socket belongs to the node of the process that made it (its poller); using it
// from another node's process is an error the runtime does not detect.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

#include "beamline/detail/io_wait.hpp"
#include "beamline/net/address.hpp"
#include "beamline/net/result.hpp"

namespace beamline::net {

// No timeout. Every waiting operation takes a timeout (a std::chrono duration);
// zero means "only if it can be done now"; expiry gives std::errc::timed_out.
inline constexpr std::chrono::nanoseconds forever = std::chrono::nanoseconds::max();

// The awaitable every socket operation returns: `co_await op` gives a Result.
template <class Result>
class [[nodiscard]] operation final : public detail::io_wait {
 public:
  using complete_function = Result (*)(detail::io_request&, bool finished);

  operation(io::poll_descriptor* descriptor, int side, std::chrono::nanoseconds timeout,
            attempt_function attempt, complete_function complete,
            const detail::io_request& request) noexcept
      : io_wait(descriptor, side, timeout, attempt, request), complete_(complete) {}

  Result await_resume() { return complete_(request_, finish()); }

 private:
  complete_function complete_;
};

}  // namespace beamline::net

namespace beamline::detail {

// An open file descriptor registered with a node's poller; move-only, closes on
// destruction.
class socket_handle {
 public:
  socket_handle() noexcept = default;
  socket_handle(int fd, io::poll_descriptor* descriptor, io::poller* owner) noexcept
      : fd_(fd), descriptor_(descriptor), poller_(owner) {}
  socket_handle(socket_handle&& other) noexcept;
  socket_handle& operator=(socket_handle&& other) noexcept;
  ~socket_handle() { close(); }

  // Registers `fd` (made non-blocking) with the calling process's node; closes it
  // and gives the error on failure.
  static net::result<socket_handle> adopt(int fd);

  void close() noexcept;
  int release() noexcept;  // deregisters and gives up the descriptor
  // Gives up the descriptor and its registration, both now the caller's.
  int detach() noexcept {
    descriptor_ = nullptr;
    poller_ = nullptr;
    return std::exchange(fd_, -1);
  }
  bool is_open() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  io::poll_descriptor* descriptor() const noexcept { return descriptor_; }
  io::poller* owner() const noexcept { return poller_; }

  net::result<net::address> local_address() const;
  net::result<net::address> peer_address() const;
  net::result<void> set_option(int level, int name, int value) const;

 private:
  int fd_ = -1;
  io::poll_descriptor* descriptor_ = nullptr;
  io::poller* poller_ = nullptr;
};

}  // namespace beamline::detail
