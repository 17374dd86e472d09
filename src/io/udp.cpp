// udp.cpp: UDP sockets (beamline/net/udp.hpp); the shape of tcp.cpp.
#include "beamline/net/udp.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

#include "sched/poller.hpp"

namespace beamline::net {

struct udp_operations {
  using request = detail::io_request;

  static udp_socket& socket_of(request& r) noexcept { return *static_cast<udp_socket*>(r.object); }

  static bool send_to(request& r) noexcept {
    udp_socket& s = socket_of(r);
    if (!s.handle_.is_open()) {
      r.error = make_error_code(error::not_open);
      return true;
    }
    for (;;) {
      ssize_t n = ::sendto(s.handle_.fd(), r.data, r.size, MSG_NOSIGNAL,
                           static_cast<const sockaddr*>(r.to->native()), r.to->native_size());
      if (n >= 0) {
        if (s.handle_.owner() != nullptr) s.handle_.owner()->count_output(r.size);
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      r.error = std::error_code(errno, std::generic_category());
      return true;
    }
  }

  static bool receive_from(request& r) noexcept {
    udp_socket& s = socket_of(r);
    if (!s.handle_.is_open()) {
      r.error = make_error_code(error::not_open);
      return true;
    }
    for (;;) {
      sockaddr_storage from{};
      iovec vector{r.data, r.size};
      msghdr message{};
      message.msg_name = &from;
      message.msg_namelen = sizeof from;
      message.msg_iov = &vector;
      message.msg_iovlen = 1;
      ssize_t n = ::recvmsg(s.handle_.fd(), &message, 0);
      if (n >= 0) {
        if (s.handle_.owner() != nullptr)
          s.handle_.owner()->count_input(static_cast<std::size_t>(n));
        r.done = static_cast<std::size_t>(n);
        r.count = (message.msg_flags & MSG_TRUNC) != 0 ? 1 : 0;
        r.from = address::from_native(&from, message.msg_namelen);
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      r.error = std::error_code(errno, std::generic_category());
      return true;
    }
  }

  static result<void> sent(request& r, bool finished) {
    if (!finished) return std::errc::timed_out;
    if (r.error) return r.error;
    return {};
  }

  static result<datagram> received(request& r, bool finished) {
    if (!finished) return std::errc::timed_out;
    if (r.error) return r.error;
    return datagram{r.done, r.from, r.count != 0};
  }
};

result<udp_socket> udp_socket::bind(const address& at) {
  const bool v6 = at.family() == family::ipv6;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::error_code(errno, std::generic_category());
  auto handle = detail::socket_handle::adopt(fd);
  if (!handle) return handle.error();
  if (::bind(handle->fd(), static_cast<const sockaddr*>(at.native()), at.native_size()) != 0)
    return std::error_code(errno, std::generic_category());
  udp_socket s;
  s.handle_ = std::move(*handle);
  return s;
}

operation<result<void>> udp_socket::send_to(std::string_view data, const address& to,
                                            std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.data = const_cast<char*>(data.data());
  r.size = data.size();
  r.to = &to;
  return {handle_.descriptor(),     io::write_side,        timeout,
          &udp_operations::send_to, &udp_operations::sent, r};
}

operation<result<datagram>> udp_socket::receive_from(std::span<char> buffer,
                                                     std::chrono::nanoseconds timeout) {
  detail::io_request r;
  r.object = this;
  r.data = buffer.data();
  r.size = buffer.size();
  return {handle_.descriptor(),
          io::read_side,
          timeout,
          &udp_operations::receive_from,
          &udp_operations::received,
          r};
}

}  // namespace beamline::net
