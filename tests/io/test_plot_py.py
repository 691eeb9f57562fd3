"""Parses drift's SVG plots as XML and checks them against the data: recovering the axis
mapping from the tick marks and labels, every polyline vertex must map back to its data
point (linear and log-log axes), NaN must split a line, and names must be escaped."""
import ctypes
import math
import os
import sys
import tempfile
import xml.etree.ElementTree as ET

import numpy as np

sys.dont_write_bytecode = True  # keep tests/io free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drift_lib import Checks, load  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"
DP = ctypes.POINTER(ctypes.c_double)


def make_plot(lib, path, title, series, log_x, log_y):
    p = ctypes.c_void_p()
    assert lib.drift_plot_create(ctypes.byref(p), title.encode(), b"x", b"y") == 0
    for name, x, y, style in series:
        x = np.ascontiguousarray(x, np.float64)
        y = np.ascontiguousarray(y, np.float64)
        st = lib.drift_plot_add_series(p, name.encode(), x.ctypes.data_as(DP),
                                       y.ctypes.data_as(DP), ctypes.c_size_t(len(y)), style)
        assert st == 0
    lib.drift_plot_set_log(p, log_x, log_y)
    st = lib.drift_plot_write_svg(p, path.encode())
    lib.drift_plot_free(p)
    return st


def axis_maps(root):
    """Pixel -> data maps for x and y, fitted on the tick labels (in log10 if log)."""
    maps = []
    for cls, coord in (("xticks", "x"), ("yticks", "y")):
        g = [e for e in root.iter(NS + "g") if e.get("class") == cls][0]
        pix, val = [], []
        for text in g.iter(NS + "text"):
            pix.append(float(text.get(coord)) - (4 if coord == "y" else 0))
            val.append(float(text.text))
        maps.append((np.array(pix), np.array(val)))
    return maps


def invert(pix_vals, pixels, log):
    pix, val = pix_vals
    v = np.log10(val) if log else val
    slope, icpt = np.polyfit(pix, v, 1)
    fit_resid = np.max(np.abs(slope * pix + icpt - v)) if len(pix) > 2 else 0.0
    out = slope * np.asarray(pixels) + icpt
    return (10 ** out if log else out), fit_resid


def main():
    lib = load()
    lib.drift_plot_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                      ctypes.c_char_p, ctypes.c_char_p]
    lib.drift_plot_add_series.argtypes = [ctypes.c_void_p, ctypes.c_char_p, DP, DP,
                                          ctypes.c_size_t, ctypes.c_int]
    lib.drift_plot_set_log.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.drift_plot_write_svg.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.drift_plot_free.argtypes = [ctypes.c_void_p]
    t = Checks()
    with tempfile.TemporaryDirectory() as d:
        cases = [
            ("linear", 0, 0, np.linspace(-3, 40, 25), lambda x: 0.3 * x ** 2 - 2),
            ("loglog", 1, 1, np.logspace(1, 5, 9), lambda x: 2 / np.sqrt(x)),
            ("logy", 0, 1, np.arange(1.0, 300.0), lambda x: np.exp(-x / 40) + 1e-3),
        ]
        for name, lx, ly, x, f in cases:
            y = f(x)
            path = os.path.join(d, name + ".svg")
            st = make_plot(lib, path, name, [("a<b>&c", x, y, 0)], lx, ly)
            t.check(st == 0, "%s: write %s" % (name, lib.drift_last_error()))
            root = ET.parse(path).getroot()  # must be well-formed XML
            (xm, ym) = axis_maps(root)
            t.check(len(xm[0]) >= 3 and len(ym[0]) >= 2, "%s: ticks %s %s" % (name, xm[1], ym[1]))
            lines = list(root.iter(NS + "polyline"))
            t.check(len(lines) == 1, "%s: %d polylines" % (name, len(lines)))
            pts = np.array([[float(v) for v in p.split(",")]
                            for p in lines[0].get("points").split()])
            t.check(len(pts) == len(x), "%s: %d points" % (name, len(pts)))
            xs, rx = invert(xm, pts[:, 0], lx)
            ys, ry = invert(ym, pts[:, 1], ly)
            t.check(rx < 1e-6 + 0.02 and ry < 0.02, "%s: ticks not linear in pixels" % name)
            relx = np.max(np.abs(xs - x) / (np.abs(x) if lx else np.ptp(x)))
            rely = np.max(np.abs(ys - y) / (np.abs(y) if ly else np.ptp(y)))
            t.check(relx < 5e-3 and rely < 5e-3, "%s: mapping error x %.2g y %.2g" % (name, relx, rely))
            legend = [e for e in root.iter(NS + "g") if e.get("class") == "legend"][0]
            t.check([e.text for e in legend.iter(NS + "text")] == ["a<b>&c"], "%s legend" % name)

        # NaN and, on a log axis, non-positive values break the line
        path = os.path.join(d, "gaps.svg")
        y = np.array([1.0, 2.0, np.nan, 3.0, 4.0, -1.0, 5.0, 6.0, np.inf])
        make_plot(lib, path, "gaps", [("g", np.arange(1.0, 10.0), y, 0)], 0, 1)
        root = ET.parse(path).getroot()
        lines = list(root.iter(NS + "polyline"))
        t.check([len(p.get("points").split()) for p in lines] == [2, 2, 2], "gaps: polylines")
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
