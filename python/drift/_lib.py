"""Finding and loading libdrift.so, the ctypes mirrors of the C structs the binding fills in, and
the error convention (include/drift/error.h): every C call returns a status, and a non-zero one
becomes a DriftError carrying drift_last_error()'s message.

Where the library is looked for, first hit wins:
  1. $DRIFT_LIB (a path to libdrift.so);
  2. the build directories of this checkout: <repo>/build, then any <repo>/build*/ holding one
     (the newest first), so `scripts/build` is all a checkout needs;
  3. the system's loader path (an installed libdrift: `cmake --install`, LD_LIBRARY_PATH).

The struct mirrors below must match include/drift/*.h field for field: tests/python/
test_layout.py compiles a C program that prints sizeof/offsetof of every one and compares.
"""
import ctypes
import ctypes.util
import glob
import os
import threading

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

c_int, c_int64, c_uint64, c_double, c_float, c_char_p, c_void_p, c_size_t = (
    ctypes.c_int, ctypes.c_int64, ctypes.c_uint64, ctypes.c_double, ctypes.c_float,
    ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t)
P = ctypes.POINTER
F32P, F64P, I32P = P(c_float), P(c_double), P(ctypes.c_int32)

MAX_TAU = 16          # DRIFT_MAX_TAU (drift/field.h)
JSON_MAX_DEPTH = 64   # DRIFT_JSON_MAX_DEPTH (drift/json.h)


class DriftError(RuntimeError):
    """A failure reported by libdrift: `code` is the DRIFT_E* status (negative), `status` its
    name ("EINVAL", ...), and the message is the library's one-line drift_last_error()."""

    def __init__(self, code, status, message):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


# ---- struct mirrors ---------------------------------------------------------------------------

class FieldConfig(ctypes.Structure):  # drift_field_config
    _fields_ = [("family", c_int), ("kernel", c_int), ("rq_alpha", c_double), ("n_tau", c_int),
                ("tau", c_double * MAX_TAU), ("deng_norm", c_int), ("pos_scale", c_double),
                ("neg_scale", c_double), ("feature_norm", c_int), ("drift_norm", c_int),
                ("deng_soft_mask", c_int), ("deng_floor", c_int), ("block_rows", c_int),
                ("skip_tau_rms", c_int)]


class FieldBatch(ctypes.Structure):  # drift_field_batch
    _fields_ = [("n", c_int64), ("d", c_int64), ("x", c_void_p),
                ("p", c_int64), ("pos", c_void_p), ("pos_w", c_void_p),
                ("m", c_int64), ("neg", c_void_p), ("neg_w", c_void_p),
                ("e", c_int64), ("extra", c_void_p), ("extra_w", c_void_p)]


class FieldBatch64(FieldBatch):  # drift_field_batch64: the same layout with double pointers
    pass


class FieldResult(ctypes.Structure):  # drift_field_result
    _fields_ = [("v", c_void_p), ("potential", c_void_p), ("log_pos_mass", c_void_p),
                ("log_neg_mass", c_void_p), ("pos_ess", c_void_p), ("tau_rms", c_double * MAX_TAU),
                ("feature_scale", c_double), ("mean_dist", c_double), ("rms", c_double)]


class ClassGroup(ctypes.Structure):  # drift_class_group (drift/train.h)
    _fields_ = [("n_gen", c_int64), ("n_pos", c_int64), ("pos", c_void_p), ("n_unc", c_int64),
                ("unc", c_void_p), ("unc_weight", c_float)]


class LossStats(ctypes.Structure):  # drift_loss_stats (drift/train.h)
    _fields_ = [("loss", c_double), ("v_rms", c_double), ("tau_rms", c_double * MAX_TAU),
                ("feature_scale", c_double), ("gen_spread", c_double), ("pos_spread", c_double),
                ("diversity", c_double), ("dup_frac", c_double)]


class EvaluatorOpts(ctypes.Structure):  # drift_evaluator_opts (drift/eval.h)
    _fields_ = [("dataset", c_char_p), ("data_dir", c_char_p), ("cache_dir", c_char_p),
                ("n_ref", c_int64), ("k", c_int), ("train_if_missing", c_int),
                ("classifier_path", c_char_p), ("train_opts", c_void_p),
                ("log", c_void_p), ("log_ctx", c_void_p), ("labels_path", c_char_p)]


