# %% [markdown]
# # drift from Python: a walkthrough
#
# Run it as a script (`/usr/bin/python3 examples/python_walkthrough.py`) or cell by cell (`# %%`
# cells open as a notebook in Jupyter/VS Code). It needs `scripts/setup && scripts/build` once: the
# build makes `build/libdrift.so` and `build/drift`, the set-up makes `import drift` work for Debian's
# python3. Everything below takes about half a minute of CPU time (two idle cores: under a minute).

# %%
import os
import subprocess
import tempfile

import numpy as np

import drift

print("libdrift", drift.version(), "from", drift.lib_path())

# %% [markdown]
# ## 1. A drift field on NumPy arrays
#
# Queries `x` (generated samples) are attracted to the positives `pos` (data) and repelled from
# the negatives — by default `x` itself with each row's own entry left out. Every option of
# `drift field` is a keyword (docs/MATH.md has the formulas).

# %%
x, _ = drift.toy("gaussian", 500, seed=1)                 # (500, 2) float32
pos, _ = drift.toy("8gaussians", 800, seed=2)
V = drift.field(x, pos, family="sharp", kernel="laplace", tau=[0.05, 0.2])
print("V", V.shape, V.dtype, "RMS", np.sqrt((V ** 2).mean()))

# float32 in -> the blocked float32 fast path, used in place (no copy); float64 -> the plain
# float64 reference. They agree to float32 rounding:
V64 = drift.field(x.astype(np.float64), pos.astype(np.float64), family="sharp", kernel="laplace", tau=[0.05, 0.2])
print("fast path vs float64 reference: max |diff| =", np.abs(V - V64).max())

# Conservative families (sharp, kdegrad, mmd) have a potential Φ with ∇Φ = V:
V, phi = drift.field(x, pos, family="kdegrad", kernel="gaussian", tau=0.5, potential=True)
print("phi", phi.shape, phi[:3])

# full=True: the per-row diagnostics and scalars of `drift field --diagnostics`
r = drift.field(x, pos, family="deng", kernel="laplace", tau=0.05, deng_released=True, full=True)
print(r, "feature scale s =", r.feature_scale, "per-temperature RMS", r.tau_rms)

# %% [markdown]
# ## 2. Errors
#
# Wrong dtypes and shapes are refused in Python, before the library sees anything; what the
# library refuses arrives as `drift.DriftError` with its one-line message.

# %%
for call in (lambda: drift.field(x.astype(np.int32), pos),
             lambda: drift.field(x, pos[:, :1]),
             lambda: drift.field(x, pos, family="meanshift", potential=True)):
    try:
        call()
    except (TypeError, ValueError, drift.DriftError) as e:
        print(type(e).__name__ + ":", e)

# %% [markdown]
# ## 3. The training objective and its gradient
#
# `drift.loss` is the function `drift train` steps with: the drift objective
# mean ‖x/s − sg(x/s + V/s)‖² has gradient −2V/(s²·D·N); the potential objective −mean Φ has
# gradient −V/N. `drift.torch.DriftLoss` wraps it as an `nn.Module`
# (examples/python_torch_train.py trains an MLP with it).

# %%
value, grad, stats = drift.loss(x, pos, family="deng", kernel="laplace", tau=0.05)
V = drift.field(x, pos, family="deng", kernel="laplace", tau=0.05)
print("loss %.4g; grad == -2V/(D N): %s; diversity %.2f"
      % (value, np.array_equal(grad, np.float32(-2.0 / (2 * len(x)) * V.astype(np.float64))), stats["diversity"]))

# %%
import torch  # noqa: E402
import drift.torch  # noqa: E402

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.SiLU(), torch.nn.Linear(64, 2))
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
loss_fn = drift.torch.DriftLoss(family="deng", kernel="laplace", tau=0.05)
data, _ = drift.toy("8gaussians", 10000, seed=0)
z_eval = torch.randn(1000, 8, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    before = drift.eval(net(z_eval).numpy(), data="8gaussians")["toy_mmd2"]
for step in range(200):
    loss = loss_fn(net(torch.randn(256, 8)), torch.from_numpy(data[np.random.randint(0, 10000, 256)]))
    opt.zero_grad()
    loss.backward()
    opt.step()
with torch.no_grad():
    after = drift.eval(net(z_eval).numpy(), data="8gaussians")["toy_mmd2"]
print("8gaussians MMD²: %.4f before, %.4f after 200 steps" % (before, after))

# %% [markdown]
# ## 4. Sampling a `drift train` checkpoint, and scoring the samples
#
# `drift.load_generator(path).sample(n, cls=None, alpha=1.0, seed=0)` gives the same bytes as
# `drift sample --ckpt path --n n --seed seed`. Here a toy generator is trained for a few hundred
# steps with the CLI first (set CKPT to use your own checkpoint instead).

# %%
cli = os.environ.get("DRIFT_BIN") or os.path.join(os.path.dirname(drift.lib_path()), "drift")
ckpt = os.environ.get("CKPT")
tmp = tempfile.mkdtemp()  # the run directory and samples stay there to look at
if not ckpt:
    subprocess.run([cli, "train", "--data", "swiss_roll", "--preset", "quick", "--steps", "300", "--eval-every", "-1",
                    "--quiet", "--out", os.path.join(tmp, "run")], check=True)
    ckpt = os.path.join(tmp, "run", "checkpoint.safetensors")
g = drift.load_generator(ckpt)
print(g)
s = g.sample(2000, seed=0)
subprocess.run([cli, "sample", "--ckpt", ckpt, "--n", "2000", "--seed", "0", "--out", os.path.join(tmp, "s.npy")],
               check=True, capture_output=True)
print("drift.load_generator(...).sample == drift sample:", np.array_equal(s, np.load(os.path.join(tmp, "s.npy"))))

# %%
m = drift.eval(s, data="swiss_roll")          # == drift eval --samples s.npy --data swiss_roll --json
print({k: round(v, 5) if isinstance(v, float) else v for k, v in m.items()})
# Image datasets work the same way: drift.eval(samples, labels, data="fashion-mnist") scores in
# the features of drift's own classifier (trained once, cached in ~/.cache/drift, minutes); to
# score several sets, open one drift.Evaluator("fashion-mnist") and call .score(samples).
