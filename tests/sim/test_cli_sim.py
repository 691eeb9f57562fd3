"""test_cli_sim.py — `drift curl` and `drift particles` end to end: help, JSON keys and
values, the files they write, and errors for bad options (exit code 2, a message)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

DRIFT = os.environ.get("DRIFT_BIN", "drift")
failures = 0


def run(*args):
    p = subprocess.run([DRIFT, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def test_curl(tmp):
    rc, out, _ = run("curl", "--help")
    check(rc == 0 and "--families" in out and "--json" in out and "deng" in out, "curl --help")

    rc, out, err = run("curl", "--json", "--probes", "12", "--families", "meanshift,kdegrad,sharp",
                       "--kernels", "gaussian,laplace,rq", "--n-pos", "24", "--n-neg", "24")
    check(rc == 0, f"curl --json rc {rc}: {err}")
    res = json.loads(out)
    check(res["dim"] == 2 and len(res["results"]) == 9, "curl json shape")
    by = {(r["family"], r["kernel"]): r for r in res["results"]}
    for fam in ("kdegrad", "sharp"):
        for ker in ("gaussian", "laplace", "rq"):
            r = by[(fam, ker)]
            check(r["asym_max"] < 1e-6 and r["circ_max"] < 1e-6 and r["conservative"], f"{fam}/{ker} conservative: {r}")
            check(r["curl_max_rel"] < 1e-6, f"{fam}/{ker} grid curl {r['curl_max_rel']}")
    check(by[("meanshift", "gaussian")]["conservative"], "meanshift/gaussian is conservative")
    for ker in ("laplace", "rq"):
        r = by[("meanshift", ker)]
        check(r["asym_median"] > 1e-3 and not r["conservative"] and r["curl_max_rel"] > 1e-2, f"meanshift/{ker}: {r}")

    png = os.path.join(tmp, "curl.png")
    rc, out, err = run("curl", "--families", "meanshift,deng", "--kernels", "laplace", "--grid", "21",
                       "--probes", "4", "--out", png)
    check(rc == 0 and os.path.exists(png), f"curl --out: {err}")
    with open(png, "rb") as f:
        head = f.read(24)
    check(head[:8] == b"\x89PNG\r\n\x1a\n", "curl figure is a PNG")
    check("NOT conservative" in out, "curl table verdict")

    # any dimension: the table, no grid
    npy = os.path.join(tmp, "pos5.npy")
    np.save(npy, np.random.default_rng(0).normal(size=(30, 5)).astype(np.float32))
    rc, out, err = run("curl", "--json", "--dim", "5", "--pos", npy, "--neg", "gaussian:0.7",
                       "--families", "kdegrad,meanshift", "--kernels", "rq", "--probes", "8")
    check(rc == 0, f"curl dim 5: {err}")
    res = json.loads(out)
    check(res["n_pos"] == 30 and res["results"][0]["curl_max_rel"] is None, "curl dim 5 json")
    check(res["results"][0]["conservative"] and not res["results"][1]["conservative"], "curl dim 5 verdicts")

    for bad, msg in [(["--families", "bogus"], "family"), (["--tau", "-1"], "tau"),
                     (["--dim", "3", "--out", png], "2-D"), (["--nope"], "unknown option"),
                     (["--kernels", "laplace,laplace"], "twice"), (["--pos", "swiss_roll", "--dim", "3"], "2-D"),
                     (["--range", "1,0,0,1"], "range"), (["--pos", os.path.join(tmp, "missing.npy")], "missing.npy")]:
        rc, _, err = run("curl", *bad)
        check(rc in (1, 2) and msg in err, f"curl {bad}: rc {rc}, stderr {err!r}")


def test_particles(tmp):
    rc, out, _ = run("particles", "--help")
    check(rc == 0 and "--sweep-n" in out and "--no-self" in out, "particles --help")

    csv, png, svg, npy = (os.path.join(tmp, n) for n in ("t.csv", "s.png", "p.svg", "x.npy"))
    rc, out, err = run("particles", "--n", "64", "--steps", "40", "--log-every", "10", "--json",
                       "--csv", csv, "--png", png, "--snapshots", "3", "--plot", svg, "--save", npy)
    check(rc == 0, f"particles run: {err}")
    res = json.loads(out)
    for key in ("n", "d", "h", "eta", "steps", "residual", "mmd2", "min_occupancy", "trace", "exact_score"):
        check(key in res, f"particles json key {key}")
    check(res["exact_score"] and res["steps"] == 40 and len(res["trace"]) == 5, "particles json values")
    check(abs(res["h"] - 64 ** (-1 / 6)) < 1e-12, "bandwidth rule h = N^(-1/(d+4))")
    check(res["trace"][-1]["residual"] < res["trace"][0]["residual"], "R decreases")
    with open(csv) as f:
        lines = f.read().splitlines()
    check(lines[0] == "step,time,residual,mmd2,min_occupancy" and len(lines) == 6, "trace csv")
    x = np.load(npy)
    check(x.shape == (64, 2) and np.isfinite(x).all(), "saved particles")
    check(os.path.getsize(png) > 1000 and open(svg).read().startswith("<"), "pictures written")

    plot = os.path.join(tmp, "sweep.svg")
    rc, out, err = run("particles", "--dim", "1", "--sweep-n", "32,64,128", "--seeds", "2", "--time", "1",
                       "--json", "--sweep-plot", plot)
    check(rc == 0, f"sweep: {err}")
    res = json.loads(out)
    for key in ("n", "residual", "slope", "slope_ci", "theory", "residual_runs", "h", "steps"):
        check(key in res, f"sweep json key {key}")
    check(res["n"] == [32, 64, 128] and len(res["residual"]) == 3 and len(res["residual_runs"][0]) == 2, "sweep shape")
    check(abs(res["theory"] + 0.2) < 1e-12, "theory -1/(d+4)")
    # the slope and its interval are those of these runs: least squares of log R on log N over
    # every run, recomputed here, half-width t(0.975, runs - 2) * se (scipy)
    from scipy.stats import t as student_t
    lx = np.log(np.repeat(res["n"], len(res["residual_runs"][0])).astype(float))
    ly = np.log(np.array(res["residual_runs"], float).ravel())
    b, a = np.polyfit(lx, ly, 1)
    se = np.sqrt(((ly - a - b * lx) ** 2).sum() / (len(lx) - 2) / ((lx - lx.mean()) ** 2).sum())
    half = student_t.ppf(0.975, len(lx) - 2) * se
    lo, hi = res["slope_ci"]
    check(abs(res["slope"] - b) < 1e-9 and abs(hi - res["slope"] - half) < 1e-9 and abs(res["slope"] - lo - half) < 1e-9,
          f"slope {res['slope']} [{lo}, {hi}] vs least squares {b} +- {half}")
    check(os.path.exists(plot), "sweep plot")
    # the laplace meanshift field runs too (target samples as positives)
    rc, out, err = run("particles", "--family", "meanshift", "--kernel", "laplace", "--n", "48",
                       "--steps", "5", "--json")
    check(rc == 0 and not json.loads(out)["exact_score"], f"laplace meanshift run: {err}")

    # a flow that comes to rest on one mode of a two-mode target is called out, a converged one is not
    rc, out, err = run("particles", "--target", "mixture:2", "--n", "128", "--json")
    check(rc == 0 and json.loads(out)["mmd2"] > 0.1 and "settled away" in err, f"stuck flow noted: {err!r}")
    rc, out, err = run("particles", "--target", "mixture:2", "--init", "gaussian", "--n", "128", "--json")
    check(rc == 0 and json.loads(out)["mmd2"] < 0.02 and "settled away" not in err, f"converged flow: {err!r}")

    for bad, msg in [(["--h", "0.3", "--bw-c", "1"], "not both"), (["--sweep-n", "64"], "sweep-n"),
                     (["--target", "swiss_roll", "--dim", "3"], "2-D"), (["--family", "nope"], "family"),
                     (["--eta", "0"], "step size"), (["--n", "1"], "--n"), (["--steps", "5", "--time", "2"], "not several"),
                     (["--sweep-n", "64,128", "--png", png], "single runs"), (["--init", "mixture:9"], "K must"),
                     # every pair of alternatives is found by name (the options used to be found by
                     # their position in the table)
                     (["--eta", "0.1", "--eta-h2", "0.2"], "not both"), (["--steps", "5", "--time-h2", "2"], "not several"),
                     (["--time", "1", "--time-h2", "2"], "not several"), (["--h", "0"], "--h must"),
                     (["--bw-c", "0"], "--bw-c must"), (["--time-h2", "0"], "--time-h2 must")]:
        rc, _, err = run("particles", *bad)
        check(rc in (1, 2) and msg in err, f"particles {bad}: rc {rc}, stderr {err!r}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        test_curl(tmp)
        test_particles(tmp)
    print("failures:", failures)
    sys.exit(1 if failures else 0)
