#!/usr/bin/env bash
# Installs what is missing, configures a fresh Release build, builds everything and runs the
# whole ctest suite. Exits non-zero on any failure. Build directory: $SENET_BUILD_DIR or build/.
#
# PyTorch is required here (-DSENET_REQUIRE_PYTORCH=ON): the tests whose reference it makes at
# test time fail, instead of skipping, when `import torch` fails, and so does this script, up
# front. ctest --no-tests=error: a run that selects no test is a failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build=${SENET_BUILD_DIR:-$SENET_ROOT/build}
if ! /usr/bin/python3 -c 'import torch, torchvision, numpy, PIL, sklearn' ; then
  echo "test.sh: error: the PyTorch reference cannot be imported by /usr/bin/python3 (see above);" \
       "the tests need python3-torch, python3-torchvision, python3-numpy, python3-pil and python3-sklearn" >&2
  exit 1
fi
rm -rf "$build"
cmake -S "$SENET_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSENET_REQUIRE_PYTORCH=ON
cmake --build "$build" -j "$SENET_JOBS"
cd "$build"
ctest --output-on-failure --no-tests=error -j "$SENET_JOBS" --timeout 900
