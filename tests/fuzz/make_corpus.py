#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): a handful of small
valid and edge-case inputs each, deterministic (fixed seed). Needs Debian's python3-pil for the
images; everything else is built byte by byte.

    /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import io
import json
import os
import random
import shutil
import struct

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261202)


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors: what fuzz_safetensors.cpp loads into is fc.weight [2, 3] and bn.running_mean [3]

def safetensors(tensors, metadata=None, pad=True):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def values(n):
    return [round(rng.uniform(-2, 2), 3) for _ in range(n)]


out("safetensors", "tiny_f32", safetensors([("fc.weight", "F32", [2, 3], f32(*values(6))),
                                            ("bn.running_mean", "F32", [3], f32(*values(3)))]))
out("safetensors", "tiny_half_bf16_int", safetensors(
    [("fc.weight", "F16", [2, 3], struct.pack("<6e", *values(6))),
     ("bn.running_mean", "BF16", [3], b"\x80\x3f\x49\x40\x80\xff"),
     ("bn.num_batches_tracked", "I64", [], struct.pack("<q", 7))], metadata={"format": "pt"}))
out("safetensors", "tiny_f64_nan_inf", safetensors(
    [("fc.weight", "F64", [2, 3], struct.pack("<6d", 1.0, float("nan"), 2.0, float("inf"), 1e300, -0.0)),
     ("bn.running_mean", "F32", [3], f32(0.5, float("-inf"), 3.0))]))
out("safetensors", "extra_empty_scalar", safetensors(
    [("fc.weight", "F32", [2, 3], f32(*values(6))), ("bn.running_mean", "F32", [3], f32(*values(3))),
     ("fc.bias", "F32", [2], f32(1, 2)), ("empty", "F32", [0, 4], b""), ("scalar", "F16", [], b"\x00\x3c"),
     ("mask", "BOOL", [2], b"\x01\x00"), ("u", "U8", [1], b"\x05")]))
out("safetensors", "misshaped_and_i32", safetensors(
    [("fc.weight", "F32", [3, 2], f32(*values(6))), ("bn.running_mean", "I32", [3], struct.pack("<3i", 1, 2, 3))]))
out("safetensors", "unpadded", safetensors([("fc.weight", "BF16", [2, 3], bytes(12)),
                                            ("bn.running_mean", "F16", [3], bytes(6))], pad=False))
out("safetensors", "overlapping_offsets",
    struct.pack("<Q", 112) + b'{"fc.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},'
    b'"bn.running_mean":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}'.ljust(112) + bytes(24))
out("safetensors", "header_length_only", struct.pack("<Q", 0))
out("safetensors", "not_json", struct.pack("<Q", 6) + b'{"a":[' + bytes(4))

# ---- .npy


def npy(descr, shape, data, version=(1, 0), fortran=False, header=None):
    if header is None:
        s = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, s)
    prefix = 10 if version[0] == 1 else 12
    header = header + " " * (-(prefix + len(header) + 1) % 64) + "\n"
    length = struct.pack("<H" if version[0] == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + length + header.encode("latin-1") + data


out("npy", "f4_2x3", npy("<f4", (2, 3), f32(*values(6))))
out("npy", "f8_big_endian", npy(">f8", (3,), struct.pack(">3d", 1.5, float("nan"), float("-inf"))))
out("npy", "f4_scalar", npy("<f4", (), f32(3.25)))
out("npy", "f4_empty", npy("<f4", (0, 4), b""))
out("npy", "f8_v2", npy("<f8", (1, 2), struct.pack("<2d", 0.25, -1e308), version=(2, 0)))
out("npy", "f4_v3_nchw", npy("<f4", (1, 1, 2, 2), f32(*values(4)), version=(3, 0)))
out("npy", "python2_long", npy("<f4", None, f32(1, 2, 3, 4),
                               header="{u'descr': u'<f4', 'fortran_order': False, 'shape': (2L, 2L), }"))
out("npy", "fortran", npy("<f4", (2, 2), f32(1, 2, 3, 4), fortran=True))
out("npy", "list_shape_native", npy("=f4", None, f32(1, 2), header="{\"shape\": [2], \"descr\": '|f4', "
                                                                   "\"fortran_order\": False}"))
out("npy", "int_dtype", npy("<i8", (2,), bytes(16)))

# ---- images: 8x6, drawn with a seeded generator


def picture(mode, size=(8, 6)):
    img = Image.new("RGB", size)
    img.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(size[0] * size[1])])
    if mode == "I;16":
        grey = Image.new("I", size)
        grey.putdata([rng.randrange(0, 1024) for _ in range(size[0] * size[1])])
        return grey
    return img.convert(mode)


