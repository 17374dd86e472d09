// beamline/registry.hpp: local registered names (Erlang's register/2 and friends).
//
// A name is an atom naming at most one process, and a process has at most one name.
// The name is released when the process ends, before its links and monitors hear of
// it. register_name's errors are beamline::error with reason badarg and a message
// that says what was wrong (name taken, process not alive, already named, or the
// name `undefined`). (`register` itself is a C++ keyword.)
#pragma once

#include <optional>
#include <vector>

#include "beamline/atom.hpp"
#include "beamline/pid.hpp"

namespace beamline {

void register_name(atom name, const pid& process);
// Removes the name; error badarg if it is not registered.
void unregister(atom name);
// The process registered under `name`, or nullopt.
std::optional<pid> whereis(atom name);
// All registered names.
std::vector<atom> registered();

}  // namespace beamline
