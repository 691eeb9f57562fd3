#!/usr/bin/python3
"""The finite-particle theorem's conditions, measured (docs/ANALYSIS.md, section 7).

The conservative method's N^(-1/(d+4)) rate rests on two conditions whose constants the paper
keeps explicit but does not check (the referee's open question): a local-occupancy condition,
which controls the reciprocal-KDE self-interaction term, and an h-uniform quadrature regularity
condition. The paper's exact definitions are not public; we measure the quantities they bound,
with the bandwidth of the rate, h = c N^(-1/(d+4)) (gaussian K_h, normalized to a density):

  occupancy     rho_min = min_i (q_N * K_h)(x_i) / (p * K_h)(x_i) over the particles, and its
                5 % quantile: the particles' KDE at a particle against the data's smoothed
                density there (the condition asks it to stay away from 0 as N grows);
  self term     S N h^d with S = (1/N) sum_i K_h(0) / (N (q_N * K_h)(x_i)), the reciprocal-KDE
                self-interaction term in units of its nominal size 1/(N h^d) (bounded when the
                occupancy condition holds);
  quadrature    C_Q = sqrt(N h^d) max_x |(q_N - p) * K_h(x)| / max_x (p * K_h)(x), over the
                particles and 2000 data points: the kernel quadrature error in units of its
                i.i.d. (central-limit) size; "h-uniform" asks it to stay bounded as h -> 0.

Each at the rest of a kdegrad/gaussian flow (the conservative method: `drift particles`,
flow time 10, eta = 0.2 h^2) and, as the control, for N i.i.d. samples of p, on: a standard
gaussian and the two-component mixture (exact p * K_h) in d = 1, 2, and MNIST (the 9,000
training digits' pixels projected on their first d principal components, standardized; p *
K_h the KDE of all of them) in d = 2, 4.

Usage: /usr/bin/python3 scripts/analysis/conditions.py [--quick] [--json FILE]
       (DRIFT_BIN: the drift binary, default build/drift; DRIFT_DATA_DIR: holds mnist/)
Prints a Markdown table per target, and the log-log slope of each quantity against N.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

DRIFT = os.environ.get("DRIFT_BIN", "build/drift")


def gauss_kde(points, centers, h, weights=None):
    """(1/M) sum_j N(points; centers_j, h^2 I), chunked."""
    d = points.shape[1]
    norm = (2 * np.pi * h * h) ** (-d / 2)
    out = np.zeros(len(points))
    for s in range(0, len(points), 512):
        p = points[s:s + 512]
        d2 = (p * p).sum(1)[:, None] + (centers * centers).sum(1)[None] - 2 * p @ centers.T
        out[s:s + 512] = np.exp(-np.maximum(d2, 0) / (2 * h * h)).mean(1) * norm
    return out


class Target:
    """p, with p * K_h and samples."""

    def __init__(self, name, d, rows=None):
        self.name, self.d, self.rows = name, d, rows

    def spec(self, tmp):
        if self.rows is None:
            return self.name
        path = os.path.join(tmp, "target.npy")
        np.save(path, self.rows.astype(np.float32))
        return path

    def sample(self, rng, n):
        if self.rows is not None:
            return self.rows[rng.choice(len(self.rows), n, replace=False)]
        x = rng.standard_normal((n, self.d))
        if self.name.startswith("mixture"):
            x *= 0.5
            x[:, 0] += np.where(np.arange(n) % 2 == 0, 2.0, -2.0)
        return x

    def smoothed(self, pts, h):
        if self.rows is not None:
            return gauss_kde(pts, self.rows, h)
        if self.name.startswith("mixture"):  # components +-2 e1, std 0.5: N(m, (0.25 + h^2) I)
            out = np.zeros(len(pts))
            for sgn in (1.0, -1.0):
                m = np.zeros(self.d)
                m[0] = 2.0 * sgn
                v = 0.25 + h * h
                out += 0.5 * np.exp(-((pts - m) ** 2).sum(1) / (2 * v)) / (2 * np.pi * v) ** (self.d / 2)
            return out
        v = 1.0 + h * h
        return np.exp(-(pts**2).sum(1) / (2 * v)) / (2 * np.pi * v) ** (self.d / 2)


def mnist_pca(d):
    base = os.environ.get("DRIFT_DATA_DIR", "data")
    path = os.path.join(base, "mnist", "train-images-idx3-ubyte.gz")
    with gzip.open(path) as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16)
    x = raw.reshape(-1, 784).astype(np.float64) / 255.0
    x -= x.mean(0)
    _, _, vt = np.linalg.svd(x[:4000], full_matrices=False)
    z = x @ vt[:d].T
    return z / z.std(0)


def conditions(target, pts, h, rng):
    n, d = pts.shape
    qk = gauss_kde(pts, pts, h)                      # own term included, as the flow's
    pk = target.smoothed(pts, h)
    rho = qk / pk
    k0 = (2 * np.pi * h * h) ** (-d / 2)
    self_term = np.mean(k0 / (n * qk)) * n * h**d
    evals = np.concatenate([pts, target.sample(rng, 2000)])
    diff = np.abs(gauss_kde(evals, pts, h) - target.smoothed(evals, h))
    cq = np.sqrt(n * h**d) * diff.max() / target.smoothed(evals, h).max()
    return {"rho_min": float(rho.min()), "rho_q05": float(np.quantile(rho, 0.05)), "self": float(self_term),
            "cq": float(cq)}


def flow(target, spec, n, seed, h, out, quick):
    args = [DRIFT, "particles", "--dim", str(target.d), "--target", spec, "--init", "gaussian", "--n", str(n),
            "--seed", str(seed), "--h", str(h), "--time", "4" if quick else "10", "--json", "--save", out]
    if target.rows is not None:
        args += ["--n-target", str(len(target.rows))]  # the positives are all the data: p exactly
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"conditions: {' '.join(args)} failed: {r.stderr.strip()}")
    return json.loads(r.stdout), np.load(out).astype(np.float64)


def slope(ns, vals):
    ok = [(n, v) for n, v in zip(ns, vals) if v > 0]
    if len(ok) < 2:
        return float("nan")
    a = np.log([n for n, _ in ok])
    b = np.log([v for _, v in ok])
    return float(np.polyfit(a, b, 1)[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two small N, gaussian and mixture in d = 1 (the test)")
    ap.add_argument("--json", help="write every run's numbers here")
    ap.add_argument("--sizes", default="128,256,512,1024,2048")
    ap.add_argument("--mnist-sizes", default="128,256,512,1024")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    if args.quick:
        targets = [(Target("gaussian", 1), [64, 256]), (Target("mixture:2", 1), [64, 256])]
    else:
        sizes = [int(v) for v in args.sizes.split(",")]
        msizes = [int(v) for v in args.mnist_sizes.split(",")]
        targets = [(Target("gaussian", 1), sizes), (Target("mixture:2", 1), sizes), (Target("gaussian", 2), sizes),
                   (Target("mixture:2", 2), sizes), (Target("mnist-pca", 2, mnist_pca(2)), msizes),
                   (Target("mnist-pca", 4, mnist_pca(4)), msizes)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for target, sizes in targets:
            spec = target.spec(tmp)
            rows = []
            for n in sizes:
                h = n ** (-1.0 / (target.d + 4))
                info, pts = flow(target, spec, n, 0, h, os.path.join(tmp, "p.npy"), args.quick)
                rest = conditions(target, pts, h, rng)
                iid = conditions(target, target.sample(rng, n), h, rng)
                rows.append({"n": n, "h": h, "residual": info["residual"], "flow": rest, "iid": iid})
            results.append({"target": target.name, "d": target.d, "rows": rows})
            print(f"\n{target.name}, d = {target.d} (h = N^(-1/{target.d + 4}); flowed | i.i.d.)\n")
            print("| N | h | final R | rho_min | rho 5% | S N h^d | C_Q |")
            print("|---:|---:|---:|---:|---:|---:|---:|")
            for r in rows:
                f, c = r["flow"], r["iid"]
                print(f"| {r['n']} | {r['h']:.3f} | {r['residual']:.2e} | {f['rho_min']:.3f} \\| {c['rho_min']:.3f} | "
                      f"{f['rho_q05']:.3f} \\| {c['rho_q05']:.3f} | {f['self']:.3f} \\| {c['self']:.3f} | "
                      f"{f['cq']:.3f} \\| {c['cq']:.3f} |")
            ns = [r["n"] for r in rows]
            print("| slope vs N | | | " + " | ".join(
                f"{slope(ns, [r['flow'][k] for r in rows]):+.2f} \\| {slope(ns, [r['iid'][k] for r in rows]):+.2f}"
                for k in ("rho_min", "rho_q05", "self", "cq")) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
