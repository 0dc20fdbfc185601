#!/usr/bin/python3
"""Numbers per SE block from a `senet excite` CSV and the samples' class labels: how much of the
excitations' variation is between classes, how high they sit, how saturated they are.

usage: scripts/excitation_study.py EXCITATIONS.csv LABELS.npy [--markdown]

Per block (the CSV's `block` column, in the order the network runs them):
- class share: for each channel, the between-class variance of its excitation over its total
  variance across samples (eta squared: 0 = the same distribution for every class, 1 = fixed by
  the class), averaged over channels; the paper's claim: low early, high late;
- spread of class means: the mean over channels of the standard deviation of the per-class mean
  excitations (how far apart the curves of Fig. 6 are);
- mean excitation, and the share of excitations above 0.9 and below 0.1 (saturation; the paper:
  the last stage's excitations saturate, most near 1).
Needs numpy (python3-numpy).
"""
import argparse
import csv
import sys
from collections import OrderedDict

import numpy as np


def read_excitations(path):
    """{block: array [N, C]} in file order."""
    rows = OrderedDict()
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header != ["block", "sample", "channel", "value"]:
            sys.exit(f"{path}: header {header} is not block,sample,channel,value")
        for block, sample, channel, value in reader:
            rows.setdefault(block, []).append((int(sample), int(channel), float(value)))
    out = OrderedDict()
    for block, entries in rows.items():
        n = max(e[0] for e in entries) + 1
        c = max(e[1] for e in entries) + 1
        a = np.full((n, c), np.nan)
        for s, ch, v in entries:
            a[s, ch] = v
        if np.isnan(a).any():
            sys.exit(f"{path}: block {block} misses values")
        out[block] = a
    return out


def block_numbers(x, labels):
    classes = np.unique(labels)
    total = x.var(axis=0)                                         # [C]
    means = np.stack([x[labels == k].mean(axis=0) for k in classes])  # [K, C]
    weights = np.array([(labels == k).mean() for k in classes])[:, None]
    between = (weights * (means - x.mean(axis=0)) ** 2).sum(axis=0)
    eta2 = np.where(total > 0, between / np.maximum(total, 1e-30), 0.0)
    return {
        "channels": x.shape[1],
        "class_share": float(eta2.mean()),
        "class_mean_spread": float(means.std(axis=0).mean()),
        "mean": float(x.mean()),
        "above_0.9": float((x > 0.9).mean()),
        "below_0.1": float((x < 0.1).mean()),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv")
    p.add_argument("labels")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = p.parse_args()
    blocks = read_excitations(args.csv)
    labels = np.load(args.labels).astype(np.int64).ravel()
    keys = ["channels", "class_share", "class_mean_spread", "mean", "above_0.9", "below_0.1"]
    if args.markdown:
        print("| block | channels | class share (eta^2) | spread of class means | mean | > 0.9 | < 0.1 |")
        print("|---|---|---|---|---|---|---|")
    else:
        print("block," + ",".join(keys))
    for block, x in blocks.items():
        if x.shape[0] != labels.size:
            sys.exit(f"{args.labels}: {labels.size} labels for {x.shape[0]} samples")
        r = block_numbers(x, labels)
        if args.markdown:
            print(f"| {block} | {r['channels']} | {r['class_share']:.3f} | {r['class_mean_spread']:.3f} | "
                  f"{r['mean']:.3f} | {r['above_0.9']:.3f} | {r['below_0.1']:.3f} |")
        else:
            print(block + "," + ",".join(str(r[k]) for k in keys))


if __name__ == "__main__":
    main()