class Dataset(ctypes.Structure):  # drift_dataset (drift/data.h)
    _fields_ = [("name", ctypes.c_char * 96), ("n", c_int64), ("dim", c_int64), ("h", c_int),
                ("w", c_int), ("c", c_int), ("x", F32P), ("labels", I32P), ("n_classes", c_int),
                ("class_names", c_void_p)]


class DatasetOpts(ctypes.Structure):  # drift_dataset_opts (drift/data.h)
    _fields_ = [("split", c_char_p), ("data_dir", c_char_p), ("labels_path", c_char_p),
                ("n", c_int64), ("seed", c_uint64)]


class JsonWriter(ctypes.Structure):  # drift_jsonw (drift/json.h)
    _fields_ = [("buf", c_void_p), ("len", c_size_t), ("cap", c_size_t), ("depth", c_int),
                ("stack", ctypes.c_char * JSON_MAX_DEPTH), ("count", c_int * JSON_MAX_DEPTH),
                ("after_key", c_int), ("double_digits", c_int), ("status", c_int)]


# Opaque to Python, filled and read only by C (their contents reach Python as JSON): storage
# sized generously; test_layout.py checks that the C structs fit.
OPAQUE_METRICS_BYTES = 4096  # drift_image_metrics, drift_toy_metrics

# name in the C headers -> mirror, for test_layout.py
MIRRORS = {"drift_field_config": FieldConfig, "drift_field_batch": FieldBatch,
           "drift_field_batch64": FieldBatch64, "drift_field_result": FieldResult,
           "drift_class_group": ClassGroup, "drift_loss_stats": LossStats,
           "drift_evaluator_opts": EvaluatorOpts, "drift_dataset": Dataset,
           "drift_dataset_opts": DatasetOpts, "drift_jsonw": JsonWriter}
OPAQUE = {"drift_image_metrics": OPAQUE_METRICS_BYTES, "drift_toy_metrics": OPAQUE_METRICS_BYTES}

# ---- signatures -------------------------------------------------------------------------------
_SIGNATURES = {
    "drift_last_error": (c_char_p, []),
    "drift_status_name": (c_char_p, [c_int]),
    "drift_clear_error": (None, []),
    "drift_version_string": (c_char_p, []),
    "drift_set_threads": (None, [c_int]),
    "drift_get_threads": (c_int, []),
    "drift_field_config_init": (None, [P(FieldConfig)]),
    "drift_field_config_deng_released": (None, [P(FieldConfig)]),
    "drift_field_config_check": (c_int, [P(FieldConfig)]),
    "drift_family_is_conservative": (c_int, [c_int]),
    "drift_family_parse": (c_int, [c_char_p, P(c_int)]),
    "drift_kernel_parse": (c_int, [c_char_p, P(c_int)]),
    "drift_deng_norm_parse": (c_int, [c_char_p, P(c_int)]),
    "drift_family_name": (c_char_p, [c_int]),
    "drift_kernel_name": (c_char_p, [c_int]),
    "drift_field_compute": (c_int, [P(FieldConfig), P(FieldBatch), P(FieldResult)]),
    "drift_field_compute_f64": (c_int, [P(FieldConfig), P(FieldBatch64), P(FieldResult)]),
    "drift_objective_parse": (c_int, [c_char_p, P(c_int)]),
    "drift_drift_loss": (c_int, [P(FieldConfig), c_int, c_void_p, c_int64, P(ClassGroup), c_int,
                                 c_void_p, P(LossStats)]),
    "drift_generator_load": (c_int, [c_char_p, c_int, c_int, P(c_void_p), c_void_p]),
    "drift_generate": (c_int, [c_void_p, c_int64, c_void_p, c_float, c_uint64, c_void_p]),
    "drift_model_free": (None, [c_void_p]),
    "drift_model_config_format": (c_int, [c_void_p, c_void_p, c_size_t]),
    "drift_toy_find": (c_int, [c_char_p, P(c_void_p)]),
    "drift_dataset_toy": (c_int, [c_char_p, c_int64, c_uint64, c_uint64, P(Dataset)]),
    "drift_eval_toy": (c_int, [c_char_p, c_void_p, c_int64, c_uint64, c_void_p]),
    "drift_toy_metrics_write_json": (c_int, [c_void_p, P(JsonWriter)]),
    "drift_dataset_open": (c_int, [c_char_p, P(DatasetOpts), P(Dataset)]),
    "drift_dataset_free": (None, [P(Dataset)]),
    "drift_evaluator_open": (c_int, [P(EvaluatorOpts), P(c_void_p)]),
    "drift_evaluator_free": (None, [c_void_p]),
    "drift_evaluator_classifier_path": (c_char_p, [c_void_p]),
    "drift_eval_images": (c_int, [c_void_p, c_void_p, c_int64, c_void_p, c_int64, c_void_p]),
    "drift_image_metrics_write_json": (c_int, [c_void_p, P(JsonWriter)]),
    "drift_jsonw_init": (None, [P(JsonWriter)]),
    "drift_jsonw_free": (None, [P(JsonWriter)]),
    "drift_jsonw_begin_object": (c_int, [P(JsonWriter)]),
    "drift_jsonw_end_object": (c_int, [P(JsonWriter)]),
    "drift_jsonw_status": (c_int, [P(JsonWriter)]),
}

