#!/usr/bin/python3
"""Train senet's ``se_resnet_digits`` on scikit-learn's 8x8 handwritten digits.

Run (Debian's python, which has python3-torch, python3-numpy and python3-sklearn):

    /usr/bin/python3 examples/digits/train.py            # writes examples/digits/se_resnet_digits.safetensors
    /usr/bin/python3 examples/digits/make_heldout.py     # then refreshes tests/fixtures/data/digits_heldout*.npy

Data: ``sklearn.datasets.load_digits()`` (1797 images, shipped inside scikit-learn, no download).
Samples 0..1436 train, samples 1437..1796 are held out and only evaluated. The network input is
``images / 16.0`` as float32 ``[N, 1, 8, 8]``; the output is 10 logits.

The model is ``torch_models.build_digits()`` (tests/fixtures/torch_models.py), the PyTorch twin of
``senet::create_model<float>("se_resnet_digits")``: same architecture, same state_dict names. The
checkpoint holds the full state_dict in F32 (``num_batches_tracked`` as I64, which senet ignores)
and is loaded by ``senet::load_weights`` or ``senet run --model se_resnet_digits --weights ...``.

Deterministic: fixed seeds (Python, NumPy, torch), ``torch.use_deterministic_algorithms(True)``
and one CPU thread, so a given torch build reproduces the same weights bit for bit (checked with
Debian's torch 1.13). 80 epochs take about 30 s on one core. Training: AdamW with a one-cycle
cosine learning rate, label smoothing 0.05, random shifts of up to one pixel (zero fill) as the
only augmentation.
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
from fixture_utils import write_safetensors  # noqa: E402
from torch_models import build_digits  # noqa: E402

N_TRAIN = 1437  # samples [0, 1437) train; [1437, 1797) are held out
DEFAULT_OUT = os.path.join(HERE, "se_resnet_digits.safetensors")


def load_data():
    """(train_x, train_y, test_x, test_y): float32 [N, 1, 8, 8] = images / 16 and int64 labels."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None, :, :]
    y = d.target.astype(np.int64)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def shift_batch(padded, rng, max_shift):
    """Each image of ``padded`` ([B, 1, 8 + 2s, 8 + 2s], zero border s) cropped back to 8x8 at a
    random offset in [-s, s] on each axis: a random translation with zero fill."""
    b = padded.shape[0]
    dy = rng.integers(0, 2 * max_shift + 1, size=b)
    dx = rng.integers(0, 2 * max_shift + 1, size=b)
    rows = torch.from_numpy(dy[:, None] + np.arange(8))  # [B, 8]
    cols = torch.from_numpy(dx[:, None] + np.arange(8))  # [B, 8]
    n = torch.arange(b)[:, None, None]
    return padded[n, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


@torch.no_grad()
def evaluate(model, x, y, batch=512):
    model.eval()
    logits = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    return logits, (logits.argmax(1) == y).double().mean().item()


def train(args):
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    try:
        torch.use_deterministic_algorithms(True)
    except Exception as e:  # pragma: no cover - older torch
        print(f"note: deterministic algorithms unavailable ({e})")
    rng = np.random.default_rng(args.seed)

    xtr, ytr, xte, yte = load_data()
    xtr, ytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte), torch.from_numpy(yte)
    s = args.shift
    padded = F.pad(xtr, (s, s, s, s)) if s > 0 else xtr

    model = build_digits().to(torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = (N_TRAIN + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.15)

    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.from_numpy(rng.permutation(N_TRAIN))
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, N_TRAIN, args.batch):
            idx = perm[i:i + args.batch]
            xb = shift_batch(padded[idx], rng, s) if s > 0 else xtr[idx]
            yb = ytr[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            total += len(idx)
        if (epoch + 1) % 10 == 0 or epoch + 1 == args.epochs:
            _, acc = evaluate(model, xte, yte)
            print(f"epoch {epoch + 1:3d}  loss {loss_sum / total:.4f}  train acc {correct / total:.4f}  "
                  f"held-out acc {acc:.4f}  ({time.time() - t0:.1f} s)", flush=True)

    _, acc = evaluate(model, xte, yte)
    model.eval()
    state = {k: (v.detach().to(torch.float32) if v.is_floating_point() else v.detach())
             for k, v in model.state_dict().items()}
    write_safetensors(args.out, state, metadata={
        "model": "se_resnet_digits", "dataset": "sklearn load_digits, images / 16, train [0, 1437)",
        "seed": args.seed, "epochs": args.epochs, "heldout_accuracy": f"{acc:.4f}",
        "torch": torch.__version__})
    print(f"training time {time.time() - t0:.1f} s")
    print(f"held-out accuracy (samples {N_TRAIN}..{N_TRAIN + len(yte) - 1}): {acc:.4f} "
          f"({int(round(acc * len(yte)))}/{len(yte)})")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output .safetensors (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--label-smoothing", type=float, default=0.05)
    ap.add_argument("--shift", type=int, default=1, help="max random shift in pixels (0: none)")
    train(ap.parse_args())


if __name__ == "__main__":
    main()
