# The compilers beamline supports, checked where a build starts: when beamline is
# configured (its own build, add_subdirectory, FetchContent) and when a project finds
# the installed package (find_package(beamline)). beamline/detail/toolchain.hpp makes
# the same check for builds that use neither (pkg-config, a hand-written command).
#
# g++ 12 and older miscompile coroutines: a temporary with a destructor written in a
# co_await expression is destroyed twice (fixed in g++ 13). `co_await server.call(put{key, value})` then frees the key twice and the
# node crashes. Debian 12 ships g++ 12 and no g++ 13, so beamline is built with clang
# (14 or later: Debian 12's `clang` package); g++ 13 and later are accepted too.
# BEAMLINE_ALLOW_GCC_COROUTINE_BUG=ON builds with an older g++ anyway, at the user's
# risk (docs/coroutines.md lists the shapes to avoid).
function(beamline_check_compiler)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU" OR CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 13)
    return()
  endif()
  if(BEAMLINE_ALLOW_GCC_COROUTINE_BUG)
    message(WARNING "beamline: building with g++ ${CMAKE_CXX_COMPILER_VERSION}, which "
                    "miscompiles coroutine temporaries (BEAMLINE_ALLOW_GCC_COROUTINE_BUG=ON).")
    return()
  endif()
  message(FATAL_ERROR
    "beamline: g++ ${CMAKE_CXX_COMPILER_VERSION} miscompiles coroutines: a temporary "
    "with a destructor in a co_await expression, as in "
    "`co_await server.call(put{key, value})`, is destroyed twice and the program "
    "crashes (fixed in g++ 13).\n"
    "Use clang 14 or later (Debian 12: apt-get install clang), e.g. configure with "
    "-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang in a fresh build directory, "
    "or g++ 13 or later.\n"
    "To build with this g++ anyway, at your own risk, configure with "
    "-DBEAMLINE_ALLOW_GCC_COROUTINE_BUG=ON (docs/coroutines.md: the code shapes to avoid).")
endfunction()
