// beamline/net/resolve.hpp: host names to addresses, off the schedulers.
//
//     auto found = co_await bl::net::resolve("localhost", 8080);   // result<vector<address>>
//     if (found && !found->empty()) co_await bl::net::tcp_socket::connect(found->front());
//
// getaddrinfo blocks (it may ask a DNS server), so it runs on the node's dirty IO
// pool through bl::blocking (blocking.hpp): the process waits like a receive and
// the schedulers keep running everyone else. Numeric addresses come back at once
// from the same call. Errors: std::errc::host_unreachable for a name that does not
// resolve (EAI_NONAME, EAI_AGAIN...), or the system error behind EAI_SYSTEM.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "beamline/blocking.hpp"
#include "beamline/net/address.hpp"
#include "beamline/net/result.hpp"

namespace beamline::net {

// The blocking call itself (any thread); `only` restricts the address family.
result<std::vector<address>> resolve_now(const std::string& host, std::uint16_t port,
                                         std::optional<family> only = std::nullopt);

inline auto resolve(std::string host, std::uint16_t port,
                    std::optional<family> only = std::nullopt) {
  return blocking_io(&resolve_now, std::move(host), port, only);
}

}  // namespace beamline::net
