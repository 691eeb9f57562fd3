"""drift.torch.DriftLoss: its gradient is the analytic one of SPEC §4 (the trainer's, src/train/loss.c)
bit for bit from the engine's own V, and within float32 rounding of the float64 reference field;
finite differences of the objective it states agree with it; class groups and guidance negatives;
a small PyTorch MLP trained with it on swiss_roll samples drawn by the library gets a measured MMD²
improvement (drift.eval, the CLI's toy metrics); bad tensors refused before any C call; C errors as
drift.DriftError."""
import time

import numpy as np
import torch

from pyenv import Checks, SANITIZED, drift, refused_before_c
import drift.torch as dtorch

t = Checks()
torch.manual_seed(0)
torch.set_num_threads(1)
rng = np.random.default_rng(3)


def bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def loss_and_grad(x_np, pos, crit, **kw):
    x = torch.tensor(x_np, requires_grad=True)
    L = crit(x, pos, **kw)
    L.backward()
    return L, x.grad.numpy()


N, D, Pn = (48, 3, 40) if SANITIZED else (96, 5, 80)
X = rng.standard_normal((N, D)).astype(np.float32)
POS = (rng.standard_normal((Pn, D)) * 0.7 + 0.4).astype(np.float32)

# ---- the drift objective: L = mean ‖x/s − sg(x/s + V/s)‖², dL/dx = −2V/(s²·D·N) ----
for opts in (dict(family="deng", kernel="laplace", tau=0.5),
             dict(family="meanshift", kernel="gaussian", tau=[0.5, 1.5], feature_norm=True),
             dict(family="deng", kernel="laplace", tau=[0.05, 0.2], deng_released=True)):
    crit = dtorch.DriftLoss(**opts)
    L, g = loss_and_grad(X, torch.from_numpy(POS), crit)
    r = drift.field(X, POS, full=True, **opts)
    s = r.feature_scale
    want = np.float32(-2.0 / (s * s * D * N) * r.v.astype(np.float64))
    t.check(bits_equal(g, want), "drift objective %s: dL/dx = -2V/(s^2 D N) bit for bit (max diff %g)"
            % (opts, np.abs(g - want).max()))
    value = float((r.v.astype(np.float64) ** 2).sum() / (s * s * D) / N)
    t.close(crit.stats["loss"], value, 1e-12, 0, "drift objective %s: value mean |V|^2/(s^2 D)" % opts)
    t.check(L.dtype == torch.float32 and L.dim() == 0 and L.item() == np.float32(crit.stats["loss"]),
            "a 0-d float32 loss, the step's value")
    t.check(crit.stats["feature_scale"] == s and 0 < crit.stats["diversity"], "stats of the step: %r" % crit.stats)
    # against the float64 reference field (the plain formulas): float32 rounding only
    r64 = drift.field(X.astype(np.float64), POS.astype(np.float64), full=True, **opts)
    s64 = r64.feature_scale
    want64 = -2.0 / (s64 * s64 * D * N) * r64.v
    err = np.abs(g - want64).max() / np.abs(want64).max()
    t.check(err < 2e-4, "drift objective %s: within %.1e of the float64 reference gradient" % (opts, err))
    # finite differences of the objective as stated: the target x + V is held fixed (stop-gradient)
    target = (X.astype(np.float64) + r.v.astype(np.float64)) / s

    def surrogate(x):
        return ((x / s - target) ** 2).mean()
    h, worst = 1e-3, 0.0
    for k in rng.choice(N * D, 8, replace=False):
        e = np.zeros(N * D)
        e[k] = h
        e = e.reshape(N, D)
        fd = (surrogate(X + e) - surrogate(X - e)) / (2 * h)
        worst = max(worst, abs(fd - g.flat[k]) / np.abs(g).max())
    t.check(worst < 1e-4, "drift objective %s: finite differences of mean |x/s - sg(x/s + V/s)|^2 agree (%.1e)"
            % (opts, worst))

# ---- the potential objective: L = -mean Φ, dL/dx = -V/N; ∇Φ = V by finite differences ----
# As in the trainer, the negatives (the batch itself, self-masked) are data for the step: the
# gradient holds them fixed. So the finite differences move one query row and keep its negatives,
# the other rows, where they were: Φ_k(x) with neg = X without row k.
for opts in (dict(family="kdegrad", kernel="gaussian", tau=1.0), dict(family="mmd", kernel="gaussian", tau=[0.7, 2]),
             dict(family="sharp", kernel="rq", tau=1.2, rq_alpha=3)):
    crit = dtorch.DriftLoss(objective="potential", **opts)
    L, g = loss_and_grad(X, POS, crit)
    V, phi = drift.field(X, POS, potential=True, **opts)
    t.check(bits_equal(g, np.float32(-1.0 / N * V.astype(np.float64))), "potential %s: dL/dx = -V/N bit for bit" % opts)
    t.close(crit.stats["loss"], -phi.mean(), 1e-12, 1e-12, "potential %s: value -mean phi" % opts)
    h, worst = 1e-2, 0.0
    X64 = X.astype(np.float64)
    for k in rng.choice(N * D, 8, replace=False):
        row, col = divmod(int(k), D)
        others = np.delete(X64, row, axis=0)
        xq = X64[row:row + 1].copy()
        phis = []
        for sign in (1, -1):
            xq[0, col] = X64[row, col] + sign * h
            phis.append(drift.field(xq, POS.astype(np.float64), neg=others, potential=True, **opts)[1][0])
        fd = -(phis[0] - phis[1]) / (2 * h) / N
        worst = max(worst, abs(fd - g.flat[k]) / np.abs(g).max())
    t.check(worst < 1e-3, "potential %s: finite differences of -phi/N (negatives held) equal -V/N (worst %.1e of max |g|)"
            % (opts, worst))

