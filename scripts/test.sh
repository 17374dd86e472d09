#!/usr/bin/env bash
# Builds beamline in the tsan, asan-ubsan, debug and release configurations with
# warnings as errors, builds every example and benchmark, and runs the whole test suite
# in each. The last lines are ctest's summary of the release run.
#
#   scripts/test.sh            all four configurations
#   scripts/test.sh release    only the named ones
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(tsan asan-ubsan debug release)
jobs=$(nproc)

for preset in "${presets[@]}"; do
  echo "=== $preset: configure and build"
  # The sanitizer builds use clang; the debug (assertions compiled in) and release
  # builds g++: both compilers stay warning-free.
  cxx=g++ cc=gcc
  case "$preset" in tsan | asan-ubsan) cxx=clang++ cc=clang ;; esac
  # A build directory configured with another compiler would be reconfigured
  # without the preset's settings: start it afresh.
  cache="build/$preset/CMakeCache.txt"
  if [ -f "$cache" ] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=\(.*/\)\?$cxx\$" "$cache"; then
    rm -rf "build/$preset"
  fi
  cmake --preset "$preset" -DBEAMLINE_WERROR=ON -DBEAMLINE_TESTS=ON -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== $preset: test"
  ctest --preset "$preset" -j "$jobs" --timeout 600
done
