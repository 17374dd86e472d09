// socket.cpp: addresses, the error category, and the owned, registered file
// descriptor every socket type is built on (beamline/net/socket.hpp).
#include "beamline/net/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "beamline/process.hpp"
#include "core/runtime_access.hpp"
#include "sched/poller.hpp"

namespace beamline::net {

// --- errors ---------------------------------------------------------------------------

namespace {

class net_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "beamline.net"; }
  std::string message(int code) const override {
    switch (static_cast<error>(code)) {
      case error::end_of_stream:
        return "end of stream";
      case error::frame_too_large:
        return "frame larger than the maximum frame size";
      case error::line_too_long:
        return "no delimiter within the maximum frame size";
      case error::not_open:
        return "socket not open";
    }
    return "unknown error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const net_error_category category;
  return category;
}

// --- addresses ------------------------------------------------------------------------

namespace {

address make_v4(std::uint32_t host_order_ip, std::uint16_t port) noexcept {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(host_order_ip);
  return address::from_native(&a, sizeof a);
}

address make_v6(const in6_addr& ip, std::uint16_t port) noexcept {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = ip;
  return address::from_native(&a, sizeof a);
}

}  // namespace

static_assert(sizeof(sockaddr_storage) <= 128);

address::address() noexcept {
  sockaddr_in any{};
  any.sin_family = AF_INET;
  std::memcpy(storage_, &any, sizeof any);
  length_ = sizeof any;
}

address address::from_native(const void* sockaddr, std::uint32_t length) noexcept {
  address a;
  if (length > sizeof a.storage_) length = sizeof a.storage_;
  std::memset(a.storage_, 0, sizeof a.storage_);
  std::memcpy(a.storage_, sockaddr, length);
  a.length_ = length;
  return a;
}

result<address> address::parse(std::string_view ip, std::uint16_t port) {
  std::string text(ip);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return make_v4(ntohl(v4.s_addr), port);
  // IPv6, with an optional zone ("fe80::1%eth0").
  std::string zone;
  if (auto percent = text.find('%'); percent != std::string::npos) {
    zone = text.substr(percent + 1);
    text.resize(percent);
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1)
    return std::make_error_code(std::errc::invalid_argument);
  address a = make_v6(v6, port);
  if (!zone.empty()) {
    unsigned scope = ::if_nametoindex(zone.c_str());
    if (scope == 0) return std::make_error_code(std::errc::invalid_argument);
    reinterpret_cast<sockaddr_in6*>(a.storage_)->sin6_scope_id = scope;
  }
  return a;
}

address address::loopback_v4(std::uint16_t port) noexcept {
  return make_v4(INADDR_LOOPBACK, port);
}
address address::loopback_v6(std::uint16_t port) noexcept {
  return make_v6(in6addr_loopback, port);
}
address address::any_v4(std::uint16_t port) noexcept {
  return make_v4(INADDR_ANY, port);
}
address address::any_v6(std::uint16_t port) noexcept {
  return make_v6(in6addr_any, port);
}

family address::family() const noexcept {
  return reinterpret_cast<const sockaddr*>(storage_)->sa_family == AF_INET6 ? family::ipv6
                                                                            : family::ipv4;
}

std::uint16_t address::port() const noexcept {
  if (family() == family::ipv6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(storage_)->sin_port);
}

address address::with_port(std::uint16_t port) const noexcept {
  address a = *this;
  if (family() == family::ipv6)
    reinterpret_cast<sockaddr_in6*>(a.storage_)->sin6_port = htons(port);
  else
    reinterpret_cast<sockaddr_in*>(a.storage_)->sin_port = htons(port);
  return a;
}

std::string address::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == family::ipv6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(storage_)->sin6_addr, text,
                sizeof text);
  else
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(storage_)->sin_addr, text,
                sizeof text);
  return text;
}

std::string address::to_string() const {
  // Appended piece by piece: "[" + ip() trips g++ 12's -Wrestrict false positive.
  std::string text;
  if (family() == family::ipv6) text.push_back('[');
  text.append(ip());
  if (family() == family::ipv6) text.push_back(']');
  text.push_back(':');
  text.append(std::to_string(port()));
  return text;
}

}  // namespace beamline::net

// --- the owned descriptor ---------------------------------------------------------------

namespace beamline::detail {

using net::address;
using net::error;
template <class T>
using result = net::result<T>;

socket_handle::socket_handle(socket_handle&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      descriptor_(std::exchange(other.descriptor_, nullptr)),
      poller_(std::exchange(other.poller_, nullptr)) {}

socket_handle& socket_handle::operator=(socket_handle&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    descriptor_ = std::exchange(other.descriptor_, nullptr);
    poller_ = std::exchange(other.poller_, nullptr);
  }
  return *this;
}

result<socket_handle> socket_handle::adopt(int fd) {
  io::poller& owner = beamline::detail::poller_of(beamline::detail::current_process("a socket"));
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    std::error_code e(errno, std::generic_category());
    ::close(fd);
    return e;
  }
  std::error_code e;
  io::poll_descriptor* d = owner.add(fd, e);
  if (d == nullptr) {
    ::close(fd);
    return e;
  }
  return socket_handle(fd, d, &owner);
}

void socket_handle::close() noexcept {
  if (fd_ < 0) return;
  // The close removes the descriptor from the epoll set (nothing else holds it).
  poller_->release(*descriptor_, fd_, false);
  ::close(fd_);
  fd_ = -1;
  descriptor_ = nullptr;
  poller_ = nullptr;
}

int socket_handle::release() noexcept {
  if (fd_ < 0) return -1;
  poller_->release(*descriptor_, fd_, true);
  descriptor_ = nullptr;
  poller_ = nullptr;
  return std::exchange(fd_, -1);
}

result<address> socket_handle::local_address() const {
  if (fd_ < 0) return error::not_open;
  sockaddr_storage a{};
  socklen_t length = sizeof a;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &length) != 0)
    return std::error_code(errno, std::generic_category());
  return address::from_native(&a, length);
}

result<address> socket_handle::peer_address() const {
  if (fd_ < 0) return error::not_open;
  sockaddr_storage a{};
  socklen_t length = sizeof a;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &length) != 0)
    return std::error_code(errno, std::generic_category());
  return address::from_native(&a, length);
}

result<void> socket_handle::set_option(int level, int name, int value) const {
  if (fd_ < 0) return error::not_open;
  if (::setsockopt(fd_, level, name, &value, sizeof value) != 0)
    return std::error_code(errno, std::generic_category());
  return {};
}

}  // namespace beamline::detail
