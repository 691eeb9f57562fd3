"""End-to-end tests of `drift field`: NumPy float64 references, f32 vs f64, weights,
guidance negatives, potentials, and clear errors for bad input."""
import os
import subprocess
import sys
import tempfile

import numpy as np

BIN = os.environ.get("DRIFT_BIN", "build/drift")
failures = 0
passed = 0


def check(cond, msg):
    global failures, passed
    if cond:
        passed += 1
    else:
        failures += 1
        print("FAIL:", msg, file=sys.stderr)


def run(*args):
    return subprocess.run([BIN, "field", *args], capture_output=True, text=True)


def log_kernel(kind, r, tau, alpha=2.0):
    if kind == "gaussian":
        return -r * r / (2 * tau * tau)
    if kind == "laplace":
        return -r / tau
    return -alpha * np.log1p(r * r / (2 * alpha * tau * tau))


def meanshift_side(x, y, w, kind, tau, mask_self=False):
    r = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    lk = log_kernel(kind, r, tau) + np.log(w)[None, :]
    if mask_self:
        np.fill_diagonal(lk, -np.inf)
    lk -= lk.max(1, keepdims=True)
    a = np.exp(lk)
    return (a @ y) / a.sum(1, keepdims=True) - x


def sharp_side(x, y, w, tau):  # laplace sharp kernel tau (r + tau) exp(-r/tau)
    r = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    lk = -r / tau + np.log(w)[None, :]
    ls = np.log(tau) + np.log(r + tau) - r / tau + np.log(w)[None, :]
    m = ls.max(1, keepdims=True)
    a, b = np.exp(lk - m), np.exp(ls - m)
    return (a @ y - a.sum(1, keepdims=True) * x) / b.sum(1, keepdims=True), (m[:, 0] + np.log(b.sum(1)) - np.log(w.sum()))


