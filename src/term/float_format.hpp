// float_format.hpp: floats as Erlang writes them.
//
// Erlang's ~p and float_to_list(F, [short]) write the shortest digits that read back
// as the same double, then choose between fixed notation (123.5, 0.001) and
// scientific notation (1.0e100, 1.23e-5) by a fixed rule on the digit count and
// exponent (OTP's erts/emulator/ryu/to_chars.h, a variant of MS STL's to_chars).
// We take the shortest digits from std::to_chars and apply the same rule, so our
// text matches Erlang's byte for byte; term_print_test checks it against `erl`
// output.
#pragma once

#include <string>

namespace beamline::detail {

// Appends a finite double: always with a '.', e.g. 1.0, 0.1, 1.0e100, -0.0.
void append_erlang_float(std::string& out, double value);

}  // namespace beamline::detail
