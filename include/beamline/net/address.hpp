// beamline/net/address.hpp: an IPv4 or IPv6 socket address (host and port).
//
//     auto a = bl::net::address::parse("127.0.0.1", 8080);     // result<address>
//     auto any = bl::net::address::any_v6(0);                   // [::]:0, ephemeral port
//     std::cout << a->to_string();                              // "127.0.0.1:8080"
//
// A plain value (it holds a sockaddr_storage's bytes, without the system headers).
// Host names are resolved with net::resolve (resolve.hpp), off the schedulers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "beamline/net/result.hpp"

namespace beamline::net {

enum class family : std::uint8_t { ipv4, ipv6 };

class address {
 public:
  address() noexcept;  // 0.0.0.0:0

  // A numeric IPv4 ("10.0.0.1") or IPv6 ("::1", "fe80::1%eth0") address.
  static result<address> parse(std::string_view ip, std::uint16_t port);
  static address loopback_v4(std::uint16_t port) noexcept;
  static address loopback_v6(std::uint16_t port) noexcept;
  static address any_v4(std::uint16_t port) noexcept;
  static address any_v6(std::uint16_t port) noexcept;
  // From a sockaddr of `length` bytes (AF_INET or AF_INET6); for the runtime's use.
  static address from_native(const void* sockaddr, std::uint32_t length) noexcept;

  net::family family() const noexcept;
  std::uint16_t port() const noexcept;
  address with_port(std::uint16_t port) const noexcept;
  std::string ip() const;         // "127.0.0.1", "::1"
  std::string to_string() const;  // "127.0.0.1:80", "[::1]:80"

  const void* native() const noexcept { return storage_; }
  std::uint32_t native_size() const noexcept { return length_; }

  friend bool operator==(const address& a, const address& b) noexcept {
    return a.length_ == b.length_ && std::memcmp(a.storage_, b.storage_, a.length_) == 0;
  }

 private:
  alignas(8) unsigned char storage_[128] = {};
  std::uint32_t length_ = 0;
};

}  // namespace beamline::net
