#!/usr/bin/python3
"""The shipped Fashion-MNIST checkpoints against their PyTorch twins.

usage: check_checkpoints.py --weights examples/fashion

For se_resnet_fashion and resnet_fashion: the .safetensors file holds exactly the tensor names of
``torch_models.build_fashion(se=...)``'s state_dict, with its shapes, F32 for every floating-point
tensor (I64 for BatchNorm's ``num_batches_tracked``), loads with ``load_state_dict(strict=True)``,
says which model it is in its metadata, and stays small (under 2 MB). Exit 0 when all hold, 1
otherwise; 77 (skipped) without PyTorch unless SENET_REQUIRE_PYTORCH is set (torch_or_skip.py).
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
from torch_or_skip import require  # noqa: E402

require("torch")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from fixture_utils import read_safetensors  # noqa: E402
from torch_models import build_fashion  # noqa: E402

MAX_BYTES = 2 << 20


def check(name, path):
    problems = []
    tensors, metadata = read_safetensors(path)
    twin = build_fashion(se=name == "se_resnet_fashion")
    expected = twin.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        problems.append(f"missing {missing}, unexpected {unexpected}")
    for key, t in expected.items():
        if key not in tensors:
            continue
        a = tensors[key]
        if tuple(a.shape) != tuple(t.shape):
            problems.append(f"{key}: shape {list(a.shape)}, the twin's {list(t.shape)}")
        want = np.float32 if t.is_floating_point() else np.int64
        if a.dtype != want:
            problems.append(f"{key}: dtype {a.dtype}, expected {np.dtype(want)}")
    if not problems:
        twin.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    if metadata.get("model") != name:
        problems.append(f"metadata model {metadata.get('model')!r}")
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        problems.append(f"{size} bytes, more than {MAX_BYTES}")
    print(f"{'OK  ' if not problems else 'FAIL'} {name}: {len(tensors)} tensors, {size:,} bytes, "
          f"test accuracy (training script) {metadata.get('test_accuracy')}")
    for p in problems:
        print("     " + p)
    return not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="directory of the .safetensors files")
    args = ap.parse_args()
    ok = True
    for name in ("se_resnet_fashion", "resnet_fashion"):
        ok &= check(name, os.path.join(args.weights, name + ".safetensors"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
