#!/usr/bin/env python3
"""Write the seed corpora of fuzz_checkpoint and fuzz_safetensors.

    python3 fuzz/make_corpus.py [SAMREF]

Seeds are small hand-made model files (no torch needed): torch-style zip
checkpoints whose data.pkl is assembled opcode by opcode the way
torch.save(state_dict) writes it (protocol 2, memo traffic, the _metadata
BUILD), a ZIP64 variant, bare pickle programs for the fuzzer's "wrapped
pickle" mode (storages "0".."3" are provided by the harness, see
fuzz_checkpoint.c), and small safetensors files. With SAMREF (the samref
folder), the data.pkl of dit/checkpoint.pt is added as a real-world pickle
seed. Output is deterministic.
"""
import json
import os
import struct
import sys
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


class Pickle:
    def __init__(self):
        self.b = bytearray(b"\x80\x02")
        self.memo = 0

    def op(self, code, arg=b""):
        self.b += code + arg

    def put(self):
        if self.memo < 256:
            self.op(b"q", bytes([self.memo]))
        else:
            self.op(b"r", struct.pack("<I", self.memo))
        self.memo += 1
        return self.memo - 1

    def get(self, i):
        self.op(b"h", bytes([i])) if i < 256 else self.op(b"j", struct.pack("<I", i))

    def string(self, s):
        d = s.encode()
        self.op(b"X", struct.pack("<I", len(d)) + d)
        return self.put()

    def short_string(self, s):
        d = s.encode()
        self.op(b"\x8c", bytes([len(d)]) + d)

    def int(self, v):
        if 0 <= v < 256:
            self.op(b"K", bytes([v]))
        elif 0 <= v < 65536:
            self.op(b"M", struct.pack("<H", v))
        elif -2**31 <= v < 2**31:
            self.op(b"J", struct.pack("<i", v))
        else:
            self.op(b"\x8a\x08", struct.pack("<q", v))

    def glob(self, mod, name):
        self.op(b"c", mod.encode() + b"\n" + name.encode() + b"\n")
        return self.put()


def state_dict(tensors, zip64_ints=False):
    """tensors: (name, storage type, key, storage numel, offset, shape)."""
    p = Pickle()
    od = p.glob("collections", "OrderedDict")
    p.op(b")")
    p.op(b"R")
    p.put()
    p.op(b"(")
    rebuild = None
    types = {}
    for name, stype, key, numel, offset, shape in tensors:
        p.string(name)
        if rebuild is None:
            rebuild = p.glob("torch._utils", "_rebuild_tensor_v2")
        else:
            p.get(rebuild)
        p.op(b"(")
        p.op(b"(")
        p.string("storage")
        if stype not in types:
            types[stype] = p.glob("torch", stype)
        else:
            p.get(types[stype])
        p.string(key)
        p.string("cpu")
        p.int(numel)
        p.op(b"t")
        p.put()
        p.op(b"Q")
        p.int(offset)
        stride, acc = [], 1
        for d in reversed(shape):
            stride.insert(0, acc)
            acc *= d
        for vals in (shape, stride):
            if len(vals) == 0:
                p.op(b")")
            elif len(vals) <= 3:
                for v in vals:
                    p.int(v)
                p.op(bytes([0x84 + len(vals)]))
            else:
                p.op(b"(")
                for v in vals:
                    p.int(v)
                p.op(b"t")
            p.put()
        p.op(b"\x89")
        p.get(od)
        p.op(b")")
        p.op(b"R")
        p.put()
        p.op(b"t")
        p.put()
        p.op(b"R")
        p.put()
    p.op(b"u")
    p.op(b"}")
    p.put()
    p.string("_metadata")
    p.get(od)
    p.op(b")")
    p.op(b"R")
    p.put()
    p.op(b"(")
    p.string("")
    p.op(b"}")
    p.put()
    version = p.string("version")
    p.int(1)
    p.op(b"s")
    p.string("layer")
    p.op(b"}")
    p.put()
    p.get(version)
    p.int(1)
    p.op(b"s")
    p.op(b"u")
    p.op(b"s")
    p.op(b"b")
    p.op(b".")
    return bytes(p.b)


def write_zip(path, entries, zip64=False):
    """Stored entries, data 64-byte aligned by an "FB" extra field."""
    out = bytearray()
    offs = []
    for name, data in entries:
        nb = name.encode()
        z64 = 20 if zip64 else 0
        at = len(out) + 30 + len(nb) + z64 + 4
        pad = (64 - at % 64) % 64
        crc = zlib.crc32(data)
        size32 = 0xFFFFFFFF if zip64 else len(data)
        offs.append(len(out))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 0, 0, 0,
                           crc, size32, size32, len(nb), z64 + 4 + pad)
        out += nb
        if zip64:
            out += struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        out += data
    cd = len(out)
    for (name, data), off in zip(entries, offs):
        nb = name.encode()
        size32 = 0xFFFFFFFF if zip64 else len(data)
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if zip64 else 20,
                           45 if zip64 else 20, 0, 0, 0, 0, zlib.crc32(data), size32,
                           size32, len(nb), 28 if zip64 else 0, 0, 0, 0, 0,
                           0xFFFFFFFF if zip64 else off)
        out += nb
        if zip64:
            out += struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
    n = len(entries)
    if zip64:
        rec = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, rec - cd, cd)
        out += struct.pack("<IIQI", 0x07064B50, 0, rec, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                           0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(out) - cd, cd, 0)
    with open(path, "wb") as f:
        f.write(out)


