"""`drift eval --sanity` on MNIST and Fashion-MNIST with the default feature network (outlier
exposure): real train images score precision and recall >= 0.6; gaussian and uniform noise,
flat images at five grey levels and salt-and-pepper 30 % score precision <= 0.05; one image
repeated scores recall and coverage <= 0.02 with a duplicate fraction >= 0.99; FID rises with
the strength of additive noise and of blur. Each rule is checked here from the numbers, not
only from drift's own verdict.

The classifiers are trained on first use (about a minute for Fashion-MNIST on 2 idle cores)
into a cache shared by every build directory of this checkout (<source>/.test-cache), so the
sanitizer build scores with the file the Release build trained. The sanitizer build scores
2,000 images per set instead of 10,000 (the rules are the same)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pychecks import Checks  # noqa: E402

BIN = os.environ.get("DRIFT_BIN")
SRC = os.environ.get("DRIFT_SOURCE_DIR")
if not BIN or not os.path.exists(BIN) or not SRC:
    sys.exit("DRIFT_BIN and DRIFT_SOURCE_DIR must be set (ctest does)")
SANITIZED = os.environ.get("DRIFT_SANITIZE") == "1"
N = 2000 if SANITIZED else 10000
CACHE = os.path.join(SRC, ".test-cache")
t = Checks()


# MNIST lives in <source>/data/mnist (scripts/fetch_mnist); tests run in the build directory.
ENV = dict(os.environ, DRIFT_DATA_DIR=os.path.join(SRC, "data"))


def drift(*args):
    p = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True, env=ENV)
    return p.returncode, p.stdout, p.stderr


NOISE_SETS = ("gaussian noise", "uniform noise", "constant 0.00", "constant 0.25", "constant 0.50",
              "constant 0.75", "constant 1.00", "salt-and-pepper 30%")

for data in ("mnist", "fashion-mnist"):
    rc, out, err = drift("eval", "--sanity", "--data", data, "--cache-dir", CACHE, "--n", N, "--json")
    t.check(rc == 0, "%s: sanity exits 0 (every rule holds): rc %d\n%s" % (data, rc, err[-2000:]))
    try:
        s = json.loads(out)
    except ValueError:
        t.check(False, "%s: JSON output: %r" % (data, out[:500]))
        continue
    rows = {r["name"]: r for r in s["sets"]}
    t.check(s["pass"] is True and all(r["pass"] for r in s["sets"]), "%s: drift's own verdict" % data)
    t.check(len(rows) == 17, "%s: 17 sets, got %d" % (data, len(rows)))
    real = rows.get("real (train split)", {})
    t.check(real.get("precision", 0) >= 0.6 and real.get("recall", 0) >= 0.6,
            "%s: real P/R >= 0.6: %r %r" % (data, real.get("precision"), real.get("recall")))
    t.check(real.get("outlier_fraction", 1) <= 0.05 and real.get("class_accuracy", 0) >= 0.9,
            "%s: real images are not outliers and keep their classes" % data)
    t.check(real.get("pixel_dup_frac", 1) <= 0.01 and 0.8 <= real.get("pixel_diversity", 0) <= 1.25,
            "%s: real diversity %r dup %r" % (data, real.get("pixel_diversity"), real.get("pixel_dup_frac")))
    for name in NOISE_SETS:
        r = rows.get(name, {})
        t.check(r.get("precision", 1) <= 0.05, "%s: %s precision %r" % (data, name, r.get("precision")))
        t.check(r.get("outlier_fraction", 0) >= 0.9,
                "%s: %s outlier fraction %r" % (data, name, r.get("outlier_fraction")))
        t.check(r.get("fid", 0) > 20 * real.get("fid", 1e9), "%s: %s FID far above real" % (data, name))
    copies = rows.get("one image, repeated", {})
    t.check(copies.get("recall", 1) <= 0.02 and copies.get("coverage", 1) <= 0.02,
            "%s: copies recall %r coverage %r" % (data, copies.get("recall"), copies.get("coverage")))
    t.check(copies.get("pixel_dup_frac", 0) >= 0.99 and copies.get("pixel_diversity", 1) == 0,
            "%s: copies dup %r diversity %r" % (data, copies.get("pixel_dup_frac"), copies.get("pixel_diversity")))
    for group in ("noise", "blur"):
        fids = [real.get("fid", 0)] + [r["fid"] for r in s["sets"] if r["group"] == group]
        t.check(len(fids) == (5 if group == "noise" else 4) and all(a < b for a, b in zip(fids, fids[1:])),
                "%s: FID rises with %s strength: %r" % (data, group, fids))
    t.check(s["fid_rises_with_noise"] and s["fid_rises_with_blur"], "%s: drift's monotonicity verdict" % data)
    t.check(s["n"] == min(N, 9000 if data == "mnist" else 60000), "%s: set size %r" % (data, s["n"]))

# The table form says the same, and usage errors are refused.
rc, out, err = drift("eval", "--sanity", "--data", "mnist", "--cache-dir", CACHE, "--n", 500)
t.check(rc in (0, 1) and "| real (train split) |" in out and "salt-and-pepper" in out, "table: %s" % err[-500:])
rc, out, err = drift("eval", "--sanity", "--samples", "x.npy", "--data", "mnist")
t.check(rc == 2 and "either --samples or --sanity" in err, "--sanity with --samples: %s" % err)
rc, out, err = drift("eval", "--sanity", "--data", "moons")
t.check(rc == 2 and "image datasets" in err, "--sanity on a toy: %s" % err)
sys.exit(t.summary())
