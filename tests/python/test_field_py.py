"""drift.field against `drift field` on the same .npy inputs: bit for bit, for every option of the
CLI (families × kernels, both precisions, weights, negatives, extra negatives, scales, feature and
drift normalization, the released deng options, deng norms, rq alpha, several temperatures, block
size, --quiet, potential, diagnostics); inputs used in place (no copy) when C-contiguous float32,
out=, misaligned views; the ctypes struct mirrors against the C headers (sizeof/offsetof); bad
dtypes and shapes refused before any C call; C errors as drift.DriftError with the CLI's message."""
import ctypes
import os
import subprocess
import tempfile

import numpy as np

from pyenv import Checks, SANITIZED, cli, drift, refused_before_c

t = Checks()
rng = np.random.default_rng(7)


# ---- the ctypes mirrors match the C structs (compiled here with the build's compiler) ----
def layout_check(tmp):
    cc = os.environ.get("DRIFT_CC") or "cc"
    inc = os.path.join(os.environ.get("DRIFT_SOURCE_DIR", "."), "include")
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "drift/drift.h"', 'int main(void) {']
    expect = []
    for cname, mirror in drift._lib.MIRRORS.items():
        lines.append('printf("%%zu\\n", sizeof(%s));' % cname)
        expect.append(("sizeof %s" % cname, ctypes.sizeof(mirror)))
        for fname, *_ in mirror._fields_:
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (cname, fname))
            expect.append(("offsetof %s.%s" % (cname, fname), getattr(mirror, fname).offset))
    for cname, size in drift._lib.OPAQUE.items():
        lines.append('printf("%%d\\n", (int)(sizeof(%s) <= %d));' % (cname, size))
        expect.append(("%s fits in %d bytes" % (cname, size), 1))
    lines.append('return 0; }')
    src, exe = os.path.join(tmp, "layout.c"), os.path.join(tmp, "layout")
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run([cc, "-std=c11", "-I" + inc, src, "-o", exe], capture_output=True, text=True, env=env)
    t.check(r.returncode == 0, "layout program compiles: %s" % r.stderr)
    if r.returncode:
        return
    got = subprocess.run([exe], capture_output=True, text=True, env=env).stdout.split()
    t.check(len(got) == len(expect), "layout program printed %d values, want %d" % (len(got), len(expect)))
    for (what, want), g in zip(expect, got):
        t.check(int(g) == want, "%s: C %s, ctypes %d" % (what, g, want))
    # every field of the C struct is mirrored: the header's field count equals the mirror's
    # (offsets alone would not see a field added at the end if the size check missed it)


def npy(tmp, name, a):
    path = os.path.join(tmp, name + ".npy")
    np.save(path, a)
    return path


def bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


n, p, m, e, d = (40, 50, 30, 12, 5) if SANITIZED else (150, 170, 90, 24, 7)
X = (rng.standard_normal((n, d)) * 0.8).astype(np.float32)
P = (rng.standard_normal((p, d)) + 0.5).astype(np.float32)
N = (rng.standard_normal((m, d)) - 0.3).astype(np.float32)
E = rng.standard_normal((e, d)).astype(np.float32)
PW, NW, EW = (rng.uniform(0.2, 2.0, k).astype(np.float32) for k in (p, m, e))

# (CLI arguments, Python keywords): one case per option, and families × kernels
CASES = []
for fam in ("deng", "meanshift", "sharp", "kdegrad", "mmd"):
    for ker in ("gaussian", "laplace", "rq"):
        CASES.append((["--family", fam, "--kernel", ker, "--tau", "1.5"], dict(family=fam, kernel=ker, tau=1.5)))
