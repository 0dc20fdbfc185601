#!/usr/bin/python3
"""Median latency of the random-weight full-size model of make_full_parity.py in PyTorch (CPU,
eager, float32, eval mode, no autograd): the PyTorch column of compare_ort.sh.

usage: torch_bench.py --model NAME [--batch B] [--threads T] [--iters I] [--size S] [--seed S]
Prints one JSON line: engine, model, threads, batch, median_ms, min_ms.
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from fixture_utils import make_full_input, make_full_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    model = make_full_model(args.model, args.seed)
    x = make_full_input(args.seed, args.batch, args.size)
    model(x)  # warm-up: first-call allocations and kernel selection
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"engine": f"pytorch {torch.__version__}", "model": args.model, "threads": args.threads,
                      "batch": args.batch, "median_ms": statistics.median(times), "min_ms": min(times)},
                     separators=(",", ":")))


if __name__ == "__main__":
    main()
