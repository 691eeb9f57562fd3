"""Shared set-up of the tests of the Python package (python/drift): the package of this source tree on
sys.path, libdrift from $DRIFT_LIB (ctest sets it to the build's libdrift.so), the CLI from $DRIFT_BIN,
both on the same thread count, and a tripwire that proves a call made no C call at all."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("DRIFT_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "python"))
sys.path.insert(0, os.path.dirname(HERE))

import drift  # noqa: E402
import drift._lib  # noqa: E402
from pychecks import Checks  # noqa: E402,F401  (re-exported)

BIN = os.environ.get("DRIFT_BIN") or os.path.join(SOURCE, "build", "drift")
SANITIZED = os.environ.get("DRIFT_SANITIZE") == "1"
THREADS = 2
# The CLI restarts itself on a better OpenBLAS kernel when OpenBLAS picked a generic one; this
# process cannot, so the CLI keeps OpenBLAS's choice too: both then run the same kernels.
CLI_ENV = dict(os.environ, DRIFT_BLAS_CORETYPE="keep", OMP_NUM_THREADS=str(THREADS))
drift.set_threads(THREADS)


def cli(*args):
    """Runs the drift CLI: (returncode, stdout, stderr)."""
    r = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True, env=CLI_ENV)
    return r.returncode, r.stdout, r.stderr


class Tripwire:
    """Stands in for the loaded library: any use of it is recorded (and fails the call)."""

    def __init__(self):
        self.used = []

    def __getattr__(self, name):
        self.used.append(name)
        raise AssertionError("C function %s called" % name)


def refused_before_c(t, fn, exc, what):
    """fn() must raise exc without touching libdrift."""
    real = drift._lib.lib()
    wire = Tripwire()
    drift._lib._lib = wire
    try:
        fn()
        t.check(False, "%s: no exception" % what)
    except exc as e:
        t.check(not wire.used, "%s: refused before any C call (called %s)" % (what, wire.used))
        return str(e)
    except Exception as e:  # noqa: BLE001
        t.check(False, "%s: %s instead of %s (C calls: %s)" % (what, type(e).__name__, exc.__name__, wire.used))
        return str(e)
    finally:
        drift._lib._lib = real
