// term_hash.hpp: the hash for the runtime's big tables keyed by terms (names,
// groups, registry keys).
#pragma once

#include <cstddef>

#include "beamline/term.hpp"

namespace beamline::detail {

// The term's hash, and not noexcept on purpose: libstdc++'s unordered containers
// then keep each entry's hash code beside it, so that walking a bucket compares
// codes instead of hashing every key it passes. With std::hash<term> (noexcept), a
// lookup of {b, 50000} among 100,000 such keys took 68 ns when its bucket held two
// keys and 38 ns otherwise; with this hash, 38 ns either way.
struct cached_term_hash {
  std::size_t operator()(const term& t) const { return t.hash(); }  // NOLINT(*-noexcept)
};

}  // namespace beamline::detail
