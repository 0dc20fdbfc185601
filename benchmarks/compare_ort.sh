#!/usr/bin/env bash
# Side-by-side: `senet bench` against ONNX Runtime (CPU) on the ONNX export of the same
# random-weight model, alternating the two engines ROUNDS times and printing the medians.
# usage: benchmarks/compare_ort.sh [--model seresnet50] [--rounds 3] [--iters 10] [--build DIR]
#                                  [--precision fp32|bf16]  (senet's; ONNX Runtime runs FP32)
# Needs a built senet tool (scripts/test.sh or demo.sh), python3-torch for the export and
# ../shared/tools/ort-bench (onnxruntime-node from npm); says so and exits 2 when a peer is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=seresnet50 rounds=3 iters=10 build=$root/build precision=fp32
while (($#)); do
  case $1 in
    --model) model=$2; shift 2 ;; --rounds) rounds=$2; shift 2 ;; --iters) iters=$2; shift 2 ;;
    --build) build=$2; shift 2 ;; --precision) precision=$2; shift 2 ;; *) echo "compare_ort: unknown option $1" >&2; exit 2 ;;
  esac
done
senet=$build/bin/senet
ort_bench=${ORT_BENCH:-$root/../shared/tools/ort-bench}
[[ -x $senet ]] || { echo "compare_ort: no senet tool at $senet: build first (scripts/test.sh)" >&2; exit 2; }
[[ -x $ort_bench ]] || { echo "compare_ort: ONNX Runtime peer missing: no ort-bench at $ort_bench" >&2; exit 2; }
onnx=$build/onnx/$model.onnx
if [[ ! -f $onnx ]]; then
  /usr/bin/python3 "$root/tests/fixtures/export_onnx.py" --model "$model" --out "$onnx" >/dev/null ||
    { echo "compare_ort: could not export $model to ONNX (python3-torch missing?)" >&2; exit 2; }
fi

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
field() { sed -E "s/.*\"$1\":([0-9.eE+-]+).*/\1/"; }
gmacs=$("$senet" summary --model "$model" --json | field macs)

printf '%-8s %-7s %12s %12s %8s %14s\n' batch threads "senet ms" "ORT ms" ratio "senet GFLOP/s"
for cfg in "1 1" "1 2" "8 2"; do
  read -r batch threads <<<"$cfg"
  s=() o=()
  for ((r = 0; r < rounds; r++)); do
    s+=("$("$senet" bench --model "$model" --batch "$batch" --threads "$threads" --iters "$iters" --precision "$precision" --json | field median_ms)")
    o+=("$("$ort_bench" "$onnx" --batch "$batch" --threads "$threads" --runs "$iters" | field median_ms)")
  done
  sm=$(printf '%s\n' "${s[@]}" | median) om=$(printf '%s\n' "${o[@]}" | median)
  awk -v b="$batch" -v t="$threads" -v s="$sm" -v o="$om" -v m="$gmacs" 'BEGIN {
    printf "%-8s %-7s %12.2f %12.2f %8.2f %14.1f\n", b, t, s, o, s / o, 2 * m * b / (s * 1e6) }'
done
echo "(medians of $rounds alternating rounds of $iters runs each; ratio = senet / ONNX Runtime, < 1 is faster)"
