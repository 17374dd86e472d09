// tcp.cpp: TCP listeners and connections (beamline/net/tcp.hpp).
//
// Each operation is a step function (`attempt`: one non-blocking try, true when
// finished) and a completion (`complete`: the result, once the wait is over); the
// waiting itself is io_wait's (src/io/io_wait.cpp). Steps loop until the kernel
// says EAGAIN, so that a process only waits after EAGAIN, as edge-triggered
// readiness requires.
#include "beamline/net/tcp.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "io/framing.hpp"
#include "sched/poller.hpp"

namespace beamline::net {

namespace {

std::error_code last_error() noexcept {
  return {errno, std::generic_category()};
}

bool would_block(int e) noexcept {
  return e == EAGAIN || e == EWOULDBLOCK;
}

result<void> void_result(detail::io_request& r, bool finished) {
  if (!finished) return std::errc::timed_out;
  if (r.error) return r.error;
  return {};
}

}  // namespace

// The steps and completions, with access to the sockets' insides.
struct tcp_operations {
  using request = detail::io_request;

  static tcp_socket& socket_of(request& r) noexcept { return *static_cast<tcp_socket*>(r.object); }

  // The node's IO figures (poller::count_input).
  static void received(tcp_socket& s, ssize_t n) noexcept {
    if (n > 0 && s.handle_.owner() != nullptr)
      s.handle_.owner()->count_input(static_cast<std::size_t>(n));
  }
  static void sent(tcp_socket& s, ssize_t n) noexcept {
    if (n > 0 && s.handle_.owner() != nullptr)
      s.handle_.owner()->count_output(static_cast<std::size_t>(n));
  }

  // Reads more input into the socket's buffer, making room for `wanted` bytes from
  // its start. 1: got bytes; 0: end of stream; -1: would block; -2: error (in r).
  static int fill(request& r, std::size_t wanted) noexcept {
    tcp_socket& s = socket_of(r);
    std::span<char> room = s.input_.room(wanted, detail::input_limit(s.framing_));
    if (room.empty()) {  // the scans never ask for more than input_limit: out of memory
      r.error = std::make_error_code(std::errc::not_enough_memory);
      return -2;
    }
    for (;;) {
      ssize_t n = ::recv(s.handle_.fd(), room.data(), room.size(), 0);
      received(s, n);
      if (n > 0) {
        s.input_.commit(static_cast<std::size_t>(n));
        return 1;
      }
      if (n == 0) return 0;
      if (errno == EINTR) continue;
      if (would_block(errno)) return -1;
      r.error = last_error();
      return -2;
    }
  }

  // Copies buffered input to the caller's buffer; returns the bytes copied.
  static std::size_t take_buffered(tcp_socket& s, char* to, std::size_t size) noexcept {
    return s.input_.take(to, size);
  }

  static bool not_open(request& r) noexcept {
    if (r.object != nullptr && socket_of(r).handle_.is_open()) return false;
    r.error = make_error_code(error::not_open);
    return true;
  }

  // --- reads -------------------------------------------------------------------------

  static bool read_some(request& r) noexcept {
    if (not_open(r)) return true;
    tcp_socket& s = socket_of(r);
    if (r.size == 0) return true;
    if ((r.done = take_buffered(s, r.data, r.size)) != 0) return true;
    for (;;) {
      ssize_t n = ::recv(s.handle_.fd(), r.data, r.size, 0);
      received(s, n);
      if (n >= 0) {
        r.done = static_cast<std::size_t>(n);  // 0: end of stream
        return true;
      }
      if (errno == EINTR) continue;
      if (would_block(errno)) return false;
      r.error = last_error();
      return true;
    }
  }

  static result<std::size_t> read_some_done(request& r, bool finished) {
    if (!finished) return std::errc::timed_out;
    if (r.error) return r.error;
    return std::size_t{r.done};
  }

  static bool read_exact(request& r) noexcept {
    if (not_open(r)) return true;
    tcp_socket& s = socket_of(r);
    r.done += take_buffered(s, r.data + r.done, r.size - r.done);
    while (r.done < r.size) {
      ssize_t n = ::recv(s.handle_.fd(), r.data + r.done, r.size - r.done, 0);
      received(s, n);
      if (n > 0) {
        r.done += static_cast<std::size_t>(n);
      } else if (n == 0) {
        r.error = make_error_code(error::end_of_stream);
        return true;
      } else if (errno != EINTR) {
        if (would_block(errno)) return false;
        r.error = last_error();
        return true;
      }
    }
    return true;
  }