CASES += [
    (["--family", "sharp", "--kernel", "rq", "--tau", "0.7,2", "--rq-alpha", "3.5"],
     dict(family="sharp", kernel="rq", tau=[0.7, 2], rq_alpha=3.5)),
    (["--family", "meanshift", "--kernel", "laplace", "--tau", "1,2,4", "--neg", "N", "--pos-weights", "PW",
      "--neg-weights", "NW"], dict(family="meanshift", kernel="laplace", tau=[1, 2, 4], neg="N", pos_weights="PW",
                                   neg_weights="NW")),
    (["--family", "kdegrad", "--kernel", "gaussian", "--tau", "1", "--extra-neg", "E", "--extra-weights", "EW"],
     dict(family="kdegrad", kernel="gaussian", tau=1, extra_neg="E", extra_weights="EW")),
    (["--family", "deng", "--kernel", "laplace", "--tau", "0.05,0.2", "--deng-released"],
     dict(family="deng", kernel="laplace", tau=[0.05, 0.2], deng_released=True)),
    (["--family", "deng", "--kernel", "laplace", "--tau", "0.1", "--feature-norm", "--deng-soft-mask", "--deng-floor"],
     dict(family="deng", kernel="laplace", tau=0.1, feature_norm=True, deng_soft_mask=True, deng_floor=True)),
    (["--family", "deng", "--kernel", "gaussian", "--tau", "1", "--deng-norm", "row", "--neg", "N"],
     dict(family="deng", kernel="gaussian", tau=1, deng_norm="row", neg="N")),
    (["--family", "deng", "--kernel", "gaussian", "--tau", "1", "--deng-norm", "none"],
     dict(family="deng", kernel="gaussian", tau=1, deng_norm="none")),
    (["--family", "mmd", "--kernel", "laplace", "--tau", "0.5,1", "--pos-scale", "1.7", "--neg-scale", "0.6",
      "--drift-norm"], dict(family="mmd", kernel="laplace", tau=[0.5, 1], pos_scale=1.7, neg_scale=0.6,
                            drift_norm=True)),
    (["--family", "sharp", "--kernel", "gaussian", "--tau", "0.5,1.5", "--block", "16", "--quiet"],
     dict(family="sharp", kernel="gaussian", tau=[0.5, 1.5], block=16, tau_rms=False)),
    (["--family", "meanshift", "--kernel", "gaussian", "--tau", "0.3,1", "--feature-norm", "--quiet"],
     dict(family="meanshift", kernel="gaussian", tau=[0.3, 1], feature_norm=True, tau_rms=False)),
]
ARRAYS = {"N": N, "PW": PW, "NW": NW, "E": E, "EW": EW}

with tempfile.TemporaryDirectory() as tmp:
    layout_check(tmp)
    files = {k: npy(tmp, k, a) for k, a in dict(ARRAYS, X=X, P=P).items()}
    x64 = X.astype(np.float64)
    files["X64"] = npy(tmp, "X64", x64)
    for i, (args, kw) in enumerate(CASES):
        args = [files.get(a, a) for a in args]
        kw = {k: ARRAYS.get(v, v) if isinstance(v, str) else v for k, v in kw.items()}
        conservative = kw["family"] in ("sharp", "kdegrad", "mmd")
        for prec in ("f32", "f64"):
            out, phi, diag = (os.path.join(tmp, "%s%d%s.npy" % (w, i, prec)) for w in ("V", "PHI", "D"))
            extra = ["--potential", phi] if conservative else []
            rc, _, err = cli("field", "--x", files["X"], "--pos", files["P"], *args, "--out", out,
                             "--diagnostics", diag, "--precision", prec, "--threads", 2, *extra)
            what = "%s %s" % (" ".join(str(a) for a in args).replace(tmp + "/", ""), prec)
            t.check(rc == 0, "CLI %s: %s" % (what, err))
            if rc:
                continue
            r = drift.field(X, P, precision=prec, potential=conservative, full=True, **kw)
            t.check(bits_equal(r.v, np.load(out)), "V bit for bit: %s (max diff %g)"
                    % (what, np.abs(r.v.astype(np.float64) - np.load(out)).max()))
            t.check(bits_equal(r.diagnostics, np.load(diag)), "diagnostics bit for bit: %s" % what)
            if conservative:
                t.check(bits_equal(r.potential, np.load(phi)), "potential bit for bit: %s" % what)
            # the short forms return the same arrays
            if prec == "f32" and i % 4 == 0:
                short = drift.field(X, P, **kw, **({"potential": True} if conservative else {}))
                v_short = short[0] if conservative else short
                t.check(bits_equal(v_short, r.v), "field() without full=: same V (%s)" % what)

    # float64 inputs with the fast path: converted like the CLI's reader converts a float64 file
    out = os.path.join(tmp, "V64in.npy")
    rc, _, err = cli("field", "--x", files["X64"], "--pos", files["P"], "--family", "sharp", "--kernel", "laplace",
                     "--tau", "1", "--out", out, "--threads", 2)
    v = drift.field(x64, P.astype(np.float64), family="sharp", kernel="laplace", tau=1, precision="f32")
    t.check(rc == 0 and bits_equal(v, np.load(out)), "float64 arrays, precision f32: the CLI's bits (%s)" % err)
    out = os.path.join(tmp, "V64.npy")
    rc, _, err = cli("field", "--x", files["X64"], "--pos", files["P"], "--family", "sharp", "--kernel", "laplace",
                     "--tau", "1", "--out", out, "--precision", "f64", "--threads", 2)
    v = drift.field(x64, P, family="sharp", kernel="laplace", tau=1)
    t.check(v.dtype == np.float64 and rc == 0 and bits_equal(v, np.load(out)),
            "float64 x: the float64 reference by default, the CLI's --precision f64 bits")

    # C errors: the CLI's message, as a DriftError
    rc, _, err = cli("field", "--x", files["X"], "--pos", files["P"], "--family", "meanshift", "--kernel", "gaussian",
                     "--tau", "1", "--out", os.path.join(tmp, "bad.npy"), "--potential", os.path.join(tmp, "p.npy"))
    try:
        drift.field(X, P, family="meanshift", potential=True)
        t.check(False, "potential of meanshift raises")
    except drift.DriftError as ex:
        t.check(ex.status == "EINVAL" and ex.code == -1 and "has no potential" in str(ex) and str(ex) in err,
                "potential of meanshift: DriftError %r, the CLI said %r" % (str(ex), err))
    Xnan = X.copy()
    Xnan[3, 2] = np.nan
    try:
        drift.field(Xnan, P)
        t.check(False, "NaN raises")
    except drift.DriftError as ex:
        t.check(ex.status == "ENUMERIC" and "NaN" in str(ex) and "element %d" % (3 * d + 2) in str(ex),
                "NaN input: %r" % str(ex))
    try:
        drift.field(X, P, family="sharpe")
        t.check(False, "misspelt family raises")
    except drift.DriftError as ex:
        t.check("unknown field family 'sharpe'" in str(ex) and "kdegrad" in str(ex), "misspelt family: %r" % str(ex))
    try:
        drift.field(X, P, tau=-1)
        t.check(False, "tau < 0 raises")
    except drift.DriftError as ex:
        t.check("tau" in str(ex), "tau < 0: %r" % str(ex))

