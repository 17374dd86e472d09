// beamline/port.hpp: the identity of a port.
//
// beamline has no ports of its own, but terms from Erlang nodes carry them
// (NEW_PORT_EXT, V4_PORT_EXT), so a term can hold one and send it back. A port is
// like a pid: an id on a node, plus that node's name (an atom index, 0 meaning this
// node) and creation for remote ports. A plain value: trivially copyable, hashable.
//
// Printing follows Erlang: #Port<0.Id> for a local port, #Port<1.Id> for a remote
// one (the same convention as pid.hpp).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace beamline {

struct port {
  std::uint64_t id = 0;        // the port number (64 bits with V4_PORT_EXT)
  std::uint32_t node = 0;      // 0: this node; otherwise the atom index of the node name
  std::uint32_t creation = 0;  // the node's creation (remote ports only)

  constexpr bool is_local() const noexcept { return node == 0; }

  friend constexpr bool operator==(const port&, const port&) noexcept = default;
  // Order within one node, by id; term comparison (term.hpp) handles the rest.
  friend constexpr std::strong_ordering operator<=>(const port& a, const port& b) noexcept {
    if (a.node != b.node) return a.node <=> b.node;
    if (a.id != b.id) return a.id <=> b.id;
    return a.creation <=> b.creation;
  }

  std::string to_string() const;  // "#Port<0.5>"
};

std::ostream& operator<<(std::ostream& os, const port& p);

}  // namespace beamline

template <>
struct std::hash<beamline::port> {
  std::size_t operator()(const beamline::port& p) const noexcept {
    std::uint64_t h = p.id * 0x9E3779B97F4A7C15ull ^ ((std::uint64_t{p.node} << 32) | p.creation);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};
