"""`drift train` progress output: the rate and the ETA are steps done in this process over wall
time (no "41528 it/s  ETA 0:00" from a first step that was never timed, no millions of it/s after
--resume from steps done before it), and the final summary counts the steps of this run."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
t = Checks()


def drift(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


def rates(stderr):
    """Every rate shown, in steps per second (a slow loop shows "s/it")."""
    out = [float(x) for x in re.findall(r"([0-9.]+) it/s", stderr)]
    out += [1 / float(x) for x in re.findall(r"([0-9.]+) s/it", stderr) if float(x) > 0]
    return out


TOY = ["--preset", "quick", "--n-pos", "64", "--n-neg", "64", "--width", "32", "--log-every", "100",
       "--eval-every", "-1", "--sample-every", "0"]

with tempfile.TemporaryDirectory() as tmp:
    run = os.path.join(tmp, "toy")
    r = drift("train", "--data", "two_mode", "--steps", "500", *TOY, "--out", run)
    t.check(r.returncode == 0, f"toy train: {r.stderr}")
    rs = rates(r.stderr)
    t.check(rs and all(0 < x < 1e5 for x in rs), f"plausible rates in a fresh run: {rs}")
    t.check("train  done: 500 steps in " in r.stderr, f"summary of a fresh run: {r.stderr[-400:]}")
    t.check("from step" not in r.stderr and "drift train: done, 500 steps;" in r.stderr,
            f"a fresh run names no step range: {r.stderr[-300:]}")

    r = drift("train", "--resume", os.path.join(run, "checkpoint.safetensors"), "--steps", "1000")
    t.check(r.returncode == 0 and "resuming" in r.stderr, f"resume: {r.stderr}")
    rs = rates(r.stderr)
    t.check(rs and all(0 < x < 1e5 for x in rs), f"plausible rates after --resume (were millions): {rs}")
    # the rate over this process's 500 steps, not the checkpoint's 500 as well
    done = [l for l in r.stderr.splitlines() if l.startswith("train  done:")]
    t.check(len(done) == 1 and done[0].startswith("train  done: 500 steps in ") and
            done[0].endswith(", from step 500 to 1000"), f"progress summary counts this run: {done}")
    t.check("drift train: done, 500 steps in this run (from step 500 to 1000)" in r.stderr,
            f"final line counts this run: {r.stderr.splitlines()[-1:]}")
    # status lines after the resume: each ETA no longer than the steps left at the shown rate allow
    for m in re.finditer(r"train  (\d+)/1000 +\d+%  ([0-9.]+) it/s  ETA (\d+):(\d+)", r.stderr):
        step, rate, eta = int(m.group(1)), float(m.group(2)), 60 * int(m.group(3)) + int(m.group(4))
        t.check(step > 500 and abs(eta - (1000 - step) / rate) <= 1, f"ETA of {m.group(0)}")

    # --quiet: nothing on stderr but errors
    r = drift("train", "--resume", os.path.join(run, "checkpoint.safetensors"), "--steps", "1010", "--quiet")
    t.check(r.returncode == 0 and "it/s" not in r.stderr, f"--quiet: {r.stderr!r}")

sys.exit(t.summary())
