"""drift.load_generator(path).sample(...) equals `drift sample` bit for bit for the same seed: an
unconditional toy MLP and a class-conditional conv generator with guidance (cycling classes, one
class, alpha > 1, raw weights, another batch size), with the same labels; a generator shared by
threads; bad arguments refused before any C call; C errors (a missing or damaged checkpoint, alpha on
an unguided generator) as drift.DriftError with the library's message."""
import os
import tempfile
import threading

import numpy as np

from pyenv import Checks, cli, drift, refused_before_c

t = Checks()


def bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


with tempfile.TemporaryDirectory() as tmp:
    j = lambda *p: os.path.join(tmp, *p)  # noqa: E731
    # an unconditional toy generator (MLP) and a conditional conv generator with guidance
    rc, _, err = cli("train", "--data", "swiss_roll", "--steps", 3, "--n-pos", 64, "--n-neg", 64, "--width", 32,
                     "--eval-every", -1, "--quiet", "--threads", 2, "--out", j("toy"))
    t.check(rc == 0, "toy train: %s" % err)
    lab = np.arange(150) % 3
    imgs = np.where((np.arange(64)[None, :] % 3) == lab[:, None], 200, 40).astype(np.uint8).reshape(150, 8, 8)
    np.save(j("imgs.npy"), imgs)
    np.save(j("labels.npy"), lab.astype(np.int64))
    rc, _, err = cli("train", "--data", j("imgs.npy"), "--labels", j("labels.npy"), "--model", "conv",
                     "--conditional", 1, "--width", 8, "--n-pos", 16, "--n-neg", 8, "--n-unc", 4, "--alpha-max", 2,
                     "--steps", 2, "--eval-every", -1, "--quiet", "--threads", 2, "--out", j("img"))
    t.check(rc == 0, "image train: %s" % err)
    toy_ck, img_ck = j("toy", "checkpoint.safetensors"), j("img", "checkpoint.safetensors")

    g = drift.load_generator(toy_ck)
    t.check(g.dim == 2 and g.n_classes == 0 and not g.use_alpha and g.image_shape is None and g.kind == "mlp",
            "toy generator: %r" % g)
    for n, seed, extra in ((1000, 0, []), (700, 12345, []), (600, 7, ["--batch", 100]), (300, 3, ["--raw-weights"])):
        rc, _, err = cli("sample", "--ckpt", toy_ck, "--n", n, "--seed", seed, "--out", j("s.npy"), "--threads", 2,
                         *extra)
        gg = g
        if "--batch" in extra:
            gg = drift.load_generator(toy_ck, batch=100)
        if "--raw-weights" in extra:
            gg = drift.load_generator(toy_ck, raw_weights=True)
        x = gg.sample(n, seed=seed)
        t.check(rc == 0 and bits_equal(x, np.load(j("s.npy"))),
                "toy: sample(%d, seed=%d) %s == drift sample, bit for bit (%s)" % (n, seed, extra, err))
    t.check(not bits_equal(g.sample(50, seed=1), g.sample(50, seed=2)), "another seed, other samples")
    raw = drift.load_generator(toy_ck, raw_weights=True).sample(100, seed=0)
    t.check(raw.shape == (100, 2) and raw.dtype == np.float32, "raw weights: (n, 2) float32")

    c = drift.load_generator(img_ck)
    t.check(c.n_classes == 3 and c.use_alpha and c.image_shape == (1, 8, 8) and c.dim == 64 and c.kind == "conv",
            "conditional generator: %r" % c)
    for args, kw in ((["--n", 40, "--seed", 9], dict(n=40, seed=9)),
                     (["--n", 25, "--seed", 1, "--class", 2], dict(n=25, seed=1, cls=2)),
                     (["--n", 30, "--seed", 4, "--alpha", 1.75], dict(n=30, seed=4, alpha=1.75))):
        rc, _, err = cli("sample", "--ckpt", img_ck, *args, "--out", j("c.npy"), "--threads", 2)
        x, labels = c.sample(**kw, return_labels=True)
        t.check(rc == 0 and bits_equal(x, np.load(j("c.npy"))), "conditional %s == drift sample (%s)" % (args, err))
        t.check(rc == 0 and bits_equal(labels, np.load(j("c_labels.npy"))), "conditional %s: the CLI's labels" % args)
    per_row = c.sample(6, cls=np.array([0, 1, 2, 2, 1, 0]), seed=9)
    # (rows of batches of other sizes agree up to the rounding of differently blocked GEMMs)
    t.check(np.allclose(per_row[:3], c.sample(3, seed=9), rtol=0, atol=1e-5) and
            not np.allclose(per_row[3:], c.sample(6, seed=9)[3:], rtol=0, atol=1e-3),
            "cls as an array of labels: rows with the cycling labels agree, the others differ")

    # one generator, several threads: they take turns; results as if sequential
    want = [g.sample(400, seed=s) for s in range(4)]
    got = [None] * 4

    def work(s):
        got[s] = g.sample(400, seed=s)
    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.check(all(bits_equal(a, b) for a, b in zip(want, got)), "threads sharing a generator get the sequential samples")

    # bad arguments: refused before C
    for fn, exc, what in [(lambda: c.sample(5, cls=3), ValueError, "class 3 of 3"),
                          (lambda: c.sample(5, cls=-1), ValueError, "class -1 (no unconditional class)"),
                          (lambda: c.sample(5, cls=1.5), TypeError, "a float class"),
                          (lambda: c.sample(5, cls=np.zeros(4, np.int64)), ValueError, "labels of the wrong length"),
                          (lambda: c.sample(5, cls=np.zeros(5)), TypeError, "float labels"),
                          (lambda: g.sample(5, cls=0), ValueError, "a class for an unconditional generator"),
                          (lambda: g.sample(-1), ValueError, "n < 0"),
                          (lambda: g.sample(5, seed=-1), ValueError, "seed < 0"),
                          (lambda: g.sample(5, alpha="x"), TypeError, "alpha not a number"),
                          (lambda: drift.load_generator(toy_ck, batch=0), ValueError, "batch 0")]:
        refused_before_c(t, fn, exc, what)
    # C errors: DriftError with the library's message, the one the CLI prints
    try:
        g.sample(5, alpha=2.0)
        t.check(False, "alpha 2 on an unguided generator raises")
    except drift.DriftError as e:
        t.check("trained without guidance" in str(e), "alpha on an unguided generator: %r" % str(e))
    rc, _, err = cli("sample", "--ckpt", j("nope.safetensors"), "--n", 3, "--out", j("n.npy"))
    try:
        drift.load_generator(j("nope.safetensors"))
        t.check(False, "a missing checkpoint raises")
    except drift.DriftError as e:
        core = str(e).split(": ", 1)[1]  # less the "loading the generator of PATH" context
        t.check(e.status == "EIO" and core in err, "missing checkpoint: %r; the CLI said %r" % (str(e), err))
    with open(j("bad.safetensors"), "wb") as f:
        f.write(open(toy_ck, "rb").read()[:200])
    try:
        drift.load_generator(j("bad.safetensors"))
        t.check(False, "a damaged checkpoint raises")
    except drift.DriftError as e:
        t.check(e.status in ("EFORMAT", "EIO") and "bad.safetensors" in str(e), "damaged checkpoint: %r" % str(e))
    g.close()
    try:
        g.sample(3)
        t.check(False, "sampling a closed generator raises")
    except ValueError as e:
        t.check("closed" in str(e), "closed generator: %r" % str(e))

raise SystemExit(t.summary())
