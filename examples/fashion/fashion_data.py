#!/usr/bin/python3
"""Fashion-MNIST as senet's fashion models see it (NumPy only, no PyTorch).

Reads the IDX files of Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/``,
gzip-compressed) and normalises the images as ``senet::preprocess_preset("fashion")`` does:
``(pixel / 255 - MEAN) / STD`` in float32, giving float32 ``[N, 1, 28, 28]``.

MEAN and STD are the training set's pixel mean and standard deviation (of pixel / 255, over all
60,000 x 784 pixels: 0.28604 and 0.35302), rounded to 4 digits as torchvision recipes quote them;
``check_normalisation`` recomputes them from the data.

Run as a script to write the test set for senet's tools and tests:

    /usr/bin/python3 examples/fashion/fashion_data.py --out DIR [--data DIR]

writes ``DIR/fashion_test.npy`` (float32 [10000, 1, 28, 28], normalised) and
``DIR/fashion_test_labels.npy`` (float32 [10000]: senet's npy reader reads float32 and float64).
"""
import argparse
import gzip
import os

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN = 0.2860  # of pixel / 255 over the 60,000 training images
STD = 0.3530
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path):
    """The unsigned-byte array of an IDX file (``path`` or ``path + '.gz'``), shaped as its header says.
    Raises ValueError on a bad magic number, a type other than unsigned byte, or a size mismatch."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: IDX element type 0x{raw[2]:02x}, expected 0x08 (unsigned byte)")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    start = 4 + 4 * ndim
    if len(raw) != start + int(np.prod(dims, dtype=np.int64)):
        raise ValueError(f"{path}: {len(raw) - start} data bytes for dimensions {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def load_raw(split, data_dir=DATA_DIR):
    """(images uint8 [N, 28, 28], labels int64 [N]) of ``split`` ('train' or 'test')."""
    images_file, labels_file = FILES[split]
    images = read_idx(os.path.join(data_dir, images_file))
    labels = read_idx(os.path.join(data_dir, labels_file)).astype(np.int64)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (images.shape[0],):
        raise ValueError(f"{split}: images {images.shape} and labels {labels.shape} are not Fashion-MNIST's")
    return images, labels


def normalise(images):
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28]: (pixel / 255 - MEAN) / STD, each step in float32
    in the order torchvision's ToTensor + Normalize and senet's preprocess take."""
    x = images.astype(np.float32)[:, None] / np.float32(255)
    return (x - np.float32(MEAN)) / np.float32(STD)


def load(split, data_dir=DATA_DIR):
    """(x float32 [N, 1, 28, 28] normalised, y int64 [N]) of ``split``."""
    images, labels = load_raw(split, data_dir)
    return normalise(images), labels


def check_normalisation(train_images):
    """Raises unless MEAN and STD are the training set's own, to their 4 digits."""
    v = train_images.astype(np.float64) / 255.0
    mean, std = v.mean(), v.std()
    if abs(mean - MEAN) > 5e-5 or abs(std - STD) > 5e-5:
        raise ValueError(f"training set mean {mean:.5f} / std {std:.5f} differ from MEAN {MEAN} / STD {STD}")
    return mean, std


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory for fashion_test.npy and fashion_test_labels.npy")
    ap.add_argument("--data", default=DATA_DIR, help="the IDX files (default: %(default)s)")
    args = ap.parse_args()
    x, y = load("test", args.data)
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "fashion_test.npy"), np.ascontiguousarray(x))
    np.save(os.path.join(args.out, "fashion_test_labels.npy"), y.astype(np.float32))
    print(f"wrote fashion_test.npy {list(x.shape)} and fashion_test_labels.npy to {args.out}")


if __name__ == "__main__":
    main()
