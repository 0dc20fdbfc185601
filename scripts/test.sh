#!/usr/bin/env bash
# Installs what is missing, configures a fresh Release build, builds everything and runs the
# whole ctest suite. Exits non-zero on any failure. Build directory: $SENET_BUILD_DIR or build/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build=${SENET_BUILD_DIR:-$SENET_ROOT/build}
rm -rf "$build"
cmake -S "$SENET_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$SENET_JOBS"
cd "$build"
ctest --output-on-failure -j "$SENET_JOBS" --timeout 900
