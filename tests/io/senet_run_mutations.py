#!/usr/bin/python3
"""Damaged inputs given to `senet run` end in exit 0 or a clean error, never worse.

Makes COUNT seeded random mutations of a valid weights file and COUNT of a valid .npy input
(bit flips, byte overwrites with interesting values, truncation, extension, non-finite floats,
edits of the safetensors JSON header or the .npy header dict: offsets, shapes, dtypes, keys,
lengths; for a PyTorch .pth checkpoint, edits of its ZIP directory, local headers and end
records, and of its data.pkl and storages with the archive rebuilt around them so that the
checksum holds), runs `senet run` on each (the other file intact) several at a time, and fails
when any run
  * is killed by a signal or exits with a status other than 0 and 1,
  * outlives the timeout (a hang),
  * prints a sanitizer report ('Sanitizer', 'runtime error') on stderr,
  * exits 1 without exactly one clean line `senet: error: MESSAGE` on stderr (valid UTF-8, no
    control characters, nothing else), or
  * exits 0 without writing a .npy file;
and when either file's mutations never produce both outcomes (the mutations would be too weak
or the tool refuses everything). Failing inputs are kept (--keep, default a temporary
directory) and the command to reproduce each is printed.

    senet_run_mutations.py --senet build/bin/senet --weights W.safetensors|W.pth --input X.npy
                           [--model se_resnet_digits] [--count 2000] [--jobs 4] [--timeout 60]
                           [--seed 1] [--keep DIR] [--which both|weights|input]

$SENET_MUTATIONS, when set, is the default of --count (a sanitizer build may want fewer: under
GCC's ASan + UBSan each run costs about ten times a Release run).
"""
import argparse
import concurrent.futures
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

INTERESTING_8 = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE, 0x20, 0x5B, 0x7D, 0x22, 0x2C]
INTERESTING_INT = [0, 1, 2, 7, 8, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                   1 << 32, (1 << 40) + 8, 1 << 62, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]
SPECIAL_F32 = [0x7FC00000, 0xFFC00000, 0x7F800000, 0xFF800000, 0x7F800001, 0x7F7FFFFF, 0x00000001]
SAFETENSORS_DTYPES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "F8", "f32", ""]
NPY_DESCRS = ["<f4", ">f4", "<f8", ">f8", "=f4", "|f4", "f4", "<f2", "<i4", "|u1", "<c8", "O", "", "<f4<f4"]
ODD_EXTENTS = [0, 1, 2, 3, 7, 8, 16, 64, 360, -1, -360, 65536, 1 << 31, 1 << 32, 1 << 62, (1 << 63) - 1, 1 << 63,
               1 << 64, 1.5, "8", None, True, [], [8]]


def rand_offset(rng, n, header_end):
    """An offset in [0, n): half the time inside the header, where damage matters most."""
    if n == 0:
        return 0
    if header_end > 0 and rng.random() < 0.5:
        return rng.randrange(min(header_end, n))
    return rng.randrange(n)


def bit_flips(rng, data, header_end):
    b = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 8])):
        i = rand_offset(rng, len(b), header_end)
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def overwrite(rng, data, header_end):
    b = bytearray(data)
    i = rand_offset(rng, len(b), header_end)
    if rng.random() < 0.5:
        b[i] = rng.choice(INTERESTING_8)
    else:
        width = rng.choice([2, 4, 8])
        v = rng.choice(INTERESTING_INT + [len(data), len(data) - 1, len(data) + 1, header_end]) % (1 << (8 * width))
        b[i:i + width] = v.to_bytes(width, rng.choice(["little", "big"]))
    return bytes(b[:len(data)]) if rng.random() < 0.9 else bytes(b)


def truncate(rng, data, header_end):
    return data[:rand_offset(rng, len(data), header_end + 16)]


def extend(rng, data, header_end):
    extra = rng.choice([1, 3, 4, 8, 64, 4096])
    tail = bytes(extra) if rng.random() < 0.5 else bytes(rng.randrange(256) for _ in range(extra))
    return data + tail


