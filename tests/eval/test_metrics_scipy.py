"""The metric math of libdrift against SciPy / NumPy references on random features:
the PSD square root and FID against scipy.linalg.sqrtm and the pytorch-fid formula,
statistics against numpy.cov, precision/recall/density/coverage against a brute-force
implementation of the papers' definitions, MMD² and the energy distance against plain
NumPy (and scipy.stats.energy_distance in 1-D)."""
import os
import sys

import numpy as np
import scipy.linalg
import scipy.spatial.distance
import scipy.stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evallib import Checks, Lib  # noqa: E402

lib = Lib()
t = Checks()
rng = np.random.default_rng(0)


def features(n, d, shift=0.0, scale=1.0, seed=1):
    """Correlated, non-gaussian features (ReLU of a random linear map), like a network's."""
    r = np.random.default_rng(seed)
    w = np.random.default_rng(99).normal(size=(d, d)) / np.sqrt(d)
    return np.maximum(r.normal(size=(n, d)) * scale @ w + shift, 0).astype(np.float32)


def fid_reference(a, b):
    """The pytorch-fid computation: scipy's general sqrtm of the product C1 C2."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    m1, m2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(c1 @ c2)
    covmean = covmean.real
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean))


# ---- the square root of a positive definite and of a singular PSD matrix ----
for n, rank in ((40, 40), (30, 12)):
    b = rng.normal(size=(n, rank))
    a = b @ b.T
    got = lib.sqrtm(a)
    want = scipy.linalg.sqrtm(a).real
    err = np.abs(got - want).max() / np.abs(want).max()
    t.check(err < 1e-6, "sqrtm %dx%d rank %d: relative error %.3g" % (n, n, rank, err))
    t.check(np.abs(got @ got - a).max() < 1e-8 * np.abs(a).max(), "sqrtm squared gives A back")

# ---- mean and covariance ----
x = features(700, 24)
mean, cov = lib.stats(x)
t.check(np.abs(mean - x.astype(np.float64).mean(0)).max() < 1e-12, "mean vs numpy")
t.check(np.abs(cov - np.cov(x.astype(np.float64), rowvar=False)).max() < 1e-12, "cov vs numpy.cov")

# ---- FID on random features, several sizes and distances ----
cases = [
    (features(2000, 64, seed=1), features(1500, 64, seed=2)),               # same distribution
    (features(2000, 64, seed=1), features(2000, 64, shift=0.3, seed=3)),    # shifted
    (features(1000, 32, seed=4), features(1200, 32, scale=1.7, seed=5)),    # wider
    (features(300, 48, seed=6), features(400, 48, shift=-0.2, seed=7)),     # few rows vs dim
]
for a, b in cases:
    got = lib.fid(a, b)
    want = fid_reference(a, b)
    t.close(got, want, 1e-6, 1e-8, "FID vs scipy (%s vs %s)" % (a.shape, b.shape))
    t.check(got >= 0, "FID >= 0")
t.check(lib.fid(cases[0][0], cases[0][1]) < 0.2 * lib.fid(cases[1][0], cases[1][1]),
        "same-distribution FID is well below the shifted one")
t.check(abs(lib.fid(cases[0][0], cases[0][0])) < 1e-9, "FID(x, x) = 0")
bad = cases[0][1].copy()
bad[17, 3] = np.nan
try:
    lib.fid(cases[0][0], bad)
    t.check(False, "FID of features holding NaN must fail")
except RuntimeError as e:
    t.check("second set" in str(e) and "row 17" in str(e), "NaN error names the set and row: %s" % e)

# ---- precision / recall / density / coverage against the papers' definitions ----
def prdc_reference(real, fake, k):
    real = real.astype(np.float64)
    fake = fake.astype(np.float64)
    drr = scipy.spatial.distance.cdist(real, real, "sqeuclidean")
    dff = scipy.spatial.distance.cdist(fake, fake, "sqeuclidean")
    drf = scipy.spatial.distance.cdist(real, fake, "sqeuclidean")
    rr = np.sort(drr, axis=1)[:, k]  # column 0 is the point itself
    rf = np.sort(dff, axis=1)[:, k]
    precision = (drf <= rr[:, None]).any(axis=0).mean()
    recall = (drf <= rf[None, :]).any(axis=1).mean()
    density = (drf <= rr[:, None]).sum() / (k * fake.shape[0])
    coverage = (drf.min(axis=1) <= rr).mean()
    return precision, recall, density, coverage


for k in (3, 5):
    real = features(600, 40, seed=10)
    fake = features(500, 40, shift=0.15, scale=0.8, seed=11)
    got = lib.prdc(real, fake, k)
    want = prdc_reference(real, fake, k)
    for name, g, w in zip(("precision", "recall", "density", "coverage"), got, want):
        t.close(g, w, 0, 2.5e-3, "%s (k=%d)" % (name, k))  # at most one boundary point apart
    t.check(0.05 < got[0] < 0.999 and 0.05 < got[1] < 0.999, "metrics away from 0 and 1")
    same = lib.prdc(real, real, k)
    t.check(same[0] == 1 and same[1] == 1 and same[3] == 1, "identical sets: P = R = C = 1")

# ---- MMD² and energy distance ----
x = features(400, 20, seed=20)
y = features(350, 20, shift=0.1, seed=21)
xd, yd = x.astype(np.float64), y.astype(np.float64)
dxx = scipy.spatial.distance.cdist(xd, xd, "sqeuclidean")
med = np.median(dxx[np.triu_indices(len(xd), 1)])
t.close(lib.median_sqdist(x), med, 1e-5, 0, "median squared distance")


def kernel(d2):
    return np.exp(-d2 / (2 * med))


kxx = kernel(dxx)
kyy = kernel(scipy.spatial.distance.cdist(yd, yd, "sqeuclidean"))
kxy = kernel(scipy.spatial.distance.cdist(xd, yd, "sqeuclidean"))
nx, ny = len(xd), len(yd)
mmd_ref = ((kxx.sum() - np.trace(kxx)) / (nx * (nx - 1)) + (kyy.sum() - np.trace(kyy)) / (ny * (ny - 1))
           - 2 * kxy.mean())
t.close(lib.mmd2(x, y, med), mmd_ref, 1e-4, 1e-7, "MMD² vs numpy")

e_ref = (2 * scipy.spatial.distance.cdist(xd, yd).mean() - scipy.spatial.distance.cdist(xd, xd).mean()
         - scipy.spatial.distance.cdist(yd, yd).mean())
t.close(lib.energy(x, y), e_ref, 1e-4, 1e-7, "energy distance vs numpy")
u = rng.normal(size=(500, 1)).astype(np.float32)
v = (rng.normal(size=(300, 1)) * 1.3 + 0.2).astype(np.float32)
t.close(lib.energy(u, v), scipy.stats.energy_distance(u[:, 0], v[:, 0]) ** 2, 1e-5, 1e-9,
        "1-D energy distance = scipy.stats.energy_distance²")

sys.exit(t.summary())
