#!/usr/bin/env bash
# Fuzzes senet's file readers: builds the libFuzzer targets of tests/fuzz (safetensors, npy,
# image, preprocess, pth) with clang, AddressSanitizer and UndefinedBehaviorSanitizer, then runs
# each for a bounded time from a copy of its committed seed and regression corpus, with its dictionary
# (tests/fuzz/TARGET.dict) where there is one; nothing is written into the repository. Fails
# when any target finds a crash, a sanitizer report, a leak, an input slower than the timeout or
# an allocation over the memory limit, and prints where the reproducer is.
#
#   scripts/fuzz.sh [TARGET...]          # default: every target
#
# Environment: SENET_FUZZ_SECONDS (per target, 60), SENET_FUZZ_TIMEOUT (seconds per input, 10),
# SENET_FUZZ_RSS_MB (2048), SENET_FUZZ_BUILD (build directory, build-fuzz), SENET_FUZZ_WORK
# (where the corpora, logs and reproducers go; a new temporary directory by default),
# SENET_FUZZ_ARGS (extra libFuzzer flags). Reproduce a finding with
#   build-fuzz/fuzz_TARGET REPRODUCER
# and, once fixed, add it to tests/fuzz/regression/TARGET/ so the ordinary tests replay it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

seconds=${SENET_FUZZ_SECONDS:-60}
timeout=${SENET_FUZZ_TIMEOUT:-10}
rss_mb=${SENET_FUZZ_RSS_MB:-2048}
build=${SENET_FUZZ_BUILD:-$SENET_ROOT/build-fuzz}
work=${SENET_FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/senet-fuzz.XXXXXX")}
targets=("$@")
((${#targets[@]})) || targets=(safetensors npy image preprocess pth)

# Longest input per target: enough for every header and a small image, small enough to run fast.
declare -A max_len=([safetensors]=4096 [npy]=2048 [image]=16384 [preprocess]=1024 [pth]=8192)
for t in "${targets[@]}"; do
  [[ -n ${max_len[$t]:-} ]] || { echo "fuzz: unknown target '$t' (safetensors npy image preprocess pth)" >&2; exit 2; }
done

# Debian's clang (package clang, or clang-14 for the versioned names) with libclang-rt-14-dev.
cxx=$(command -v clang++ || command -v clang++-14) || { echo "fuzz: clang++ not found" >&2; exit 1; }
cc=$(command -v clang || command -v clang-14)
CC=$cc CXX=$cxx cmake -S "$SENET_ROOT/tests/fuzz" -B "$build" -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build "$build" -j "$SENET_JOBS" --target "${targets[@]/#/fuzz_}"

failed=()
for t in "${targets[@]}"; do
  dir=$work/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp "$SENET_ROOT/tests/fuzz/corpus/$t/"* "$dir/corpus/"
  if [[ -d $SENET_ROOT/tests/fuzz/regression/$t ]]; then cp "$SENET_ROOT/tests/fuzz/regression/$t/"* "$dir/corpus/"; fi
  echo "fuzz: $t for ${seconds}s (max_len ${max_len[$t]}, timeout ${timeout}s, rss ${rss_mb} MB), log $dir/log" >&2
  dict=()
  [[ -f $SENET_ROOT/tests/fuzz/$t.dict ]] && dict=(-dict="$SENET_ROOT/tests/fuzz/$t.dict")
  status=0
  # shellcheck disable=SC2086
  "$build/fuzz_$t" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_mb" \
    -malloc_limit_mb="$rss_mb" -max_len="${max_len[$t]}" -artifact_prefix="$dir/artifacts/" \
    -print_final_stats=1 "${dict[@]}" ${SENET_FUZZ_ARGS:-} "$dir/corpus" >"$dir/log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 || true)
  echo "fuzz: $t: exit $status, ${runs:-?} runs, ${cov:-cov: ?}, corpus $(ls "$dir/corpus" | wc -l) inputs" >&2
  if ((status != 0)); then
    failed+=("$t")
    grep -E 'ERROR|SUMMARY|runtime error|fuzz property failed|terminate|Test unit written' "$dir/log" |
      head -20 >&2 || true
    for a in "$dir"/artifacts/*; do
      [[ -e $a ]] && echo "fuzz: $t: reproducer $a (run: $build/fuzz_$t $a)" >&2
    done
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (work directory $work)" >&2
  exit 1
fi
echo "fuzz: no failure in ${targets[*]} (work directory $work)" >&2
