#!/usr/bin/python3
"""The reader limits on the command line: --max-header-bytes, --allow-non-finite, --max-pixels.

    senet_cli_limits.py --senet build/bin/senet --weights W.safetensors --input X.npy [--image IMG]

W is the shipped se_resnet_digits checkpoint and X its held-out input; IMG (optional: only when
the tool has image support) any image of more than 10 pixels. Each case checks the exit status
and the message; the script exits 1 on the first mismatch.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive"))
    return p.returncode, p.stderr.decode("utf-8", "replace")


def expect(what, got, status, *parts):
    rc, err = got
    ok = rc == status and all(part in err for part in parts)
    print("%s: %s (exit %d)" % ("ok" if ok else "FAIL", what, rc))
    if not ok:
        print("  expected exit %d and %r\n  stderr: %s" % (status, parts, err.strip()))
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--senet", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--image")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="senet-cli-limits-")
    out = os.path.join(work, "y.npy")
    run_cmd = [args.senet, "run", "--model", "se_resnet_digits", "--input", args.input, "--output", out]

    with open(args.weights, "rb") as f:
        data = bytearray(f.read())
    header_len = struct.unpack("<Q", data[:8])[0]
    expect("header over --max-header-bytes", run(run_cmd + ["--weights", args.weights, "--max-header-bytes", "100"]),
           1, "senet: error: %s: header length %d exceeds the limit of 100 bytes" % (args.weights, header_len))
    expect("header exactly at --max-header-bytes",
           run(run_cmd + ["--weights", args.weights, "--max-header-bytes", str(header_len)]), 0, "senet: wrote")
    expect("--max-header-bytes 0", run(run_cmd + ["--weights", args.weights, "--max-header-bytes", "0"]), 2,
           "option --max-header-bytes needs an integer >= 1")

    # A NaN in conv1.weight's third value and +inf in fc.bias's first.
    header = json.loads(data[8:8 + header_len])
    for key, index, bits in (("conv1.weight", 2, 0x7FC00000), ("fc.bias", 0, 0x7F800000)):
        at = 8 + header_len + header[key]["data_offsets"][0] + 4 * index
        data[at:at + 4] = struct.pack("<I", bits)
    bad = os.path.join(work, "nonfinite.safetensors")
    with open(bad, "wb") as f:
        f.write(data)
    got = run(run_cmd + ["--weights", bad])
    expect("NaN and inf refused, naming file and keys", got, 1,
           "senet: error: %s: cannot load weights into the model: 2 tensors hold NaN or infinite values" % bad,
           "non-finite values in conv1.weight: 1 of 144 values, the first at element 2 = nan",
           "non-finite values in fc.bias: 1 of 10 values, the first at element 0 = inf")
    if got[1].count("\n") != 1:
        print("FAIL: the error is not one line: %r" % got[1])
        return 1
    expect("--allow-non-finite loads them", run(run_cmd + ["--weights", bad, "--allow-non-finite"]), 0,
           "senet: wrote")

    if args.image:
        classify = [args.senet, "classify", "--model", "se_resnet_digits", "--size", "8", args.image]
        expect("image over --max-pixels", run(classify + ["--max-pixels", "10"]), 1,
               "senet: error: %s: " % args.image, "pixels exceeds the limit of 10 pixels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