def non_finite(rng, data, header_end):
    b = bytearray(data)
    for _ in range(rng.choice([1, 1, 3])):
        if len(b) - header_end < 4:
            break
        i = header_end + 4 * rng.randrange((len(b) - header_end) // 4)
        b[i:i + 4] = struct.pack("<I", rng.choice(SPECIAL_F32))
    return bytes(b)


# ---- safetensors header edits

def split_safetensors(data):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n].decode("utf-8")), data[8 + n:]


def join_safetensors(rng, header, body, text=None):
    h = (text if text is not None else json.dumps(header)).encode("utf-8")
    length = len(h)
    if rng.random() < 0.15:  # a stale or wrong length
        length = rng.choice([length - 1, length + 1, length + 8, 0, len(h) + len(body), (1 << 63)])
    return struct.pack("<Q", length % (1 << 64)) + h + body


def edit_safetensors(rng, data):
    header, body = split_safetensors(data)
    keys = [k for k in header if k != "__metadata__"]
    key = rng.choice(keys)
    entry = header[key]
    kind = rng.randrange(12)
    text = None
    if kind == 0:  # offsets shifted, swapped, huge, negative, not integers
        b, e = entry["data_offsets"]
        entry["data_offsets"] = rng.choice([[b + 1, e + 1], [e, b], [b, e - 4], [b, e + 4], [0, e - b],
                                            [b, (1 << 64) - 1], [-4, e], [b, 1 << 63], [b + 0.5, e], [b], [b, e, e],
                                            "0,4", [b, len(body) + 4], [len(body), len(body)]])
    elif kind == 1:  # shapes
        shape = entry["shape"]
        choice = rng.randrange(5)
        if choice == 0 and shape:
            shape[rng.randrange(len(shape))] = rng.choice(ODD_EXTENTS)
        elif choice == 1:
            shape.append(rng.choice([1, 1, 2, 0]))
        elif choice == 2 and shape:
            shape.pop(rng.randrange(len(shape)))
        elif choice == 3:
            shape.reverse()
        else:
            entry["shape"] = rng.choice([[], [1] * 65, "[16]", {"0": 1}, [[16]], None])
    elif kind == 2:  # dtypes
        entry["dtype"] = rng.choice(SAFETENSORS_DTYPES + [7, None, ["F32"]])
    elif kind == 3:  # a field or a tensor removed
        if rng.random() < 0.5:
            del entry[rng.choice(list(entry))]
        else:
            del header[key]
    elif kind == 4:  # a tensor renamed or an extra one
        new = rng.choice(["fc.weight.x", key.upper(), "", "\u00e9\u00e9", "a\nb", "\x1b[31mred", key + " ",
                          "__metadata__"])
        header[new] = header.pop(key) if rng.random() < 0.5 else dict(entry)
    elif kind == 5:  # metadata damaged
        header["__metadata__"] = rng.choice([{"a": 1}, [], "x", {"a": {"b": "c"}}, None, {"\x00": "\x01"}])
    elif kind == 6:  # the entry not an object
        header[key] = rng.choice([[], "F32", 3, None, [entry]])
    elif kind == 7:  # deep nesting
        entry["shape"] = json.loads("[" * 40 + "1" + "]" * 40)
    elif kind == 8:  # a duplicate key (json.dumps cannot write one)
        text = json.dumps(header)
        dup = json.dumps(key) + ":" + json.dumps(entry)
        text = text[:-1] + "," + dup + "}"
    elif kind == 9:  # broken JSON text
        text = json.dumps(header)
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice(["", "{", "}", "[", "\"", ",", "\\", "\x00", "\u00ff", "1e999"]) + text[i + 1:]
    elif kind == 10:  # two tensors sharing bytes
        other = header[rng.choice(keys)]
        if isinstance(other, dict):
            entry["data_offsets"] = list(other["data_offsets"])
    else:  # header grows past the data
        header["__metadata__"] = {"pad": " " * rng.choice([10, 10000, 400000])}
    return join_safetensors(rng, header, body, text)


