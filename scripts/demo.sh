#!/usr/bin/env bash
# Builds the senet tool and runs SE-ResNet-50 inference with it. With $SENET_WEIGHTS pointing at
# a timm `seresnet50` .safetensors file those weights are used; otherwise PyTorch makes a
# seeded random-weight SE-ResNet-50 and the demo checks senet's logits against PyTorch's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build=${SENET_BUILD_DIR:-$SENET_ROOT/build}
rm -rf "$build"
cmake -S "$SENET_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSENET_BUILD_TESTS=OFF -DSENET_BUILD_BENCHMARKS=OFF
cmake --build "$build" -j "$SENET_JOBS" --target senet_cli
senet=$build/bin/senet
work=$build/demo
mkdir -p "$work"

echo "== senet models"
"$senet" models
echo "== senet summary --model seresnet50 (totals)"
"$senet" summary --model seresnet50 | tail -n 1

if [[ -n ${SENET_WEIGHTS:-} ]]; then
  weights=$SENET_WEIGHTS
  /usr/bin/python3 - "$work/input.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32))
PY
  input=$work/input.npy
else
  echo "== PyTorch: a seeded random-weight seresnet50 and its logits (set SENET_WEIGHTS to use real weights)"
  /usr/bin/python3 "$SENET_ROOT/tests/fixtures/make_full_parity.py" --model seresnet50 --out "$work"
  weights=$work/seresnet50.safetensors
  input=$work/seresnet50.input.npy
fi

echo "== senet run --model seresnet50"
"$senet" run --model seresnet50 --weights "$weights" --input "$input" --output "$work/logits.npy"
/usr/bin/python3 - "$work" "${SENET_WEIGHTS:-}" <<'PY'
import sys, os, numpy as np
work, real = sys.argv[1], sys.argv[2]
y = np.load(os.path.join(work, "logits.npy"))[0]
p = np.exp(y - y.max()); p /= p.sum()
print("top-5 classes:", ", ".join(f"{i} ({p[i]:.3f})" for i in np.argsort(-y)[:5]))
if not real:
    ref = np.load(os.path.join(work, "seresnet50.output.npy"))[0]
    err = np.abs(y - ref).max() / np.abs(ref).max()
    print(f"max |senet - PyTorch| / max |PyTorch| = {err:.2e}")
PY
echo "== senet bench --model seresnet50"
"$senet" bench --model seresnet50 --weights "$weights" --iters 5
