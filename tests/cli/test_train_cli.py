"""End-to-end: `drift train` on a toy and on tiny labelled images, `drift sample` from the
checkpoints, resume from the CLI, and clear errors for bad options and missing data."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

BIN = os.environ.get("DRIFT_BIN", "build/drift")
passed = failed = 0


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", msg, file=sys.stderr)


def drift(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=env)


with tempfile.TemporaryDirectory() as tmp:
    run = os.path.join(tmp, "toy")
    r = drift("train", "--data", "moons", "--preset", "quick", "--steps", "12", "--n-pos", "64", "--n-neg", "64",
              "--width", "32", "--log-every", "4", "--eval-every", "0", "--eval-n", "256", "--out", run)
    check(r.returncode == 0, f"toy train: {r.stderr}")
    for f in ["metrics.jsonl", "checkpoint.safetensors", "samples.png", "loss.svg", "loss.png", "diversity.svg"]:
        check(os.path.exists(os.path.join(run, f)), f"toy run wrote {f}")
    lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
    check([l["step"] for l in lines] == [1, 4, 8, 12], f"logged steps {[l['step'] for l in lines]}")
    last = lines[-1]
    for key in ["loss", "v_rms", "tau_rms", "diversity", "grad_norm", "lr", "toy_mmd2", "toy_energy", "toy_sliced_w2"]:
        check(key in last, f"metrics has {key}")
    check(all(np.isfinite(l["loss"]) for l in lines), "finite losses")

    # resume: extend the run to 16 steps
    r = drift("train", "--resume", os.path.join(run, "checkpoint.safetensors"), "--steps", "16", "--eval-every", "-1")
    check(r.returncode == 0 and "resuming" in r.stderr, f"resume: {r.stderr}")
    steps = [json.loads(l)["step"] for l in open(os.path.join(run, "metrics.jsonl"))]
    check(steps[-1] == 16 and steps.count(12) == 1, f"steps after resume {steps}")
    check("moons" in r.stderr.splitlines()[0], f"resume banner names the checkpoint's dataset: {r.stderr.splitlines()[:1]}")
    # a resumed run keeps the checkpoint's log cadence (4, not the default 10) unless told otherwise
    r = drift("train", "--resume", os.path.join(run, "checkpoint.safetensors"), "--steps", "28", "--eval-every", "-1")
    steps = [json.loads(l)["step"] for l in open(os.path.join(run, "metrics.jsonl"))]
    check(r.returncode == 0 and steps[-4:] == [16, 20, 24, 28], f"resumed run keeps log-every 4: {steps}")
    # what a resumed run cannot change is refused, not ignored
    for extra, msg in ((["--lr", "0.1"], "--lr cannot change"), (["--data", "moons"], "--data with --resume")):
        r = drift("train", "--resume", os.path.join(run, "checkpoint.safetensors"), *extra)
        check(r.returncode == 2 and msg in r.stderr, f"resume {extra}: {r.stderr}")

    out = os.path.join(tmp, "s.npy")
    r = drift("sample", "--ckpt", os.path.join(run, "checkpoint.safetensors"), "--n", "300", "--seed", "3",
              "--out", out, "--grid", os.path.join(tmp, "s.png"))
    check(r.returncode == 0, f"sample: {r.stderr}")
    s = np.load(out)
    check(s.shape == (300, 2) and s.dtype == np.float32 and np.isfinite(s).all(), f"toy samples {s.shape}")
    # the same seed gives the same samples, whatever the batch size (up to GEMM rounding)
    r = drift("sample", "--ckpt", os.path.join(run, "checkpoint.safetensors"), "--n", "300", "--seed", "3",
              "--batch", "7", "--out", os.path.join(tmp, "s2.npy"))
    check(r.returncode == 0 and np.abs(np.load(os.path.join(tmp, "s2.npy")) - s).max() < 1e-4, "batch-independent sampling")
    r = drift("sample", "--ckpt", os.path.join(run, "checkpoint.safetensors"), "--n", "300", "--seed", "3",
              "--out", os.path.join(tmp, "s3.npy"))
    check(r.returncode == 0 and np.array_equal(np.load(os.path.join(tmp, "s3.npy")), s), "same command, same bytes")
    r = drift("sample", "--ckpt", os.path.join(run, "checkpoint.safetensors"), "--n", "300", "--seed", "4",
              "--out", os.path.join(tmp, "s4.npy"))
    check(r.returncode == 0 and not np.array_equal(np.load(os.path.join(tmp, "s4.npy")), s), "another seed, other samples")
    r = drift("sample", "--ckpt", os.path.join(run, "checkpoint.safetensors"), "--n", "5", "--class", "1", "--out", out)
    check(r.returncode != 0 and "unconditional" in r.stderr, f"--class on an unconditional model: {r.stderr}")

    # tiny labelled images (8x8, 3 classes) with the conv generator, guidance on
    rng = np.random.default_rng(0)
    lab = np.arange(150) % 3
    imgs = np.where((np.arange(64)[None, :] % 3) == lab[:, None], 200, 40).astype(np.uint8).reshape(150, 8, 8)
    np.save(os.path.join(tmp, "imgs.npy"), imgs)
    np.save(os.path.join(tmp, "labels.npy"), lab.astype(np.int64))
    irun = os.path.join(tmp, "img")
    r = drift("train", "--data", os.path.join(tmp, "imgs.npy"), "--labels", os.path.join(tmp, "labels.npy"),
              "--model", "conv", "--conditional", "1", "--width", "8", "--n-pos", "16", "--n-neg", "8", "--n-unc", "4",
              "--alpha-max", "2", "--steps", "4", "--eval-every", "-1", "--out", irun)
    check(r.returncode == 0, f"image train: {r.stderr}")
    r = drift("sample", "--ckpt", os.path.join(irun, "checkpoint.safetensors"), "--n", "9", "--alpha", "1.5",
              "--out", os.path.join(tmp, "i.npy"), "--grid", os.path.join(tmp, "i.png"))
    check(r.returncode == 0, f"image sample: {r.stderr}")
    x = np.load(os.path.join(tmp, "i.npy"))
    l = np.load(os.path.join(tmp, "i_labels.npy"))
    check(x.shape == (9, 64) and (np.abs(x) <= 1).all(), f"image samples {x.shape}")
    check(l.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2], f"cycling labels {l.tolist()}")
    check(os.path.getsize(os.path.join(tmp, "i.png")) > 100, "grid written")

    # a grid shows a few samples, not all of them: one row per class (as in training's samples_<step>.png),
    # 10 per row by default, --grid-n samples otherwise
    def png_size(path):
        with open(path, "rb") as f:
            head = f.read(24)
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    sizes = {}
    for n, extra in (("1000", []), ("30", []), ("1000", ["--grid-n", "6"])):
        g = os.path.join(tmp, f"g{n}{len(extra)}.png")
        r = drift("sample", "--ckpt", os.path.join(irun, "checkpoint.safetensors"), "--n", n,
                  "--out", os.path.join(tmp, "g.npy"), "--grid", g, *extra)
        check(r.returncode == 0, f"grid of {n} samples {extra}: {r.stderr}")
        sizes[(n, len(extra))] = png_size(g) if r.returncode == 0 else None
    check(sizes[("1000", 0)] == sizes[("30", 0)], f"1000 samples: a 10-column grid like 30 samples {sizes}")
    w6, h6 = sizes[("1000", 2)] or (0, 0)
    w30, h30 = sizes[("30", 0)] or (0, 0)
    check(h6 == h30 and 0 < w6 < w30, f"--grid-n 6: the three class rows, two columns {sizes}")

    # errors: one line, non-zero exit
    env = dict(os.environ, DRIFT_DATA_DIR=os.path.join(tmp, "nowhere"))
    cases = [
        (["train", "--data", "mnist", "--data-dir", os.path.join(tmp, "nowhere"), "--steps", "1", "--out", os.path.join(tmp, "x")], "fetch_mnist"),
        (["train", "--data", "moons", "--lr", "fast", "--out", os.path.join(tmp, "x")], "lr"),
        (["train", "--data", "moons", "--objective", "potential", "--out", os.path.join(tmp, "x")], "conservative"),
        (["train", "--data", "moons", "--bogus", "1"], "bogus"),
        (["train", "--data", "no_such_toy", "--out", os.path.join(tmp, "x")], "no_such_toy"),
        (["train", "--data", "moons", "--alpha-max", "3", "--out", os.path.join(tmp, "x")], "n-unc"),
        (["train", "--resume", os.path.join(tmp, "missing.safetensors")], "missing.safetensors"),
        (["sample", "--ckpt", os.path.join(tmp, "imgs.npy"), "--n", "3", "--out", out], "imgs.npy"),
        (["sample", "--ckpt", os.path.join(irun, "checkpoint.safetensors"), "--n", "3", "--alpha", "0.5", "--out", out], "alpha"),
        (["sample", "--ckpt", os.path.join(irun, "checkpoint.safetensors"), "--n", "3", "--class", "5", "--out", out], "class"),
    ]
    for args, needle in cases:
        r = drift(*args, env=env)
        msg = [x for x in r.stderr.splitlines() if x.strip()]
        check(r.returncode in (1, 2), f"{needle}: rc {r.returncode}")
        check(any(needle in m for m in msg), f"{needle}: {r.stderr!r}")

    for cmd in ["train", "sample"]:
        r = drift(cmd, "--help")
        check(r.returncode == 0 and "--out" in r.stdout, f"{cmd} --help")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
