#!/usr/bin/env bash
# Builds beamline with clang (the supported compiler on Debian 12: README.md) in the
# tsan, asan-ubsan, debug and release configurations with warnings as errors, builds
# every example (and, in release, every benchmark: no test runs one, so the other
# configurations skip them), and runs the whole test suite in each (every example
# runs too); then compiles the library, examples and tools with g++ as well
# (gcc-warnings), so that both compilers stay warning-free. The last test lines are
# ctest's summary of the release run.
#
#   scripts/test.sh            all five configurations
#   scripts/test.sh release    only the named ones
set -euo pipefail
cd "$(dirname "$0")/.."
# What only the tests need besides: Debian's chromium, and Node.js and npm (Debian's,
# unless the machine has them) for the observer dashboard's browser test, which
# drives chromium with the npm package playwright-core, as its lock file pins it;
# Erlang's observer application (etop) for the test of Erlang's tools.
test_packages=(chromium erlang-observer)
command -v npm >/dev/null 2>&1 || test_packages+=(nodejs npm)
scripts/deps.sh "${test_packages[@]}"
browser_tests=tests/observer/browser
if [ ! -d "$browser_tests/node_modules" ] ||
   [ "$browser_tests/package-lock.json" -nt "$browser_tests/node_modules/.package-lock.json" ]; then
  (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(tsan asan-ubsan debug release gcc-warnings)
jobs=$(nproc)

for preset in "${presets[@]}"; do
  echo "=== $preset: configure and build"
  cxx=clang++
  [ "$preset" != gcc-warnings ] || cxx=g++
  # A build directory configured with another compiler would be reconfigured
  # without the preset's settings: start it afresh.
  cache="build/$preset/CMakeCache.txt"
  if [ -f "$cache" ] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=\(.*/\)\?$cxx\$" "$cache"; then
    rm -rf "build/$preset"
  fi
  cmake --preset "$preset" -DBEAMLINE_WERROR=ON >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  [ "$preset" != gcc-warnings ] || continue  # compiled, not run: g++ 12 miscompiles coroutines
  echo "=== $preset: test"
  ctest --preset "$preset" -j "$jobs" --timeout 600
done
