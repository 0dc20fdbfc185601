#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): a handful of small
valid and edge-case inputs each, deterministic (fixed seed). Needs Debian's python3-pil for the
images; everything else is built byte by byte, but for the pth target's copies of the checkpoints
torch.save wrote (tests/fixtures/data/pth).

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

# ---- pth: PyTorch checkpoints; fuzz_pth.cpp loads into fc.weight [2, 3] and bn.running_mean [3].
# Archives are laid out as torch.save lays them out (stored entries with 64-byte aligned data
# behind an "FB" padding field, a zip64 end record and locator before the end record); pickles
# are written opcode by opcode as Python's pickler writes a state_dict.


def crc32(data):
    import zlib
    return zlib.crc32(data) & 0xFFFFFFFF


def zip_archive(entries, zip64_end=True, zip64_fields=(), comment=b""):
    """entries: (name, data) pairs; names in zip64_fields get saturated sizes and offset in the
    central directory and the real ones in a zip64 extra field."""
    body, offsets = b"", []
    for name, data in entries:
        name = name.encode()
        offsets.append(len(body))
        pad = -(len(body) + 30 + len(name) + 4) % 64
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, 0, 0, 0, crc32(data), len(data), len(data),
                            len(name), 4 + pad) + name + struct.pack("<HH", 0x4246, pad) + b"Z" * pad + data
    directory = b""
    for (name, data), offset in zip(entries, offsets):
        wide = name in zip64_fields
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset) if wide else b""
        size, at = (0xFFFFFFFF, 0xFFFFFFFF) if wide else (len(data), offset)
        name = name.encode()
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0x0800, 0, 0, 0, crc32(data), size,
                                 size, len(name), len(extra), 0, 0, 0, 0, at) + name + extra
    n, start = len(entries), len(body)
    tail = b""
    if zip64_end:
        end64 = start + len(directory)
        tail = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, len(directory), start)
        tail += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    tail += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(directory), start, len(comment)) + comment
    return body + directory + tail


class Pickle:
    """Opcodes of a state_dict pickle; memo=True stores and reuses strings and globals with
    BINPUT / BINGET (or MEMOIZE at protocol 4) as the pickler does."""

    def __init__(self, protocol=2, memo=True):
        self.b, self.protocol, self.memo, self.seen = b"\x80" + bytes([protocol]), protocol, memo, {}
        if protocol >= 4:
            self.b += b"\x95" + struct.pack("<Q", 0)  # one FRAME around everything; its length set at the end

    def _put(self, key):
        if not self.memo:
            return
        self.seen[key] = len(self.seen)
        self.b += b"\x94" if self.protocol >= 4 else b"q" + bytes([self.seen[key]])

    def _get(self, key):
        if self.memo and key in self.seen:
            self.b += b"h" + bytes([self.seen[key]])
            return True
        return False

    def str(self, s):
        if not self._get(("s", s)):
            raw = s.encode()
            self.b += (b"\x8c" + bytes([len(raw)]) if self.protocol >= 4 else b"X" + struct.pack("<I", len(raw))) + raw
            self._put(("s", s))
        return self

    def glob(self, module, name):
        if not self._get(("g", module, name)):
            if self.protocol >= 4:
                self.str(module).str(name)
                self.b += b"\x93"
            else:
                self.b += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
            self._put(("g", module, name))
        return self

    def int(self, v):
        self.b += b"K" + bytes([v]) if 0 <= v < 256 else b"J" + struct.pack("<i", v)
        return self

    def op(self, b):
        self.b += b
        return self

    def ints(self, values):
        self.op(b"(")
        for v in values:
            self.int(v)
        return self.op(b"t")

    def ordered_dict(self):
        return self.glob("collections", "OrderedDict").op(b")R")

    def tensor(self, storage, key, numel, offset, sizes, strides, location="cpu", parameter=False):
        if parameter:
            self.glob("torch._utils", "_rebuild_parameter").op(b"(")
        self.glob("torch._utils", "_rebuild_tensor_v2").op(b"((").str("storage").glob("torch", storage).str(key)
        self.str(location).int(numel).op(b"tQ").int(offset).ints(sizes).ints(strides).op(b"\x89").ordered_dict()
        self.op(b"tR")
        if parameter:
            self.op(b"\x88").ordered_dict().op(b"tR")
        return self

    def state_dict(self, tensors):
        self.ordered_dict().op(b"(")
        for name, args in tensors:
            self.str(name).tensor(*args)
        self.op(b"u}").str("_metadata").ordered_dict().str("").op(b"}").str("version").int(1)
        self.op(b"sssb.")
        if self.protocol >= 4:
            self.b = self.b[:3] + struct.pack("<Q", len(self.b) - 11) + self.b[11:]
        return self.b


