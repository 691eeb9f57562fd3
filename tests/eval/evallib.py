"""ctypes access to the metric functions of libdrift ($DRIFT_LIB) for the eval tests."""
import ctypes
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pychecks import Checks  # noqa: E402,F401  (re-exported for the tests)

F32P = ctypes.POINTER(ctypes.c_float)
F64P = ctypes.POINTER(ctypes.c_double)
I64 = ctypes.c_int64


class FeatureStats(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64), ("dim", ctypes.c_int),
                ("mean", F64P), ("cov", F64P)]


class Prdc(ctypes.Structure):
    _fields_ = [("precision", ctypes.c_double), ("recall", ctypes.c_double),
                ("density", ctypes.c_double), ("coverage", ctypes.c_double)]


class Lib:
    def __init__(self):
        path = os.environ.get("DRIFT_LIB")
        if not path or not os.path.exists(path):
            sys.exit("DRIFT_LIB must name a built libdrift.so, got %r" % path)
        self.lib = lib = ctypes.CDLL(path)
        lib.drift_last_error.restype = ctypes.c_char_p
        lib.drift_feature_stats_compute.argtypes = [F32P, I64, ctypes.c_int,
                                                    ctypes.POINTER(FeatureStats)]
        lib.drift_feature_stats_free.argtypes = [ctypes.POINTER(FeatureStats)]
        lib.drift_sqrtm_psd.argtypes = [F64P, ctypes.c_int, F64P]
        lib.drift_fid.argtypes = [F32P, I64, F32P, I64, ctypes.c_int, F64P]
        lib.drift_prdc_compute.argtypes = [F32P, I64, F32P, F32P, I64, ctypes.c_int,
                                           ctypes.c_int, ctypes.POINTER(Prdc)]
        lib.drift_mmd2_unbiased.argtypes = [F32P, I64, F32P, I64, ctypes.c_int,
                                            ctypes.c_double, F64P]
        lib.drift_median_sqdist.argtypes = [F32P, I64, ctypes.c_int, F64P]
        lib.drift_energy_distance.argtypes = [F32P, I64, F32P, I64, ctypes.c_int, F64P]

    def error(self):
        return self.lib.drift_last_error().decode()

    def _call(self, name, *args):
        st = getattr(self.lib, name)(*args)
        if st != 0:
            raise RuntimeError("%s: status %d: %s" % (name, st, self.error()))

    @staticmethod
    def f32(x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x, x.ctypes.data_as(F32P)

    def stats(self, x):
        x, p = self.f32(x)
        s = FeatureStats()
        self._call("drift_feature_stats_compute", p, x.shape[0], x.shape[1], ctypes.byref(s))
        d = s.dim
        mean = np.ctypeslib.as_array(s.mean, (d,)).copy()
        cov = np.ctypeslib.as_array(s.cov, (d, d)).copy()
        self.lib.drift_feature_stats_free(ctypes.byref(s))
        return mean, cov

    def sqrtm(self, a):
        a = np.ascontiguousarray(a, dtype=np.float64)
        out = np.empty_like(a)
        self._call("drift_sqrtm_psd", a.ctypes.data_as(F64P), a.shape[0], out.ctypes.data_as(F64P))
        return out

    def fid(self, a, b):
        a, pa = self.f32(a)
        b, pb = self.f32(b)
        out = ctypes.c_double()
        self._call("drift_fid", pa, a.shape[0], pb, b.shape[0], a.shape[1], ctypes.byref(out))
        return out.value

    def prdc(self, real, fake, k):
        real, pr = self.f32(real)
        fake, pf = self.f32(fake)
        out = Prdc()
        self._call("drift_prdc_compute", pr, real.shape[0], None, pf, fake.shape[0],
                   real.shape[1], k, ctypes.byref(out))
        return out.precision, out.recall, out.density, out.coverage

    def median_sqdist(self, x):
        x, p = self.f32(x)
        out = ctypes.c_double()
        self._call("drift_median_sqdist", p, x.shape[0], x.shape[1], ctypes.byref(out))
        return out.value

    def mmd2(self, x, y, h2):
        x, px = self.f32(x)
        y, py = self.f32(y)
        out = ctypes.c_double()
        self._call("drift_mmd2_unbiased", px, x.shape[0], py, y.shape[0], x.shape[1], h2,
                   ctypes.byref(out))
        return out.value

    def energy(self, x, y):
        x, px = self.f32(x)
        y, py = self.f32(y)
        out = ctypes.c_double()
        self._call("drift_energy_distance", px, x.shape[0], py, y.shape[0], x.shape[1],
                   ctypes.byref(out))
        return out.value
