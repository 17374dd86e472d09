#!/usr/bin/env bash
# Builds beamline (release) and runs the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target demo
exec build/release/bin/demo "$@"
