"""End-to-end: `drift encoder train` on a few MNIST images (from the source tree), `drift encoder
info` on the cache and on a file (text and JSON), and refusals with one clear line: a changed
weight, a changed metadata field, a truncated file, a file for another dataset, a missing
encoder, a classifier file; --help is complete."""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
SOURCE = os.environ.get("DRIFT_SOURCE_DIR", ".")
DATA = os.path.join(SOURCE, "data")
c = Checks()


def drift(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=env)


def one_line_error(r, want, what):
    lines = [l for l in r.stderr.strip().splitlines() if l]
    c.check(r.returncode == 1 and len(lines) == 1 and want in lines[0], "%s: rc %d, %r" % (what, r.returncode, r.stderr))


def failed_training(r, want, what):
    """a training run that fails: the banner, then one line saying why"""
    lines = [l for l in r.stderr.strip().splitlines() if l]
    c.check(r.returncode == 1 and len(lines) == 2 and "training failed" in lines[1] and want in lines[1],
            "%s: rc %d, %r" % (what, r.returncode, r.stderr))


def rewrite_meta(src, dst, key, value):
    """The file with one metadata value replaced (same tensors, header re-padded)."""
    raw = open(src, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header["__metadata__"][key] = value
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    open(dst, "wb").write(struct.pack("<Q", len(h)) + h + raw[8 + n:])


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, DRIFT_CACHE_DIR=os.path.join(tmp, "cache"))
    # --help names every option
    r = drift("encoder", "train", "--help")
    for opt in ["--data", "--data-dir", "--cache-dir", "--out", "--steps", "--batch", "--lr", "--mask-ratio",
                "--patch", "--widths", "--depth", "--groups", "--n-train", "--seed", "--json"]:
        c.check(r.returncode == 0 and opt in r.stdout, "train --help lists %s" % opt)
    r = drift("encoder", "info", "--help")
    c.check(r.returncode == 0 and "--file" in r.stdout and "--data" in r.stdout, "info --help")
    r = drift("encoder", "--help")
    c.check(r.returncode == 0 and "masked" in r.stdout and "never the evaluation" in r.stdout, "encoder --help")
    r = drift("--help")
    c.check("encoder" in r.stdout, "drift --help lists encoder")

    # nothing cached yet
    r = drift("encoder", "info", "--data", "mnist", env=env)
    one_line_error(r, "drift encoder train --data mnist", "info without an encoder")

    # train into the cache
    r = drift("encoder", "train", "--data", "mnist", "--data-dir", DATA, "--n-train", "96", "--steps", "6",
              "--batch", "16", "--widths", "4,8,8", "--json", env=env)
    c.check(r.returncode == 0, "train: %s" % r.stderr)
    cached = os.path.join(tmp, "cache", "encoder-mnist.safetensors")
    c.check(os.path.exists(cached), "saved in the cache")
    j = json.loads(r.stdout) if r.returncode == 0 else {}
    c.check(j.get("dataset") == "mnist" and j.get("train_images") == 96 and j.get("steps") == 6, "train json %s" % j)
    c.check([m["name"] for m in j.get("maps", [])] == ["conv1", "layer1", "layer2"], "maps %s" % j.get("maps"))
    c.check(j.get("out_dim") == 4 * 784 + 8 * 196 + 8 * 49, "out_dim %s" % j.get("out_dim"))
    c.check(str(j.get("data_hash", "")).startswith("fnv1a64:"), "data hash")

    # info: cache and file, text and JSON, the same encoder
    r = drift("encoder", "info", "--data", "mnist", "--json", env=env)
    ji = json.loads(r.stdout) if r.returncode == 0 else {}
    c.check(r.returncode == 0 and ji.get("hash") == j.get("hash") and ji.get("path") == cached, "info json: %s" % r.stderr)
    r = drift("encoder", "info", cached)
    c.check(r.returncode == 0 and "conv1 4x28x28" in r.stdout and "mask_ratio=0.75" in r.stdout, "info FILE: %s%s" % (r.stdout, r.stderr))
    r = drift("encoder", "info", "--file", cached, "--json")
    c.check(r.returncode == 0 and json.loads(r.stdout).get("hash") == j.get("hash"), "info --file")

    # refusals, one line each
    raw = open(cached, "rb").read()
    bad = os.path.join(tmp, "bad.safetensors")
    b = bytearray(raw)
    b[-3] ^= 0x01  # a weight's low bits
    open(bad, "wb").write(bytes(b))
    one_line_error(drift("encoder", "info", bad), "was changed", "changed weight")
    rewrite_meta(cached, bad, "training", "steps=1 batch=1")
    one_line_error(drift("encoder", "info", bad), "was changed", "changed metadata")
    open(bad, "wb").write(raw[:-100])
    one_line_error(drift("encoder", "info", bad), bad, "truncated")
    rewrite_meta(cached, bad, "format", "drift-classifier-2")
    one_line_error(drift("encoder", "info", bad), "not a drift encoder", "other format")
    one_line_error(drift("encoder", "info", "--data", "fashion-mnist", "--file", cached), "trained on mnist, not fashion-mnist",
                   "wrong dataset")
    one_line_error(drift("encoder", "info", os.path.join(tmp, "none.safetensors")), "none.safetensors", "missing file")

    # usage errors
    r = drift("encoder", "train")
    c.check(r.returncode == 2 and "--data is required" in r.stderr, "train without --data")
    r = drift("encoder", "train", "--data", "mnist", "--widths", "4,x")
    c.check(r.returncode == 2 and "--widths" in r.stderr, "bad --widths")
    r = drift("encoder", "train", "--data", "mnist", "--data-dir", DATA, "--n-train", "32", "--steps", "2",
              "--patch", "5", "--out", bad)
    failed_training(r, "patch 5 must divide", "bad patch")
    r = drift("encoder", "train", "--data", "mnist", "--data-dir", DATA, "--n-train", "32", "--steps", "2",
              "--widths", "4,8,8", "--groups", "3", "--out", bad)
    failed_training(r, "not divisible by 3 groups", "bad groups")
    r = drift("encoder", "frobnicate")
    c.check(r.returncode == 2, "unknown action")

sys.exit(c.summary())