def encoded(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


out("image", "rgb.png", encoded(picture("RGB"), "PNG"))
out("image", "rgba.png", encoded(picture("RGBA"), "PNG"))
out("image", "grey.png", encoded(picture("L"), "PNG"))
out("image", "la.png", encoded(picture("LA"), "PNG"))
out("image", "palette.png", encoded(picture("P"), "PNG"))
out("image", "grey16.png", encoded(picture("I;16"), "PNG"))
out("image", "rgb.jpg", encoded(picture("RGB", (16, 8)), "JPEG", quality=80))
out("image", "progressive.jpg", encoded(picture("RGB", (16, 8)), "JPEG", quality=70, progressive=True))
out("image", "grey.jpg", encoded(picture("L"), "JPEG"))
out("image", "rgb444.jpg", encoded(picture("RGB"), "JPEG", subsampling=0))
out("image", "rgb.bmp", encoded(picture("RGB"), "BMP"))
out("image", "palette.bmp", encoded(picture("P"), "BMP"))
out("image", "rgb.ppm", encoded(picture("RGB"), "PPM"))
out("image", "grey.pgm", encoded(picture("L"), "PPM"))
png = encoded(picture("RGB"), "PNG")
out("image", "truncated.png", png[: len(png) * 2 // 3])

# ---- preprocess: 11 parameter bytes (see fuzz_preprocess.cpp: width, height, filter; resize w, h,
# crop w, h, short side; size, crop_pct, flags), then pixels

for i, params in enumerate([
        [7, 5, 0, 9, 4, 3, 3, 6, 23, 37, 0],       # 8x6 bilinear, size 24 at crop 0.87, timm
        [31, 11, 1, 40, 2, 30, 1, 10, 15, 45, 1],   # 32x12 bicubic, crop 0.95, caffe
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 0],         # 1x1 image, size 1, crop 1.0
        [31, 31, 1, 63, 63, 47, 47, 47, 31, 150, 0],  # largest sizes, crop 2.0 (pads)
        [5, 40, 0, 2, 7, 1, 50, 3, 8, 249, 0],      # crop 1e-4: far beyond the pixel limit
        [9, 9, 1, 4, 4, 4, 4, 4, 9, 255, 6],        # NaN crop, zero scale and std
        [12, 3, 0, 17, 2, 9, 2, 5, 11, 50, 24]]):   # a pixel limit of 4096
    out("preprocess", "seed%d" % i, bytes(params) + bytes(rng.randrange(256) for _ in range(48 + 16 * i)))

# ---- added later, after everything above so that those files stay as they were

out("safetensors", "odd_extents_and_offsets",
    struct.pack("<Q", 160) + b'{"fc.weight":{"dtype":"F32","shape":[-2,1.5],"data_offsets":[0,24]},'
    b'"bn.running_mean":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[-4,12]}}'.ljust(160) + bytes(24))
out("safetensors", "long_key_with_controls", safetensors(
    [("fc.weight\n\x1b" + "k" * 300, "F32", [2, 3], f32(*values(6))),
     ("bn.running_mean", "F32", [3], f32(*values(3)))]))
out("npy", "none_descr_tuple_order", npy("<f4", None, f32(1), header="{'descr': None, 'fortran_order': (), "
                                                                      "'shape': {'a': [1]}, }"))
# An OS/2 BMP (12-byte BITMAPCOREHEADER), which PIL does not write: 4x2, 24 bits, rows of 12 bytes.
core = struct.pack("<IHHHH", 12, 4, 2, 1, 24)
pixels = bytes(rng.randrange(256) for _ in range(24))
out("image", "os2.bmp", b"BM" + struct.pack("<IHHI", 14 + 12 + 24, 0, 0, 26) + core + pixels)

total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(HERE, "corpus")) for f in fs)
print("corpus: %d bytes" % total)