def pth(pickle, storages, archive="archive", **kw):
    entries = [(archive + "/data.pkl", pickle)] + [(archive + "/data/" + k, v) for k, v in storages]
    return zip_archive(entries + [(archive + "/version", b"3\n")], **kw)


pair = [("fc.weight", ("FloatStorage", "0", 6, 0, [2, 3], [3, 1])),
        ("bn.running_mean", ("FloatStorage", "1", 3, 0, [3], [1])),
        ("bn.num_batches_tracked", ("LongStorage", "2", 1, 0, [], []))]
pair_data = [("0", f32(*values(6))), ("1", f32(*values(3))), ("2", struct.pack("<q", 7))]
out("pth", "tiny_f32", pth(Pickle().state_dict(pair), pair_data, archive="tiny_f32"))
out("pth", "protocol4_memoize", pth(Pickle(4).state_dict(pair), pair_data))
out("pth", "no_memo_no_zip64", pth(Pickle(2, memo=False).state_dict(pair), pair_data, zip64_end=False))
views = [("fc.weight", ("FloatStorage", "w", 9, 2, [2, 3], [1, 2])),          # transposed, offset 2
         ("bn.running_mean", ("HalfStorage", "m", 3, 0, [3], [1], "cuda:0", True)),  # a parameter
         ("bn.bias", ("FloatStorage", "w", 9, 1, [3], [0])),                    # broadcast within its storage
         ("x.channels_last", ("DoubleStorage", "d", 8, 0, [1, 2, 2, 2], [8, 1, 4, 2]))]
out("pth", "views_half_double_param", pth(
    Pickle().state_dict(views), [("w", f32(*values(9))), ("m", struct.pack("<3e", *values(3))),
                                 ("d", struct.pack("<8d", *values(8)))],
    zip64_fields=("archive/data.pkl", "archive/data/w"), comment=b"fuzz"))
out("pth", "nan_inf_bf16", pth(
    Pickle().state_dict([("fc.weight", ("BFloat16Storage", "0", 6, 0, [2, 3], [3, 1])),
                         ("bn.running_mean", ("FloatStorage", "1", 3, 0, [3], [1]))]),
    [("0", b"\x80\x3f\xc0\x7f\x80\xff\x49\x40\x00\x00\x01\x00"), ("1", f32(0.5, float("nan"), 3.0))]))
out("pth", "forbidden_global", pth(b"\x80\x02cos\nsystem\n(X\x04\x00\x00\x00echotR.", []))
out("pth", "legacy_pickle", b"\x80\x02\x8a\x0alFFFF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.")
good = pth(Pickle().state_dict(pair), pair_data)
out("pth", "truncated", good[: len(good) * 3 // 4])
# What torch.save itself wrote (tests/fixtures/make_pth_fixtures.py): every dtype and layout.
for name in ("tensors.pth", "tensors_protocol4.pth", "checkpoint.pth", "expanded.pth"):
    with open(os.path.join(HERE, "..", "fixtures", "data", "pth", name), "rb") as f:
        out("pth", "torch_" + name.replace(".pth", ""), f.read())

total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(HERE, "corpus")) for f in fs)
print("corpus: %d bytes" % total)
