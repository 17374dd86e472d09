// beamline/pid.hpp: the identity of a process.
//
// A local pid names a slot of its node's process table and the generation
// (serial) of the occupant: lookup is an index, and a pid whose serial no longer
// matches its slot names a process that has ended. A remote pid also carries the
// node's name (an atom index) and that node's creation, as Erlang's external pids
// do. Pids are plain values: trivially copyable, comparable, hashable.
//
// Printing follows Erlang: <0.Id.Serial> for a local pid, <N.Id.Serial> for a
// remote one, where N is a small per-node number (Erlang prints the node's slot in
// its node table; we print 1 for every remote node, see docs/terms.md); a remote
// name prints as {Name,Node}.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace beamline {

struct pid {
  std::uint32_t id = 0;        // slot in the process table (local); ID field (remote)
  std::uint32_t serial = 0;    // generation of the slot's occupant
  std::uint32_t node = 0;      // 0: this node; otherwise the atom index of the node name
  std::uint32_t creation = 0;  // the node's creation (remote pids only)

  // The null pid names no process (slot 0 is never used).
  constexpr bool is_null() const noexcept { return id == 0 && node == 0; }
  constexpr bool is_local() const noexcept { return node == 0; }
  // Erlang's {Name, Node} as a destination: the process registered as Name on
  // another node (bl::dist::registered makes one). Messages, monitors and gen_server
  // calls to it go to whoever holds the name there when they arrive. Kept in the
  // fields of a pid no process has: serial the name's atom index, node the node's
  // with remote_name_bit set (never set in an atom index: the atom table holds at
  // most 2^20 atoms).
  static constexpr std::uint32_t remote_name_bit = 0x80000000u;
  static constexpr pid remote_name(std::uint32_t name_index, std::uint32_t node_index) noexcept {
    return pid{0, name_index, node_index | remote_name_bit, 0};
  }
  constexpr bool is_remote_name() const noexcept { return (node & remote_name_bit) != 0; }
  // The atom index of the node's name (of a remote pid or a remote name).
  constexpr std::uint32_t node_atom() const noexcept { return node & ~remote_name_bit; }
  explicit constexpr operator bool() const noexcept { return !is_null(); }

  friend constexpr bool operator==(const pid&, const pid&) noexcept = default;

  // Erlang orders pids by node name first; for pids of one node by serial, then id.
  // This is the order within one node; term comparison (term.hpp) handles the rest.
  friend constexpr std::strong_ordering operator<=>(const pid& a, const pid& b) noexcept {
    if (a.node != b.node) return a.node <=> b.node;
    if (a.serial != b.serial) return a.serial <=> b.serial;
    if (a.id != b.id) return a.id <=> b.id;
    return a.creation <=> b.creation;
  }

  std::string to_string() const;  // "<0.42.0>"
};

std::ostream& operator<<(std::ostream& os, const pid& p);

}  // namespace beamline

template <>
struct std::hash<beamline::pid> {
  std::size_t operator()(const beamline::pid& p) const noexcept {
    std::uint64_t a = (std::uint64_t{p.id} << 32) | p.serial;
    std::uint64_t b = (std::uint64_t{p.node} << 32) | p.creation;
    std::uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};
