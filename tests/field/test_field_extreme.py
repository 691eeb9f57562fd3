"""drift field at extreme scales: the answer is right or the call is refused, never a wrong field.

Inputs 1e15 and 1e18 apart, or 1e18 from data spread 1, and temperatures from 1e-20 to the data's
own scale. Each case is compared with an exact evaluation of the SPEC §3 formulas in 160-digit
arithmetic (mpmath), written here independently of the engine: the float64 reference itself was
wrong at these scales (kdegrad/laplace off by 5-880 % at 1e15: log r added to r/τ ≈ 1e15 falls
below its ulp; distances of a query 1e18 away from targets 1 apart cancel in r_j − r_a).

  --precision f64 (separable families): must match the exact field to 1e-9 relative;
  --precision f64 (deng): match, or refuse with DRIFT_ENUMERIC naming float64;
  float32 fast path: match to 1e-3 relative, or refuse with a message that names --precision f64
  (either format may return 0 for an exact field below its range: 1e-30 resp. 1e-300).
Named regressions: f32 queries at 1e18 (100 % error before), f64 kdegrad/laplace at 1e15 (880 %),
--tau 1e-20 gaussian (returned the large-τ field: now refused in float32, exact in float64)."""
import os
import subprocess
import sys
import tempfile

import mpmath as mp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
t = Checks()
mp.mp.dps = 160  # exponents up to 1e80 (1e18² / 1e-40) keep 80 digits after the point


# ---- exact SPEC §3 in mpmath ----------------------------------------------------------------
def log_k(kind, r, tau, a=2):
    if kind == "gaussian":
        return -r * r / (2 * tau * tau)
    if kind == "laplace":
        return -r / tau
    return -a * mp.log1p(r * r / (2 * a * tau * tau))


def log_sharp(kind, r, tau, a=2):
    if kind == "gaussian":
        return 2 * mp.log(tau) - r * r / (2 * tau * tau)
    if kind == "laplace":
        return mp.log(tau) + mp.log(r + tau) - r / tau
    return mp.log(a * tau * tau / (a - 1)) - (a - 1) * mp.log1p(r * r / (2 * a * tau * tau))


def log_grad(kind, r, tau, a=2):
    if kind == "gaussian":
        return -r * r / (2 * tau * tau) - 2 * mp.log(tau)
    if kind == "laplace":
        return (-r / tau - mp.log(tau) - mp.log(r)) if r > 0 else mp.ninf
    return -(a + 1) * mp.log1p(r * r / (2 * a * tau * tau)) - 2 * mp.log(tau)


def dist(x, y):
    return mp.sqrt(sum((mp.mpf(a) - mp.mpf(b)) ** 2 for a, b in zip(x, y)))


def side(fam, kind, tau, x, Y, skip=-1):
    d = len(x)
    num = [mp.mpf(0)] * d
    la, lb, idx = [], [], []
    for j, y in enumerate(Y):
        if j == skip:
            continue
        r = dist(x, y)
        la.append(log_grad(kind, r, tau) if fam in ("kdegrad", "mmd") else log_k(kind, r, tau))
        lb.append(log_sharp(kind, r, tau) if fam == "sharp" else log_k(kind, r, tau))
        idx.append(j)
    if not idx:
        return num
    if fam == "mmd":  # unnormalized: mean of the kernel gradient
        for a, j in zip(la, idx):
            for k in range(d):
                num[k] += mp.exp(a) / len(idx) * (mp.mpf(Y[j][k]) - mp.mpf(x[k]))
        return num
    mx = max(lb)
    B = sum(mp.exp(b - mx) for b in lb)
    for a, j in zip(la, idx):
        e = mp.exp(a - mx)
        for k in range(d):
            num[k] += e * (mp.mpf(Y[j][k]) - mp.mpf(x[k]))
    return [v / B for v in num]


def exact_field(fam, kind, tau, X, P):
    tau = mp.mpf(tau)
    return np.array([[float(a - b) for a, b in zip(side(fam, kind, tau, x, P), side(fam, kind, tau, x, X, i))]
                     for i, x in enumerate(X)])


def exact_deng(kind, tau, X, P):
    """deng, both normalizations, self-masked negatives: A = K / sqrt(rowsum colsum)."""
    tau = mp.mpf(tau)
    n, T = len(X), X + P
    LK = [[None if j == i else log_k(kind, dist(x, y), tau) for j, y in enumerate(T)] for i, x in enumerate(X)]

    def lse(v):
        v = [a for a in v if a is not None]
        m = max(v)
        return m + mp.log(sum(mp.exp(a - m) for a in v))

    lr = [lse(row) for row in LK]
    lc = [lse([LK[i][j] for i in range(n)]) for j in range(len(T))]
    out = []
    for i, x in enumerate(X):
        A = [mp.mpf(0) if LK[i][j] is None else mp.exp(LK[i][j] - (lr[i] + lc[j]) / 2) for j in range(len(T))]
        sneg, spos = sum(A[:n]), sum(A[n:])
        v = [mp.mpf(0)] * len(x)
        for j, y in enumerate(T):
            c = -spos * A[j] if j < n else sneg * A[j]
            for k in range(len(x)):
                v[k] += c * (mp.mpf(y[k]) - mp.mpf(x[k]))
        out.append([float(a) for a in v])
    return np.array(out)


# ---- the engine -------------------------------------------------------------------------------
def run_field(tmp, fam, kind, tau, prec):
    out = os.path.join(tmp, "v.npy")
    r = subprocess.run([BIN, "field", "--x", os.path.join(tmp, "x.npy"), "--pos", os.path.join(tmp, "p.npy"),
                        "--family", fam, "--kernel", kind, "--tau", repr(tau), "--out", out, "--precision", prec,
                        "--quiet"], capture_output=True, text=True)
    return r, (np.load(out).astype(np.float64) if r.returncode == 0 else None)


