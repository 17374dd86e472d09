#!/usr/bin/env bash
# Installs the Debian 12 packages beamline needs to build and test, skipping those
# already installed. Usage: scripts/deps.sh [extra-package...]
set -euo pipefail

packages=(
  g++ clang cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev libfmt-dev zlib1g-dev
  nettle-dev  # MD5 for the distribution handshake's digests
  nlohmann-json3-dev  # JSON for the observer's API
  libclang-rt-14-dev
  llvm-14  # llvm-symbolizer-14: file:line in sanitizer reports (the runtimes look for it)
  erlang-base  # a real Erlang for the term-format and distribution interop tests
  iproute2  # ip netns and veth pairs: the distribution partition test
  python3
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
