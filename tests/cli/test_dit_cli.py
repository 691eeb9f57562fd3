"""End-to-end with the DiT generator: `drift train --model dit-t` on tiny labelled images
(8x8, 3 classes, guidance on), a run stopped and resumed from its checkpoint gives the same
generator as the uninterrupted run (the model config round-trips through the checkpoint),
`drift sample` from it, and clear errors for a DiT on non-image data or an unknown size."""
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


def drift(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


with tempfile.TemporaryDirectory() as tmp:
    lab = np.arange(150) % 3
    imgs = np.where((np.arange(64)[None, :] % 3) == lab[:, None], 200, 40).astype(np.uint8).reshape(150, 8, 8)
    np.save(os.path.join(tmp, "imgs.npy"), imgs)
    np.save(os.path.join(tmp, "labels.npy"), lab.astype(np.int64))
    common = ["--data", os.path.join(tmp, "imgs.npy"), "--labels", os.path.join(tmp, "labels.npy"),
              "--model", "dit-t", "--conditional", "1", "--n-pos", "16", "--n-neg", "8", "--n-unc", "4",
              "--alpha-max", "2", "--eval-every", "-1", "--sample-every", "0", "--threads", "2"]
    full, part = os.path.join(tmp, "full"), os.path.join(tmp, "part")
    r = drift("train", *common, "--steps", "4", "--out", full)
    check(r.returncode == 0, f"dit train: {r.stderr}")
    check("dit generator: noise 96 -> 1x8x8 image (tanh), 3 classes + null, alpha input" in r.stderr,
          f"banner describes the dit: {r.stderr[:400]}")
    r = drift("train", *common, "--steps", "2", "--out", part)
    check(r.returncode == 0, f"dit train, first half: {r.stderr}")
    r = drift("train", "--resume", os.path.join(part, "checkpoint.safetensors"), "--steps", "4")
    check(r.returncode == 0 and "resuming" in r.stderr, f"dit resume: {r.stderr}")

    samples = {}
    for name in ("full", "part"):
        out = os.path.join(tmp, name + ".npy")
        r = drift("sample", "--ckpt", os.path.join(tmp, name, "checkpoint.safetensors"), "--n", "9",
                  "--alpha", "1.5", "--seed", "4", "--out", out, "--grid", os.path.join(tmp, name + ".png"))
        check(r.returncode == 0, f"dit sample ({name}): {r.stderr}")
        samples[name] = np.load(out) if r.returncode == 0 else None
    x = samples["full"]
    check(x is not None and x.shape == (9, 64) and (np.abs(x) <= 1).all() and x.std() > 0,
          f"dit samples {None if x is None else x.shape}")
    check(x is not None and samples["part"] is not None and np.array_equal(x, samples["part"]),
          "stopped and resumed run = uninterrupted run (same samples, bit for bit)")
    check(os.path.getsize(os.path.join(tmp, "full.png")) > 100, "grid written")

    for extra, msg in ((["--data", "moons", "--model", "dit"], "needs images"),
                       (["--data", os.path.join(tmp, "imgs.npy"), "--model", "dit-xl"], "dit-t, dit-s")):
        r = drift("train", *extra, "--steps", "1", "--out", os.path.join(tmp, "bad"))
        check(r.returncode != 0 and msg in r.stderr, f"train {extra}: {r.stderr}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
