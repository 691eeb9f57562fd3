"""drift.eval equals `drift eval --json`: toy 2-D metrics (MMD², energy, sliced W2, collapse figures)
and image metrics in a tiny classifier's features (trained here into a temporary cache: 20 steps on
500 Fashion-MNIST images), with and without labels, for float and uint8 samples in the layouts the
CLI reads; an Evaluator scoring twice; drift.toy against the library's points; bad samples refused
before any C call (and before any classifier is trained); C errors as drift.DriftError."""
import json
import os
import tempfile

import numpy as np

from pyenv import Checks, SANITIZED, cli, drift, refused_before_c

t = Checks()
rng = np.random.default_rng(5)


def same_metrics(py, cli_json, what, skip=("samples", "seconds")):
    keys = set(cli_json) - set(skip)
    diff = {k: (py.get(k), cli_json[k]) for k in keys if py.get(k, "missing") != cli_json[k]}
    t.check(not diff, "%s: drift.eval == drift eval --json (differences: %r)" % (what, diff))


with tempfile.TemporaryDirectory() as tmp:
    j = lambda *p: os.path.join(tmp, *p)  # noqa: E731

    # ---- toys ----
    for toy, n, seed in (("swiss_roll", 600, 0), ("8gaussians", 400, 3)):
        pts, _ = drift.toy(toy, n, seed=11)
        x = (pts + rng.normal(0, 0.05, pts.shape)).astype(np.float32)
        np.save(j("toy.npy"), x)
        rc, out, err = cli("eval", "--samples", j("toy.npy"), "--data", toy, "--seed", seed, "--json")
        t.check(rc == 0, "toy eval CLI: %s" % err)
        m = drift.eval(x, data=toy, seed=seed)
        same_metrics(m, json.loads(out) if rc == 0 else {}, "%s seed %d" % (toy, seed))
        t.check(m["n_samples"] == n and m["toy_mmd2"] < 0.05, "%s: %r" % (toy, m))
        t.check(drift.eval(x.astype(np.float64), data=toy, seed=seed, n=100) ==
                drift.eval(x[:100], data=toy, seed=seed), "n= scores the first n rows; float64 converted")
    # drift.toy: the library's points (drift train's data stream 0 = drift_dataset_toy)
    a, la = drift.toy("8gaussians", 300, seed=2)
    b, lb = drift.toy("8gaussians", 300, seed=2)
    t.check(a.shape == (300, 2) and a.dtype == np.float32 and (a == b).all() and
            (la is None or (la == lb).all()), "drift.toy is deterministic")
    t.check(not (drift.toy("8gaussians", 300, seed=3)[0] == a).all(), "another seed, other points")

    # ---- images, in a tiny classifier's features ----
    cache = j("cache")
    NREF, STEPS = (200, 8) if SANITIZED else (500, 20)  # the sanitizer build trains and scores ~10x slower
    rc, out, err = cli("classifier", "train", "--data", "fashion-mnist", "--cache-dir", cache, "--n-train", NREF,
                       "--n-test", NREF, "--max-steps", STEPS, "--batch", 50, "--json")
    t.check(rc == 0, "classifier train: %s" % err)
    ref, ref_labels = None, None
    common = dict(data="fashion-mnist", cache_dir=cache, n_ref=NREF, train=False, log=False)
    cli_common = ["--data", "fashion-mnist", "--cache-dir", cache, "--n-ref", NREF, "--no-train", "--json"]
    noise = rng.uniform(-1, 1, (120, 28, 28)).astype(np.float32)
    u8 = rng.integers(0, 256, (150, 28, 28, 1)).astype(np.uint8)
    chw = rng.uniform(-1, 1, (100, 1, 28, 28)).astype(np.float32)
    labels = (np.arange(150) % 10).astype(np.int64)
    for name, arr, lab in (("noise (n, 28, 28)", noise, None), ("uint8 (n, 28, 28, 1) with labels", u8, labels),
                           ("(n, 1, 28, 28)", chw, None)):
        np.save(j("s.npy"), arr)
        extra = []
        if lab is not None:
            np.save(j("l.npy"), lab)
            extra = ["--labels", j("l.npy")]
        rc, out, err = cli("eval", "--samples", j("s.npy"), *extra, *cli_common)
        t.check(rc == 0, "image eval CLI %s: %s" % (name, err))
        m = drift.eval(arr, labels=lab, **common)
        same_metrics(m, json.loads(out) if rc == 0 else {}, name)
    t.check(m["n_reference"] == NREF and m["class_accuracy"] is None and m["fid"] > 0, "image metrics: %r" % m)
    with drift.Evaluator("fashion-mnist", cache_dir=cache, n_ref=NREF, train=False, log=True) as ev:
        m1 = ev.score(noise)
        m2 = ev.score(noise[:60], n=50)
        t.check(m2["n_samples"] == 50 and m1["fid"] == drift.eval(noise, **common)["fid"],
                "an Evaluator scores several sets")
        refused_before_c(t, lambda: ev.score(noise, labels=np.full(120, 10)), ValueError, "label 10 of 10 classes")
        refused_before_c(t, lambda: ev.score(noise[:, :20]), ValueError, "20x28 images")
        refused_before_c(t, lambda: ev.score(noise.astype(np.int16)), TypeError, "int16 samples")

    # ---- errors ----
    try:  # (only the toy's name is looked up in the library)
        drift.eval(noise, data="swiss_roll")
        t.check(False, "images as toy samples raise")
    except ValueError as e:
        t.check("(n, 2)" in str(e), "images as toy samples: %r" % str(e))
    refused_before_c(t, lambda: drift.eval(noise[:, :, :2].reshape(120, 56)[:, :2].astype(np.int32), data="swiss_roll"),
                     TypeError, "int toy samples")
    refused_before_c(t, lambda: drift.eval(noise, data="swiss_roll", n=1), ValueError, "n = 1")
    try:
        drift.eval(noise[:, :, :2].reshape(-1, 2)[:100], **common)
        t.check(False, "(n, 2) samples for fashion-mnist raise")
    except ValueError as e:
        t.check("toy" in str(e) and "784" in str(e), "2-D samples for images: %r" % str(e))
    try:
        drift.eval(noise, data="fashion-mnist", cache_dir=j("empty"), n_ref=NREF, train=False, log=False)
        t.check(False, "a missing classifier raises when training is refused")
    except drift.DriftError as e:
        t.check("drift classifier train --data fashion-mnist" in str(e), "missing classifier: %r" % str(e))
    try:
        drift.eval(noise, data="fashion-mnistt")
        t.check(False, "a misspelt dataset raises")
    except drift.DriftError as e:
        t.check("fashion-mnistt" in str(e), "misspelt dataset: %r" % str(e))

raise SystemExit(t.summary())
