"""`drift sample` options: --class takes only the generator's classes (no unconditional "null"
class: training never shows the generator one, so it would draw untrained blobs), any other value
(-1, -2) is refused; --out must be a .npy name (NumPy bytes under a .png name were written before);
the summary line names the labels file; the grid of a conditional generator has one row per class,
like training's samples_<step>.png."""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pychecks import Checks  # noqa: E402
from pngread import read_png  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
t = Checks()


def drift(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


with tempfile.TemporaryDirectory() as tmp:
    j = lambda *p: os.path.join(tmp, *p)  # noqa: E731
    # tiny labelled images (8x8, 3 classes), conditional conv generator with guidance
    lab = np.arange(150) % 3
    imgs = np.where((np.arange(64)[None, :] % 3) == lab[:, None], 200, 40).astype(np.uint8).reshape(150, 8, 8)
    np.save(j("imgs.npy"), imgs)
    np.save(j("labels.npy"), lab.astype(np.int64))
    r = drift("train", "--data", j("imgs.npy"), "--labels", j("labels.npy"), "--model", "conv", "--conditional", "1",
              "--width", "8", "--n-pos", "16", "--n-neg", "8", "--n-unc", "4", "--alpha-max", "2", "--steps", "2",
              "--eval-every", "-1", "--quiet", "--out", j("run"))
    t.check(r.returncode == 0, f"image train: {r.stderr}")
    ck = j("run", "checkpoint.safetensors")

    # --class: only 0..n_classes-1; -1 (once "unconditional") and -2 (once silently ignored) refused
    for bad in ("-1", "-2", "3", "-7"):
        out = j(f"c{bad}.npy")
        r = drift("sample", "--ckpt", ck, "--n", "4", "--class", bad, "--out", out)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        t.check(r.returncode == 2 and len(lines) == 1 and "--class must be a class of this generator, 0..2" in lines[0],
                f"--class {bad}: rc {r.returncode} {r.stderr!r}")
        t.check(not os.path.exists(out), f"--class {bad} wrote nothing")
    r = drift("sample", "--ckpt", ck, "--n", "4", "--class", "2", "--out", j("c2.npy"))
    t.check(r.returncode == 0 and np.load(j("c2_labels.npy")).tolist() == [2] * 4, f"--class 2: {r.stderr}")

    # --out: a .npy name; anything else refused with a pointer to --grid, nothing written
    for bad in ("x.png", "x", "x.npy.txt", "x.NPY"):
        r = drift("sample", "--ckpt", ck, "--n", "4", "--out", j(bad))
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        t.check(r.returncode == 2 and len(lines) == 1 and "--out must name a .npy file" in lines[0] and
                "--grid" in lines[0], f"--out {bad}: rc {r.returncode} {r.stderr!r}")
        t.check(not os.path.exists(j(bad)), f"--out {bad} wrote nothing")
    r = drift("sample", "--ckpt", ck, "--n", "4", "--out", j("y.npy"), "--labels-out", j("y.labels"))
    t.check(r.returncode == 2 and "--labels-out must name a .npy file" in r.stderr, f"--labels-out y.labels: {r.stderr!r}")

    # the summary line names every file written: samples, labels, grid
    r = drift("sample", "--ckpt", ck, "--n", "30", "--out", j("s.npy"), "--grid", j("s.png"))
    t.check(r.returncode == 0, f"sample: {r.stderr}")
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    t.check(j("s.npy") in last and "labels " + j("s_labels.npy") in last and "grid " + j("s.png") in last,
            f"summary names the files: {last!r}")
    r = drift("sample", "--ckpt", ck, "--n", "3", "--out", j("o.npy"), "--labels-out", j("o_l.npy"))
    t.check(r.returncode == 0 and "labels " + j("o_l.npy") in r.stderr and os.path.exists(j("o_l.npy")),
            f"--labels-out named: {r.stderr!r}")
    h = drift("sample", "--help").stdout
    t.check("_labels.npy" in h and "one row per class" in h and ".npy" in h and "-1 = null" not in h and "--class -1" not in h,
            f"--help documents the labels file and the grid: {h}")

    # the grid: one row per class (3 rows of 10), row k column i = the i-th sample of class k
    x = np.load(j("s.npy")).reshape(30, 8, 8)
    lab = np.load(j("s_labels.npy"))
    g = read_png(j("s.png"))
    pad, tile = 2, 16  # defaults of the grid, scale 2
    t.check(g.shape[:2] == (3 * tile + 4 * pad, 10 * tile + 11 * pad), f"3 rows x 10 columns: {g.shape}")
    if g.shape[:2] == (3 * tile + 4 * pad, 10 * tile + 11 * pad):
        worst = 0
        for k in range(3):
            of_k = np.flatnonzero(lab == k)
            for i in range(10):
                y0, x0 = pad + k * (tile + pad), pad + i * (tile + pad)
                got = g[y0:y0 + tile:2, x0:x0 + tile:2, 0].astype(float)
                want = np.clip((x[of_k[i]] + 1) / 2 * 255, 0, 255)
                worst = max(worst, np.abs(got - want).max())
        t.check(worst <= 1.01, f"tiles in class rows, worst pixel error {worst}")
    # --grid-n 6: the first 6 samples, 2 of each class: 3 rows of 2
    r = drift("sample", "--ckpt", ck, "--n", "30", "--out", j("s6.npy"), "--grid", j("s6.png"), "--grid-n", "6")
    g6 = read_png(j("s6.png")) if r.returncode == 0 else np.zeros((0, 0, 1))
    t.check(g6.shape[:2] == (3 * tile + 4 * pad, 2 * tile + 3 * pad), f"--grid-n 6: 3 rows of 2 {g6.shape}")
    # an absurd column count: no more columns than samples of a class (no overflow, no huge grid)
    r = drift("sample", "--ckpt", ck, "--n", "30", "--out", j("s7.npy"), "--grid", j("s7.png"), "--grid-cols", "2000000000")
    g7 = read_png(j("s7.png")) if r.returncode == 0 else np.zeros((0, 0, 1))
    t.check(g7.shape[:2] == (3 * tile + 4 * pad, 10 * tile + 11 * pad), f"--grid-cols 2e9: {r.stderr!r} {g7.shape}")

sys.exit(t.summary())
