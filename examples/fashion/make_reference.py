#!/usr/bin/python3
"""Write PyTorch's logits of the shipped Fashion-MNIST checkpoints, for senet's C++ tests (tests/fashion).

Run after examples/fashion/train.py (Debian's python, with python3-torch; the data from Debian's
dataset-fashion-mnist):

    /usr/bin/python3 examples/fashion/make_reference.py

Loads examples/fashion/se_resnet_fashion.safetensors and resnet_fashion.safetensors (or those of
--weights DIR) strictly into ``torch_models.build_fashion(se=True/False)`` and writes into
tests/fixtures/data/ (or --out DIR):

  fashion_se_resnet_fashion_logits.npy   float32 [200, 10]: logits of the first 200 test images
  fashion_resnet_fashion_logits.npy      (eval mode), input normalised as fashion_data.load does

With --accuracy, also prints PyTorch's accuracy of each on all 10,000 test images (the training
script's figure, also in each checkpoint's metadata). Deterministic: one thread, no randomness.
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
import fashion_data  # noqa: E402
from fixture_utils import read_safetensors  # noqa: E402
from torch_models import build_fashion  # noqa: E402

MODELS = ("se_resnet_fashion", "resnet_fashion")
N_REFERENCE = 200


def load_model(name, weights_dir):
    """build_fashion's twin of ``name`` with the checkpoint loaded strictly (every key, every shape)."""
    tensors, metadata = read_safetensors(os.path.join(weights_dir, name + ".safetensors"))
    if metadata.get("model") != name:
        raise ValueError(f"{name}.safetensors says it holds {metadata.get('model')!r}")
    model = build_fashion(se=name == "se_resnet_fashion").to(torch.float32)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    return model.eval(), tensors


@torch.no_grad()
def logits_of(model, x, batch=500):
    return torch.cat([model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)]).numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=HERE, help="directory of the two checkpoints (default: %(default)s)")
    ap.add_argument("--data", default=fashion_data.DATA_DIR)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "data"))
    ap.add_argument("--accuracy", action="store_true", help="also evaluate all 10,000 test images")
    args = ap.parse_args()
    torch.set_num_threads(1)

    x, y = fashion_data.load("test", args.data)
    os.makedirs(args.out, exist_ok=True)
    for name in MODELS:
        model, _ = load_model(name, args.weights)
        n = len(x) if args.accuracy else N_REFERENCE
        logits = logits_of(model, x[:n])
        out = os.path.join(args.out, f"fashion_{name}_logits.npy")
        np.save(out, np.ascontiguousarray(logits[:N_REFERENCE], dtype=np.float32))
        correct = int((logits.argmax(1) == y[:n]).sum())
        print(f"PyTorch {name} accuracy on the first {n} test images: {correct / n:.4f} ({correct}/{n}); "
              f"wrote {out}")


if __name__ == "__main__":
    main()
