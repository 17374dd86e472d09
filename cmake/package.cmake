# The Debian package libbeamline-dev: what `cmake --install` puts (headers, static
# library, CMake package, pkg-config file) under /usr.
#
#   cpack --preset release        (or: cd build/release && cpack -G DEB)
#
# The architecture is dpkg's (dpkg --print-architecture, CPack's default).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libbeamline-dev)
set(CPACK_PACKAGE_VENDOR beamline)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "BEAM-style lightweight processes for C++20 (static library and headers)")
set(CPACK_PACKAGE_DESCRIPTION
    "beamline brings the BEAM's process model to C++20: isolated lightweight processes\
 with pids and mailboxes, schedulers on every core, links, monitors, timers,\
 registered names, preemption, OTP behaviours, sockets for processes and Erlang's\
 external term format. This package holds the headers, the static library, a CMake\
 package (find_package(beamline)) and a pkg-config file.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The beamline developers")
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

# A program that links the static library links the C++ runtime it was compiled
# against (at least that version's libstdc++), zlib, nettle and threads (part of libc).
set(beamline_stdcxx_depends "libstdc++6")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  string(REGEX MATCH "^[0-9]+" beamline_gcc_major ${CMAKE_CXX_COMPILER_VERSION})
  set(beamline_stdcxx_depends "libstdc++6 (>= ${beamline_gcc_major})")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${beamline_stdcxx_depends}, libstdc++-dev, zlib1g-dev, nettle-dev")
# clang 14 or later, or g++ 13 or later (cmake/toolchain.cmake).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "clang (>= 1:14) | g++ (>= 4:13)")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake (>= 3.25), pkg-config")

include(CPack)
