# Install rules: `cmake --install <build> [--prefix <dir>]` puts
#
#   include/beamline/...                the public headers (include/ and version.hpp)
#   lib/libbeamline.a                   the library
#   lib/cmake/beamline/                 the CMake package: find_package(beamline 0.2)
#                                       then target_link_libraries(app beamline::beamline)
#   lib/pkgconfig/beamline.pc           pkg-config --cflags --libs beamline
#
# (lib/ is GNUInstallDirs' CMAKE_INSTALL_LIBDIR). Nothing of src/ is installed: its
# headers are private. scripts/check_install.sh checks the result from outside.
include(CMakePackageConfigHelpers)

set(beamline_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/beamline)

install(TARGETS beamline EXPORT beamline-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/beamline
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/beamline/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/beamline)

install(EXPORT beamline-targets NAMESPACE beamline:: DESTINATION ${beamline_cmake_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/beamline-config.cmake.in
                              ${PROJECT_BINARY_DIR}/beamline-config.cmake
                              INSTALL_DESTINATION ${beamline_cmake_dir})
# Semantic versioning before 1.0: 0.2.x satisfies a request for 0.2 (or 0.2.y, y <= x),
# never one for 0.1 or 0.3. From 1.0 on this becomes SameMajorVersion.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/beamline-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/beamline-config.cmake
              ${PROJECT_BINARY_DIR}/beamline-config-version.cmake
              ${CMAKE_CURRENT_LIST_DIR}/toolchain.cmake
        DESTINATION ${beamline_cmake_dir})

# The pkg-config file finds the prefix from its own place (${pcfiledir}), so that the
# installed tree can be moved: `cmake --install --prefix` and the Debian package
# install under other prefixes than the configured one.
file(RELATIVE_PATH beamline_pc_prefix
     /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" beamline_pc_prefix "${beamline_pc_prefix}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/beamline.pc.in ${PROJECT_BINARY_DIR}/beamline.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/beamline.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