# ---- no copy: C-contiguous float32 inputs are used in place; out= is written in place ----
Xv = drift._arrays.matrix(X, "x", np.float32)
t.check(np.shares_memory(Xv, X), "C-contiguous float32 x is passed without a copy")
img = rng.standard_normal((20, 4, 4)).astype(np.float32)
t.check(np.shares_memory(drift._arrays.matrix(img, "x", np.float32), img), "(n, h, w) float32: a view, no copy")
t.check(not np.shares_memory(drift._arrays.matrix(X[:, ::2], "x", np.float32), X), "a strided view is copied")
buf = np.zeros_like(X)
V = drift.field(X, P, family="sharp", kernel="laplace", tau=1, out=buf)
t.check(V is buf and bits_equal(buf, drift.field(X, P, family="sharp", kernel="laplace", tau=1)), "out= is filled in place")
# shape in, shape out; views at odd offsets and strides give the same bits as a fresh copy
V3 = drift.field(img, img[:10] + 0.5, family="kdegrad", tau=2)
t.check(V3.shape == img.shape and bits_equal(V3.reshape(20, 16),
                                             drift.field(img.reshape(20, 16), img[:10].reshape(10, 16) + 0.5,
                                                         family="kdegrad", tau=2)), "(n, h, w) in, (n, h, w) out")
raw = np.zeros(X.size + 1, np.float32)
mis = raw[1:].reshape(X.shape)  # 4 bytes past an aligned address
mis[:] = X
t.check(bits_equal(drift.field(mis, P, family="deng", tau=1), drift.field(X, P, family="deng", tau=1)),
        "a misaligned array: the same bits")
t.check(bits_equal(drift.field(np.asfortranarray(X), P, family="mmd", tau=1), drift.field(X, P, family="mmd", tau=1)),
        "a Fortran-ordered array: the same bits")

# ---- bad dtypes and shapes: refused in Python, before any C call ----
bad = [
    (lambda: drift.field(X.astype(np.int32), P), TypeError, "int32 x"),
    (lambda: drift.field(X, P.astype(np.float16)), TypeError, "float16 pos"),
    (lambda: drift.field(X.astype(np.complex64), P), TypeError, "complex x"),
    (lambda: drift.field(X, P, pos_weights=np.ones(p, np.int64)), TypeError, "int weights"),
    (lambda: drift.field(X[0], P), ValueError, "1-D x"),
    (lambda: drift.field(X, P[:, :3]), ValueError, "pos with other D"),
    (lambda: drift.field(X, P, neg=N[:, :2]), ValueError, "neg with other D"),
    (lambda: drift.field(X[:0], P), ValueError, "x without rows"),
    (lambda: drift.field(X, P, pos_weights=np.ones(p - 1, np.float32)), ValueError, "pos_weights of wrong length"),
    (lambda: drift.field(X, P, neg_weights=np.ones(n, np.float32)), ValueError, "neg_weights without neg"),
    (lambda: drift.field(X, P, extra_weights=np.ones(3, np.float32)), ValueError, "extra_weights without extra_neg"),
    (lambda: drift.field(X, P, precision="f16"), ValueError, "precision f16"),
    (lambda: drift.field(X, P, out=np.zeros((n, d), np.float64)), ValueError, "out of the wrong dtype"),
    (lambda: drift.field(X, P, out=np.zeros((n, d + 1), np.float32)), ValueError, "out of the wrong shape"),
    (lambda: drift.field(X, P, tau=[]), ValueError, "no temperatures"),
    (lambda: drift.field(X, P, tau=list(range(1, 18))), ValueError, "17 temperatures"),
    (lambda: drift.field(X, P, block=-1), ValueError, "block < 0"),
]
for fn, exc, what in bad:
    msg = refused_before_c(t, fn, exc, what)
    t.check(bool(msg), "%s: a message (%r)" % (what, msg))

raise SystemExit(t.summary())
