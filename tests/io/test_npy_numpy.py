"""Cross-checks drift's .npy reader and writer against numpy itself: files numpy writes (every
supported dtype, ranks 0..3, format versions 1.0/2.0/3.0) read back identically through
libdrift, files drift writes are byte-identical to np.save's and load with np.load, and the
layouts numpy can write but drift refuses fail with the right status and the file name."""
import ctypes
import io
import os
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True  # keep tests/io free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drift_lib import DTYPES, Checks, DriftArray, load  # noqa: E402

EUNSUPPORTED, EFORMAT = -7, -4


def read_with_drift(lib, path):
    a = DriftArray()
    st = lib.drift_npy_read(path.encode(), ctypes.byref(a))
    if st != 0:
        return st, lib.drift_last_error().decode(), None
    shape = tuple(a.shape[i] for i in range(a.ndim))
    dt = np.dtype(DTYPES[a.dtype])
    nbytes = a.count * dt.itemsize
    raw = ctypes.string_at(a.data, nbytes) if nbytes else b""
    arr = np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    lib.drift_array_free(ctypes.byref(a))
    return 0, "", arr


def sample(dtype, shape, rng):
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(np.dtype(dtype))
    return rng.integers(info.min, info.max, size=shape, dtype=np.dtype(dtype), endpoint=True)


def main():
    lib = load()
    t = Checks()
    rng = np.random.default_rng(0)
    shapes = [(), (5,), (3, 4), (2, 3, 4), (0, 3), (1, 1, 1)]
    with tempfile.TemporaryDirectory() as d:
        # numpy writes, drift reads
        for dtype in DTYPES + ["<u1"]:
            for shape in shapes:
                for version in [(1, 0), (2, 0), (3, 0)]:
                    x = sample(dtype, shape, rng)
                    path = os.path.join(d, "np_%s_%d_%d.npy" % (dtype[1:], len(shape), version[0]))
                    with open(path, "wb") as f:
                        np.lib.format.write_array(f, x, version=version)
                    st, msg, y = read_with_drift(lib, path)
                    t.check(st == 0, "read %s: %s" % (path, msg))
                    if st == 0:
                        t.check(y.shape == x.shape, "%s shape %s vs %s" % (path, y.shape, x.shape))
                        t.check(y.dtype == x.dtype.newbyteorder("<") or dtype == "<u1",
                                "%s dtype %s" % (path, y.dtype))
                        t.check(np.array_equal(y, x), "%s values differ" % path)

        # drift writes: byte-identical to np.save, and np.load agrees
        for code, dtype in enumerate(DTYPES):
            for shape in shapes:
                x = np.array(sample(dtype, shape, rng), order="C")  # (ascontiguousarray makes 0-d 1-d)
                path = os.path.join(d, "drift_%s_%d.npy" % (dtype[1:], len(shape)))
                shp = (ctypes.c_int64 * max(1, len(shape)))(*shape)
                st = lib.drift_npy_write(path.encode(), code, len(shape), shp,
                                         x.ctypes.data_as(ctypes.c_void_p))
                t.check(st == 0, "write %s: %s" % (path, lib.drift_last_error()))
                y = np.load(path)
                t.check(y.shape == x.shape and y.dtype == x.dtype, "np.load %s meta" % path)
                t.check(np.array_equal(y, x), "np.load %s values" % path)
                ref = io.BytesIO()
                np.save(ref, x)
                with open(path, "rb") as f:
                    t.check(f.read() == ref.getvalue(), "%s differs from np.save bytes" % path)

        # what numpy can write but drift refuses, by status and message
        refused = [
            ("fortran", np.asfortranarray(np.ones((3, 2), np.float32)), EUNSUPPORTED, "fortran"),
            ("bigendian", np.ones(4, ">f8"), EUNSUPPORTED, "big-endian"),
            ("bool", np.ones(4, bool), EUNSUPPORTED, "bool"),
            ("float16", np.ones(4, np.float16), EUNSUPPORTED, "'<f2'"),
            ("int8", np.ones(4, np.int8), EUNSUPPORTED, "'|i1'"),
            ("complex", np.ones(4, np.complex64), EUNSUPPORTED, "'<c8'"),
            ("structured", np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]), EUNSUPPORTED,
             "structured"),
            ("object", np.array([1, "a", None], dtype=object), EUNSUPPORTED, "object"),
        ]
        for name, x, want, says in refused:
            path = os.path.join(d, "refused_%s.npy" % name)
            np.save(path, x, allow_pickle=True)
            st, msg, _ = read_with_drift(lib, path)
            t.check(st == want, "%s: status %d want %d (%s)" % (name, st, want, msg))
            t.check(path in msg and says in msg, "%s: message %r" % (name, msg))

        # a truncated numpy file
        path = os.path.join(d, "cut.npy")
        np.save(path, np.ones((10, 10)))
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 8)
        st, msg, _ = read_with_drift(lib, path)
        t.check(st == EFORMAT and "truncated" in msg and path in msg, "cut: %d %r" % (st, msg))
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
