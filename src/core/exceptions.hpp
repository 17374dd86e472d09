// exceptions.hpp: exceptions as Erlang exit reasons, and C++ type names as text.
#pragma once

#include <exception>
#include <string>
#include <typeinfo>

#include "beamline/term.hpp"

namespace beamline::detail {

// A type's demangled name, cut to 255 bytes (the longest atom); "unknown" for null.
std::string demangled(const std::type_info* type);

// The exit reason an exception stands for: exit_exception's and error's own reason;
// {exception, {Type, What}} for a std::exception; {exception, {Type, undefined}}
// for anything else.
term exception_reason(const std::exception_ptr& e);

}  // namespace beamline::detail
