"""Decodes drift's PNGs with an independent Python decoder (zlib + the PNG spec: chunk CRCs,
IHDR, all five row filters) and compares the pixels with what was written, for gray and RGB
images of assorted sizes and contents, and for an image grid computed again in numpy."""
import ctypes
import os
import struct
import sys
import tempfile
import zlib

import numpy as np

sys.dont_write_bytecode = True  # keep tests/io free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drift_lib import Checks, load  # noqa: E402


class GridOpts(ctypes.Structure):
    _fields_ = [("lo", ctypes.c_float), ("hi", ctypes.c_float), ("cols", ctypes.c_int),
                ("pad", ctypes.c_int), ("scale", ctypes.c_int), ("chw", ctypes.c_int),
                ("pad_value", ctypes.c_uint8)]


def decode(path, filters_seen):
    blob = open(path, "rb").read()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", "signature"
    pos, idat, ihdr, types = 8, b"", None, []
    while pos < len(blob):
        (n,) = struct.unpack(">I", blob[pos:pos + 4])
        ctype, data = blob[pos + 4:pos + 8], blob[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", blob[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(ctype + data) & 0xffffffff == crc, "CRC of %s" % ctype
        types.append(ctype)
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", data)
        elif ctype == b"IDAT":
            idat += data
        pos += 12 + n
    assert types[0] == b"IHDR" and types[-1] == b"IEND" and pos == len(blob), types
    w, h, depth, colour, comp, filt, interlace = ihdr
    assert depth == 8 and colour in (0, 2) and comp == filt == interlace == 0, ihdr
    ch = 1 if colour == 0 else 3
    raw = zlib.decompress(idat)
    stride = w * ch
    assert len(raw) == h * (stride + 1)
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        filters_seen.add(f)
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for i in range(stride):
            a = cur[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + p) & 0xff
        out[y] = cur
        prev = cur
    img = out.astype(np.uint8).reshape(h, w, ch)
    return img[:, :, 0] if ch == 1 else img


def main():
    lib = load()
    t = Checks()
    rng = np.random.default_rng(3)
    seen = set()
    with tempfile.TemporaryDirectory() as d:
        for h, w in [(1, 1), (5, 7), (17, 33), (3, 64)]:
            yy, xx = np.mgrid[0:h, 0:w]
            images = {
                "noise": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
                "gradient": np.stack([(xx * 9) % 256, (yy * 13) % 256, (xx + yy) * 3 % 256],
                                     -1).astype(np.uint8),
                "stripes": np.stack([(xx // 2 % 2) * 255] * 3, -1).astype(np.uint8),
            }
            for name, rgb in images.items():
                for gray in (False, True):
                    px = np.ascontiguousarray(rgb[:, :, 0] if gray else rgb)
                    path = os.path.join(d, "%s_%dx%d_%s.png" % (name, w, h, "g" if gray else "c"))
                    fn = lib.drift_png_write_gray if gray else lib.drift_png_write_rgb
                    st = fn(path.encode(), w, h, px.ctypes.data_as(ctypes.c_void_p))
                    t.check(st == 0, "%s: %s" % (path, lib.drift_last_error()))
                    got = decode(path, seen)
                    t.check(got.shape == px.shape and np.array_equal(got, px), "%s pixels" % path)
        t.check(len(seen) >= 3, "filters used: %s" % sorted(seen))

        # grid: 5 RGB images (CHW), 3 columns, padding 2, upscaled x2, values in [-1, 1]
        n, c, h, w = 5, 3, 4, 6
        imgs = rng.uniform(-1.2, 1.2, (n, c, h, w)).astype(np.float32)
        opts = GridOpts(-1.0, 1.0, 3, 2, 2, 1, 40)
        path = os.path.join(d, "grid.png")
        st = lib.drift_image_grid(path.encode(), imgs.ctypes.data_as(ctypes.c_void_p), n, h, w,
                                  c, ctypes.byref(opts))
        t.check(st == 0, "grid: %s" % lib.drift_last_error())
        got = decode(path, seen)
        cols, rows, s, pad = 3, 2, 2, 2
        expect = np.full((rows * h * s + (rows + 1) * pad, cols * w * s + (cols + 1) * pad, 3), 40,
                         np.uint8)
        byte = np.clip(np.floor((imgs.astype(np.float64) + 1) / 2 * 255 + 0.5), 0, 255)
        for i in range(n):
            r, q = divmod(i, cols)
            tile = byte[i].transpose(1, 2, 0).repeat(s, 0).repeat(s, 1)
            y0, x0 = pad + r * (h * s + pad), pad + q * (w * s + pad)
            expect[y0:y0 + h * s, x0:x0 + w * s] = tile
        t.check(got.shape == expect.shape, "grid shape %s vs %s" % (got.shape, expect.shape))
        t.check(got.shape == expect.shape and np.array_equal(got, expect), "grid pixels")
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