# ---- PyTorch checkpoint (.pth) edits: the archive's fields, or its entries re-zipped


def zip_entries(data):
    """[(name, bytes)] of a stored zip archive, in directory order."""
    import io
    import zipfile
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, z.read(i)) for i in z.infolist()]


def zip_layout(data):
    """(entries, end, zip64_end): per entry its central and local header and data offsets; the
    offsets of the end of central directory record and the zip64 one (-1 if none)."""
    end = data.rfind(b"PK\x05\x06")
    n, _, directory = struct.unpack("<HII", data[end + 10:end + 20])
    out, pos = [], directory
    for _ in range(n):
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[pos + 28:pos + 34])
        local = struct.unpack("<I", data[pos + 42:pos + 46])[0]
        local_name, local_extra = struct.unpack("<HH", data[local + 26:local + 30])
        out.append({"central": pos, "local": local, "data": local + 30 + local_name + local_extra,
                    "name": data[pos + 46:pos + 46 + name_len].decode("utf-8", "replace")})
        pos += 46 + name_len + extra_len + comment_len
    return out, end, data.rfind(b"PK\x06\x06")


def build_zip(entries, method=None, zip64_fields=(), zip64_end=True, comment=b""):
    """A stored zip archive of (name, bytes) laid out as torch.save lays it out; `method` maps
    names to a (method, flags) pair written in their headers (the data is not compressed)."""
    import zlib
    method = method or {}
    body, offsets = b"", []
    for name, payload in entries:
        raw = name.encode()
        m, flags = method.get(name, (0, 0x0800))
        offsets.append(len(body))
        pad = -(len(body) + 30 + len(raw) + 4) % 64
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, m, 0, 0, zlib.crc32(payload) & 0xFFFFFFFF,
                            len(payload), len(payload), len(raw), 4 + pad) + raw
        body += struct.pack("<HH", 0x4246, pad) + b"Z" * pad + payload
    directory = b""
    for (name, payload), offset in zip(entries, offsets):
        raw = name.encode()
        m, flags = method.get(name, (0, 0x0800))
        wide = name in zip64_fields
        extra = struct.pack("<HHQQQ", 1, 24, len(payload), len(payload), offset) if wide else b""
        size, at = (0xFFFFFFFF, 0xFFFFFFFF) if wide else (len(payload), offset)
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, flags, m, 0, 0,
                                 zlib.crc32(payload) & 0xFFFFFFFF, size, size, len(raw), len(extra), 0, 0, 0, 0,
                                 at) + raw + extra
    n, start = len(entries), len(body)
    tail = b""
    if zip64_end:
        tail = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, len(directory), start)
        tail += struct.pack("<IIQI", 0x07064B50, 0, start + len(directory), 1)
    tail += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(directory), start, len(comment)) + comment
    return body + directory + tail


PICKLE_OPCODES = b"()tRQbsuhqj}.K0NXJMc\x80\x85\x86\x87\x88\x89\x8a\x8c\x93\x94\x95ilGda]\xff"
PICKLE_SWAPS = [(b"FloatStorage", [b"HalfStorage", b"DoubleStorage", b"LongStorage", b"BFloat16Storage",
                                   b"ByteStorage", b"QInt8Storage", b"ComplexFloatStorage"]),
                (b"_rebuild_tensor_v2", [b"_rebuild_parameter", b"_rebuild_qtensor", b"_rebuild_tensor"]),
                (b"collections\nOrderedDict", [b"os\nsystem", b"builtins\neval", b"collections\ndeque"]),
                (b"torch._utils", [b"torch", b"__torch__"]), (b"storage", [b"storagx"]), (b"cpu", [b"cuda:0", b"cpx"]),
                (b"_metadata", [b"_metadatb", b"__class__"]), (b"version", [b"xersion"])]


