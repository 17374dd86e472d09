// beamline/net/udp.hpp: UDP datagrams for processes.
//
//     auto socket = bl::net::udp_socket::bind(bl::net::address::any_v4(0));
//     co_await socket->send_to("ping", peer);
//     char buffer[1500];
//     auto got = co_await socket->receive_from(buffer, std::chrono::seconds(1));
//     if (got) use(std::string_view(buffer, got->size), got->from);
//
// Like TCP (tcp.hpp): awaited operations with timeouts and result<T> values, a
// socket owned by the object (and so by the process whose frame holds it). A
// datagram larger than the buffer is truncated (datagram::truncated says so).
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string_view>

#include "beamline/net/socket.hpp"

namespace beamline::net {

struct datagram {
  std::size_t size = 0;    // bytes placed in the buffer
  address from;            // the sender
  bool truncated = false;  // the datagram was larger than the buffer
};

class udp_socket {
 public:
  udp_socket() noexcept = default;  // not open

  // A socket bound to `at` (port 0: an ephemeral port).
  static result<udp_socket> bind(const address& at);

  // `to` must stay valid until the operation completes.
  operation<result<void>> send_to(std::string_view data, const address& to,
                                  std::chrono::nanoseconds timeout = forever);
  operation<result<datagram>> receive_from(std::span<char> buffer,
                                           std::chrono::nanoseconds timeout = forever);

  result<address> local_address() const { return handle_.local_address(); }
  void close() noexcept { handle_.close(); }
  bool is_open() const noexcept { return handle_.is_open(); }
  int native_handle() const noexcept { return handle_.fd(); }

 private:
  friend struct udp_operations;
  detail::socket_handle handle_;
};

}  // namespace beamline::net
