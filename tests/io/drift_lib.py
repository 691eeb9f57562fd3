"""Loads libdrift (path in $DRIFT_LIB) with ctypes for the io tests written in Python."""
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pychecks import Checks  # noqa: E402,F401  (re-exported for the tests)


class DriftArray(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * 8), ("count", ctypes.c_size_t),
                ("data", ctypes.c_void_p)]


# drift_dtype enum order in drift/npy.h
DTYPES = ["<f4", "<f8", "<i4", "<i8", "|u1"]


def load():
    path = os.environ.get("DRIFT_LIB")
    if not path or not os.path.exists(path):
        sys.exit("DRIFT_LIB must name a built libdrift.so "
                 "(cmake --build <dir> --target drift), got %r" % path)
    lib = ctypes.CDLL(path)
    lib.drift_last_error.restype = ctypes.c_char_p
    lib.drift_npy_read.argtypes = [ctypes.c_char_p, ctypes.POINTER(DriftArray)]
    lib.drift_npy_write.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p]
    lib.drift_array_free.argtypes = [ctypes.POINTER(DriftArray)]
    return lib


class StTensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * 8), ("data", ctypes.c_void_p)]


class StMeta(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("value", ctypes.c_char_p)]


def declare_safetensors(lib):
    lib.drift_safetensors_write.argtypes = [ctypes.c_char_p, ctypes.POINTER(StTensor),
                                            ctypes.c_size_t, ctypes.POINTER(StMeta),
                                            ctypes.c_size_t]
    lib.drift_safetensors_read.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.drift_safetensors_free.argtypes = [ctypes.c_void_p]
    lib.drift_safetensors_count.argtypes = [ctypes.c_void_p]
    lib.drift_safetensors_count.restype = ctypes.c_size_t
    lib.drift_safetensors_tensor.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.drift_safetensors_tensor.restype = ctypes.POINTER(StTensor)
    lib.drift_safetensors_meta.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.drift_safetensors_meta.restype = ctypes.c_char_p
