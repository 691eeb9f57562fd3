"""Hardening of the CLI's file handling (issue 10, items 1-4): every case here used to hang,
crash (ASan), replace what it should not, or exit 0 after failing.

- a safetensors file that is not a checkpoint: clear error (was a use-after-free);
- FIFOs as inputs (--x, --ckpt, --resume, eval --samples): refused at once, no hang;
- outputs: symlinks, directories, FIFOs refused; /dev/null written in place; stale temps of
  dead processes removed;
- stdout: --json > /dev/full, a closed stdout: non-zero exit with a message;
- two outputs of one command naming the same file: refused before any work;
- a run directory locked by another drift train: refused, nothing touched;
- a checkpoint with NaN EMA weights or a step beyond its run: refused at load.
"""
import fcntl
import json
import os
import stat
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
c = Checks()


def run(*args, timeout=60, **kw):
    """(returncode, stderr); a hang (timeout) is returncode None."""
    try:
        p = subprocess.run([BIN, *args], capture_output="stdout" not in kw, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        return None, "TIMEOUT"
    return p.returncode, p.stderr or ""


def write_safetensors(path, tensors, meta):
    """tensors: name -> float32 array; meta: dict of strings."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def patch_tensor(path, name, fn):
    """Rewrite tensor `name` of a safetensors file in place: bytes -> bytes of the same length."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        b, e = hdr[name]["data_offsets"]
        f.seek(8 + n + b)
        old = f.read(e - b)
        new = fn(old, hdr[name]["dtype"])
        assert len(new) == len(old)
        f.seek(8 + n + b)
        f.write(new)


def field_args(x, out, *more):
    return ["field", "--x", x, "--pos", x, "--family", "sharp", "--kernel", "gaussian", "--tau", "1",
            "--out", out, "--quiet", *more]


def dead_pid():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


with tempfile.TemporaryDirectory() as d:
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    x = j("x.npy")
    np.save(x, np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32))
    fifo = j("fifo")
    os.mkfifo(fifo)

    # 1. a safetensors file that is not a generator checkpoint
    other = j("classifier.safetensors")
    write_safetensors(other, {"w": np.ones(3, np.float32)}, {"format": "drift-classifier-1"})
    rc, err = run("sample", "--ckpt", other, "--n", "4", "--out", j("o.npy"))
    c.check(rc == 1, "sample from a classifier file: exit %r" % rc)
    c.check("not a drift training checkpoint" in err and "drift-classifier-1" in err,
            "sample from a classifier file: message: %s" % err)
    c.check("AddressSanitizer" not in err, "sample from a classifier file: ASan report")
    c.check(not os.path.exists(j("o.npy")), "sample from a classifier file: wrote output")

    # 2. FIFOs as inputs: refused at once (a reader would block forever)
    for args in (field_args(fifo, j("v.npy")),
                 ["sample", "--ckpt", fifo, "--n", "4", "--out", j("o.npy")],
                 ["train", "--resume", fifo, "--quiet"],
                 ["eval", "--samples", fifo, "--data", "swiss_roll"]):
        rc, err = run(*args, timeout=20)
        c.check(rc not in (0, None), "%s with a FIFO input: exit %r" % (args[0], rc))
        c.check("FIFO" in err and "not a regular file" in err, "%s with a FIFO input: message: %s" % (args[0], err))
        c.check(len(err.strip().splitlines()) == 1, "%s with a FIFO input: one line: %r" % (args[0], err))

    # 3. output targets
    victim = j("victim.npy")
    np.save(victim, np.zeros(3, np.float32))
    before = open(victim, "rb").read()
    os.symlink(victim, j("link.npy"))
    rc, err = run(*field_args(x, j("link.npy")))
    c.check(rc == 1 and "symbolic link" in err, "--out symlink: exit %r, %s" % (rc, err))
    c.check(os.path.islink(j("link.npy")) and open(victim, "rb").read() == before, "--out symlink: target changed")
    os.mkdir(j("adir"))
    rc, err = run(*field_args(x, j("adir")))
    c.check(rc == 1 and "directory" in err and os.path.isdir(j("adir")), "--out directory: exit %r, %s" % (rc, err))
    rc, err = run(*field_args(x, fifo), timeout=20)
    c.check(rc == 1 and "FIFO" in err and stat.S_ISFIFO(os.lstat(fifo).st_mode), "--out FIFO: exit %r, %s" % (rc, err))
    rc, err = run(*field_args(x, "/dev/null"))
    c.check(rc == 0 and stat.S_ISCHR(os.stat("/dev/null").st_mode), "--out /dev/null: exit %r, %s" % (rc, err))
    if os.path.exists("/dev/full"):
        rc, err = run(*field_args(x, "/dev/full"))
        c.check(rc == 1 and "No space" in err, "--out /dev/full: exit %r, %s" % (rc, err))
    # --out /dev/stdout writes the array to stdout
    p = subprocess.run([BIN, *field_args(x, "/dev/stdout")], capture_output=True, timeout=60)
    c.check(p.returncode == 0 and p.stdout[:6] == b"\x93NUMPY", "--out /dev/stdout: exit %r" % p.returncode)
    rc, err = run("particles", "--dim", "2", "--n", "32", "--steps", "2", "--save", j("link.npy"))
    c.check(rc not in (0, None) and open(victim, "rb").read() == before, "particles --save symlink: exit %r, %s" % (rc, err))
    # temps of dead processes next to the target are removed; others stay
    dead = dead_pid()
    stale = [j("v.npy.tmp.%d" % dead), j("v.npy.tmp.%d.aB3xYz" % dead)]
    keep = [j("v.npy.tmp.1"), j("v.npy.tmp.%d.aB3xYzz" % dead), j("w.npy.tmp.%d" % dead)]
    for f in stale + keep:
        open(f, "w").write("junk")
    rc, err = run(*field_args(x, j("v.npy")))
    c.check(rc == 0, "field: exit %r, %s" % (rc, err))
    c.check(not any(os.path.exists(f) for f in stale), "stale temps were not removed")
    c.check(all(os.path.exists(f) for f in keep), "a temp that is not stale was removed")
    temps = sorted(f for f in os.listdir(d) if f.startswith("v.npy.tmp."))
    c.check(temps == sorted(os.path.basename(k) for k in keep[:2]), "temps left behind: %s" % temps)

    # 4. stdout failures are failures
    s = j("s.npy")
    np.save(s, np.random.default_rng(1).standard_normal((64, 2)).astype(np.float32))
    with open("/dev/full", "w") as full:
        for args in (["eval", "--samples", s, "--data", "swiss_roll", "--json"],
                     ["eval", "--samples", s, "--data", "swiss_roll"], ["--help"], ["--version"]):
            rc, err = run(*args, stdout=full, stderr=subprocess.PIPE)
            c.check(rc not in (0, None) and "standard output" in err, "%s > /dev/full: exit %r, %s" % (args, rc, err))
    rc, err = run("eval", "--samples", s, "--data", "swiss_roll", "--json", stderr=subprocess.PIPE,
                  stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    c.check(rc not in (0, None) and "standard output" in err, "eval --json with stdout closed: exit %r, %s" % (rc, err))
    # ... and a command that prints nothing does not fail for a closed stdout, nor write into a file
    rc, err = run(*field_args(x, j("closed.npy")), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                  preexec_fn=lambda: os.close(1))
    arr = np.load(j("closed.npy")) if rc == 0 else None
    c.check(rc == 0 and arr is not None and arr.shape == (16, 2), "field with stdout closed: exit %r, %s" % (rc, err))

    # 5. two outputs naming one file: refused before any work
    os.mkdir(j("sub"))
    for args in (field_args(x, j("v.npy"), "--potential", j("v.npy")),
                 field_args(x, j("v.npy"), "--potential", j("sub", "..", "v.npy")),
                 field_args(x, j("new.npy"), "--diagnostics", j("sub", "..", "new.npy")),
                 ["sample", "--ckpt", other, "--n", "4", "--out", j("o.npy"), "--labels-out", j("o.npy")],
                 ["sample", "--ckpt", other, "--n", "4", "--out", j("o.npy"), "--grid", j("o_labels.npy")],
                 ["particles", "--dim", "2", "--n", "32", "--steps", "2", "--csv", j("p.out"), "--plot", j("p.out")]):
        rc, err = run(*args)
        c.check(rc == 2 and "same file" in err, "colliding outputs %s: exit %r, %s" % (args[-4:], rc, err))
    os.link(j("v.npy"), j("hard.npy"))
    rc, err = run(*field_args(x, j("v.npy"), "--potential", j("hard.npy")))
    c.check(rc == 2 and "same file" in err, "hard-linked outputs: exit %r, %s" % (rc, err))
    rc, err = run(*field_args(x, "/dev/null", "--potential", "/dev/null"))
    c.check(rc == 0, "/dev/null twice: exit %r, %s" % (rc, err))
    c.check(not os.path.exists(j("new.npy")), "a refused command wrote its output")

    # 6. one drift train per run directory
    toy = ["train", "--data", "swiss_roll", "--preset", "quick", "--steps", "3", "--width", "8", "--depth", "1",
           "--eval-every", "-1", "--quiet"]
    rd = j("run")
    os.mkdir(rd)
    open(os.path.join(rd, "metrics.jsonl"), "w").write("sentinel\n")
    lock = open(os.path.join(rd, ".drift.lock"), "a+")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    rc, err = run(*toy, "--out", rd, "--overwrite")  # not empty: --overwrite, which takes the lock too
    c.check(rc == 1 and "in use" in err, "train in a locked run directory: exit %r, %s" % (rc, err))
    c.check(open(os.path.join(rd, "metrics.jsonl")).read() == "sentinel\n", "locked run: metrics.jsonl touched")
    c.check(not os.path.exists(os.path.join(rd, "checkpoint.safetensors")), "locked run: checkpoint written")
    lock.close()
    rc, err = run(*toy, "--out", rd, "--overwrite")
    c.check(rc == 0 and os.path.exists(os.path.join(rd, "checkpoint.safetensors")), "train after unlock: %r, %s" % (rc, err))

    # 7. checkpoints that must not load
    ck = os.path.join(rd, "checkpoint.safetensors")
    rc, err = run("train", "--resume", ck, "--steps", "2", "--quiet")
    c.check(rc == 1 and "past the run's" in err, "resume with --steps below the checkpoint's step: %r, %s" % (rc, err))
    bad = j("nan_ema.safetensors")
    open(bad, "wb").write(open(ck, "rb").read())
    patch_tensor(bad, "ema", lambda b, dt: np.full(len(b) // 4, np.nan, np.float32).tobytes())
    rc, err = run("sample", "--ckpt", bad, "--n", "4", "--out", j("nan.npy"))
    c.check(rc == 1 and "EMA weights contain NaN" in err and not os.path.exists(j("nan.npy")),
            "NaN EMA weights: exit %r, %s" % (rc, err))
    far = j("far.safetensors")
    open(far, "wb").write(open(ck, "rb").read())
    patch_tensor(far, "state", lambda b, dt: struct.pack("<q", 1 << 62) + b[8:])
    for args in (["train", "--resume", far, "--out", j("far_run"), "--quiet"],
                 ["sample", "--ckpt", far, "--n", "4", "--out", j("far.npy")]):
        rc, err = run(*args)
        c.check(rc == 1 and "4611686018427387904" in err and "beyond" in err, "step 2^62: exit %r, %s" % (rc, err))
    c.check(not os.path.exists(j("far_run", "metrics.jsonl")), "step 2^62: the resumed run wrote metrics")

sys.exit(c.summary())
