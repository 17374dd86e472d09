#!/usr/bin/env bash
# Checks beamline as its users get it, from outside the source tree:
#
#   1. `cmake --install` into a temporary prefix installs exactly the public headers
#      (include/beamline/** and version.hpp), the library, the CMake package and the
#      pkg-config file; every installed header compiles with only that prefix on the
#      include path.
#   2. examples/consumer configures with find_package(beamline <version>), builds and
#      runs against that prefix, and prints the version; a request for the next
#      minor version is refused.
#   3. g++ 12 (which miscompiles coroutine temporaries) is refused: configuring
#      examples/consumer with it stops with the reason, and so does compiling a
#      beamline header with it outside CMake; BEAMLINE_ALLOW_GCC_COROUTINE_BUG opts in.
#   4. cpack builds the Debian package; its contents and control fields are checked,
#      it is unpacked (dpkg -x, not installed) and examples/consumer/main.cpp is built
#      from it with pkg-config and run.
#
# Usage: scripts/check_install.sh <build-dir> <version>   (a ctest test of release builds)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 <build-dir> <version>" >&2; exit 2; }
build=$(cd "$1" && pwd)
version=$2
source_dir=$(cd "$(dirname "$0")/.." && pwd)
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "check_install: $*" >&2; exit 1; }
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

echo "== install into a temporary prefix"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

# Only public headers: the installed tree is include/beamline/ of the sources, plus
# the generated version.hpp.
(cd "$source_dir/include" && find beamline -name '*.hpp'; echo beamline/version.hpp) \
  | sort >"$work/headers.expected"
(cd "$prefix/include" && find beamline -type f) | sort >"$work/headers.installed"
diff -u "$work/headers.expected" "$work/headers.installed" \
  || fail "installed headers differ from include/ (+ installed, - missing)"