def floats(n, scale=0.25):
    return struct.pack("<%df" % n, *[(i - n / 2) * scale for i in range(n)])


def halves(n):
    return struct.pack("<%de" % n, *[(i - n / 2) * 0.5 for i in range(n)])


def bf16(n):
    f = struct.unpack("<%dI" % n, floats(n, 0.75))
    return struct.pack("<%dH" % n, *[v >> 16 for v in f])


def write_safetensors(path, tensors, metadata=None):
    """tensors: (name, dtype, shape, bytes), in file order."""
    header, data = {}, bytearray()
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def main():
    ck = os.path.join(HERE, "corpus", "checkpoint")
    st = os.path.join(HERE, "corpus", "safetensors")
    os.makedirs(ck, exist_ok=True)
    os.makedirs(st, exist_ok=True)

    # A checkpoint with its own storages.
    tensors = [
        ("encoder.conv.weight", "FloatStorage", "0", 24, 0, [2, 3, 4]),
        ("encoder.conv.bias", "FloatStorage", "1", 2, 0, [2]),
        ("norm.weight", "HalfStorage", "2", 8, 0, [8]),
        ("proj.weight", "BFloat16Storage", "3", 6, 0, [2, 3]),
        ("gate", "FloatStorage", "4", 1, 0, []),
        ("view", "FloatStorage", "0", 24, 12, [3, 4]),
    ]
    pkl = state_dict(tensors)
    entries = [("checkpoint/data.pkl", pkl),
               ("checkpoint/byteorder", b"little"),
               ("checkpoint/data/0", floats(24)),
               ("checkpoint/data/1", floats(2)),
               ("checkpoint/data/2", halves(8)),
               ("checkpoint/data/3", bf16(6)),
               ("checkpoint/data/4", floats(1)),
               ("checkpoint/version", b"3\n")]
    write_zip(os.path.join(ck, "tiny.pt"), entries)
    write_zip(os.path.join(ck, "tiny_zip64.pt"), entries, zip64=True)

    # Python's own zipfile writer (no padding; misaligned data is copied).
    with zipfile.ZipFile(os.path.join(ck, "pyzip.pt"), "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(name.replace("checkpoint/", "archive/"), data)

    # Pickles for the wrapped mode: storages "0" (16 f32), "1" (16 f16),
    # "2" (16 bf16), "3" (4 f32).
    wrapped = [
        ("a.weight", "FloatStorage", "0", 16, 0, [4, 4]),
        ("a.bias", "FloatStorage", "3", 4, 0, [4]),
        ("b.weight", "HalfStorage", "1", 16, 0, [2, 2, 2, 2]),
        ("c.weight", "BFloat16Storage", "2", 16, 4, [3, 4]),
        ("d", "FloatStorage", "0", 16, 15, []),
    ]
    with open(os.path.join(ck, "wrapped.pkl"), "wb") as f:
        f.write(state_dict(wrapped))
    with open(os.path.join(ck, "wrapped_one.pkl"), "wb") as f:
        f.write(state_dict(wrapped[:1]))
    # protocol-4 flavoured: FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE
    p = bytearray(b"\x80\x04\x95" + struct.pack("<Q", 0))
    p += b"\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94("
    p += b"\x8c\x01x\x94\x8c\x0ctorch._utils\x8c\x12_rebuild_tensor_v2\x93\x94"
    p += b"((\x8c\x07storage\x8c\x05torch\x8c\x0cFloatStorage\x93\x8c\x013\x8c\x03cpuK\x04tQ"
    p += b"K\x00K\x04\x85K\x01\x85\x89h\x02)Rt\x94R\x94u."
    with open(os.path.join(ck, "proto4.pkl"), "wb") as f:
        f.write(bytes(p))
    # lists, LONG1, BININT, BINFLOAT, NONE, NEWTRUE around a metadata BUILD
    p = bytearray(b"\x80\x02ccollections\nOrderedDict\nq\x00)R}q\x01(X\x01\x00\x00\x00k")
    p += b"](J\xff\xff\xff\xff\x8a\x05\x00\x00\x00\x00\x01G?\xf0\x00\x00\x00\x00\x00\x00N\x88e"
    p += b"ub."
    with open(os.path.join(ck, "values.pkl"), "wb") as f:
        f.write(bytes(p))

    # A real torch pickle (dit/ of the reference set), storages beyond "3"
    # simply fail the lookup.
    if len(sys.argv) > 1:
        with zipfile.ZipFile(os.path.join(sys.argv[1], "dit", "checkpoint.pt")) as z:
            with open(os.path.join(ck, "dit_data.pkl"), "wb") as f:
                f.write(z.read("checkpoint/data.pkl"))

    write_safetensors(os.path.join(st, "tiny.safetensors"), [
        ("encoder.block.0.layer.0.SelfAttention.q.weight", "F32", [4, 4], floats(16)),
        ("encoder.final_layer_norm.weight", "F32", [4], floats(4)),
        ("shared.weight", "F16", [8, 4], halves(32)),
        ("scalar", "BF16", [], bf16(1)),
        ("empty", "F32", [0, 4], b""),
    ], metadata={"format": "pt"})
    write_safetensors(os.path.join(st, "one.safetensors"),
                      [("w", "F32", [2], floats(2))])
    write_safetensors(os.path.join(st, "unaligned.safetensors"), [
        ("h", "F16", [3], halves(3)),
        ("f", "F32", [2, 2], floats(4)),
        ("b", "BF16", [5], bf16(5)),
    ])


if __name__ == "__main__":
    main()
