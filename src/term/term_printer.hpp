// term_printer.hpp: terms in Erlang syntax (the engine behind term::to_string).
#pragma once

#include <cstddef>
#include <string>

#include "beamline/term.hpp"

namespace beamline::detail {

// Appends `t` as Erlang writes it, on one line. With a limit, stops soon after
// `limit` bytes and appends "..." (for error messages about huge terms).
void append_term(std::string& out, const term& t, std::size_t limit = std::string::npos);

}  // namespace beamline::detail