  // Scans the buffered input with `scan` (framing.hpp), reading more while it is
  // undecided; r.count is 1 once it finds a frame or line, of r.header_size prefix
  // bytes and r.size more at the buffer's start.
  template <class Scan>
  static bool read_frame(request& r, Scan scan) noexcept {
    if (not_open(r)) return true;
    tcp_socket& s = socket_of(r);
    for (;;) {
      const detail::frame_scan found = scan(s);
      if (found.what == detail::frame_scan::outcome::found) {
        r.header_size = found.header;
        r.size = found.size;
        r.count = 1;
        return true;
      }
      if (found.what == detail::frame_scan::outcome::failed) {
        r.error = make_error_code(found.failure);
        return true;
      }
      int got = fill(r, found.wanted);
      if (got == -1) return false;
      if (got == -2) return true;
      if (got == 0) {
        r.error = make_error_code(error::end_of_stream);
        return true;
      }
    }
  }

  // read_until: r.done counts the buffered bytes already searched.
  static bool read_until(request& r) noexcept {
    return read_frame(r, [&r](tcp_socket& s) noexcept {
      return detail::scan_line(s.framing_, r.delimiter, s.input_.data(), s.input_.size(), r.done);
    });
  }

  static result<std::string> read_until_done(request& r, bool finished) {
    if (!finished) return std::errc::timed_out;
    if (r.error) return r.error;
    detail::input_buffer& in = socket_of(r).input_;
    std::string line(in.data(), r.size);
    in.consume(r.size + 1);
    return line;
  }

  static bool read_packet(request& r) noexcept {
    return read_frame(r, [](tcp_socket& s) noexcept {
      return detail::scan_packet(s.framing_, s.input_.data(), s.input_.size());
    });
  }

  static result<std::string> read_packet_done(request& r, bool finished) {
    if (!finished) return std::errc::timed_out;
    if (r.error) return r.error;
    detail::input_buffer& in = socket_of(r).input_;
    std::string payload(in.data() + r.header_size, r.size);
    in.consume(r.header_size + r.size);
    return payload;
  }

  // --- writes ------------------------------------------------------------------------

  // Sends the pieces (r.pieces, r.count) from byte r.done on, as far as the kernel
  // takes them.
  static bool send_pieces(request& r, const std::string_view* pieces, std::size_t count) noexcept {
    if (not_open(r)) return true;
    const int fd = socket_of(r).handle_.fd();
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) total += pieces[i].size();
    while (r.done < total) {
      iovec vectors[64];
      int used = 0;
      std::size_t skip = r.done;
      for (std::size_t i = 0; i < count && used < 64; ++i) {
        std::size_t size = pieces[i].size();
        if (skip >= size) {
          skip -= size;
          continue;
        }
        vectors[used].iov_base = const_cast<char*>(pieces[i].data() + skip);
        vectors[used].iov_len = size - skip;
        skip = 0;
        ++used;
      }
      msghdr message{};
      message.msg_iov = vectors;
      message.msg_iovlen = static_cast<std::size_t>(used);
      ssize_t n = used == 1 ? ::send(fd, vectors[0].iov_base, vectors[0].iov_len, MSG_NOSIGNAL)
                            : ::sendmsg(fd, &message, MSG_NOSIGNAL);
      sent(socket_of(r), n);
      if (n >= 0) {
        r.done += static_cast<std::size_t>(n);
      } else if (errno != EINTR) {
        if (would_block(errno)) return false;
        r.error = last_error();
        return true;
      }
    }
    return true;
  }

  static bool write(request& r) noexcept {
    std::string_view piece(r.data, r.size);
    return send_pieces(r, &piece, 1);
  }

  static bool writev(request& r) noexcept { return send_pieces(r, r.pieces, r.count); }

  static bool write_packet(request& r) noexcept {
    std::string_view pieces[2] = {{reinterpret_cast<const char*>(r.header), r.header_size},
                                  {r.data, r.size}};
    return send_pieces(r, pieces, 2);
  }

  // --- accept and connect --------------------------------------------------------------

