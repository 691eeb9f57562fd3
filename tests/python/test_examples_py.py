"""examples/python_torch_train.py runs as documented (fewer steps) and its generator gets closer to the
data: the MMD² it prints after training is below the one before. Runs the example in a fresh
/usr/bin/python3 whose only way to `drift` is PYTHONPATH=<source>/python (what scripts/setup's
drift.pth does), with DRIFT_LIB naming this build's library."""
import os
import re
import subprocess
import sys

from pyenv import Checks, SANITIZED, SOURCE

t = Checks()
steps = 60 if SANITIZED else 150
env = dict(os.environ, PYTHONPATH=os.path.join(SOURCE, "python"))
r = subprocess.run([sys.executable, os.path.join(SOURCE, "examples", "python_torch_train.py"), "--steps", str(steps)],
                   capture_output=True, text=True, env=env, cwd=os.path.join(SOURCE, "examples"))
t.check(r.returncode == 0, "example runs: %s" % r.stderr[-2000:])
mmd = [float(v) for v in re.findall(r"MMD² (?:before training|after \d+ steps): ([0-9.eE+-]+)", r.stdout)]
t.check(len(mmd) == 2, "prints MMD² before and after: %r" % r.stdout)
if len(mmd) == 2:
    t.check(mmd[1] < mmd[0] / 3, "MMD² falls: %g -> %g" % tuple(mmd))
t.check(re.search(r"step +%d +loss" % steps, r.stdout) is not None, "progress lines: %r" % r.stdout)
raise SystemExit(t.summary())
