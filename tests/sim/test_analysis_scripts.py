#!/usr/bin/python3
"""The analysis scripts of docs/ANALYSIS.md sections 6 and 7 run (their --quick forms) and say
what the docs say they say:

  identifiability.py: the conservative fields (kdegrad, sharp-laplace) come to rest with the
    particles' KDE within a fraction of the i.i.d. control's distance from the data's KDE, the
    original laplace displacement field (meanshift-laplace) stays at least twice as far under
    its own kernel as sharp-laplace under its own, and gaussian meanshift is kdegrad up to the
    time scale (the same rest point);
  conditions.py: at the rest of the conservative flow the particles' KDE covers every particle
    (rho_min > 0.5) and the kernel quadrature error is below the i.i.d. samples' at the largest N.
"""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("DRIFT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("FAIL", msg)


def run(script, out):
    env = dict(os.environ)
    env.setdefault("DRIFT_DATA_DIR", os.path.join(SRC, "data"))
    r = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "analysis", script), "--quick", "--json", out],
                       capture_output=True, text=True, env=env)
    check(r.returncode == 0, f"{script}: rc {r.returncode}: {r.stderr[-500:]}")
    check("|---" in r.stdout, f"{script}: no table printed")
    with open(out) as f:
        return json.load(f)


with tempfile.TemporaryDirectory() as tmp:
    rows = run("identifiability.py", os.path.join(tmp, "ident.json"))
    by = {r["field"]: r for r in rows}
    want = {"i.i.d. samples (control)", "kdegrad-gaussian", "meanshift-gaussian", "sharp-laplace", "meanshift-laplace"}
    if os.environ.get("DRIFT_SANITIZE") not in ("1", "ON", "TRUE", "true"):
        want.add("deng-laplace")  # the sanitizer build's small form leaves deng out
    check(set(by) >= want, f"families: {sorted(by)}")
    iid = by["i.i.d. samples (control)"]
    for name in ("kdegrad-gaussian", "sharp-laplace"):
        own = "E_gaussian" if name.endswith("gaussian") else "E_sharp"
        check(by[name][own] < 0.3 * iid[own], f"{name}: {own} {by[name][own]:.4f} vs i.i.d. {iid[own]:.4f}")
    check(by["meanshift-laplace"]["E_laplace"] > 2 * by["sharp-laplace"]["E_sharp"],
          f"meanshift-laplace {by['meanshift-laplace']['E_laplace']:.4f} vs sharp-laplace "
          f"{by['sharp-laplace']['E_sharp']:.4f}")
    a, b = by["kdegrad-gaussian"]["E_gaussian"], by["meanshift-gaussian"]["E_gaussian"]
    check(abs(a - b) <= 0.05 * a, f"gaussian meanshift {b:.5f} vs kdegrad {a:.5f}")

    res = run("conditions.py", os.path.join(tmp, "cond.json"))
    check(len(res) == 2 and all(len(t["rows"]) == 2 for t in res), "two targets, two sizes each")
    for t in res:
        last = t["rows"][-1]
        check(all(r["flow"]["rho_min"] > 0.5 for r in t["rows"]), f"{t['target']}: occupancy {t['rows']}")
        check(last["flow"]["cq"] < last["iid"]["cq"],
              f"{t['target']}: quadrature {last['flow']['cq']:.3f} vs i.i.d. {last['iid']['cq']:.3f}")

print("failures:", failures)
sys.exit(1 if failures else 0)