def edit_pickle(rng, pickle):
    kind = rng.randrange(6)
    if kind == 0:  # one byte becomes another opcode
        i = rng.randrange(len(pickle))
        return pickle[:i] + bytes([rng.choice(PICKLE_OPCODES)]) + pickle[i + 1:]
    if kind == 1:  # a global, a storage type or a string swapped
        old, news = rng.choice(PICKLE_SWAPS)
        hits = [i for i in range(len(pickle)) if pickle.startswith(old, i)]
        if hits:
            i = rng.choice(hits)
            return pickle[:i] + rng.choice(news) + pickle[i + len(old):]
        return pickle
    if kind == 2:  # a small integer (a size, stride, offset, element count, memo index) changed
        hits = [i for i in range(len(pickle) - 1) if pickle[i] in b"Khq"]
        if hits:
            i = rng.choice(hits)
            return pickle[:i + 1] + bytes([rng.choice([0, 1, 2, 3, 7, 16, 64, 255, pickle[i + 1] ^ 1])]) + pickle[i + 2:]
        return pickle
    if kind == 3:  # an integer made wide
        i = rng.randrange(len(pickle))
        value = rng.choice([-1, 1 << 31, (1 << 63) - 1, 1 << 40])
        return pickle[:i] + b"\x8a\x08" + struct.pack("<q", value if value < (1 << 63) else -1) + pickle[i:]
    if kind == 4:  # cut
        return pickle[:rng.randrange(len(pickle))]
    return pickle[:rng.randrange(len(pickle))] + rng.choice([b"(" * 100, b"}q\x00h\x00" * 50, b"N" * 1000])