libdir=$(cd "$prefix" && dirname "$(find . -name libbeamline.a)")
libdir=${libdir#./}
for f in "$libdir/libbeamline.a" "$libdir/cmake/beamline/beamline-config.cmake" \
  "$libdir/cmake/beamline/beamline-config-version.cmake" \
  "$libdir/cmake/beamline/beamline-targets.cmake" "$libdir/cmake/beamline/toolchain.cmake" \
  "$libdir/pkgconfig/beamline.pc"; do
  [ -f "$prefix/$f" ] || fail "not installed: $f"
done
[ -z "$(cd "$prefix" && find . -type f ! -path './include/beamline/*' ! -path "./$libdir/*")" ] \
  || fail "installed outside include/ and $libdir/: $(cd "$prefix" && find . -type f)"

# Every public header compiles on its own include path (none reaches into src/).
(cd "$prefix/include" && find beamline -name '*.hpp' | sort | sed 's/.*/#include <&>/') \
  >"$work/all_headers.cpp"
"$cxx" -std=c++20 -fsyntax-only -I"$prefix/include" "$work/all_headers.cpp" \
  || fail "the installed headers do not compile on their own"

echo "== examples/consumer with find_package(beamline $version)"
cmake -S "$source_dir/examples/consumer" -B "$work/consumer" "${generator[@]}" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" \
  || { cat "$work/configure.log"; fail "consumer: configure failed"; }
cmake --build "$work/consumer" >"$work/build.log" \
  || { cat "$work/build.log"; fail "consumer: build failed"; }
"$work/consumer/consumer" | tee "$work/run.log"
grep -qx "beamline $version" "$work/run.log" || fail "consumer did not print 'beamline $version'"
grep -q "has 8 letters" "$work/run.log" || fail "consumer: no answer from its server process"

# Semantic versioning before 1.0 (SameMinorVersion): 0.2.x satisfies neither a
# request for 0.3 nor one for 0.1.
IFS=. read -r major minor _ <<<"$version"
refused=("$major.$((minor + 1))")
[ "$minor" -eq 0 ] || refused+=("$major.$((minor - 1))")
for request in "${refused[@]}"; do
  mkdir "$work/request-$request"
  cat >"$work/request-$request/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(request LANGUAGES NONE)
find_package(beamline $request QUIET)
if(beamline_FOUND)
  message(FATAL_ERROR "beamline $version accepted a request for $request")
endif()
CMAKE
  cmake -S "$work/request-$request" -B "$work/request-$request/build" \
    -DCMAKE_PREFIX_PATH="$prefix" >/dev/null \
    || fail "find_package(beamline $request) found beamline $version"
done

echo "== g++ 12 refused"
if command -v g++-12 >/dev/null; then
  if cmake -S "$source_dir/examples/consumer" -B "$work/consumer-gcc" "${generator[@]}" \
    -DCMAKE_CXX_COMPILER=g++-12 -DCMAKE_PREFIX_PATH="$prefix" >"$work/gcc.log" 2>&1; then
    fail "find_package(beamline) accepted g++ 12"
  fi
  grep -q "miscompiles coroutines" "$work/gcc.log" || { cat "$work/gcc.log"; fail "g++ 12: no reason given"; }
  cmake -S "$source_dir/examples/consumer" -B "$work/consumer-gcc-opt-in" "${generator[@]}" \
    -DCMAKE_CXX_COMPILER=g++-12 -DCMAKE_PREFIX_PATH="$prefix" \
    -DBEAMLINE_ALLOW_GCC_COROUTINE_BUG=ON >"$work/gcc-opt-in.log" 2>&1 \
    || { cat "$work/gcc-opt-in.log"; fail "g++ 12 with BEAMLINE_ALLOW_GCC_COROUTINE_BUG=ON: configure failed"; }
  cmake --build "$work/consumer-gcc-opt-in" >"$work/gcc-opt-in-build.log" 2>&1 \
    || { cat "$work/gcc-opt-in-build.log"; fail "g++ 12 with the opt-in: build failed"; }
  echo '#include <beamline/beamline.hpp>' >"$work/gcc.cpp"
  if g++-12 -std=c++20 -fsyntax-only -I"$prefix/include" "$work/gcc.cpp" >"$work/gcc-header.log" 2>&1; then
    fail "a beamline header compiled with g++ 12"
  fi
  grep -q "destroy temporaries in a co_await expression twice" "$work/gcc-header.log" \
    || { cat "$work/gcc-header.log"; fail "g++ 12 (no CMake): no reason given"; }
  g++-12 -std=c++20 -fsyntax-only -DBEAMLINE_ALLOW_GCC_COROUTINE_BUG -I"$prefix/include" "$work/gcc.cpp" \
    || fail "g++ 12 with -DBEAMLINE_ALLOW_GCC_COROUTINE_BUG: the headers do not compile"
else
  echo "(g++-12 not installed: skipped)"
fi

echo "== Debian package"
cpack --config "$build/CPackConfig.cmake" -B "$work/deb" >"$work/cpack.log" \
  || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(find "$work/deb" -maxdepth 1 -name 'libbeamline-dev_*.deb')
[ -n "$deb" ] || fail "cpack made no libbeamline-dev .deb"
echo "$(basename "$deb")"
dpkg-deb -I "$deb" >"$work/deb.info"
grep -q "^ Package: libbeamline-dev$" "$work/deb.info" || fail "package name"
grep -q "^ Version: $version" "$work/deb.info" || fail "package version"
grep -q "^ Architecture: $(dpkg --print-architecture)$" "$work/deb.info" || fail "architecture"
grep -q "^ Depends:.*libstdc++.*zlib1g-dev" "$work/deb.info" || fail "dependencies"
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/deb.files"
for f in ./usr/include/beamline/beamline.hpp ./usr/include/beamline/version.hpp \
  "./usr/$libdir/libbeamline.a" "./usr/$libdir/cmake/beamline/beamline-config.cmake" \
  "./usr/$libdir/cmake/beamline/toolchain.cmake" "./usr/$libdir/pkgconfig/beamline.pc"; do
  grep -qx -- "$f" "$work/deb.files" || fail "not in the package: $f"
done

# The unpacked package, found through its relocatable pkg-config file.
dpkg-deb -x "$deb" "$work/root"
export PKG_CONFIG_PATH=$work/root/usr/$libdir/pkgconfig
pkg-config --exact-version="$version" beamline || fail "pkg-config: not beamline $version"
read -ra flags <<<"$(pkg-config --cflags --libs beamline)"
"$cxx" -std=c++20 "$source_dir/examples/consumer/main.cpp" -o "$work/consumer_pc" "${flags[@]}" \
  || fail "consumer: build with pkg-config failed (${flags[*]})"
"$work/consumer_pc" >"$work/run_pc.log" || { cat "$work/run_pc.log"; fail "consumer (pkg-config) failed"; }
grep -qx "beamline $version" "$work/run_pc.log" || fail "consumer (pkg-config) printed the wrong version"
grep -q "has 8 letters" "$work/run_pc.log" || fail "consumer (pkg-config): no answer from its server process"
echo "== installed package checked"