  static bool accept(request& r) noexcept {
    auto& listener = *static_cast<tcp_listener*>(r.object);
    if (!listener.handle_.is_open()) {
      r.error = make_error_code(error::not_open);
      return true;
    }
    for (;;) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      int fd = ::accept4(listener.handle_.fd(), reinterpret_cast<sockaddr*>(&peer), &length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (would_block(errno)) return false;
        r.error = last_error();  // EMFILE and the like: the listener stays usable
        return true;
      }
      io::poll_descriptor* d = r.poller->add(fd, r.error);
      if (d == nullptr) {
        ::close(fd);
        return true;
      }
      r.fd = fd;
      r.made = d;
      return true;
    }
  }

  static result<tcp_socket> made_socket(request& r, bool finished) {
    if (!finished) return std::errc::timed_out;
    if (r.error) return r.error;
    detail::socket_handle handle(std::exchange(r.fd, -1), std::exchange(r.made, nullptr), r.poller);
    return tcp_socket(std::move(handle));
  }

  static bool connect(request& r) noexcept {
    if (r.error) return true;  // failed before waiting
    if (r.fd < 0) {
      r.error = make_error_code(error::not_open);
      return true;
    }
    int failure = 0;
    socklen_t length = sizeof failure;
    if (::getsockopt(r.fd, SOL_SOCKET, SO_ERROR, &failure, &length) != 0) {
      r.error = last_error();
      return true;
    }
    if (failure != 0) {
      r.error = std::error_code(failure, std::generic_category());
      return true;
    }
    sockaddr_storage peer{};
    length = sizeof peer;
    if (::getpeername(r.fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0) return true;
    if (errno == ENOTCONN) return false;  // still in progress
    r.error = last_error();
    return true;
  }
};

// --- tcp_socket -------------------------------------------------------------------------

void tcp_socket::set_framing(const framing& f) {
  if (f.header_bytes != 0 && f.header_bytes != 1 && f.header_bytes != 2 && f.header_bytes != 4)
    throw std::invalid_argument("beamline::net::framing: header_bytes must be 0, 1, 2 or 4, not " +
                                std::to_string(f.header_bytes));
  if (f.max_size < 1 || f.max_size > framing::largest_max_size)
    throw std::invalid_argument("beamline::net::framing: max_size must be from 1 to " +
                                std::to_string(framing::largest_max_size) + ", not " +
                                std::to_string(f.max_size));
  framing_ = f;
}

operation<result<tcp_socket>> tcp_socket::connect(const address& to,
                                                  std::chrono::nanoseconds timeout) {
  detail::io_request r;
  io::poll_descriptor* d = nullptr;
  int fd = ::socket(to.family() == family::ipv6 ? AF_INET6 : AF_INET,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.error = last_error();
  } else {
    auto handle = detail::socket_handle::adopt(fd);  // closes fd on failure
    if (!handle) {
      r.error = handle.error();
    } else {
      r.poller = handle->owner();
      d = handle->descriptor();
      r.made = d;
      r.fd = handle->detach();
      if (::connect(r.fd, static_cast<const sockaddr*>(to.native()), to.native_size()) != 0 &&
          errno != EINPROGRESS && errno != EINTR)
        r.error = last_error();
    }
  }
  return {d, io::write_side, timeout, &tcp_operations::connect, &tcp_operations::made_socket, r};
}

result<tcp_socket> tcp_socket::adopt(int fd) {
  auto handle = detail::socket_handle::adopt(fd);
  if (!handle) return handle.error();
  return tcp_socket(std::move(*handle));
}

operation<result<std::size_t>> tcp_socket::read_some(std::span<char> buffer,
                                                     std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.data = buffer.data();
  r.size = buffer.size();
  return {handle_.descriptor(),
          io::read_side,
          timeout,
          &tcp_operations::read_some,
          &tcp_operations::read_some_done,
          r};
}

operation<result<void>> tcp_socket::read_exact(std::span<char> buffer,
                                               std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.data = buffer.data();
  r.size = buffer.size();
  return {handle_.descriptor(),        io::read_side, timeout,
          &tcp_operations::read_exact, &void_result,  r};
}

operation<result<std::string>> tcp_socket::read_until(char delimiter,
                                                      std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.delimiter = delimiter;
  return {handle_.descriptor(),
          io::read_side,
          timeout,
          &tcp_operations::read_until,
          &tcp_operations::read_until_done,
          r};
}

