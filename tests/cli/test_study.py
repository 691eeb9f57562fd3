"""`drift study`: a tiny plan on a toy runs every cell and writes the tables (mean ± sd over
seeds checked against NumPy); a rerun skips finished cells; a cell left with a checkpoint and no
result (a killed run) is resumed to the plan's length; a stale lock of a dead local process is
reclaimed, a lock of another host is respected; SIGTERM stops the study with the running cell
checkpointed and its lock released; bad plans are refused before anything runs."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

BIN = os.environ.get("DRIFT_BIN", "build/drift")
SANITIZE = os.environ.get("DRIFT_SANITIZE", "0") in ("1", "ON", "TRUE", "true")
STEPS = 12 if SANITIZE else 30
passed = failed = 0


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", msg, file=sys.stderr)


def drift(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, **kw)


BASE = {"data": "swiss_roll", "preset": "quick", "steps": STEPS, "n-pos": 64, "n-neg": 64, "width": 16,
        "log-every": 5, "ckpt-every": 5, "eval-every": 0, "eval-n": 128, "threads": 1}


def write_plan(path, plan):
    with open(path, "w") as f:
        json.dump(plan, f)


def metrics_steps(run):
    return [json.loads(l)["step"] for l in open(os.path.join(run, "metrics.jsonl"))]


with tempfile.TemporaryDirectory() as tmp:
    # --- 1. two seeds of one variant: both cells run, the tables are written -----------------
    plan = os.path.join(tmp, "plan.json")
    write_plan(plan, {"name": "t", "base": BASE, "axes": {"seed": [0, 1], "family": ["deng"]}, "eval": {"n": 256}})
    d = os.path.join(tmp, "s")
    t0 = time.time()
    r = drift("study", plan, "--out", d)
    check(r.returncode == 0, f"study: {r.returncode} {r.stderr}")
    cells = ["seed=0,family=deng", "seed=1,family=deng"]
    for c in cells:
        check(os.path.exists(os.path.join(d, c, "result.json")), f"{c}: result.json")
        check(os.path.exists(os.path.join(d, c, "run", "checkpoint.safetensors")), f"{c}: an ordinary run directory")
        check(not os.path.exists(os.path.join(d, c, "lock")), f"{c}: lock released")
        check(not os.path.exists(os.path.join(d, c, "samples.npy")), f"{c}: samples removed (row.npy kept)")
        check(os.path.exists(os.path.join(d, c, "row.npy")), f"{c}: row.npy")
    res = json.load(open(os.path.join(d, "results.json")))
    check(res["cells_done"] == 2 and res["cells_total"] == 2, f"results.json counts {res.get('cells_done')}")
    vals = [json.load(open(os.path.join(d, c, "result.json")))["eval"]["toy_mmd2"] for c in cells]
    g = res["groups"][0]
    check(len(res["groups"]) == 1 and g["group"] == "family=deng", f"one group over the seeds: {res['groups']}")
    m = g["metrics"]["toy_mmd2"]
    check(m["n"] == 2 and abs(m["mean"] - np.mean(vals)) < 1e-12 and abs(m["sd"] - np.std(vals, ddof=1)) < 1e-12,
          f"mean ± sd over seeds: {m} vs {vals}")
    check(vals[0] != vals[1], "the seeds differ")
    md = open(os.path.join(d, "results.md")).read()
    check("| family=deng | 2 |" in md and "±" in md and "toy_mmd2" in md, f"results.md group row:\n{md}")
    for c in cells:
        check(f"| {c} |" in md, f"results.md lists {c}")
    check("cell 1/2" in r.stderr and "ETA" in r.stderr, f"progress line: {r.stderr}")
    first_time = time.time() - t0

    # --- 2. a rerun skips finished cells ---------------------------------------------------------
    mtimes = [os.stat(os.path.join(d, c, "result.json")).st_mtime_ns for c in cells]
    logs = [open(os.path.join(d, c, "log.txt")).read() for c in cells]
    r = drift("study", plan, "--out", d)
    check(r.returncode == 0 and "(0 to run)" in r.stderr and "2 of 2 cells finished" in r.stderr, f"rerun: {r.stderr}")
    check([os.stat(os.path.join(d, c, "result.json")).st_mtime_ns for c in cells] == mtimes, "rerun kept the results")
    check([open(os.path.join(d, c, "log.txt")).read() for c in cells] == logs, "rerun ran nothing")
    r = drift("study", plan, "--out", d, "--list")
    check(r.returncode == 0 and r.stdout.count("done ") == 2, f"--list: {r.stdout}")
    r = drift("study", plan, "--out", d, "--list", "--cells", "seed=1,*")
    check(r.returncode == 0 and r.stdout.splitlines() == [l for l in r.stdout.splitlines() if "seed=1,family=deng" in l]
          and r.stdout.count("\n") == 1, f"--list --cells: {r.stdout}")
    # a changed plan is refused for the same directory
    write_plan(os.path.join(tmp, "changed.json"),
               {"name": "t", "base": dict(BASE, lr=0.01), "axes": {"seed": [0, 1], "family": ["deng"]}})
    r = drift("study", os.path.join(tmp, "changed.json"), "--out", d)
    check(r.returncode != 0 and "plan changed" in r.stderr, f"changed plan: {r.stderr}")

    # --- 3. a killed cell resumes; a stale lock of a dead local process is reclaimed -------------
    plan2 = os.path.join(tmp, "plan2.json")
    sharp = {"label": "sharp", "family": "sharp", "kernel": "laplace", "objective": "potential"}
    write_plan(plan2, {"name": "t2", "base": BASE, "cells": [{"label": "deng"}, sharp], "eval": {"n": 256}})
    d2 = os.path.join(tmp, "s2")
    r = drift("study", plan2, "--out", d2, "--list")
    check(r.returncode == 0 and r.stdout.startswith("new      cell=deng"), f"--list: {r.stdout}")
    # the cell "killed" after 10 steps: its own options, run by hand for fewer steps
    opts = ["--data", "swiss_roll", "--preset", "quick"]
    for k, v in BASE.items():
        if k not in ("data", "preset", "steps"):
            opts += [f"--{k}", str(v)]
    run = os.path.join(d2, "cell=sharp", "run")
    os.makedirs(os.path.dirname(run))
    r = drift("train", *opts, "--family", "sharp", "--kernel", "laplace", "--objective", "potential", "--steps", "10",
              "--out", run)
    check(r.returncode == 0, f"partial cell: {r.stderr}")
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(os.path.join(d2, "cell=sharp", "lock"), "w") as f:
        f.write(f"{socket.gethostname()} {dead.pid} 0\n")
    r = drift("study", plan2, "--out", d2, "--list")
    check("partial  cell=sharp" in r.stdout, f"--list shows the partial cell: {r.stdout}")
    r = drift("study", plan2, "--out", d2, "--cells", "cell=sh*")  # only the partial cell
    check(r.returncode == 0 and "(1 to run)" in r.stderr, f"study with a partial cell: {r.stderr}")
    check(not os.path.exists(os.path.join(d2, "cell=deng", "result.json")), "--cells left the other cell alone")
    check("resuming from its checkpoint (step 10)" in r.stderr, f"resumed: {r.stderr}")
    log = open(os.path.join(d2, "cell=sharp", "log.txt")).read()
    check("--resume" in log and f"--steps {STEPS}" in log, f"log names the resume: {log}")
    steps = metrics_steps(run)
    check(steps[-1] == STEPS and len(steps) == len(set(steps)) and 10 in steps, f"resumed to the plan's length: {steps}")
    check(os.path.exists(os.path.join(d2, "cell=sharp", "result.json")), "resumed cell finished")
    check(not os.path.exists(os.path.join(d2, "cell=sharp", "lock")), "stale lock reclaimed and released")

    # --- 4. a lock of another host is respected ---------------------------------------------------
    d3 = os.path.join(tmp, "s3")
    os.makedirs(os.path.join(d3, "cell=deng"))
    with open(os.path.join(d3, "cell=deng", "lock"), "w") as f:
        f.write("some-other-host 12345 0\n")
    r = drift("study", plan2, "--out", d3)
    check(r.returncode == 0 and "being run by some-other-host:12345" in r.stderr, f"held cell skipped: {r.stderr}")
    check(not os.path.exists(os.path.join(d3, "cell=deng", "result.json")), "held cell not run")
    check(os.path.exists(os.path.join(d3, "cell=sharp", "result.json")), "the other cell ran")
    check(os.path.exists(os.path.join(d3, "cell=deng", "lock")), "another host's lock left alone")
    md = open(os.path.join(d3, "results.md")).read()
    check("| cell=deng | 0 | pending |" in md, f"pending cell in the table:\n{md}")

    # --- 5. SIGTERM: the running cell checkpoints, the lock is released, exit 143 ------------------
    plan3 = os.path.join(tmp, "plan3.json")
    write_plan(plan3, {"name": "t3", "base": dict(BASE, steps=100000, width=64), "axes": {"seed": [0]}})
    d4 = os.path.join(tmp, "s4")
    p = subprocess.Popen([BIN, "study", plan3, "--out", d4], stderr=subprocess.PIPE, text=True)
    ck = os.path.join(d4, "seed=0", "run", "checkpoint.safetensors")
    deadline = time.time() + 120
    while not os.path.exists(ck) and time.time() < deadline and p.poll() is None:
        time.sleep(0.1)
    check(os.path.exists(ck), "long cell wrote a checkpoint")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    check(p.returncode == 143 and "stopped by SIGTERM" in err, f"SIGTERM: {p.returncode} {err}")
    check(not os.path.exists(os.path.join(d4, "seed=0", "lock")), "lock released after SIGTERM")
    check(not os.path.exists(os.path.join(d4, "seed=0", "result.json")), "no result for a stopped cell")
    r = drift("study", plan3, "--out", d4, "--list")
    check(r.stdout.startswith("partial  seed=0"), f"stopped cell is partial: {r.stdout}")
    check(drift_ok := (os.path.getsize(ck) > 0), "checkpoint kept")

    # --- 6. bad plans are refused before anything runs -------------------------------------------
    for body, msg in (({"base": dict(BASE, lrr=1), "axes": {"seed": [0]}}, "\"lrr\" is not a drift train option"),
                      ({"base": dict(BASE, out="x"), "axes": {"seed": [0]}}, "belongs to the study"),
                      ({"base": BASE, "axes": {"seed": [0], "family": ["dng"]}}, "cell seed=0,family=dng"),
                      ({"base": BASE, "axes": {"variant": ["a"]}}, "must be objects of options"),
                      ({"base": BASE}, "needs \"axes\" or \"cells\""),
                      ({"base": BASE, "axes": {"seed": [0]}, "eval": {"n": 1}}, "eval.n")):
        write_plan(os.path.join(tmp, "bad.json"), body)
        r = drift("study", os.path.join(tmp, "bad.json"), "--out", os.path.join(tmp, "bad"))
        check(r.returncode != 0 and msg in r.stderr, f"bad plan {body}: {r.stderr}")
        check(not os.path.exists(os.path.join(tmp, "bad")), "a bad plan creates nothing")

print(f"test_study: {passed} passed, {failed} failed (first study {first_time:.1f} s)")
sys.exit(1 if failed else 0)
