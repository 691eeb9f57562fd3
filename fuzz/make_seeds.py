#!/usr/bin/env python3
"""Writes small valid (and a few almost-valid) seed inputs for the fuzzers into
<dir>/{npy,safetensors,png,json,idx,dataset}/. Standard library only, so any python3 will do."""
import gzip
import json
import os
import struct
import sys
import zlib


def npy(descr, shape, data, version=1, fortran=False):
    dims = "".join("%d," % d for d in shape) if len(shape) == 1 else ", ".join(map(str, shape))
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)
    prefix = 10 if version == 1 else 12
    pad = -(prefix + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode()
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + data


def safetensors(tensors, meta=None):
    header, blob = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def png(w, h, colour, rows):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(bytes([f]) + r for f, r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def idx(dtype_code, dims, data):
    return struct.pack(">BBBB", 0, 0, dtype_code, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + data


def dataset(npy_mode, labels, a, b=b""):
    """fuzz_dataset input: mode byte, u16 split, file a then file b."""
    return bytes([(1 if npy_mode else 0) | (2 if labels else 0)]) + struct.pack("<H", len(a)) + a + b


def main(out):
    images = idx(0x08, (3, 2, 2), bytes(range(12)))
    labels = idx(0x08, (3,), b"\x00\x01\x02")
    x_npy = npy("<f4", (3, 2), struct.pack("<6f", 0, 1, 2, 3, 4, 5))
    l_npy = npy("<i4", (3,), struct.pack("<3i", 0, 1, 1))
    seeds = {
        "npy": {
            "f4_2x3": npy("<f4", (2, 3), struct.pack("<6f", *range(6))),
            "f8_scalar": npy("<f8", (), struct.pack("<d", 2.5)),
            "i8_vec_v2": npy("<i8", (3,), struct.pack("<3q", -1, 0, 1), version=2),
            "u1_3d_v3": npy("|u1", (2, 2, 2), bytes(range(8)), version=3),
            "i4_empty": npy("<i4", (0, 4), b""),
            "fortran": npy("<f4", (2, 2), bytes(16), fortran=True),
        },
        "safetensors": {
            "two": safetensors([("w", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                                ("b", "U8", [3], b"\x01\x02\x03")], {"format": "pt"}),
            "scalar_i64": safetensors([("step", "I64", [], struct.pack("<q", 7))]),
            "empty": safetensors([]),
            "zero_size": safetensors([("z", "F64", [0, 3], b""), ("i", "I32", [1], b"\0" * 4)]),
        },
        # fuzz_png: first byte odd = a whole PNG follows; even = w, h, colour, flags, rows
        "png": {
            "gray": b"\x01" + png(3, 2, 0, [(0, b"\x00\x80\xff"), (2, b"\x01\x01\x01")]),
            "rgb": b"\x01" + png(2, 2, 2, [(1, bytes(range(6))), (4, bytes(range(6, 12)))]),
            "rgba": b"\x01" + png(1, 2, 6, [(3, b"\x10\x20\x30\x40"), (0, b"\x50\x60\x70\x80")]),
            "fields_rgb": b"\x00\x03\x01\x01\x00" + bytes([4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                                         3, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2]),
            "fields_gray": b"\x00\x07\x00\x00\x00" + bytes([1] + list(range(8))),
        },
        "idx": {
            "images": images,
            "labels": labels,
            "images_gz": gzip.compress(images, mtime=0),
            "float": idx(0x0D, (2, 2), struct.pack(">4f", 0, 1, 2, 3)),
        },
        "dataset": {
            "idx_labelled": dataset(False, True, images, labels),
            "idx_gz": dataset(False, True, gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)),
            "idx_unlabelled": dataset(False, False, images),
            "npy_labelled": dataset(True, True, x_npy, l_npy),
            "npy_unlabelled": dataset(True, False, npy("<f8", (2, 2, 2), bytes(64))),
        },
        "json": {
            "object": b'{"a": [1, -2.5e3, true, false, null], "b": {"c": "\\u00e9\\n"}}',
            "header": json.dumps({"__metadata__": {"k": "v"},
                                  "t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
            .encode(),
            "deep": b"[" * 40 + b"]" * 40,
        },
    }
    for kind, files in seeds.items():
        os.makedirs(os.path.join(out, kind), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(out, kind, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
