// resolve.cpp: getaddrinfo behind net::resolve (beamline/net/resolve.hpp).
#include "beamline/net/resolve.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

namespace beamline::net {

result<std::vector<address>> resolve_now(const std::string& host, std::uint16_t port,
                                         std::optional<family> only) {
  addrinfo hints{};
  hints.ai_family = !only ? AF_UNSPEC : *only == family::ipv6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int status = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (status == EAI_SYSTEM) return std::error_code(errno, std::generic_category());
  if (status == EAI_MEMORY) return std::errc::not_enough_memory;
  if (status != 0) return std::errc::host_unreachable;
  std::vector<address> addresses;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next)
    if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
      addresses.push_back(
          address::from_native(a->ai_addr, static_cast<std::uint32_t>(a->ai_addrlen)));
  ::freeaddrinfo(found);
  return addresses;
}

}  // namespace beamline::net
