// term_order.hpp: the comparison engine behind ==, <=>, compare() and map keys.
//
// One walk, four modes, because Erlang has more than one order:
// - exact_equality: =:=; answers only "equal or not", so it skips ordering work.
// - arithmetic: Erlang's <, == and sort order, where 1 == 1.0 and 0.0 == -0.0.
// - total: arithmetic refined so that different terms never compare equal: an
//   integer comes before an equal float, -0.0 before 0.0. This is term's <=>.
// - key: Erlang's map-key order, used to sort map keys: like total, except that
//   every integer comes before every float (so #{2 => a, 1.0 => b} iterates 2 first).
// In every mode, the keys of maps inside the terms compare in key mode, as Erlang
// compares maps: by size, then keys in key order, then values in the walk's mode.
//
// The walk keeps its own stack (small_stack), so it never recurses on term depth.
#pragma once

#include <cstdint>

#include "beamline/term.hpp"

namespace beamline::detail {

enum class order_mode : std::uint8_t { exact_equality, arithmetic, total, key };

// Negative, zero or positive as a is before, equal to or after b in `mode`.
int compare_terms(const term& a, const term& b, order_mode mode) noexcept;

std::uint64_t hash_term(const term& t) noexcept;

// This node's name and creation, as set_local_node_identity() set them: what the
// node field 0 of local pids, ports and references stands for.
struct local_identity {
  atom name;
  std::uint32_t creation;
};
local_identity local_node_identity_now() noexcept;

}  // namespace beamline::detail
