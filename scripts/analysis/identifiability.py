#!/usr/bin/python3
"""Equilibrium identifiability of the drift-field families (docs/ANALYSIS.md, section 6).

Franz et al.: a conservative field v = grad log(p * K) - grad log(q * K) is at rest only where
the particles' smoothed density equals the data's, q * K = p * K, which (K characteristic)
identifies q = p; the original displacement field of a laplace kernel is at rest elsewhere: its
fixed points differ from the data's KDE by a scale-mismatch term. This script lets N particles
flow to rest under each family with `drift particles` (2-D, target mixture:2, fixed bandwidth h)
and measures how far the resting particles' KDE is from the data's, in three smoothings:

    E_K(q) = || q_N * K - p_M * K ||_2 / || p_M * K ||_2      on a 2-D grid,

K = gaussian, laplace and laplace-sharp (tau (r + tau) exp(-r/tau)) of bandwidth h, each
normalized to a density. The data are M samples of the mixture, fixed and written to an .npy
that every flow gets as its target with --n-target M, so the data side of every field is
exactly p_M (and p_M * K is what a conservative field's rest point should match). The flows start
from N i.i.d. samples of the mixture, half in each component (so does the data: no mass has to
move between the modes); the control is another such draw, not flowed. A family whose rest points are the data's
KDE has E under its own kernel falling with N; one with a bias floor does not.

Usage: /usr/bin/python3 scripts/analysis/identifiability.py [--quick] [--json FILE] [--sizes 256,512,1024]
       [--seeds 2] [--m 4096] [--h 0.4] [--time 10]
       (DRIFT_BIN: the drift binary, default build/drift)
Prints a Markdown table (means over seeds).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

DRIFT = os.environ.get("DRIFT_BIN", "build/drift")
# (family, kernel, its own smoothing, displacement field: flow time in units of 1/h^2)
FAMILIES = [
    ("kdegrad", "gaussian", "gaussian", False),
    ("meanshift", "gaussian", "gaussian", True),
    ("sharp", "laplace", "sharp", False),
    ("meanshift", "laplace", "laplace", True),
    ("deng", "laplace", "laplace", True),
]
MEANS = np.array([[2.0, 0.0], [-2.0, 0.0]])
STD = 0.5
STEP = 0.04
XS = np.arange(-5.0, 5.0 + 1e-9, STEP)
YS = np.arange(-3.5, 3.5 + 1e-9, STEP)
GX, GY = np.meshgrid(XS, YS, indexing="xy")  # (len(YS), len(XS))


def kernel_profile(kind, r, h):
    if kind == "gaussian":
        return np.exp(-(r**2) / (2 * h * h))
    if kind == "laplace":
        return np.exp(-r / h)
    return h * (r + h) * np.exp(-r / h)  # the laplace kernel's sharp companion


def smoothed_particles(kind, h, pts):
    """q_N * K on the grid, K normalized as in kernel_grid."""
    half = int(np.ceil(12 * h / STEP))
    u = np.arange(-half, half + 1) * STEP
    kx, ky = np.meshgrid(u, u, indexing="xy")
    z = kernel_profile(kind, np.hypot(kx, ky), h)
    scale = 1.0 / (z.sum() * STEP * STEP)  # the same normalization as kernel_grid
    out = np.zeros_like(GX)
    for s in range(0, len(pts), 256):
        chunk = pts[s:s + 256]
        r = np.hypot(GX[None] - chunk[:, 0, None, None], GY[None] - chunk[:, 1, None, None])
        out += kernel_profile(kind, r, h).sum(0)
    return out * scale / len(pts)


def rel_l2(a, b):
    return float(np.sqrt(((a - b) ** 2).sum() / (b**2).sum()))


def flow(fam, ker, displacement, n, seed, h, time, target, m, init, out):
    args = [DRIFT, "particles", "--dim", "2", "--target", target, "--init", init, "--n", str(n),
            "--seed", str(seed), "--family", fam, "--kernel", ker, "--h", str(h), "--n-target", str(m),
            "--json", "--save", out]
    args += ["--time-h2", str(time)] if displacement else ["--time", str(time)]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"identifiability: {' '.join(args)} failed: {r.stderr.strip()}")
    return json.loads(r.stdout), np.load(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one small N and M, one seed (the test)")
    ap.add_argument("--json", help="write the per-run results here")
    ap.add_argument("--h", type=float, default=0.4)
    ap.add_argument("--time", type=float, default=10.0)
    ap.add_argument("--sizes", default="256,512,1024", help="particle counts N")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--m", type=int, default=4096, help="data samples M")
    args = ap.parse_args()
    small = os.environ.get("DRIFT_SANITIZE") in ("1", "ON", "TRUE", "true")  # the sanitizer build's tests
    sizes = [128 if small else 256] if args.quick else [int(v) for v in args.sizes.split(",")]
    seeds = [0] if args.quick else list(range(args.seeds))
    time = args.time
    h = 0.5 if args.quick and small else args.h  # the sanitizer build: fewer, longer steps (eta ~ h^2)
    kinds = ["gaussian", "laplace", "sharp"]
    rows = []
    rng = np.random.default_rng(12345)
    m = (512 if small else 1024) if args.quick else args.m
    # exactly half the data and half of every start in each component: the flows then need no
    # mass moved between the modes (the slowest motion, which would measure mixing time, not
    # where the flow comes to rest)
    balanced = lambda k: MEANS[np.arange(k) % 2] + STD * rng.standard_normal((k, 2))
    target = balanced(m).astype(np.float32)
    data = {k: smoothed_particles(k, h, target) for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        tpath = os.path.join(tmp, "target.npy")
        np.save(tpath, target)
        for n in sizes:
            for seed in seeds:
                iid = balanced(n)
                ipath = os.path.join(tmp, "init.npy")
                np.save(ipath, balanced(n).astype(np.float32))
                rows.append({"field": "i.i.d. samples (control)", "n": n, "seed": seed, "residual": None,
                             **{f"E_{k}": rel_l2(smoothed_particles(k, h, iid), data[k]) for k in kinds}})
                for fam, ker, own, disp in FAMILIES:
                    if small and args.quick and fam == "deng":
                        continue  # the sanitizer build's small form: the fields the test checks
                    info, pts = flow(fam, ker, disp, n, seed, h, time, tpath, m, ipath, os.path.join(tmp, "p.npy"))
                    rows.append({"field": f"{fam}-{ker}", "own": own, "n": n, "seed": seed,
                                 "residual": info["residual"], "mmd2": info["mmd2"],
                                 **{f"E_{k}": rel_l2(smoothed_particles(k, h, pts), data[k]) for k in kinds}})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(f"M = {m} data samples, h = {h}, flow time {time} (displacement fields: {time}/h^2), seeds {seeds}; "
          "E = relative L2 distance of the particles' KDE from the data's, under each smoothing; "
          "own kernel in bold")
    print()
    print("| field | N | final R | E gaussian | E laplace | E sharp |")
    print("|---|---:|---:|---:|---:|---:|")
    names = ["i.i.d. samples (control)"] + [f"{f}-{k}" for f, k, _, _ in FAMILIES]
    names = [nm for nm in names if any(r["field"] == nm for r in rows)]
    for name in names:
        for n in sizes:
            sel = [r for r in rows if r["field"] == name and r["n"] == n]
            own = sel[0].get("own")
            res = [r["residual"] for r in sel if r["residual"] is not None]
            cells = []
            for k in kinds:
                v = np.mean([r[f"E_{k}"] for r in sel])
                cells.append(f"**{v:.4f}**" if k == own else f"{v:.4f}")
            rtxt = f"{np.mean(res):.2e}" if res else "—"
            print(f"| {name} | {n} | {rtxt} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
