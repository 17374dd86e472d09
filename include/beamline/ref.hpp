// beamline/ref.hpp: references, Erlang's unique identifiers.
//
// A reference is unique among all references made on a node since it started.
// Local references use three 32-bit words, like Erlang's; references decoded from
// other nodes may carry up to five. make_ref() is in process.hpp (inside a process
// it also records a receive mark, see receive.hpp); node::make_ref() works anywhere.
//
// Printing follows Erlang: #Ref<0.W2.W1.W0> (words from the most significant).
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace beamline {

struct ref {
  static constexpr std::size_t max_words = 5;

  std::uint32_t node = 0;      // 0: this node; otherwise the atom index of the node name
  std::uint32_t creation = 0;  // the node's creation (remote references only)
  std::uint32_t length = 0;    // words in use; 0 for the null reference
  std::array<std::uint32_t, max_words> words{};

  constexpr bool is_null() const noexcept { return length == 0; }
  explicit constexpr operator bool() const noexcept { return !is_null(); }

  // A local reference made from a 64-bit counter value and an 18-bit extra word,
  // laid out as Erlang lays out its own.
  static constexpr ref local(std::uint64_t counter, std::uint32_t extra = 0) noexcept {
    ref r;
    r.length = 3;
    r.words[0] = static_cast<std::uint32_t>(counter & 0x3ffff);
    r.words[1] = static_cast<std::uint32_t>(counter >> 18);
    r.words[2] = static_cast<std::uint32_t>(counter >> 50) | (extra << 14);
    return r;
  }

  friend constexpr bool operator==(const ref& a, const ref& b) noexcept {
    if (a.node != b.node || a.length != b.length || a.creation != b.creation) return false;
    for (std::uint32_t i = 0; i < a.length; ++i)
      if (a.words[i] != b.words[i]) return false;
    return true;
  }
  // Order within one node: by the words from the most significant, as Erlang does.
  friend constexpr std::strong_ordering operator<=>(const ref& a, const ref& b) noexcept {
    if (a.node != b.node) return a.node <=> b.node;
    if (a.length != b.length) return a.length <=> b.length;
    for (std::uint32_t i = a.length; i-- > 0;)
      if (a.words[i] != b.words[i]) return a.words[i] <=> b.words[i];
    return a.creation <=> b.creation;
  }

  std::string to_string() const;  // "#Ref<0.3.2.1>"
};

std::ostream& operator<<(std::ostream& os, const ref& r);

}  // namespace beamline

template <>
struct std::hash<beamline::ref> {
  std::size_t operator()(const beamline::ref& r) const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull ^ r.node;
    for (std::uint32_t i = 0; i < r.length && i < beamline::ref::max_words; ++i)
      h = (h ^ r.words[i]) * 0x100000001b3ull;
    return static_cast<std::size_t>(h ^ (h >> 31));
  }
};
