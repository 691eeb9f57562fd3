"""drift.eval with your own reference (a path, ref_labels optional) equals `drift eval --ref ...
--json` key for key, with and without labels, on tiny synthetic RGB images; the feature network
the CLI trains on first use is the one both then load from the cache; labels without a labelled
reference and ref_labels with a named dataset (before any C call) are refused."""
import json
import os
import tempfile

import numpy as np

import pyenv
from pyenv import Checks, cli, drift, refused_before_c

t = Checks()

with tempfile.TemporaryDirectory() as tmp:
    j = lambda *p: os.path.join(tmp, *p)  # noqa: E731
    os.environ["DRIFT_CACHE_DIR"] = pyenv.CLI_ENV["DRIFT_CACHE_DIR"] = j("cache")  # both use this cache
    rng = np.random.default_rng(3)
    lab = np.arange(90) % 3
    y, x = np.mgrid[:8, :8]
    masks = [x < 4, x >= 4, y < 4]
    ref = np.stack([np.where(masks[k], 200, 30) for k in lab]).astype(np.uint8)
    ref = np.stack([ref, ref // 2, 255 - ref], axis=-1).astype(np.uint8)
    ref = np.clip(ref + rng.integers(0, 25, ref.shape), 0, 255).astype(np.uint8)
    np.save(j("ref.npy"), ref)
    np.save(j("ref_labels.npy"), lab)
    s = (ref[::-1].astype(np.float32) / 127.5 - 1 + rng.normal(0, 0.05, ref.shape)).clip(-1, 1).astype(np.float32)
    np.save(j("s.npy"), s.reshape(90, -1))
    np.save(j("s_labels.npy"), lab[::-1].astype(np.int32))

    # the CLI first: it trains the feature network into the cache; then both load it from there
    # (a freshly trained network scores with other GEMM blockings: equal only to ~1e-6)
    args = ["eval", "--samples", j("s.npy"), "--labels", j("s_labels.npy"), "--ref", j("ref.npy"),
            "--ref-labels", j("ref_labels.npy"), "--json"]
    cli(*args)
    rc, out, err = cli(*args)
    py = drift.eval(s, lab[::-1], data=j("ref.npy"), ref_labels=j("ref_labels.npy"), log=False)
    c = json.loads(out) if rc == 0 else {}
    diff = {k: (py.get(k), c[k]) for k in set(c) - {"samples", "seconds", "dataset"} if py.get(k, "missing") != c[k]}
    t.check(rc == 0 and not diff and py.get("class_accuracy") is not None, f"labelled: drift.eval == CLI: {diff} {err[-500:]}")
    cli("eval", "--samples", j("s.npy"), "--ref", j("ref.npy"), "--json")
    rc, out, err = cli("eval", "--samples", j("s.npy"), "--ref", j("ref.npy"), "--json")
    py = drift.eval(s, data=j("ref.npy"), log=False)
    c = json.loads(out) if rc == 0 else {}
    diff = {k: (py.get(k), c[k]) for k in set(c) - {"samples", "seconds", "dataset"} if py.get(k, "missing") != c[k]}
    t.check(rc == 0 and not diff and py.get("class_accuracy") is None, f"unlabelled: drift.eval == CLI: {diff} {err[-500:]}")
    try:
        drift.eval(s, lab, data=j("ref.npy"), log=False)
        t.check(False, "labels without a labelled reference: no exception")
    except ValueError as e:
        t.check("labelled reference" in str(e), f"labels without a labelled reference refused: {e}")
    msg = refused_before_c(t, lambda: drift.eval(s, data="mnist", ref_labels=j("ref_labels.npy"), log=False),
                           ValueError, "ref_labels with a named dataset")
    t.check(msg is not None and "ref_labels" in msg, f"ref_labels with a named dataset: {msg}")

raise SystemExit(t.summary())
