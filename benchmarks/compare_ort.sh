#!/usr/bin/env bash
# Side by side, per configuration (batch 1 on 1 and 2 threads, batch 8 on 2 threads): `senet bench`
# in FP32 and in BF16, ONNX Runtime (CPU, FP32) on the ONNX export of the same random-weight model
# and PyTorch (eager, FP32; benchmarks/torch_bench.py) on the model itself, the engines alternating
# ROUNDS times; prints the machine (CPU, cores, L2), then the medians, senet's ratios and its
# GFLOP/s per precision (the model's multiply-adds x 2 / time: direct-convolution FLOPs, also
# where Winograd does fewer).
# usage: benchmarks/compare_ort.sh [--model seresnet50] [--rounds 3] [--iters 10] [--build DIR]
#                                  [--precision fp32|bf16|both] [--no-pytorch]
#   --precision: senet's precisions to run (both by default; ONNX Runtime and PyTorch run FP32)
#   --no-pytorch: leave PyTorch out (its single-thread runs take ~1 s per image here)
# Needs a built senet tool (scripts/test.sh or demo.sh), python3-torch for the export and for
# PyTorch, and ../shared/tools/ort-bench (onnxruntime-node from npm); says so and exits 2 when a
# peer is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=seresnet50 rounds=3 iters=10 build=$root/build precision=both pytorch=1
while (($#)); do
  case $1 in
    --model) model=$2; shift 2 ;; --rounds) rounds=$2; shift 2 ;; --iters) iters=$2; shift 2 ;;
    --build) build=$2; shift 2 ;; --precision) precision=$2; shift 2 ;; --no-pytorch) pytorch=0; shift ;;
    *) echo "compare_ort: unknown option $1" >&2; exit 2 ;;
  esac
done
case $precision in
  fp32 | bf16) precisions=("$precision") ;; both) precisions=(fp32 bf16) ;;
  *) echo "compare_ort: --precision must be fp32, bf16 or both" >&2; exit 2 ;;
esac
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

engines=("${precisions[@]/#/senet }" "ORT")
if ((pytorch)); then engines+=("PyTorch"); fi
# The machine, since results are only comparable within one (the project's has changed between
# an AMD EPYC and an Intel Xeon).
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
l2=$(getconf LEVEL2_CACHE_SIZE 2>/dev/null || echo 0)
echo "machine: ${cpu:-unknown CPU}, $(nproc) cores, L2 $((l2 / 1024)) KB per core; $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-6s %-8s' batch threads
for e in "${engines[@]}"; do printf ' %14s' "$e ms"; done
for p in "${precisions[@]}"; do
  printf ' %10s' "$p/ORT"
  if ((pytorch)); then printf ' %10s' "$p/PyT"; fi
done
for p in "${precisions[@]}"; do printf ' %12s' "GFLOP/s $p"; done
echo
for cfg in "1 1" "1 2" "8 2"; do
  read -r batch threads <<<"$cfg"
  declare -A times=()
  for ((r = 0; r < rounds; r++)); do
    for p in "${precisions[@]}"; do
      times[senet $p]+="$("$senet" bench --model "$model" --batch "$batch" --threads "$threads" --iters "$iters" \
                          --precision "$p" --json | field median_ms) "
    done
    times[ORT]+="$("$ort_bench" "$onnx" --batch "$batch" --threads "$threads" --runs "$iters" | field median_ms) "
    if ((pytorch)); then
      times[PyTorch]+="$(/usr/bin/python3 "$root/benchmarks/torch_bench.py" --model "$model" --batch "$batch" \
                         --threads "$threads" --iters "$iters" | field median_ms) "
    fi
  done
  declare -A med=()
  for e in "${engines[@]}"; do med[$e]=$(printf '%s\n' ${times[$e]} | median); done
  printf '%-6s %-8s' "$batch" "$threads"
  for e in "${engines[@]}"; do printf ' %14.2f' "${med[$e]}"; done
  for p in "${precisions[@]}"; do
    awk -v s="${med[senet $p]}" -v o="${med[ORT]}" 'BEGIN { printf " %10.2f", s / o }'
    if ((pytorch)); then awk -v s="${med[senet $p]}" -v o="${med[PyTorch]}" 'BEGIN { printf " %10.2f", s / o }'; fi
  done
  for p in "${precisions[@]}"; do
    awk -v s="${med[senet $p]}" -v m="$gmacs" -v b="$batch" 'BEGIN { printf " %12.1f", 2 * m * b / (s * 1e6) }'
  done
  echo
  unset times med
done
echo "(medians of $rounds alternating rounds of $iters runs each, ms per batch; p/ORT = senet in precision p /" \
     "ONNX Runtime, p/PyT = senet / PyTorch: < 1 is faster)"