# ---- backward scales by the incoming gradient; float64 tensors get a float64 gradient ----
crit = dtorch.DriftLoss(family="deng", kernel="laplace", tau=0.5)
_, g1 = loss_and_grad(X, POS, crit)
x = torch.tensor(X, requires_grad=True)
(3.0 * crit(x, POS)).backward()
t.check(np.allclose(x.grad.numpy(), 3 * g1, rtol=1e-6, atol=0), "backward multiplies by the incoming gradient")
x64 = torch.tensor(X.astype(np.float64), requires_grad=True)
L64 = crit(x64, POS)
L64.backward()
t.check(L64.dtype == torch.float64 and x64.grad.dtype == torch.float64 and bits_equal(x64.grad.numpy().astype(np.float32), g1),
        "float64 x: computed in float32, gradient in float64")

# ---- class groups and guidance negatives: the trainer's per-class fields ----
labels = rng.integers(0, 3, N)
pos_labels = np.arange(Pn) % 3
U = rng.standard_normal((10, D)).astype(np.float32)
opts = dict(family="deng", kernel="laplace", tau=0.5)
crit = dtorch.DriftLoss(**opts)
x = torch.tensor(X, requires_grad=True)
crit(x, POS, labels=torch.from_numpy(labels), pos_labels=pos_labels, unc=U, unc_weight=0.5).backward()
ok = True
for c in range(3):
    rows = labels == c
    V = drift.field(X[rows], POS[pos_labels == c], extra_neg=U, extra_weights=np.full(10, 0.5, np.float32), **opts)
    ok &= bits_equal(x.grad.numpy()[rows], np.float32(-2.0 / (D * N) * V.astype(np.float64)))
t.check(ok, "labels: each class's rows get -2V/(D N) of their own group's field, guidance negatives included")

# ---- bad input refused before any C call; C errors as DriftError ----
xt = torch.tensor(X, requires_grad=True)
for fn, exc, what in [
        (lambda: crit(torch.ones(N, D, dtype=torch.int32), POS), TypeError, "int tensor"),
        (lambda: crit(xt.half(), POS), TypeError, "float16 tensor"),
        (lambda: crit(X, POS), TypeError, "a NumPy array instead of a tensor"),
        (lambda: crit(xt[0], POS), ValueError, "1-D x"),
        (lambda: crit(xt, POS[:, :2]), ValueError, "pos with other D"),
        (lambda: crit(xt, POS.astype(np.int64)), TypeError, "int pos"),
        (lambda: crit(xt, POS, labels=labels), ValueError, "labels without pos_labels"),
        (lambda: crit(xt, POS, labels=labels[:5], pos_labels=pos_labels), ValueError, "labels of wrong length"),
        (lambda: crit(xt, POS, labels=labels.astype(np.float32), pos_labels=pos_labels), TypeError, "float labels"),
        (lambda: crit(xt, POS, unc=U[:, :1]), ValueError, "unc with other D")]:
    refused_before_c(t, fn, exc, what)
try:
    dtorch.DriftLoss(objective="potential", family="deng")(xt, POS)
    t.check(False, "potential with deng raises")
except drift.DriftError as e:
    t.check("potential objective needs a conservative field" in str(e) and e.status == "EINVAL",
            "potential with deng: the library's message %r" % str(e))
try:
    dtorch.DriftLoss(family="bogus")
    t.check(False, "a bad family raises at construction")
except drift.DriftError as e:
    t.check("unknown field family 'bogus'" in str(e), "bad family: %r" % str(e))
Xn = X.copy()
Xn[1, 1] = np.inf
try:
    crit(torch.tensor(Xn, requires_grad=True), POS)
    t.check(False, "Inf raises")
except drift.DriftError as e:
    t.check(e.status == "ENUMERIC" and "Inf" in str(e), "Inf in x: %r" % str(e))

# ---- a PyTorch MLP trained with DriftLoss on swiss_roll: MMD² against fresh target points falls ----
steps, batch = (120, 128) if SANITIZED else (300, 256)
data, _ = drift.toy("swiss_roll", 20000, seed=0)
net = torch.nn.Sequential(torch.nn.Linear(16, 128), torch.nn.SiLU(), torch.nn.Linear(128, 128), torch.nn.SiLU(),
                          torch.nn.Linear(128, 2))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
crit = dtorch.DriftLoss(family="deng", kernel="laplace", tau=0.05)  # drift train's toy recipe
noise_eval = torch.randn(1000, 16, generator=torch.Generator().manual_seed(123))
gen = torch.Generator().manual_seed(1)


def mmd2():
    with torch.no_grad():
        return drift.eval(net(noise_eval).numpy(), data="swiss_roll", seed=0)["toy_mmd2"]


before = mmd2()
t0 = time.monotonic()
for step in range(steps):
    pos = torch.from_numpy(data[rng.integers(0, len(data), batch)])
    loss = crit(net(torch.randn(batch, 16, generator=gen)), pos)
    opt.zero_grad()
    loss.backward()
    opt.step()
secs = time.monotonic() - t0
after = mmd2()
print("MLP on swiss_roll: %d steps of %d in %.1f s, MMD² %.5f -> %.5f (%.0fx)" % (steps, batch, secs, before, after,
                                                                                before / max(after, 1e-12)))
t.check(after < before / 10, "training with DriftLoss lowers MMD² at least 10x: %.5f -> %.5f" % (before, after))
t.check(0.5 < crit.stats["diversity"] < 2, "no collapse: diversity %.3f" % crit.stats["diversity"])

raise SystemExit(t.summary())
