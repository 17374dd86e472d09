// beamline/fun.hpp: funs, as terms from Erlang nodes carry them.
//
// beamline cannot run Erlang code, so a fun is data here: it is carried, compared,
// printed and sent back, never called. The two kinds are the two the external term
// format has, with every field it has, so the codec re-encodes them unchanged:
// - external_fun: fun Module:Function/Arity (EXPORT_EXT), which names an exported
//   function; it prints and parses as `fun lists:map/2`.
// - local_fun: a closure made by Erlang code (NEW_FUN_EXT): its module, the index and
//   uniq of its code, the pid that made it and the values it captured. It prints as
//   #Fun<Module.OldIndex.OldUniq>, as Erlang does, which does not read back.
//
// Order (Erlang's): every local fun is less than every external fun; local funs by
// module, old_index, old_uniq, number of free variables, then the free variables (and
// then the remaining fields, to keep the order total); external funs by module,
// function, arity.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/pid.hpp"
#include "beamline/term.hpp"

namespace beamline {

struct external_fun {
  atom module;
  atom function;
  std::uint8_t arity = 0;

  friend bool operator==(const external_fun&, const external_fun&) = default;
};

struct local_fun {
  atom module;
  std::uint8_t arity = 0;
  std::array<std::uint8_t, 16> uniq{};  // MD5 of the module's code
  std::uint32_t index = 0;              // in the module's fun table
  std::uint32_t old_index = 0;
  std::uint32_t old_uniq = 0;
  pid creator;                       // the process that made the closure
  std::vector<term> free_variables;  // the values it captured

  friend bool operator==(const local_fun&, const local_fun&) = default;
};

}  // namespace beamline
