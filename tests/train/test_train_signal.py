"""drift train under SIGTERM/SIGINT and failures, end to end on toy data.

- SIGTERM to a running `drift train`: it finishes the current step, writes a checkpoint, exits 143
  and says how to continue; `drift train --resume` from that checkpoint runs on from its step.
  SIGINT does the same with 130.
- "the last good checkpoint is ..." only when this run wrote (or resumed from) one that exists: a
  run that diverges before its first checkpoint says that none was written, also in a directory
  that holds an older run's checkpoint; a run whose sample grid cannot be written (a full disk;
  here samples.png is a directory) names the checkpoint written at that same step."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN", "build/drift")
t = Checks()
TOY = ["--data", "two_mode", "--preset", "quick", "--threads", "1", "--eval-every", "-1", "--sample-every", "0"]


def train(*args, timeout=300):
    return subprocess.run([BIN, "train", *TOY, *args], capture_output=True, text=True, timeout=timeout)


def metric_steps(run_dir):
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line)["step"] for line in f if line.strip()]


def interrupted_run(run_dir, sig, want_rc):
    p = subprocess.Popen([BIN, "train", *TOY, "--steps", "1000000", "--ckpt-every", "0", "--log-every", "5",
                          "--out", run_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(metric_steps(run_dir)) < 3 and p.poll() is None:
        time.sleep(0.05)
    t.check(p.poll() is None and len(metric_steps(run_dir)) >= 3, f"{sig.name}: the run got going")
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    t.check(p.returncode == want_rc, f"{sig.name}: exit status {p.returncode}, {want_rc} expected; stderr: {err[-400:]}")
    ck = os.path.join(run_dir, "checkpoint.safetensors")
    t.check(os.path.exists(ck), f"{sig.name}: a checkpoint was written")
    t.check(f"stopped by {sig.name}" in err and f"--resume {ck}" in err, f"{sig.name}: message: {err[-400:]}")
    return ck, err


with tempfile.TemporaryDirectory() as tmp:
    # SIGTERM, then resume
    run_dir = os.path.join(tmp, "term")
    ck, err = interrupted_run(run_dir, signal.SIGTERM, 143)
    at = None
    for word in err.replace(";", " ").split("at step ")[1:2]:
        at = int(word.split()[0])
    t.check(at is not None and at >= 10, f"the stop message names the step: {err[-300:]}")
    if at is not None and os.path.exists(ck):
        r = subprocess.run([BIN, "train", "--resume", ck, "--steps", str(at + 7)], capture_output=True, text=True,
                           timeout=300)
        t.check(r.returncode == 0, f"resume after SIGTERM: {r.stderr[-400:]}")
        t.check(f"resuming from {ck} at step {at}" in r.stderr, f"resumed at the stopped step: {r.stderr[-400:]}")
        steps = metric_steps(run_dir)
        t.check(steps and steps[-1] == at + 7 and steps == sorted(set(steps)),
                f"metrics continue to step {at + 7} once each: {steps[-5:]}")

    # SIGINT
    interrupted_run(os.path.join(tmp, "int"), signal.SIGINT, 130)

    # divergence before the first checkpoint: no checkpoint to speak of
    div = os.path.join(tmp, "div")
    r = train("--lr", "1e38", "--warmup", "0", "--out", div)
    t.check(r.returncode != 0 and "non-finite" in r.stderr, f"lr 1e38 diverges: {r.stderr[-300:]}")
    t.check("last good checkpoint" not in r.stderr and "no checkpoint was written" in r.stderr,
            f"no checkpoint claimed when none exists: {r.stderr[-300:]}")
    t.check(not os.path.exists(os.path.join(div, "checkpoint.safetensors")), "and there is none")

    # ... also where an older run left one: a new run no longer starts beside it (issue 14: a
    # non-empty --out is refused), and --overwrite deletes it first, so it is never claimed
    old = os.path.join(tmp, "old")
    r = train("--steps", "2", "--out", old)
    t.check(r.returncode == 0 and os.path.exists(os.path.join(old, "checkpoint.safetensors")), "a short good run")
    r = train("--lr", "1e38", "--warmup", "0", "--out", old)
    t.check(r.returncode == 2 and "not empty" in r.stderr and "last good checkpoint" not in r.stderr,
            f"a new run beside an older run's checkpoint is refused: {r.stderr[-300:]}")
    r = train("--lr", "1e38", "--warmup", "0", "--out", old, "--overwrite")
    t.check(r.returncode != 0 and "last good checkpoint" not in r.stderr and "no checkpoint was written" in r.stderr,
            f"an older run's checkpoint is not claimed: {r.stderr[-300:]}")

    # a sample grid that cannot be written: the checkpoint of that step is there, and named
    # (samples.png made a directory between two sessions of the run: a new run would refuse it)
    full = os.path.join(tmp, "full")
    r = train("--steps", "2", "--ckpt-every", "0", "--out", full)
    os.remove(os.path.join(full, "samples.png"))
    os.makedirs(os.path.join(full, "samples.png"))
    r = subprocess.run([BIN, "train", "--resume", os.path.join(full, "checkpoint.safetensors"), "--steps", "4"],
                       capture_output=True, text=True, timeout=300)
    ck = os.path.join(full, "checkpoint.safetensors")
    t.check(r.returncode != 0 and os.path.exists(ck), f"samples.png unwritable: fails, checkpoint kept: {r.stderr[-300:]}")
    t.check(f"the last good checkpoint is {ck} (step 4)" in r.stderr, f"names it: {r.stderr[-300:]}")
    r = subprocess.run([BIN, "train", "--resume", ck], capture_output=True, text=True, timeout=120)
    t.check("at step 4" in r.stderr, f"it is the step-4 checkpoint: {r.stderr[-300:]}")

sys.exit(t.summary())