_lib = None
_lib_path = None
_lock = threading.Lock()


def candidates():
    """The paths tried, in order (the first that exists is loaded)."""
    env = os.environ.get("DRIFT_LIB")
    if env:
        return [env]
    out = [os.path.join(REPO, "build", "libdrift.so")]
    more = [p for p in glob.glob(os.path.join(REPO, "build*", "libdrift.so")) if p not in out]
    more.sort(key=lambda p: os.path.getmtime(p), reverse=True)
    return out + more


def lib():
    """The loaded libdrift (loaded on first use)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = candidates()
        path = next((p for p in tried if os.path.exists(p)), None)
        if path is None and not os.environ.get("DRIFT_LIB"):
            path = ctypes.util.find_library("drift")
        if path is None:
            raise ImportError("libdrift.so not found (tried %s and the system's library path): build it "
                              "with scripts/build, or set DRIFT_LIB=/path/to/libdrift.so"
                              % ", ".join(tried))
        handle = ctypes.CDLL(path)
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(handle, name)
            fn.restype = restype
            fn.argtypes = argtypes
        _lib, _lib_path = handle, path
        return _lib


def lib_path():
    """Where the loaded libdrift.so came from."""
    lib()
    return _lib_path


def check(status, context=None):
    """Raises DriftError with the library's message when status is non-zero. Call it on the
    thread that made the C call: the message lives in a thread-local buffer."""
    if status:
        L = lib()
        msg = (L.drift_last_error() or b"").decode("utf-8", "replace")
        name = (L.drift_status_name(status) or b"?").decode()
        if context:
            msg = "%s: %s" % (context, msg) if msg else context
        raise DriftError(status, name, msg or "libdrift failed with status %s" % name)
    return status


# Threads. OpenMP keeps its thread count per calling thread, and other libraries in the process
# change it (importing torch sets the main thread's to torch's own choice), so every call that runs
# parallel code first sets the count drift wants: set_threads(n) when given (0 = all cores), else
# $OMP_NUM_THREADS, else all cores -- what `drift` uses without --threads.
_threads = None


def set_threads(n):
    """Threads of drift's parallel loops and its BLAS for the calls that follow, from any Python
    thread (0 = all cores; None = back to the default: $OMP_NUM_THREADS, else all cores)."""
    global _threads
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise ValueError("threads must be an integer >= 0 (0 = all cores), got %r" % (n,))
    _threads = n
    use_threads()


def default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(env) if env.isdigit() and int(env) > 0 else 0


def use_threads(n=None):
    """Sets the library's thread count before a parallel call: n if given, else the package's."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise ValueError("threads must be an integer >= 0 (0 = all cores), got %r" % (n,))
    if n is None:
        n = _threads if _threads is not None else default_threads()
    lib().drift_set_threads(n)


def cstr(s):
    return None if s is None else os.fsencode(s)
