"""Feature-space drifting (--features) under `mpirun -np 2`: the step-wide scale and λ of every
key are summed over the ranks, so 2 ranks train what 1 process trains for the same global batch
(4 MNIST class groups split 2 + 2, a tiny encoder), in both scopes; a step with fewer class groups
than ranks is refused with a message. Skipped (77) only without mpirun, like test_mpi.py."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pychecks import Checks  # noqa: E402

BIN = os.path.abspath(os.environ.get("DRIFT_BIN", "build/drift"))
SOURCE = os.environ.get("DRIFT_SOURCE_DIR", ".")
DATA = os.path.join(SOURCE, "data")
MPIRUN = os.environ.get("DRIFT_MPIEXEC", "")
if not os.path.isfile(MPIRUN):
    MPIRUN = shutil.which("mpirun")
if not MPIRUN:
    print("SKIP: mpirun not found (scripts/setup installs openmpi-bin and libopenmpi-dev)")
    sys.exit(77)
if os.environ.get("DRIFT_HAS_MPI", "1") != "1":
    if os.environ.get("DRIFT_MPI", "AUTO").upper() == "OFF":
        print("SKIP: configured with -DDRIFT_MPI=OFF: the MPI tests did not run")
        sys.exit(77)
    print("FAIL mpirun is installed but drift was built without MPI", file=sys.stderr)
    sys.exit(1)
c = Checks()
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
           OMP_WAIT_POLICY="passive", OMPI_MCA_rmaps_base_oversubscribe="1")
SERIAL_ENV = {k: v for k, v in ENV.items() if not k.startswith(("OMPI_COMM_WORLD", "PMI_"))}


def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                             dtype={"F32": np.float32, "I64": np.int64}[v["dtype"]])
            for k, v in head.items() if k != "__metadata__"}


def losses(run):
    return [json.loads(l)["loss"] for l in open(os.path.join(run, "metrics.jsonl")) if l.strip()]


with tempfile.TemporaryDirectory() as tmp:
    enc = os.path.join(tmp, "enc.safetensors")
    r = subprocess.run([BIN, "encoder", "train", "--data", "mnist", "--data-dir", DATA, "--n-train", "256",
                        "--steps", "3", "--batch", "8", "--widths", "4,8,8", "--out", enc],
                       capture_output=True, text=True, env=SERIAL_ENV)
    c.check(r.returncode == 0, "encoder: %s" % r.stderr[-300:])
    base = ["--data", "mnist", "--data-dir", DATA, "--preset", "quick", "--features", enc, "--classes-per-step", "4",
            "--n-pos", "8", "--n-neg", "6", "--n-unc", "4", "--width", "8", "--steps", "3", "--eval-every", "-1",
            "--sample-every", "0", "--log-every", "1", "--threads", "1", "--quiet"]
    for scope in ("step", "group"):
        one, two = os.path.join(tmp, "one-" + scope), os.path.join(tmp, "two-" + scope)
        a = subprocess.run([BIN, "train", *base, "--feature-scope", scope, "--out", one], capture_output=True,
                           text=True, env=SERIAL_ENV, timeout=240)
        b = subprocess.run([MPIRUN, "-np", "2", "--oversubscribe", "--allow-run-as-root", BIN, "train", *base,
                            "--feature-scope", scope, "--out", two], capture_output=True, text=True, env=ENV,
                           timeout=240)
        c.check(a.returncode == 0 and b.returncode == 0,
                "%s: rc %d / %d: %s %s" % (scope, a.returncode, b.returncode, a.stderr[-300:], b.stderr[-300:]))
        if a.returncode or b.returncode:
            continue
        ta = tensors(os.path.join(one, "checkpoint.safetensors"))
        tb = tensors(os.path.join(two, "checkpoint.safetensors"))
        for k in ("adam.m", "adam.v"):
            scale = float(np.abs(ta[k]).max())
            worst = float(np.abs(ta[k].astype(np.float64) - tb[k]).max())
            c.check(worst <= 1e-4 * scale, "%s: %s differs by %.3g of %.3g" % (scope, k, worst, scale))
            print("%s: %s max |difference| %.3g of %.3g" % (scope, k, worst, scale))
        la, lb = losses(one), losses(two)
        c.check(len(la) == len(lb) == 3 and all(abs(x - y) <= 1e-5 * abs(x) for x, y in zip(la, lb)),
                "%s: losses %r vs %r" % (scope, la, lb))
    # more ranks than class groups: refused, not hung
    r = subprocess.run([MPIRUN, "-np", "2", "--oversubscribe", "--allow-run-as-root", BIN, "train", *base,
                        "--classes-per-step", "1", "--out", os.path.join(tmp, "few")], capture_output=True, text=True,
                       env=ENV, timeout=120)
    c.check(r.returncode != 0 and "class group on every rank" in r.stderr, "1 group, 2 ranks: %r" % r.stderr[-300:])

sys.exit(c.summary())
