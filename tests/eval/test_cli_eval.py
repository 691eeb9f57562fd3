"""End-to-end tests of `drift classifier` and `drift eval` ($DRIFT_BIN) on real Fashion-MNIST,
with a tiny classifier (20 steps on 500 images) in a temporary cache directory: the JSON and
table outputs, FID(test, test) = 0, equal metrics whatever the sample file layout (uint8
(n, 28, 28), float (n, 784), float (n, 1, 28, 28)), the toy-2D metrics, and clear errors for
bad shapes, a missing classifier, wrong labels and a misspelt dataset -- the bad files refused
before any classifier is trained."""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evallib import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN")
if not BIN or not os.path.exists(BIN):
    sys.exit("DRIFT_BIN must name the built drift CLI, got %r" % BIN)
FASHION = "/usr/share/datasets/fashion-mnist"
t = Checks()
N = 200  # test images used as samples and as the reference set


def drift(*args):
    p = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def read_idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


tmp = tempfile.TemporaryDirectory()
cache = os.path.join(tmp.name, "cache")
images = read_idx(FASHION + "/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)[:N]
labels = read_idx(FASHION + "/t10k-labels-idx1-ubyte.gz", 8)[:N].astype(np.int64)


def save(name, array):
    path = os.path.join(tmp.name, name)
    np.save(path, array)
    return path


u8 = save("u8.npy", images)
flat = save("flat.npy", (images.reshape(-1, 784) / 127.5 - 1).astype(np.float32))
chw = save("chw.npy", (images[:, None] / 127.5 - 1).astype(np.float32))
lab = save("labels.npy", labels)
common = ["--data", "fashion-mnist", "--cache-dir", cache, "--n-ref", N]

# ---- no classifier yet, training refused: a clear error ----
rc, out, err = drift("eval", "--samples", u8, "--no-train", *common)
t.check(rc == 1 and "drift classifier train --data fashion-mnist" in err, "missing classifier: %s" % err)

# ---- train a tiny classifier into the cache ----
rc, out, err = drift("classifier", "train", "--data", "fashion-mnist", "--cache-dir", cache,
                     "--n-train", 500, "--n-test", 500, "--max-steps", 20, "--batch", 50, "--json")
t.check(rc == 0, "classifier train: rc %d %s" % (rc, err))
info = json.loads(out) if rc == 0 else {}
path = os.path.join(cache, "classifier-fashion-mnist.safetensors")
t.check(info.get("path") == path and os.path.exists(path), "saved to the cache: %r" % info)
t.check(0.3 < info.get("test_accuracy", 0) <= 1 and info.get("steps") == 20, "accuracy and steps")
rc, out, err = drift("classifier", "info", "--data", "fashion-mnist", "--cache-dir", cache, "--json")
t.check(rc == 0 and json.loads(out)["test_accuracy"] == info.get("test_accuracy"), "classifier info")
rc, out, err = drift("classifier", "info", "--data", "mnist", "--cache-dir", cache)
t.check(rc == 1 and "no classifier for mnist" in err, "info of a missing classifier: %s" % err)
rc, out, err = drift("classifier", "train", "--data", "fashion-mnist", "--augment", "maybe")
t.check(rc == 2 and "--augment" in err, "bad --augment value")

# ---- the reference set against itself, in three file layouts ----
results = []
for path_ in (u8, flat, chw):
    rc, out, err = drift("eval", "--samples", path_, "--labels", lab, "--json", *common)
    t.check(rc == 0, "eval %s: rc %d %s" % (path_, rc, err))
    results.append(json.loads(out) if rc == 0 else {})
m = results[0]
t.check(m.get("fid", 1) < 1e-6 and m.get("fid", -1) >= 0, "FID(test, test) = 0: %r" % m.get("fid"))
# The k-NN reference leaves out test images the (tiny) classifier calls outliers; without any,
# the set against itself gives P = R = C = 1.
rej = m.get("n_reference_outliers", -1)
t.check(0 <= rej < N // 10 and m.get("n_prdc") == N - rej, "reference outliers %r, n_prdc %r" % (rej, m.get("n_prdc")))
if rej == 0:
    t.check(m.get("precision") == 1 and m.get("recall") == 1 and m.get("coverage") == 1, "P = R = C = 1")
else:
    t.check(min(m.get("precision", 0), m.get("recall", 0), m.get("coverage", 0)) > 0.9, "P, R, C near 1: %r" % m)
t.check(m.get("n_samples") == N and m.get("n_reference") == N and m.get("k") == 3, "sizes")
t.check(0 <= m.get("class_accuracy", -1) <= 1, "class accuracy with --labels")
# Float (n, 784) and (n, 1, 28, 28) hold the same values: the same metrics exactly. uint8 is
# scaled by the loader, so its values may differ in the last bit: metrics agree closely,
# except density, which for a set against itself counts neighbours lying exactly on the
# ball boundaries and so jumps with the last bit.
t.check(results[1] == results[2] or
        all(results[1].get(k) == results[2].get(k) for k in results[1] if k not in ("samples", "seconds")),
        "flat and channel-first files give identical metrics")
for key in ("fid", "precision", "recall", "coverage", "mmd2", "class_accuracy"):
    t.check(abs(results[1].get(key, 9) - m.get(key, -9)) < 1e-5,
            "uint8 vs float %s: %r vs %r" % (key, results[1].get(key), m.get(key)))

# ---- noise is far; the table output; --n limits the samples ----
noise = save("noise.npy", np.random.default_rng(0).uniform(-1, 1, (150, 28, 28)).astype(np.float32))
rc, out, err = drift("eval", "--samples", noise, "--n", 100, *common)
t.check(rc == 0 and "FID" in out and "precision" in out and "MMD" in out, "table output: %s" % err)
t.check("class accuracy" not in out, "no class accuracy without labels")
rc, out, err = drift("eval", "--samples", noise, "--n", 100, "--json", *common)
mn = json.loads(out) if rc == 0 else {}
t.check(mn.get("n_samples") == 100 and mn.get("fid", 0) > 1.0 and mn.get("class_accuracy", 0) is None,
        "noise: %r" % mn)

# ---- bad input: clear errors, before any classifier is trained ----
# An empty cache with training allowed: a bad file must be refused at once, not after
# minutes of training a classifier it cannot be scored with.
empty = ["--data", "fashion-mnist", "--cache-dir", os.path.join(tmp.name, "empty"), "--n-ref", N]
rc, out, err = drift("eval", "--samples", save("pts.npy", np.zeros((50, 2), np.float32)), *empty)
t.check(rc == 1 and "toy" in err, "2-D points against images: %s" % err)
rc, out, err = drift("eval", "--samples", save("small.npy", np.zeros((50, 27, 27), np.uint8)), *empty)
t.check(rc == 1 and "27x27x1" in err and "28x28x1" in err, "wrong image size: %s" % err)
rc, out, err = drift("eval", "--samples", u8, "--labels", save("short.npy", labels[:10]), *empty)
t.check(rc == 1 and "labels" in err.lower(), "labels of the wrong length: %s" % err)
rc, out, err = drift("eval", "--samples", u8, "--labels", save("big.npy", labels + 10), *empty)
t.check(rc == 1 and "outside [0, 10)" in err and "sample 0" in err, "labels out of range: %s" % err)
t.check("training" not in err and not os.path.exists(os.path.join(tmp.name, "empty")),
        "bad input is refused before a classifier is trained")
rc, out, err = drift("eval", "--samples", u8, "--data", "fashion-mnsit")
t.check(rc == 1 and "unknown dataset" in err and "fashion-mnist" in err, "misspelt dataset: %s" % err)
rc, out, err = drift("eval", "--data", "fashion-mnist")
t.check(rc == 2 and "--samples" in err, "missing --samples is a usage error")

# ---- toy 2-D data ----
r = np.random.default_rng(1)
good = save("good.npy", r.normal(size=(800, 2)).astype(np.float32))
bad = save("bad.npy", (r.normal(size=(800, 2)) * 0.3 + 1.5).astype(np.float32))
rc, out, err = drift("eval", "--samples", good, "--data", "gaussian", "--json")
g = json.loads(out) if rc == 0 else {}
rc2, out2, err2 = drift("eval", "--samples", bad, "--data", "gaussian", "--json")
b = json.loads(out2) if rc2 == 0 else {}
t.check(rc == 0 and rc2 == 0, "toy eval runs: %s %s" % (err, err2))
t.check(abs(g.get("toy_mmd2", 1)) < 0.01 and b.get("toy_mmd2", 0) > 0.1, "toy MMD²: %r %r" % (g, b))
t.check(g.get("toy_energy", 1) < 0.02 and b.get("toy_energy", 0) > 0.5, "toy energy")
t.check(g.get("toy_sliced_w2", 1) < 0.2 and b.get("toy_sliced_w2", 0) > 0.8, "toy sliced W2")
t.check(g.get("n_samples") == 800, "toy n")
t.check(0.9 < g.get("toy_diversity", 0) < 1.1 and g.get("toy_dup_frac", 1) < 0.03, "toy collapse figures: %r" % g)
# samples 1e19 times too large are far off on every toy metric (energy once read 0)
huge = save("huge.npy", (r.normal(size=(800, 2)) * 1e19).astype(np.float32))
rc, out, err = drift("eval", "--samples", huge, "--data", "gaussian", "--json")
h = json.loads(out) if rc == 0 else {}
t.check(rc == 0 and h.get("toy_energy", 0) > 1e18 and h.get("toy_sliced_w2", 0) > 1e18 and
        h.get("toy_mmd2", 0) > 0.1 and h.get("toy_diversity", 0) > 1e17, "samples x 1e19: %r %s" % (h, err))
rc, out, err = drift("eval", "--samples", flat, "--data", "moons")
t.check(rc == 1 and "(n, 2)" in err, "images against a toy: %s" % err)

# ---- drift train --eval-every: image metrics in metrics.jsonl and the FID plot (the tiny cached classifier) ----
run = os.path.join(tmp.name, "run")
p = subprocess.run([BIN, "train", "--data", "fashion-mnist", "--steps", "2", "--classes-per-step", "2",
                    "--n-pos", "8", "--n-neg", "8", "--n-unc", "4", "--width", "8", "--eval-every", "1",
                    "--eval-n", "64", "--sample-every", "0", "--out", run],
                   capture_output=True, text=True, env=dict(os.environ, DRIFT_CACHE_DIR=cache))
t.check(p.returncode == 0, "train with --eval-every: %s" % p.stderr[-500:])
rows = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))] if p.returncode == 0 else []
evals = [r for r in rows if r.get("fid") is not None]
t.check([r["step"] for r in evals] == [1, 2], "evaluated at steps 1 and 2: %r" % [r.get("step") for r in rows])
for key in ("fid", "precision", "recall", "density", "coverage", "mmd2", "class_accuracy"):
    t.check(all(key in r and r[key] is not None for r in evals), "training metrics have %s" % key)
t.check(all(r["fid"] >= 0 and 0 <= r["class_accuracy"] <= 1 for r in evals), "metric ranges")
t.check(os.path.exists(os.path.join(run, "fid.png")) and os.path.exists(os.path.join(run, "fid.svg")), "FID plot")
t.check("eval at step 2: FID" in p.stderr, "evaluations reported on the progress output")

sys.exit(t.summary())
