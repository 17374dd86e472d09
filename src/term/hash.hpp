// hash.hpp: the hash mixing that atom interning and term hashing share.
//
// Not cryptographic and not seeded: hashes are the same in every run, so they are
// fit for hash tables and reproducible tests, not for inputs chosen by an attacker.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace beamline::detail {

// A 64-bit finalizer with full avalanche (the one from SplitMix64).
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

// Folds one 64-bit word into a running hash.
constexpr std::uint64_t hash_combine(std::uint64_t seed, std::uint64_t value) noexcept {
  return mix64(seed ^ (value + 0x9E3779B97F4A7C15ull + (seed << 6) + (seed >> 2)));
}

// Hashes a byte string eight bytes at a time.
inline std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0) noexcept {
  std::uint64_t h = hash_combine(seed, bytes.size());
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = hash_combine(h, word);
  }
  if (i < bytes.size()) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + i, bytes.size() - i);
    h = hash_combine(h, word);
  }
  return h;
}

}  // namespace beamline::detail