def edit_pth(rng, data):
    kind = rng.randrange(8)
    if kind <= 2:  # a field of the archive itself
        layout, end, zip64 = zip_layout(data)
        b = bytearray(data)
        if kind == 0:  # a central directory field
            at = rng.choice(layout)["central"]
            off, width = rng.choice([(0, 4), (8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (34, 2),
                                     (42, 4)])
        elif kind == 1:  # a local header field
            at = rng.choice(layout)["local"]
            off, width = rng.choice([(0, 4), (6, 2), (8, 2), (18, 4), (22, 4), (26, 2), (28, 2), (30, 1)])
        elif zip64 >= 0 and rng.random() < 0.5:  # the zip64 end record and its locator
            at = zip64
            off, width = rng.choice([(0, 4), (4, 8), (16, 4), (20, 4), (24, 8), (32, 8), (40, 8), (48, 8), (56, 4),
                                     (64, 8)])
        else:  # the end of central directory record
            at = end
            off, width = rng.choice([(0, 4), (4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)])
        v = rng.choice(INTERESTING_INT + [len(data), at, at + 1]) % (1 << (8 * width))
        b[at + off:at + off + width] = v.to_bytes(width, "little")
        return bytes(b)
    entries = zip_entries(data)
    names = [n for n, _ in entries]
    method, zip64_fields, comment = {}, (), b""
    if kind == 3 or kind == 4:  # data.pkl edited (twice as often as the rest)
        i = next(i for i, n in enumerate(names) if n.endswith("/data.pkl"))
        entries[i] = (names[i], edit_pickle(rng, entries[i][1]))
    elif kind == 5:  # a storage shortened, lengthened, renamed or dropped
        i = rng.choice([i for i, n in enumerate(names) if "/data/" in n])
        name, payload = entries[i]
        choice = rng.randrange(4)
        if choice == 0:
            entries[i] = (name, payload[:-rng.choice([1, 2, 4, 8])])
        elif choice == 1:
            entries[i] = (name, payload + bytes(rng.choice([1, 4, 8])))
        elif choice == 2:
            entries[i] = (name + rng.choice(["0", "x", "/", ""]) if rng.random() < 0.5 else name.upper(), payload)
        else:
            del entries[i]
    elif kind == 6:  # entries added, duplicated, reordered, renamed; byteorder records
        choice = rng.randrange(5)
        prefix = names[0].split("/")[0]
        if choice == 0:
            entries.append((prefix + "/byteorder", rng.choice([b"little", b"big", b"middle", b""])))
        elif choice == 1:
            entries.append(rng.choice(entries))
        elif choice == 2:
            rng.shuffle(entries)
        elif choice == 3:
            entries = [(("other/" + n.split("/", 1)[-1]) if rng.random() < 0.3 else n, d) for n, d in entries]
        else:
            entries = entries[:rng.randrange(1, len(entries) + 1)]
    else:  # compression, encryption, zip64 fields, a comment, no zip64 end records
        choice = rng.randrange(4)
        if choice == 0:
            method = {rng.choice(names): rng.choice([(8, 0x0800), (12, 0x0800), (0, 0x0801), (99, 0x0841)])}
        elif choice == 1:
            zip64_fields = set(rng.sample(names, rng.randrange(1, len(names) + 1)))
        else:
            comment = rng.choice([b"", b"c" * 100, b"PK\x05\x06" + bytes(18)])
        return build_zip(entries, method, zip64_fields, zip64_end=choice != 3, comment=comment)
    return build_zip(entries, method, zip64_fields, comment=comment)


def pth_header_end(data):
    """End of data.pkl's data: the local header and the pickle are where damage matters most."""
    layout, _, _ = zip_layout(data)
    pickle = next(e for e in layout if e["name"].endswith("/data.pkl"))
    entries = zip_entries(data)
    return pickle["data"] + len(next(d for n, d in entries if n == pickle["name"]))


# ---- .npy header edits

NPY_HEADER_RE = re.compile(rb"\{.*\}", re.S)


def split_npy(data):
    major = data[6]
    prefix = 10 if major == 1 else 12
    n = struct.unpack("<H" if major == 1 else "<I", data[8:prefix])[0]
    return data[:8], data[prefix:prefix + n], data[prefix + n:]


def join_npy(rng, magic, header, body, major=None):
    major = major if major is not None else magic[6]
    prefix = 10 if major == 1 else 12
    header = header.rstrip(b" \n")
    if rng.random() < 0.8:  # numpy's padding; otherwise none
        header += b" " * ((-(prefix + len(header) + 1)) % 64) + b"\n"
    length = len(header)
    if rng.random() < 0.1:
        length = rng.choice([length - 1, length + 1, 0, 0xFFFF, len(header) + len(body)])
    fmt = "<H" if major == 1 else "<I"
    length %= 1 << (16 if major == 1 else 32)
    return magic[:6] + bytes([major, magic[7]]) + struct.pack(fmt, length) + header + body


def edit_npy(rng, data):
    magic, header, body = split_npy(data)
    text = header.decode("latin-1")
    kind = rng.randrange(8)
    major = None
    if kind == 0:
        text = re.sub(r"'descr': '[^']*'", "'descr': '%s'" % rng.choice(NPY_DESCRS), text)
    elif kind == 1:
        text = text.replace("False", rng.choice(["True", "0", "None", "'no'", "Flase"]))
    elif kind == 2:
        dims = [360, 1, 8, 8]
        choice = rng.randrange(4)
        if choice == 0:
            dims[rng.randrange(4)] = rng.choice([d for d in ODD_EXTENTS if type(d) is int])
        elif choice == 1:
            dims = rng.choice([[360, 64], [23040], [1, 360, 8, 8], [360, 1, 64, 1], [360, 1, 1, 64], [720, 1, 8, 4],
                               [360, 1, 8, 8, 1], [], [0, 1, 8, 8], [1] * 65, [360, 2, 8, 4], [360, 1, 4, 16],
                               [23040, 1, 1, 1], [1, 1, 23040, 1], [1, 1, 2, 11520], [5760, 4, 1, 1]])
        elif choice == 2:
            dims = [d * rng.choice([1, 2]) for d in dims]
        else:
            dims = [rng.choice([1, 2, 3, 4, 5, 8, 9, 360]) for _ in range(4)]
        shape = "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
        text = re.sub(r"'shape': \([^)]*\)", "'shape': " + shape, text)
    elif kind == 3:  # keys removed, added, renamed
        text = rng.choice([text.replace("'fortran_order': False, ", ""), text.replace("}", "'extra': 1, }"),
                           text.replace("'descr'", "'desc'"), text.replace("'shape'", "'descr'")])
    elif kind == 4:  # broken literal
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice(["", "(", ")", "{", "}", "'", ",", "\\", "\x00", "(" * 70 + "1"]) + text[i + 1:]
    elif kind == 5:  # another format version
        major = rng.choice([1, 2, 3, 4, 0])
    elif kind == 6:  # a huge header
        text = text.replace("}", "'x': '" + "y" * rng.choice([100, 70000]) + "', }")
    else:  # Python 2 and alternative spellings
        text = text.replace("(360, 1, 8, 8)", rng.choice(["(360L, 1L, 8L, 8L)", "[360, 1, 8, 8]", "(360,1,8,8,)",
                                                           "( 360 , 1 , 8 , 8 )", "(+360, 1, 8, 8)"]))
    return join_npy(rng, magic, text.encode("latin-1"), body, major)


def mutate(rng, data, is_weights):
    is_pth = is_weights and data[:4] == b"PK\x03\x04"
    if is_pth:
        header_end = pth_header_end(data)
    else:
        header_end = (8 + struct.unpack("<Q", data[:8])[0]) if is_weights else len(split_npy(data)[1]) + 10
    m = rng.randrange(6)
    if m == 0:
        return "bitflip", bit_flips(rng, data, header_end)
    if m == 1:
        return "overwrite", overwrite(rng, data, header_end)
    if m == 2:
        return "truncate", truncate(rng, data, header_end)
    if m == 3:
        return "extend", extend(rng, data, header_end)
    if m == 4:
        return "nonfinite", non_finite(rng, data, header_end)
    if is_pth:
        return "archive", edit_pth(rng, data)
    return "header", (edit_safetensors if is_weights else edit_npy)(rng, data)


CLEAN_ERROR = re.compile(r"senet: error: [^\x00-\x1f\x7f]+\n")


def judge(rc, stderr, out_path):
    """None when the run behaved, else what was wrong."""
    if rc is None:
        return "hang (timeout)"
    if "Sanitizer" in stderr or "runtime error" in stderr:
        return "sanitizer report"
    if rc < 0:
        return "killed by signal %d" % -rc
    if rc not in (0, 1):
        return "exit status %d" % rc
    if stderr.startswith("(not valid UTF-8)"):
        return "stderr is not valid UTF-8"
    if rc == 1 and not CLEAN_ERROR.fullmatch(stderr):
        return "exit 1 without one clean 'senet: error:' line"
    if rc == 0:
        try:
            with open(out_path, "rb") as f:
                if f.read(6) != b"\x93NUMPY":
                    return "exit 0 but the output is not a .npy file"
        except OSError:
            return "exit 0 but no output file"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--senet", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--model", default="se_resnet_digits")
    ap.add_argument("--count", type=int, default=int(os.environ.get("SENET_MUTATIONS", 2000)),
                    help="mutations of each file (default 2000, or $SENET_MUTATIONS)")
    ap.add_argument("--jobs", type=int, default=max(2, 2 * (os.cpu_count() or 1)))
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per run; longer is a hang")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="directory for failing inputs (default: a new temporary one)")
    ap.add_argument("--which", choices=["both", "weights", "input"], default="both",
                    help="which file to mutate (default both; the other stays intact)")
    args = ap.parse_args()
    chosen = ("weights", "input") if args.which == "both" else (args.which,)

    with open(args.weights, "rb") as f:
        weights = f.read()
    weights_ext = ".pth" if weights[:4] == b"PK\x03\x04" else ".safetensors"
    with open(args.input, "rb") as f:
        npy = f.read()
    # Memory-backed where there is one: thousands of small files are written and read back.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="senet-mutations-", dir=shm)
    keep = args.keep or tempfile.mkdtemp(prefix="senet-mutations-failed-")
    os.makedirs(keep, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")

    def run(task):
        index, which, kind, data = task
        path = os.path.join(work, "%s%05d%s" % (which, index, weights_ext if which == "weights" else ".npy"))
        out = os.path.join(work, "out%s%05d.npy" % (which, index))
        with open(path, "wb") as f:
            f.write(data)
        cmd = [args.senet, "run", "--model", args.model,
               "--weights", path if which == "weights" else os.path.abspath(args.weights),
               "--input", path if which == "input" else os.path.abspath(args.input), "--output", out]
        try:
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, timeout=args.timeout)
            rc, stderr = p.returncode, p.stderr.decode("utf-8", "replace")
            if stderr.encode("utf-8") != p.stderr:
                stderr = "(not valid UTF-8) " + stderr
        except subprocess.TimeoutExpired as e:
            rc, stderr = None, (e.stderr or b"").decode("utf-8", "replace")
        problem = judge(rc, stderr, out)
        if problem:
            kept = os.path.join(keep, os.path.basename(path))
            shutil.copyfile(path, kept)
            cmd[cmd.index(path)] = kept
            cmd[cmd.index(out)] = os.path.join(keep, "out.npy")
        for p_ in (path, out):
            if os.path.exists(p_):
                os.remove(p_)
        return which, kind, rc, problem, stderr, cmd

    def tasks():
        rng = random.Random(args.seed)
        for which, data in (("weights", weights), ("input", npy)):
            if which not in chosen:
                continue
            for i in range(args.count):
                kind, mutated = mutate(rng, data, which == "weights")
                yield i, which, kind, mutated

    start = time.time()
    counts, failures = {}, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        # Bounded look-ahead: mutants are made as workers free up, not all held in memory.
        pending = set()
        for task in tasks():
            if len(pending) >= 4 * args.jobs:
                done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for fut in done:
                    which, kind, rc, problem, stderr, cmd = fut.result()
                    counts[(which, rc)] = counts.get((which, rc), 0) + 1
                    if problem:
                        failures.append((which, kind, problem, stderr, cmd))
            pending.add(pool.submit(run, task))
        for fut in concurrent.futures.as_completed(pending):
            which, kind, rc, problem, stderr, cmd = fut.result()
            counts[(which, rc)] = counts.get((which, rc), 0) + 1
            if problem:
                failures.append((which, kind, problem, stderr, cmd))
    elapsed = time.time() - start
    shutil.rmtree(work, ignore_errors=True)

    for which in chosen:
        summary = ", ".join("exit %s: %d" % ("timeout" if rc is None else rc, n)
                            for (w, rc), n in sorted(counts.items(), key=lambda kv: str(kv[0][1])) if w == which)
        print("%s: %d mutations: %s" % (which, args.count, summary))
    print("%d runs in %.1f s with %d jobs" % (len(chosen) * args.count, elapsed, args.jobs))

    weak = [w for w in chosen if not counts.get((w, 0)) or not counts.get((w, 1))]
    for which, kind, problem, stderr, cmd in failures[:20]:
        print("FAIL (%s mutation of the %s): %s\n  reproduce: %s\n  stderr: %s" %
              (kind, which, problem, " ".join(cmd), stderr.strip()[:2000].replace("\n", "\n          ")))
    if failures:
        print("%d failures; inputs kept in %s" % (len(failures), keep))
    elif not args.keep:
        shutil.rmtree(keep, ignore_errors=True)
    if weak:
        print("FAIL: the mutations of %s never gave both exit 0 and exit 1" % " and ".join(weak))
    return 1 if failures or weak else 0


if __name__ == "__main__":
    sys.exit(main())
