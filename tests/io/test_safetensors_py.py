"""Cross-checks drift's safetensors files against a pure-Python implementation of the format
(json + numpy.frombuffer; the `safetensors` package is not installed here): files drift writes
parse and tile correctly in Python, and files Python writes — including another writer's
packing where an F32 tensor sits at an odd offset — read back identically through libdrift."""
import ctypes
import json
import os
import struct
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True  # keep tests/io free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drift_lib import Checks, StMeta, StTensor, declare_safetensors, load  # noqa: E402

ST_DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "|u1"}
DRIFT_CODE = {"F32": 0, "F64": 1, "I32": 2, "I64": 3, "U8": 4}


def py_read(path):
    """The reference reader's checks, in Python."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    pos = 0
    for b, e, k in spans:
        assert b == pos, "gap/overlap at %s" % k
        pos = e
    assert pos == len(data), "data not fully covered"
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(data[b:e], dtype=ST_DTYPES[v["dtype"]]).reshape(v["shape"])
    return out, meta, n


def py_write(path, tensors, meta, order=None, pad=True):
    """Writes like the reference: alignment-descending then name order, space padding."""
    names = order or sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
    header, pos = {}, 0
    if meta:
        header["__metadata__"] = meta
    for k in names:
        a = tensors[k]
        code = [c for c, d in ST_DTYPES.items() if np.dtype(d) == a.dtype][0]
        header[k] = {"dtype": code, "shape": list(a.shape), "data_offsets": [pos, pos + a.nbytes]}
        pos += a.nbytes
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for k in names:
            f.write(np.ascontiguousarray(tensors[k]).tobytes())


def c_read(lib, path):
    h = ctypes.c_void_p()
    st = lib.drift_safetensors_read(path.encode(), ctypes.byref(h))
    if st:
        return st, lib.drift_last_error().decode(), None, None
    out = {}
    for i in range(lib.drift_safetensors_count(h)):
        t = lib.drift_safetensors_tensor(h, i).contents
        dt = np.dtype(ST_DTYPES[[k for k, c in DRIFT_CODE.items() if c == t.dtype][0]])
        shape = tuple(t.shape[d] for d in range(t.ndim))
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        raw = ctypes.string_at(t.data, nbytes) if nbytes else b""
        out[t.name.decode()] = (np.frombuffer(raw, dtype=dt).reshape(shape).copy(),
                                t.data % dt.itemsize == 0 if nbytes else True)
    meta = lib.drift_safetensors_meta(h, b"format")
    lib.drift_safetensors_free(h)
    return 0, "", out, meta


def main():
    lib = load()
    declare_safetensors(lib)
    t = Checks()
    rng = np.random.default_rng(1)
    tensors = {
        "net.w1": rng.standard_normal((7, 5)).astype("<f4"),
        "net.b1": rng.standard_normal(5).astype("<f8"),
        "counts": rng.integers(-2**31, 2**31 - 1, size=(3, 2, 2), dtype="<i4"),
        "step": np.array(2**40 + 3, dtype="<i8"),
        "pixels": rng.integers(0, 256, size=(9,), dtype="|u1"),
        "none": np.zeros((0, 3), "<f4"),
    }
    meta = {"format": "drift", "config": json.dumps({"tau": [0.02, 0.05], "note": "é\n\"q\""})}
    with tempfile.TemporaryDirectory() as d:
        # drift writes, Python reads
        path = os.path.join(d, "drift.safetensors")
        keep = []
        arr = (StTensor * len(tensors))()
        for i, (k, a) in enumerate(tensors.items()):
            code = [c for c, dd in ST_DTYPES.items() if np.dtype(dd) == a.dtype][0]
            arr[i].name = k.encode()
            arr[i].dtype = DRIFT_CODE[code]
            arr[i].ndim = a.ndim
            for j, s in enumerate(a.shape):
                arr[i].shape[j] = s
            keep.append(np.ascontiguousarray(a))
            arr[i].data = keep[-1].ctypes.data
        marr = (StMeta * len(meta))(*[StMeta(k.encode(), v.encode()) for k, v in meta.items()])
        st = lib.drift_safetensors_write(path.encode(), arr, len(tensors), marr, len(meta))
        t.check(st == 0, "write: %s" % lib.drift_last_error())
        got, gmeta, n = py_read(path)
        t.check(n % 8 == 0, "header length %d not a multiple of 8" % n)
        t.check(gmeta == meta, "metadata %r" % gmeta)
        t.check(set(got) == set(tensors), "names %s" % sorted(got))
        for k, a in tensors.items():
            t.check(got[k].shape == a.shape and got[k].dtype == a.dtype, "%s meta" % k)
            t.check(np.array_equal(got[k], a), "%s values" % k)

        # Python writes (reference order, and a packing with misaligned F32), drift reads
        for label, order in [("ref", None), ("packed", ["pixels", "net.w1", "step", "counts",
                                                         "none", "net.b1"])]:
            path = os.path.join(d, "py_%s.safetensors" % label)
            py_write(path, tensors, meta, order=order, pad=label == "ref")
            st, msg, got, fmt = c_read(lib, path)
            t.check(st == 0, "%s: %s" % (label, msg))
            if st == 0:
                t.check(fmt == b"drift", "%s metadata %r" % (label, fmt))
                for k, a in tensors.items():
                    arr_c, aligned = got[k]
                    t.check(aligned, "%s: %s data pointer misaligned" % (label, k))
                    t.check(arr_c.shape == a.shape and np.array_equal(arr_c, a),
                            "%s: %s differs" % (label, k))

        # a dtype the format has but drift does not read
        path = os.path.join(d, "bf16.safetensors")
        text = json.dumps({"x": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + b"\0" * 4)
        st, msg, _, _ = c_read(lib, path)
        t.check(st == -7 and "BF16" in msg and path in msg, "bf16: %d %r" % (st, msg))
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
