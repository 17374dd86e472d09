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
// for anything else. (Also declared in beamline/otp/detail/gen_server_impl.hpp.)
term exception_reason(const std::exception_ptr& e);
// The same, and whether it was an exit_exception (exit(reason): an ending, not a
// crash), with one rethrow.
term exception_reason(const std::exception_ptr& e, bool& exited);

// normal, shutdown or {shutdown, _}: an end that nobody reports (no crash line, no
// gen_server termination report), and that a transient child is not restarted for.
bool is_shutdown_reason(const term& reason);

}  // namespace beamline::detail
