#!/usr/bin/env bash
# scripts/sanitize.sh [asan|tsan|all]  (default: all)
# Builds the tests under sanitizers, each in a fresh build directory of its own, and runs them;
# exits non-zero on any failure or any sanitizer report.
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (GCC, libgomp), the whole ctest suite but
#         the packaging tests and the peak-memory test (see below). $SENET_ASAN_BUILD_DIR or build-asan/
#   tsan  ThreadSanitizer (clang 14, LLVM's libomp with its TSan tool archer), the tests labelled
#         `threading`. $SENET_TSAN_BUILD_DIR or build-tsan/
# Extra ctest arguments for either stage: $SENET_SANITIZE_CTEST_ARGS (e.g. "-R Prepared"); the
# TSan stage's test selection: $SENET_TSAN_TESTS (default "-L threading").
set -euo pipefail
stage=${1:-all}
case $stage in
  asan | tsan) ;;
  all)
    # Each stage in its own process (so that `set -e` holds in it); both run, either may fail.
    status=0
    "${BASH_SOURCE[0]}" asan || status=1
    "${BASH_SOURCE[0]}" tsan || status=1
    exit $status
    ;;
  *)
    echo "usage: scripts/sanitize.sh [asan|tsan|all]" >&2
    exit 2
    ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
read -r -a extra_ctest_args <<<"${SENET_SANITIZE_CTEST_ARGS:-}"
read -r -a tsan_tests <<<"${SENET_TSAN_TESTS:--L threading}"

# Options shared by both builds: no benchmarks, no header check (the normal build has it).
common_cmake=(-DSENET_BUILD_BENCHMARKS=OFF -DSENET_CHECK_HEADERS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo)

run_asan() {
  local build=${SENET_ASAN_BUILD_DIR:-$SENET_ROOT/build-asan}
  echo "sanitize: ASan + UBSan in $build" >&2
  rm -rf "$build"
  # GCC 12 at -O1: the unrolled AVX-512 tiles of ops/conv2d_nchw16c.hpp compile in 16 s with
  # address,undefined at -O1, 6 min at -O2; clang 14, or GCC with address alone, take about 10x
  # longer at -O1 too. -g1: line tables for the reports. Assertions stay on (no -DNDEBUG): Eigen
  # checks its indices too. -Wno-uninitialized: GCC's AVX-512 headers (`__Y = __Y`) warn at -O1.
  local flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -Wno-uninitialized"
  CXX=${SENET_ASAN_CXX:-g++} cmake -S "$SENET_ROOT" -B "$build" "${common_cmake[@]}" \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DSENET_REQUIRE_PYTORCH=ON
  cmake --build "$build" -j "$SENET_JOBS"
  # Excluded, as they run in the normal build: packaging.* configure and build a separate consumer
  # project with its own flags, so nothing in them runs instrumented; the fixtures.* checks that
  # run Python only (regenerated fixtures, torchvision twins); tools.senet_run.peak_memory bounds
  # resident memory, which ASan's shadow memory and quarantine inflate by design; the Fashion-MNIST
  # accuracy runs (Fashion.TestAccuracy*, fashion.senet_run.*, fashion.classify_png) put the 10,000
  # test images through the same ResNet code the model fixtures run instrumented, and are the
  # suite's heaviest computations (Fashion.TestAccuracy: 38 s of the normal build's 4-minute run);
  # the full-size torchvision models (full_parity.*: MobileNetV3, RegNetY, EfficientNet, and the
  # SE paper's se_mobilenet / se_shufflenet twins) run the
  # code their reduced torch.save fixtures run instrumented here, on larger images only.
  local exclude='^(packaging\.|fixtures\.(regenerate\.|twins_match_torchvision$|torch_or_skip$)|tools\.senet_run\.peak_memory$|Fashion\.TestAccuracy|fashion\.(senet_run|classify_png)|full_parity\.(generate\.)?(mobilenet_v3|regnet_y|efficientnet|se_mobilenet|se_shufflenet))'
  (cd "$build" &&
    # No detect_stack_use_after_return: GCC 12 over-aligns local float arrays for 64-byte AVX-512
    # stores (vmovdqa64), and ASan's fake stack frames are only 32-byte aligned (a SEGV in
    # squeeze_nchw16c of the prepared engine, not a bug of senet's).
    # io.senet_run.mutations: 500 mutations of each file here (~2 min; its 2,000 took 8 min,
    # a third of this stage); the normal build runs them all.
    ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1:check_initialization_order=1:strict_init_order=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 SENET_MUTATIONS=${SENET_MUTATIONS:-500} \
      ctest --output-on-failure --no-tests=error -j "$SENET_JOBS" --timeout 1800 -E "$exclude" \
      "${extra_ctest_args[@]}")
}

run_tsan() {
  local build=${SENET_TSAN_BUILD_DIR:-$SENET_ROOT/build-tsan}
  local llvm=${SENET_LLVM_DIR:-/usr/lib/llvm-14}
  echo "sanitize: TSan in $build" >&2
  rm -rf "$build"
  # clang: GCC's libgomp synchronises in ways TSan cannot see (false reports); LLVM's libomp
  # loads archer (OMP_TOOL_LIBRARIES), which tells TSan about OpenMP's barriers, tasks and locks.
  local flags="-fsanitize=thread -fno-omit-frame-pointer -Wno-unknown-warning-option"
  CXX=${SENET_TSAN_CXX:-clang++-14} cmake -S "$SENET_ROOT" -B "$build" "${common_cmake[@]}" \
    -DSENET_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread"
  # Only the executables the threading tests run (a whole TSan build of the suite costs minutes
  # and runs nothing more): $SENET_TSAN_TARGETS, default test_threading, those that exist.
  local targets=() t
  local available
  available=$(cmake --build "$build" --target help | sed -n 's/^\.\.\. \([A-Za-z0-9_]*\).*/\1/p')
  for t in ${SENET_TSAN_TARGETS:-test_threading}; do
    grep -qx "$t" <<<"$available" && targets+=("$t")
  done
  ((${#targets[@]})) || { echo "sanitize: none of the TSan targets exists" >&2; return 1; }
  cmake --build "$build" -j "$SENET_JOBS" --target "${targets[@]}"
  (cd "$build" &&
    OMP_TOOL_LIBRARIES=$llvm/lib/libarcher.so \
      TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1 second_deadlock_stack=1 external_symbolizer_path=$llvm/bin/llvm-symbolizer" \
      ctest --output-on-failure -j "$SENET_JOBS" --timeout 1800 --no-tests=error "${tsan_tests[@]}" \
      "${extra_ctest_args[@]}")
}

"run_$stage"
