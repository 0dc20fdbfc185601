#!/usr/bin/env python3
"""Step-by-step A/B of the fast engine: `senet bench --profile --json` for each variant, the
variants alternating ROUNDS times, then each step's median time per variant and its ratio to the
first variant's, and each variant's median forward time.

A variant is one string: optional NAME=VALUE environment settings, then optionally the path of a
senet binary (default: BUILD/bin/senet), then extra `senet bench` options. Examples:

  benchmarks/compare_steps.py "" "--winograd-stride2-max-channels 0"
  benchmarks/compare_steps.py --threads 2 --steps 'layer3' "/tmp/senet-before" "/tmp/senet-after"
  benchmarks/compare_steps.py "" "OMP_WAIT_POLICY=active"

The machine is shared and noisy: compare steps within one run, and read a change against the
steps it does not touch (the stem, say), which show the noise.
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys


def parse_variant(text, default_binary):
    env, words = {}, shlex.split(text)
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    binary = default_binary
    if words and os.path.isfile(words[0]) and os.access(words[0], os.X_OK):
        binary = words.pop(0)
    return env, binary, words


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", help="variants to compare (the first is the baseline)")
    ap.add_argument("--model", default="seresnet50")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10, help="forwards per bench run (and as many profiled)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    ap.add_argument("--steps", default="", help="only the steps whose name matches this regular expression")
    ap.add_argument("--build", default=os.path.join(root, "build"), help="build directory holding bin/senet")
    args = ap.parse_args()

    default_binary = os.path.join(args.build, "bin", "senet")
    variants = [parse_variant(v, default_binary) for v in args.variants]
    for _, binary, _ in variants:
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            sys.exit(f"compare_steps: no senet binary at {binary}: build first (scripts/test.sh)")
    pattern = re.compile(args.steps)

    step_names, step_ms = None, [[] for _ in variants]  # per variant: per round, the steps' ms
    forward_ms = [[] for _ in variants]
    for _ in range(args.rounds):
        for i, (env, binary, extra) in enumerate(variants):
            command = [binary, "bench", "--model", args.model, "--batch", str(args.batch), "--threads",
                       str(args.threads), "--iters", str(args.iters), "--profile", "--json"] + extra
            run = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"compare_steps: {' '.join(command)} failed:\n{run.stderr}")
            result = json.loads(run.stdout)
            names = [s["step"] for s in result["steps"]]
            if step_names is None:
                step_names = names
            elif names != step_names:
                sys.exit("compare_steps: the variants run different steps; compare steps of one network")
            step_ms[i].append([s["ms"] for s in result["steps"]])
            forward_ms[i].append(result["median_ms"])

    width = max(len(n) for n in step_names)
    print(f"{'step':{width}s} " + " ".join(f"{'v' + str(i):>8s}" for i in range(len(variants))) +
          ("   ratios to v0" if len(variants) > 1 else ""))
    for k, name in enumerate(step_names):
        if not pattern.search(name):
            continue
        medians = [statistics.median(r[k] for r in step_ms[i]) for i in range(len(variants))]
        ratios = " ".join(f"{m / medians[0]:5.2f}" if medians[0] > 0 else "    -" for m in medians[1:])
        print(f"{name:{width}s} " + " ".join(f"{m:8.3f}" for m in medians) + (f"   {ratios}" if ratios else ""))
    for i, text in enumerate(args.variants):
        steps = statistics.median(sum(r) for r in step_ms[i])
        print(f"v{i}: forward {statistics.median(forward_ms[i]):.2f} ms, steps {steps:.2f} ms  [{text}]")
    print(f"(medians of {args.rounds} alternating rounds; ms; {args.model}, batch {args.batch}, "
          f"{args.threads} thread(s))")


if __name__ == "__main__":
    main()
