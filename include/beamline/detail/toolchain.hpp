// beamline/detail/toolchain.hpp: the compilers beamline supports (cmake/toolchain.cmake
// makes the same check when CMake configures a build).
//
// g++ 12 and older miscompile coroutines: a temporary with a destructor written in a
// co_await expression is destroyed twice, so natural code such as
// `co_await server.call(put{key, value})` frees memory twice and crashes the node.
// Build with clang 14 or later (Debian 12: apt-get install clang) or g++ 13 or later.
// Defining BEAMLINE_ALLOW_GCC_COROUTINE_BUG builds with an older g++ anyway, at your
// own risk (docs/coroutines.md lists the shapes to avoid).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13 && \
    !defined(BEAMLINE_ALLOW_GCC_COROUTINE_BUG)
#error \
    "beamline: g++ 12 and older destroy temporaries in a co_await expression twice \
(co_await server.call(put{key, value}) crashes). Compile with clang++ 14 or later \
(Debian 12: apt-get install clang) or g++ 13 or later; define \
BEAMLINE_ALLOW_GCC_COROUTINE_BUG to use this g++ at your own risk."
#endif