with tempfile.TemporaryDirectory() as tmp:
    p = lambda name: os.path.join(tmp, name)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(37, 5)).astype(np.float32)
    P = (rng.normal(size=(41, 5)) + 0.7).astype(np.float64)
    Nn = rng.normal(size=(23, 5)).astype(np.float32)
    W = rng.uniform(0.2, 1.5, size=41)
    E = rng.normal(size=(9, 5)).astype(np.float32)
    EW = rng.uniform(0.1, 0.9, size=9).astype(np.float32)
    for name, arr in [("x", X), ("p", P), ("n", Nn), ("w", W), ("e", E), ("ew", EW)]:
        np.save(p(name + ".npy"), arr)
    Xd, Pd, Nd, Ed = (a.astype(np.float64) for a in (X, P, Nn, E))

    # meanshift, self-masked negatives, three kernels, two temperatures, f32 and f64
    for kind in ["gaussian", "laplace", "rq"]:
        ref = sum(meanshift_side(Xd, Pd, np.ones(41), kind, t) - meanshift_side(Xd, Xd, np.ones(37), kind, t, True)
                  for t in (0.8, 2.0))
        for prec in ["f32", "f64"]:
            r = run("--x", p("x.npy"), "--pos", p("p.npy"), "--family", "meanshift", "--kernel", kind,
                    "--tau", "0.8,2", "--out", p("v.npy"), "--precision", prec, "--quiet")
            check(r.returncode == 0, f"meanshift {kind} {prec}: {r.stderr}")
            if r.returncode == 0:
                V = np.load(p("v.npy"))
                check(V.dtype == (np.float64 if prec == "f64" else np.float32), "output dtype")
                check(V.shape == (37, 5), "output shape")
                tol = 1e-10 if prec == "f64" else 1e-4
                err = np.abs(V - ref).max() / np.abs(ref).max()
                check(err < tol, f"meanshift {kind} {prec}: rel err {err}")

    # sharp laplace with explicit negatives, weights, guidance negatives, potential
    qall = np.concatenate([Nd, Ed])
    qw = np.concatenate([np.ones(23), EW.astype(np.float64)])
    fp, php = sharp_side(Xd, Pd, W, 0.9)
    fn, phn = sharp_side(Xd, qall, qw, 0.9)
    for prec in ["f32", "f64"]:
        r = run("--x", p("x.npy"), "--pos", p("p.npy"), "--pos-weights", p("w.npy"), "--neg", p("n.npy"),
                "--extra-neg", p("e.npy"), "--extra-weights", p("ew.npy"), "--family", "sharp", "--kernel", "laplace",
                "--tau", "0.9", "--out", p("v.npy"), "--potential", p("phi.npy"), "--precision", prec, "--quiet")
        check(r.returncode == 0, f"sharp: {r.stderr}")
        if r.returncode == 0:
            V, PHI = np.load(p("v.npy")), np.load(p("phi.npy"))
            tol = 1e-10 if prec == "f64" else 1e-4
            check(np.abs(V - (fp - fn)).max() / np.abs(fp - fn).max() < tol, f"sharp field {prec}")
            check(PHI.shape == (37,), f"potential shape {PHI.shape}")
            check(np.abs(PHI - (php - phn)).max() < (1e-9 if prec == "f64" else 1e-4), f"potential {prec}")

    # errors: one line on stderr, non-zero exit, no output file, no crash
    bad = np.array([[0.0, np.nan, 1, 2, 3]], dtype=np.float32)
    np.save(p("bad.npy"), bad)
    np.save(p("short.npy"), X[:, :3])
    with open(p("garbage.npy"), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00garbage")
    cases = [
        (["--x", p("bad.npy"), "--pos", p("p.npy"), "--family", "sharp", "--kernel", "gaussian", "--tau", "1"], "NaN"),
        (["--x", p("short.npy"), "--pos", p("p.npy"), "--family", "sharp", "--kernel", "gaussian", "--tau", "1"], "columns"),
        (["--x", p("garbage.npy"), "--pos", p("p.npy"), "--family", "sharp", "--kernel", "gaussian", "--tau", "1"], "garbage.npy"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "sharp", "--kernel", "rq", "--rq-alpha", "0.5", "--tau", "1"], "sharp kernel"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "nope", "--kernel", "rq", "--tau", "1"], "family"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "sharp", "--kernel", "gaussian", "--tau", "-1"], "tau"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "sharp", "--kernel", "gaussian", "--tau", "1,x"], "tau"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--pos-weights", p("ew.npy"), "--family", "sharp", "--kernel", "gaussian", "--tau", "1"], "shape"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "meanshift", "--kernel", "laplace", "--tau", "1", "--potential", p("q.npy")], "potential"),
        (["--x", p("x.npy"), "--family", "sharp", "--kernel", "gaussian", "--tau", "1"], "required"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "sharp", "--kernel", "gaussian", "--tau", "1", "--bogus"], "unknown option"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "deng", "--kernel", "laplace", "--tau", "1", "--backend", "gpu"], "unknown backend"),
        (["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "deng", "--kernel", "laplace", "--tau", "1", "--backend", "cuda",
          "--precision", "f64"], "float64 reference"),
    ]
    for args, needle in cases:
        out = p("err_out.npy")
        r = run(*args, "--out", out) if "required" != needle else run(*args)
        check(r.returncode != 0, f"{needle}: expected failure, got rc 0")
        check(r.returncode in (1, 2), f"{needle}: rc {r.returncode} (crash?)")
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(len(lines) == 1 and needle.lower() in lines[0].lower(), f"{needle}: stderr {r.stderr!r}")
        check(not os.path.exists(out), f"{needle}: output written despite the error")

    # the backend: cpu gives the default's bytes; cuda in a build without it is refused clearly
    base = ["--x", p("x.npy"), "--pos", p("p.npy"), "--family", "deng", "--kernel", "laplace", "--tau", "0.5,2"]
    r1, r2 = run(*base, "--out", p("b1.npy")), run(*base, "--out", p("b2.npy"), "--backend", "cpu")
    check(r1.returncode == 0 and r2.returncode == 0 and "on cpu" in r2.stderr, f"--backend cpu: {r2.stderr!r}")
    if r1.returncode == 0 and r2.returncode == 0:
        check(np.array_equal(np.load(p("b1.npy")), np.load(p("b2.npy"))), "--backend cpu changes nothing")
    r = run(*base, "--out", p("b3.npy"), "--backend", "cuda")
    if r.returncode != 0:  # a build without the CUDA backend (CI's)
        check("DRIFT_CUDA" in r.stderr and not os.path.exists(p("b3.npy")), f"--backend cuda: {r.stderr!r}")
    else:  # a CUDA build on a GPU machine: the GPU's field is the CPU's to float32 accuracy
        V1, V3 = np.load(p("b1.npy")), np.load(p("b3.npy"))
        check(np.abs(V3 - V1).max() <= 2e-4 * np.sqrt((V1 ** 2).mean()), "--backend cuda agrees with the CPU")

    r = run("--help")
    check(r.returncode == 0 and "--deng-norm" in r.stdout and "--precision" in r.stdout, "--help")

print(f"{passed} passed, {failures} failed")
sys.exit(1 if failures else 0)
