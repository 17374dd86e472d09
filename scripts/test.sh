#!/usr/bin/env bash
# Builds beamline in the release, asan-ubsan and tsan configurations with warnings as
# errors, builds every example and benchmark, and runs the whole test suite in each.
# The last lines are ctest's summary of the release run.
#
#   scripts/test.sh            all three configurations
#   scripts/test.sh release    only the named ones
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(tsan asan-ubsan release)
jobs=$(nproc)

for preset in "${presets[@]}"; do
  echo "=== $preset: configure and build"
  compiler=(-DCMAKE_CXX_COMPILER=g++ -DCMAKE_C_COMPILER=gcc)
  # The sanitizer builds use clang, the release build g++: both stay warning-free.
  [ "$preset" = release ] || compiler=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang)
  cmake --preset "$preset" -DBEAMLINE_WERROR=ON "${compiler[@]}" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== $preset: test"
  ctest --preset "$preset" -j "$jobs" --timeout 600
done
