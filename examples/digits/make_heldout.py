#!/usr/bin/python3
"""Write the held-out digits and PyTorch's logits on them, for senet's C++ tests (tests/digits).

Run after examples/digits/train.py (Debian's python, with python3-torch and python3-sklearn):

    /usr/bin/python3 examples/digits/make_heldout.py

Reads the committed checkpoint examples/digits/se_resnet_digits.safetensors (or --weights) into
``torch_models.build_digits()`` and writes into tests/fixtures/data/ (or --out DIR):

  digits_heldout.npy          float32 [360, 1, 8, 8]: images / 16 of load_digits() samples 1437..1796
  digits_heldout_labels.npy   float32 [360]: their true labels (float32: senet's npy reader reads
                              float32 and float64 only)
  digits_heldout_logits.npy   float32 [360, 10]: PyTorch's logits of the checkpoint (eval mode)

Prints PyTorch's accuracy on the set. Deterministic: one thread, no randomness.
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
sys.path.insert(0, HERE)
from fixture_utils import read_safetensors  # noqa: E402
from torch_models import build_digits  # noqa: E402
from train import DEFAULT_OUT, load_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=DEFAULT_OUT)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "data"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    _, _, xte, yte = load_data()
    tensors, _ = read_safetensors(args.weights)
    model = build_digits().to(torch.float32)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(xte)).numpy().astype(np.float32)
    acc = float((logits.argmax(1) == yte).mean())

    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "digits_heldout.npy"), np.ascontiguousarray(xte, dtype=np.float32))
    np.save(os.path.join(args.out, "digits_heldout_labels.npy"), yte.astype(np.float32))
    np.save(os.path.join(args.out, "digits_heldout_logits.npy"), logits)
    print(f"PyTorch held-out accuracy: {acc:.4f} ({int((logits.argmax(1) == yte).sum())}/{len(yte)})")
    print(f"wrote digits_heldout.npy, digits_heldout_labels.npy, digits_heldout_logits.npy to {args.out}")


if __name__ == "__main__":
    main()
