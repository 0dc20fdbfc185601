#!/usr/bin/python3
"""`senet classify` on Fashion-MNIST test images saved as PNG files, against `senet run` on the same
images as .npy.

usage: check_classify.py --senet PATH --weights W.safetensors --logits LOGITS.npy --out DIR
                         [--data DIR] [--count N]

Writes the first N (100) test images as 28x28 grey PNG files (Pillow) into DIR, classifies them
with ``senet classify --model se_resnet_fashion --top 1 --json``, and requires for every image the
label of the arg-max of LOGITS (``senet run``'s logits of the normalised test set, written by
fashion_data.py), by its Fashion-MNIST name, with the softmax probability of that logit (within
1e-5): the PNG path (decoding, the "fashion" preset, class names) gives what the training
normalisation gives. Prints the accuracy of those predictions. Needs NumPy and Pillow, not PyTorch.
Exit 0 when all hold, 1 otherwise.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion"))
import fashion_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--senet", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--logits", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=fashion_data.DATA_DIR)
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args()

    images, labels = fashion_data.load_raw("test", args.data)
    logits = np.load(args.logits)[:args.count].astype(np.float64)
    os.makedirs(args.out, exist_ok=True)
    paths = []
    for i in range(args.count):
        paths.append(os.path.join(args.out, f"test{i:05d}.png"))
        Image.fromarray(images[i]).save(paths[-1])
    cmd = [args.senet, "classify", "--model", "se_resnet_fashion", "--weights", args.weights, "--top", "1",
           "--batch", "50", "--json"] + paths
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"FAIL: {' '.join(cmd[:6])} ... exited {run.returncode}: {run.stderr.strip()}")
        return 1
    results = json.loads(run.stdout)
    problems = []
    if [r["image"] for r in results] != paths:
        problems.append("classify listed other images than it was given")
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    correct = 0
    for i, r in enumerate(results[:args.count]):
        top = r["top"][0]
        want = int(logits[i].argmax())
        if top["index"] != want or top["label"] != fashion_data.CLASSES[want]:
            problems.append(f"test{i:05d}.png: classify says {top['index']} {top['label']!r}, "
                            f"senet run {want} {fashion_data.CLASSES[want]!r}")
        elif abs(top["prob"] - probs[i, want]) > 1e-5:
            problems.append(f"test{i:05d}.png: probability {top['prob']:.6f}, senet run's {probs[i, want]:.6f}")
        correct += top["index"] == labels[i]
    print(f"classify on {args.count} PNG files: {len(problems)} disagreements with senet run; "
          f"accuracy {correct / args.count:.2f} against the true labels")
    for p in problems[:20]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
