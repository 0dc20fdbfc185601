#!/usr/bin/env bash
# The senet demo: builds the senet tool, then
#   1. runs the shipped SE-ResNet trained on Fashion-MNIST (and its plain twin) on the 10,000 test
#      images with `senet run` (accuracy), writes a few test images as PNG files (the first eight
#      and two it gets wrong) and classifies them with `senet classify`, showing each image's true
#      label beside senet's;
#   2. runs the shipped SE-ResNet digits model on scikit-learn's held-out digits (accuracy, and a
#      few digits drawn in the terminal with the prediction beside each);
#   3. classifies two real photographs (scikit-learn's china.jpg and flower.jpg) with SE-ResNet-50:
#      with $SENET_WEIGHTS pointing at timm's seresnet50 .safetensors (seresnet50.a1_in1k, evaluated
#      at crop 0.95, bicubic), else on seeded random weights; top-5 and latency.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build=${SENET_BUILD_DIR:-$SENET_ROOT/build}
rm -rf "$build"
cmake -S "$SENET_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSENET_BUILD_TESTS=OFF -DSENET_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$SENET_JOBS" --target senet_cli >/dev/null
senet=$build/bin/senet
work=$build/demo
mkdir -p "$work"
py=/usr/bin/python3

fashion=$SENET_ROOT/examples/fashion
echo "== 1. se_resnet_fashion: a trained SE-ResNet on Fashion-MNIST (Debian's dataset-fashion-mnist, 10,000 test images)"
$py "$fashion/fashion_data.py" --out "$work" >/dev/null
for model in se_resnet_fashion resnet_fashion; do
  "$senet" run --model $model --weights "$fashion/$model.safetensors" \
    --input "$work/fashion_test.npy" --output "$work/${model}_logits.npy" 2>/dev/null
done
$py - "$work" "$fashion" <<'PY'
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
import fashion_data
from PIL import Image
work = sys.argv[1]
y = np.load(f"{work}/fashion_test_labels.npy").astype(int)
for model, what in (("se_resnet_fashion", "with SE"), ("resnet_fashion", "the same network without SE")):
    pred = np.load(f"{work}/{model}_logits.npy").argmax(1)
    print(f"{model:18s} ({what}): test accuracy {np.mean(pred == y):.4f} ({np.sum(pred == y)} of {len(y)})")
images, _ = fashion_data.load_raw("test")
import os
os.makedirs(f"{work}/fashion_png", exist_ok=True)
# The first eight test images and the first two that se_resnet_fashion gets wrong, as 28x28 grey PNG files.
wrong = np.flatnonzero(np.load(f"{work}/se_resnet_fashion_logits.npy").argmax(1) != y)
picks = list(range(8)) + [int(i) for i in wrong[:2]]
for i in picks:
    Image.fromarray(images[i]).save(f"{work}/fashion_png/test{i:05d}.png")
with open(f"{work}/fashion_png/truth.txt", "w") as f:
    f.writelines(f"test{i:05d}.png {fashion_data.CLASSES[y[i]]}\n" for i in picks)
PY
echo "\$ senet classify --model se_resnet_fashion --weights examples/fashion/se_resnet_fashion.safetensors --top 2 test00000.png"
"$senet" classify --model se_resnet_fashion --weights "$fashion/se_resnet_fashion.safetensors" --top 2 \
  "$work/fashion_png/test00000.png" | sed "s|$work/fashion_png/||"
"$senet" classify --model se_resnet_fashion --weights "$fashion/se_resnet_fashion.safetensors" --top 1 --json \
  "$work/fashion_png" > "$work/fashion_png.json"
$py - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
truth = dict(line.split(" ", 1) for line in open(f"{work}/fashion_png/truth.txt").read().splitlines())
print(f"  {'image':15s} {'true label':13s} senet classify")
for r in json.load(open(f"{work}/fashion_png.json")):
    name, top = os.path.basename(r["image"]), r["top"][0]
    mark = "ok" if top["label"] == truth[name] else "WRONG"
    print(f"  {name:15s} {truth[name]:13s} {top['label']} {top['prob']:.2f}  {mark}")
PY

echo
echo "== 2. se_resnet_digits: a trained SE-ResNet on scikit-learn's 8x8 digits (held-out samples 1437..1796)"
$py - "$work" <<'PY'
import sys, numpy as np
from sklearn.datasets import load_digits
d = load_digits()
np.save(f"{sys.argv[1]}/digits_x.npy", (d.images[1437:] / 16.0).astype(np.float32)[:, None])
np.save(f"{sys.argv[1]}/digits_y.npy", d.target[1437:])
PY
"$senet" run --model se_resnet_digits --weights "$SENET_ROOT/examples/digits/se_resnet_digits.safetensors" \
  --input "$work/digits_x.npy" --output "$work/digits_logits.npy" 2>/dev/null
$py - "$work" <<'PY'
import sys, numpy as np
x, y = np.load(f"{sys.argv[1]}/digits_x.npy")[:, 0], np.load(f"{sys.argv[1]}/digits_y.npy")
pred = np.load(f"{sys.argv[1]}/digits_logits.npy").argmax(1)
print(f"accuracy {np.mean(pred == y):.4f} ({np.sum(pred == y)} of {len(y)} held-out digits)")
shades = " .:-=+*#%@"
picks = [0, 1, 2, 3, 4, 5] + [int(i) for i in np.flatnonzero(pred != y)[:2]]
rows = [[] for _ in range(9)]
for i in picks:
    img = x[i]
    for r in range(8):
        rows[r].append("".join(shades[min(9, int(v * 9.99))] * 2 for v in img[r]))
    mark = "ok" if pred[i] == y[i] else "WRONG"
    rows[8].append(f"says {pred[i]} ({mark}, is {y[i]})".ljust(16))
for r in rows:
    print("  ".join(cell.ljust(16) for cell in r))
PY

echo
echo "== 3. SE-ResNet-50 on real photographs"
images=$($py -c "import sklearn.datasets as d, os; p = os.path.join(os.path.dirname(d.__file__), 'images'); print(p + '/china.jpg', p + '/flower.jpg')")
if [[ -n ${SENET_WEIGHTS:-} ]]; then
  weights=(--weights "$SENET_WEIGHTS" --crop-pct 0.95 --interpolation bicubic)
else
  weights=()
  echo "(set SENET_WEIGHTS to timm's seresnet50 .safetensors for real labels)"
fi
# shellcheck disable=SC2086
"$senet" classify --model seresnet50 "${weights[@]}" --top 5 $images
"$senet" bench --model seresnet50 "${weights[@]:0:2}" --iters 5