def rel_err(v, ex):
    den = np.abs(ex).max()
    return np.abs(v - ex).max() / den if den > 0 else np.abs(v).max()


refused = {"f32": 0, "f64": 0}
with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(7)
    cases = [(1e15, 1e15, 3), (1e18, 1.0, 3), (1e18, 1e18, 20), (1.0, 1.0, 20)]
    for shift, spread, d in cases:
        X = (rng.normal(size=(5, d)) * spread + shift).astype(np.float32)
        P = (rng.normal(size=(6, d)) * spread).astype(np.float32)
        np.save(os.path.join(tmp, "x.npy"), X)
        np.save(os.path.join(tmp, "p.npy"), P)
        Xd, Pd = X.astype(np.float64).tolist(), P.astype(np.float64).tolist()
        taus = [1.0, 1e-20] if spread == 1.0 else [1.0, spread * 1e-3]
        for fam in ["meanshift", "sharp", "kdegrad", "mmd", "deng"]:
            for kind in ["gaussian", "laplace", "rq"]:
                for tau in taus:
                    ex = exact_deng(kind, tau, Xd, Pd) if fam == "deng" else exact_field(fam, kind, tau, Xd, Pd)
                    what = f"x ~ {shift:g} + N(0, {spread:g}^2), y ~ N(0, {spread:g}^2), d={d} {fam}/{kind} tau={tau:g}"
                    for prec in ["f64", "f32"]:
                        r, v = run_field(tmp, fam, kind, tau, prec)
                        if r.returncode != 0:
                            refused[prec] += 1
                            t.check(fam == "deng" or prec == "f32", f"{what} {prec}: refused: {r.stderr.strip()}")
                            t.check("ENUMERIC" in r.stderr or "cannot resolve" in r.stderr or "out of float32 range" in r.stderr,
                                    f"{what} {prec}: refusal names the numeric problem: {r.stderr.strip()}")
                            if prec == "f32":
                                t.check("--precision f64" in r.stderr, f"{what}: refusal points to --precision f64")
                            continue
                        err = rel_err(v, ex)
                        # (an exact field below the format's range may come back as 0)
                        ok = err < (1e-9 if prec == "f64" else 1e-3) or np.abs(v - ex).max() < (1e-300 if prec == "f64" else 1e-30)
                        t.check(ok, f"{what} {prec}: relative error {err:.3g} vs the exact field (max |V| {np.abs(ex).max():.3g})")

    # the named regressions, each on its own
    X = (rng.normal(size=(5, 3)) * 1e15).astype(np.float32)
    P = (rng.normal(size=(6, 3)) * 1e15).astype(np.float32)
    np.save(os.path.join(tmp, "x.npy"), X)
    np.save(os.path.join(tmp, "p.npy"), P)
    ex = exact_field("kdegrad", "laplace", 1.0, X.astype(np.float64).tolist(), P.astype(np.float64).tolist())
    r, v = run_field(tmp, "kdegrad", "laplace", 1.0, "f64")
    t.check(r.returncode == 0 and rel_err(v, ex) < 1e-12, "f64 kdegrad/laplace at 1e15 matches the exact field")

    X = np.full((4, 2), 1e18, np.float32) + rng.normal(size=(4, 2)).astype(np.float32) * np.float32(1e12)
    P = rng.normal(size=(5, 2)).astype(np.float32)
    np.save(os.path.join(tmp, "x.npy"), X)
    np.save(os.path.join(tmp, "p.npy"), P)
    for fam in ["meanshift", "kdegrad"]:
        ex = exact_field(fam, "gaussian", 1.0, X.astype(np.float64).tolist(), P.astype(np.float64).tolist())
        for prec in ["f32", "f64"]:
            r, v = run_field(tmp, fam, "gaussian", 1.0, prec)
            t.check(r.returncode == 0 and rel_err(v, ex) < (1e-4 if prec == "f32" else 1e-12),
                    f"{prec} {fam}/gaussian, queries at 1e18: {r.stderr.strip() or rel_err(v, ex)}")

    X = rng.normal(size=(6, 2)).astype(np.float32)
    P = rng.normal(size=(7, 2)).astype(np.float32)
    np.save(os.path.join(tmp, "x.npy"), X)
    np.save(os.path.join(tmp, "p.npy"), P)
    r, v = run_field(tmp, "meanshift", "gaussian", 1e-20, "f32")
    t.check(r.returncode != 0 and "tau 1e-20" in r.stderr and "--precision f64" in r.stderr,
            f"f32 --tau 1e-20 gaussian is refused with a message naming tau and --precision f64: {r.stderr.strip()}")
    r, v = run_field(tmp, "meanshift", "gaussian", 1e-20, "f64")
    # τ → 0: each side's meanshift is its nearest sample minus x
    Xd, Pd = X.astype(np.float64), P.astype(np.float64)
    D_pos = ((Xd[:, None] - Pd[None]) ** 2).sum(-1)
    D_neg = ((Xd[:, None] - Xd[None]) ** 2).sum(-1) + np.diag(np.full(6, np.inf))
    nn = Pd[D_pos.argmin(1)] - Xd[D_neg.argmin(1)]
    t.check(r.returncode == 0 and np.allclose(v, nn, rtol=1e-12, atol=0),
            "f64 --tau 1e-20 gaussian gives the nearest-neighbour field (not the large-tau one)")

print(f"refusals: float32 {refused['f32']}, float64 {refused['f64']}", file=sys.stderr)
sys.exit(t.summary())