operation<result<std::string>> tcp_socket::read_packet(std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  return {handle_.descriptor(),
          io::read_side,
          timeout,
          &tcp_operations::read_packet,
          &tcp_operations::read_packet_done,
          r};
}

operation<result<void>> tcp_socket::write(std::string_view data, std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.data = const_cast<char*>(data.data());
  r.size = data.size();
  return {handle_.descriptor(), io::write_side, timeout, &tcp_operations::write, &void_result, r};
}

operation<result<void>> tcp_socket::writev(std::span<const std::string_view> pieces,
                                           std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.pieces = pieces.data();
  r.count = pieces.size();
  return {handle_.descriptor(), io::write_side, timeout, &tcp_operations::writev, &void_result, r};
}

operation<result<void>> tcp_socket::write_packet(std::string_view payload,
                                                 std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.data = const_cast<char*>(payload.data());
  r.size = payload.size();
  // framing_ is valid() (set_framing checks): n is 0, 1, 2 or 4, and fits r.header.
  const unsigned n = framing_.header_bytes;
  static_assert(sizeof r.header >= 4);
  if (n != 0) {
    const std::size_t most = n == 4 ? std::size_t{0xffffffff} : (std::size_t{1} << (8 * n)) - 1;
    if (payload.size() > most || payload.size() > framing_.max_size) {
      r.error = make_error_code(error::frame_too_large);
      r.object = nullptr;
    }
    for (unsigned i = 0; i < n; ++i)
      r.header[i] = static_cast<unsigned char>(payload.size() >> (8 * (n - 1 - i)));
    r.header_size = n;
  }
  auto attempt = [](detail::io_request& q) noexcept {
    if (q.error) return true;
    return tcp_operations::write_packet(q);
  };
  return {handle_.descriptor(), io::write_side, timeout, attempt, &void_result, r};
}

result<void> tcp_socket::shutdown(shutdown_how how) {
  if (!handle_.is_open()) return error::not_open;
  int mode = how == shutdown_how::read ? SHUT_RD : how == shutdown_how::write ? SHUT_WR : SHUT_RDWR;
  if (::shutdown(handle_.fd(), mode) != 0) return last_error();
  return {};
}

void tcp_socket::close() noexcept {
  handle_.close();
  input_ = detail::input_buffer();
}

int tcp_socket::release() noexcept {
  input_ = detail::input_buffer();
  return handle_.release();
}

result<void> tcp_socket::set_nodelay(bool on) {
  return handle_.set_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}
result<void> tcp_socket::set_keepalive(bool on) {
  return handle_.set_option(SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
}
result<void> tcp_socket::set_receive_buffer_size(int bytes) {
  return handle_.set_option(SOL_SOCKET, SO_RCVBUF, bytes);
}
result<void> tcp_socket::set_send_buffer_size(int bytes) {
  return handle_.set_option(SOL_SOCKET, SO_SNDBUF, bytes);
}

// --- tcp_listener -----------------------------------------------------------------------

result<tcp_listener> tcp_listener::listen(const address& at, const listen_options& options) {
  const bool v6 = at.family() == family::ipv6;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return last_error();
  auto handle = detail::socket_handle::adopt(fd);
  if (!handle) return handle.error();
  if (options.reuse_address)
    if (auto set = handle->set_option(SOL_SOCKET, SO_REUSEADDR, 1); !set) return set.error();
  if (v6)
    if (auto set = handle->set_option(IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only ? 1 : 0); !set)
      return set.error();
  if (::bind(handle->fd(), static_cast<const sockaddr*>(at.native()), at.native_size()) != 0)
    return last_error();
  if (::listen(handle->fd(), options.backlog) != 0) return last_error();
  tcp_listener listener;
  listener.handle_ = std::move(*handle);
  return listener;
}

result<tcp_listener> tcp_listener::adopt(int fd) {
  auto handle = detail::socket_handle::adopt(fd);
  if (!handle) return handle.error();
  tcp_listener listener;
  listener.handle_ = std::move(*handle);
  return listener;
}

operation<result<tcp_socket>> tcp_listener::accept(std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.poller = handle_.owner();
  return {handle_.descriptor(),
          io::read_side,
          timeout,
          &tcp_operations::accept,
          &tcp_operations::made_socket,
          r};
}

}  // namespace beamline::net
