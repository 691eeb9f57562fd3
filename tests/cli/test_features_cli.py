"""End-to-end: `drift train --features FILE` on MNIST (from the source tree) with a tiny encoder
trained by `drift encoder train`: the run trains and logs the loss's share of the step, the
checkpoint records the encoder's hash, a resume refuses another encoder file and a replaced one,
and bad feature options are one-line errors."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
SOURCE = os.environ.get("DRIFT_SOURCE_DIR", ".")
DATA = os.path.join(SOURCE, "data")
c = Checks()


def drift(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


def meta(path):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n])["__metadata__"]


def encoder(path, seed):
    r = drift("encoder", "train", "--data", "mnist", "--data-dir", DATA, "--n-train", "256", "--steps", "3",
              "--batch", "8", "--widths", "4,8,8", "--seed", str(seed), "--out", path)
    c.check(r.returncode == 0 and os.path.exists(path), "encoder train: rc %d %s" % (r.returncode, r.stderr[-300:]))


with tempfile.TemporaryDirectory() as tmp:
    enc, enc2 = os.path.join(tmp, "enc.safetensors"), os.path.join(tmp, "enc2.safetensors")
    encoder(enc, 1)
    encoder(enc2, 2)
    run = os.path.join(tmp, "run")
    small = ["--data", "mnist", "--data-dir", DATA, "--preset", "quick", "--classes-per-step", "3", "--n-pos", "8",
             "--n-neg", "4", "--n-unc", "4", "--width", "8", "--eval-every", "-1", "--sample-every", "0",
             "--log-every", "1", "--quiet"]
    r = drift("train", *small, "--features", enc, "--steps", "2", "--out", run)
    c.check(r.returncode == 0, "feature run: rc %d %s" % (r.returncode, r.stderr[-500:]))
    ck = os.path.join(run, "checkpoint.safetensors")
    if r.returncode == 0:
        lines = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
        c.check(len(lines) == 2 and all(0 < l["loss_seconds"] <= l["step_seconds"] for l in lines),
                "loss_seconds logged within step_seconds")
        # ten keys of the light set, each near the number of temperatures (3)
        c.check(all(3 < l["loss"] < 90 for l in lines), "multi-key loss %r" % [l["loss"] for l in lines])
        kl = lines[-1].get("key_loss", {})
        c.check(len(kl) == 10 and "global" in kl and "layer2" in kl and abs(sum(kl.values()) - lines[-1]["loss"])
                <= 1e-6 * lines[-1]["loss"], "key_loss: each key's loss, summing to the loss: %r" % kl)
        m = meta(ck)
        e = meta(enc)
        c.check(m.get("config.features") == enc and m.get("config.feature-hash") == e.get("hash"),
                "the checkpoint records the encoder file and its hash")
        c.check(m.get("config.feature-keys") == "light" and m.get("config.feature-scope") == "step",
                "default keys and scope recorded")
        # a resume may not switch encoders
        r = drift("train", "--resume", ck, "--features", enc2, "--steps", "3", "--quiet")
        c.check(r.returncode != 0 and "features" in r.stderr, "resume with --features refused: %r" % r.stderr)
        # the run's encoder file replaced by another: refused naming both hashes
        keep = enc + ".keep"
        shutil.move(enc, keep)
        shutil.copy(enc2, enc)
        r = drift("train", "--resume", ck, "--steps", "3", "--quiet")
        c.check(r.returncode == 1 and "another one" in r.stderr and e.get("hash", "?") in r.stderr,
                "replaced encoder refused: %r" % r.stderr)
        shutil.move(keep, enc)
        r = drift("train", "--resume", ck, "--steps", "3", "--quiet")
        c.check(r.returncode == 0, "resume with the run's own encoder: rc %d %s" % (r.returncode, r.stderr[-300:]))
    # bad options: one line each
    for args, want in [(["--features", os.path.join(tmp, "none.safetensors")], "none.safetensors"),
                       (["--features", enc, "--feature-keys", "layer9.mean"], "layer9"),
                       (["--features", enc, "--feature-keys", "conv1.max"], "unknown pooling"),
                       (["--features", enc, "--feature-scope", "batch"], "feature-scope"),
                       (["--features", enc, "--family", "sharp", "--objective", "potential"], "deng")]:
        bad = os.path.join(tmp, "bad")
        shutil.rmtree(bad, ignore_errors=True)
        r = drift("train", *small, *args, "--steps", "1", "--out", bad)
        c.check(r.returncode == 1 and want in r.stderr, "%s: rc %d %r" % (args, r.returncode, r.stderr[-300:]))
        # refused before anything is written into the run directory
        c.check(not os.path.exists(os.path.join(bad, "metrics.jsonl")), "%s: no metrics.jsonl left behind" % args)
    r = drift("train", "--help")
    for opt in ["--features", "--feature-keys", "--feature-scope", "--keep-zero-neg"]:
        c.check(opt in r.stdout, "train --help lists %s" % opt)

sys.exit(c.summary())
