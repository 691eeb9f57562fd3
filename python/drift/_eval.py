"""drift.eval / drift.Evaluator: the metrics of `drift eval` (include/drift/eval.h) on NumPy arrays,
as a dict with the keys of `drift eval --json`.

Image datasets (fashion-mnist, mnist): FID, precision/recall/density/coverage, MMD², outlier
fraction, pixel diversity and duplicates, class accuracy with labels, in the features of drift's
own classifier (trained on first use and cached, like the CLI: minutes, once). Toy 2-D datasets:
MMD², energy distance, sliced W2, diversity, duplicates against a fresh sample of the target.
The dict is written by the library's own JSON writers (drift_image_metrics_write_json,
drift_toy_metrics_write_json), so its keys and values are the CLI's.
"""
import ctypes
import json
import sys
import threading
import time

import numpy as np

from . import _arrays
from ._lib import OPAQUE_METRICS_BYTES, Dataset, DatasetOpts, EvaluatorOpts, JsonWriter, check, cstr, lib, use_threads

_LOGFN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


def _metrics_json(write, metrics):
    """The JSON object the library writes for a metrics struct, as a dict."""
    L = lib()
    w = JsonWriter()
    L.drift_jsonw_init(ctypes.byref(w))
    try:
        L.drift_jsonw_begin_object(ctypes.byref(w))
        check(write(metrics, ctypes.byref(w)))
        L.drift_jsonw_end_object(ctypes.byref(w))
        check(L.drift_jsonw_status(ctypes.byref(w)))
        return json.loads(ctypes.string_at(w.buf, w.len).decode())
    finally:
        L.drift_jsonw_free(ctypes.byref(w))


def is_toy(name):
    return lib().drift_toy_find(cstr(name), ctypes.byref(ctypes.c_void_p())) == 0


def toy(name, n, seed=0, stream=0):
    """n points of a toy 2-D distribution (swiss_roll, checkerboard, 8gaussians, moons, two_mode,
    gaussian) drawn by the library (drift_dataset_toy) from stream (seed, stream): (x (n, 2)
    float32, labels (n,) int32 or None). `drift train` draws its data from stream 0, its test
    points from stream 1, and drift.eval its fresh target sample from stream 7."""
    if not isinstance(name, str):
        raise TypeError("name must be a toy's name, got %r" % (name,))
    for what, v in (("n", n), ("seed", seed), ("stream", stream)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < (1 if what == "n" else 0):
            raise ValueError("%s must be an integer >= %d, got %r" % (what, 1 if what == "n" else 0, v))
    L = lib()
    ds = Dataset()
    check(L.drift_dataset_toy(cstr(name), int(n), int(seed), int(stream), ctypes.byref(ds)))
    try:
        x = np.ctypeslib.as_array(ds.x, (ds.n, ds.dim)).copy()
        labels = np.ctypeslib.as_array(ds.labels, (ds.n,)).copy() if ds.labels else None
    finally:
        L.drift_dataset_free(ctypes.byref(ds))
    return x, labels


def _rows(samples, n):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 2:
        raise ValueError("n must be an integer >= 2, got %r" % (n,))
    a = _arrays.as_array(samples, "samples")
    if a.ndim < 2:
        raise ValueError("samples must have shape (n, D) (or (n, h, w[, c]) images), got %s" % (a.shape,))
    return a[:n] if a.shape[0] > n else a


def _image_matrix(a, h, w, c, data):
    """Samples as float32 (rows, h·w·c) the way drift_dataset_from_npy reads a file: uint8 pixels
    scaled to [-1, 1] with the loader's formula, (n, c, h, w) with c <= 4 < w transposed to
    channel last."""
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    else:
        _arrays.float_dtype(a, "samples")
    if a.ndim == 4 and a.shape[1] <= 4 < a.shape[3]:
        a = a.transpose(0, 2, 3, 1)
    dim = int(np.prod(a.shape[1:]))
    ok = dim == h * w * c and (a.ndim == 2 or (a.ndim == 3 and c == 1 and a.shape[1:] == (h, w))
                               or (a.ndim == 4 and a.shape[1:] == (h, w, c)))
    if not ok:
        raise ValueError("samples of shape %s do not fit %s images, %dx%dx%d = %d values%s"
                         % (a.shape, data, h, w, c, h * w * c,
                            " (for 2-D toy samples pass data=<the toy's name>)" if dim == 2 else ""))
    return np.ascontiguousarray(a, dtype=np.float32).reshape(a.shape[0], dim)


def _labels(labels, n, n_classes, data):
    lab = _arrays.as_array(labels, "labels")
    if lab.dtype.kind not in "iu":
        raise TypeError("labels must be an integer array, got dtype %s" % lab.dtype)
    if lab.ndim != 1 or lab.shape[0] < n:
        raise ValueError("labels must have shape (n,) with a label per sample (%d), got %s" % (n, lab.shape))
    lab = lab[:n]
    bad = np.flatnonzero((lab < 0) | (lab >= n_classes))
    if bad.size:
        raise ValueError("label %d of sample %d is outside [0, %d) (%s has %d classes)"
                         % (lab[bad[0]], bad[0], n_classes, data, n_classes))
    return np.ascontiguousarray(lab, dtype=np.int32)


def _eval_toy(toy, samples, n, seed):
    a = _rows(samples, n)
    _arrays.float_dtype(a, "samples")
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError("%s is 2-D data: samples must be (n, 2), got %s" % (toy, a.shape))
    x = np.ascontiguousarray(a, dtype=np.float32)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError("seed must be an integer >= 0, got %r" % (seed,))
    L = lib()
    m = ctypes.create_string_buffer(OPAQUE_METRICS_BYTES)
    use_threads()
    check(L.drift_eval_toy(cstr(toy), x.ctypes.data, x.shape[0], int(seed), m))
    out = {"dataset": toy, "seed": int(seed)}
    out.update(_metrics_json(L.drift_toy_metrics_write_json, m))
    return out


def _own(data):
    """A reference of the user's own (a path: `drift eval --ref`), not a named dataset or toy."""
    return data not in ("mnist", "fashion-mnist") and not is_toy(data)


def _reference(data, data_dir, ref_labels=None, n_ref=0):
    """(h, w, c, n_classes) of an image dataset, from the first image of its test split; of an own
    reference (a path), from all its rows (or the first n_ref) with ref_labels (n_classes 0 without)."""
    L = lib()
    own = _own(data)
    if ref_labels is not None and not own:
        raise ValueError("ref_labels go with an own reference (a path), not with %s" % data)
    ref = Dataset()
    ro = DatasetOpts(split=b"test", data_dir=cstr(data_dir), n=int(n_ref) if own else 1,
                     labels_path=cstr(ref_labels) if own else None)
    check(L.drift_dataset_open(cstr(data), ctypes.byref(ro), ctypes.byref(ref)))
    shape = (ref.h, ref.w, ref.c, ref.n_classes if ref.labels and ref.n_classes >= 2 else 0)
    has_labels = bool(ref.labels)
    L.drift_dataset_free(ctypes.byref(ref))
    if own and shape[0] <= 0:
        raise ValueError("%s is not image data ((n, h, w[, c]), IDX images or a folder of PNGs)" % data)
    if not own and (shape[0] <= 0 or not has_labels):
        raise ValueError("%s is neither an image dataset with labels (mnist, fashion-mnist) nor a toy" % data)
    return shape


class Evaluator:
    """An opened image evaluation (drift_evaluator_open): the dataset's classifier and the
    statistics of its test split, computed once; score() then costs a forward pass and the
    metrics. The options are `drift eval`'s: n_ref (--n-ref), k (--k), data_dir, cache_dir,
    classifier (--classifier FILE), train=False (--no-train: a missing classifier is an error
    instead of minutes of training). log=True prints the library's progress lines to stderr.
    Threads sharing an Evaluator take turns (its classifier's activations are shared)."""

    def __init__(self, data="fashion-mnist", n_ref=0, k=3, data_dir=None, cache_dir=None, classifier=None,
                 train=True, log=True, ref_labels=None):
        if not isinstance(data, str):
            raise TypeError("data must be a dataset name, got %r" % (data,))
        if is_toy(data):
            raise ValueError("%s is a toy: use drift.eval(samples, data=%r) (no evaluator to open)" % (data, data))
        for name, v, lo in (("n_ref", n_ref, 0), ("k", k, 1)):
            if not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError("%s must be an integer >= %d, got %r" % (name, lo, v))
        L = lib()
        self.data = data
        self.h, self.w, self.c, self.n_classes = _reference(data, data_dir, ref_labels, n_ref)
        self._log = _LOGFN(lambda ctx, line: print("drift eval: %s" % line.decode(), file=sys.stderr)) if log else None
        self._strings = [cstr(data), cstr(data_dir), cstr(cache_dir), cstr(classifier), cstr(ref_labels)]
        opts = EvaluatorOpts(dataset=self._strings[0], data_dir=self._strings[1], cache_dir=self._strings[2],
                             n_ref=int(n_ref), k=int(k), train_if_missing=1 if train else 0,
                             classifier_path=self._strings[3], train_opts=None,
                             log=ctypes.cast(self._log, ctypes.c_void_p) if log else None, log_ctx=None,
                             labels_path=self._strings[4])
        self._lock = threading.Lock()  # one scoring at a time: the classifier's activations are shared
        ev = ctypes.c_void_p()
        use_threads()
        check(L.drift_evaluator_open(ctypes.byref(opts), ctypes.byref(ev)))
        self._ev = ev
        self.classifier_path = L.drift_evaluator_classifier_path(ev).decode()

    def close(self):
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            ev, self._ev = getattr(self, "_ev", None), None
        if ev:
            lib().drift_evaluator_free(ev)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def score(self, samples, labels=None, n=10000):
        """The metrics of the first n samples (float in [-1, 1], or uint8 0..255; (n, h·w·c),
        (n, h, w), (n, h, w, c) or (n, c, h, w)), with the classes they were asked for when
        labels are given: `drift eval --json`'s dict (less the file name)."""
        if not self._ev:
            raise ValueError("this evaluator was closed")
        a = _rows(samples, n)
        x = _image_matrix(a, self.h, self.w, self.c, self.data)
        if labels is not None and self.n_classes == 0:
            raise ValueError("labels need a labelled reference: %s has none (ref_labels)" % self.data)
        lab = None if labels is None else _labels(labels, x.shape[0], self.n_classes, self.data)
        m = ctypes.create_string_buffer(OPAQUE_METRICS_BYTES)
        L = lib()
        with self._lock:
            if not self._ev:
                raise ValueError("this evaluator was closed")
            t0 = time.monotonic()
            use_threads()
            check(L.drift_eval_images(self._ev, x.ctypes.data, x.shape[1], _arrays.ptr(lab), x.shape[0], m))
            secs = time.monotonic() - t0
        out = {"dataset": self.data, "classifier": self.classifier_path}
        out.update(_metrics_json(L.drift_image_metrics_write_json, m))
        out["seconds"] = secs
        return out


def evaluate(samples, labels=None, data="fashion-mnist", n=10000, n_ref=0, k=3, seed=0, data_dir=None,
             cache_dir=None, classifier=None, train=True, log=True, ref_labels=None):
    """`drift eval --json` on arrays: the metrics of the first n samples against `data` as a dict.

    data: an image dataset (fashion-mnist, mnist: see Evaluator; labels, n_ref, k, data_dir,
    cache_dir, classifier, train apply), the path of your own reference images (`drift eval
    --ref`: NPY, IDX or a folder of PNGs; ref_labels = --ref-labels, optional) or a toy (swiss_roll, ...: samples (n, 2), seed of the
    fresh target sample). Opening an image evaluation loads the classifier and the test split's
    statistics each time: to score several sets, open one drift.Evaluator and call score()."""
    if not isinstance(data, str):
        raise TypeError("data must be a dataset name, got %r" % (data,))
    if ref_labels is not None and data in ("mnist", "fashion-mnist"):
        raise ValueError("ref_labels go with an own reference (a path), not with %s" % data)
    a = _rows(samples, n)
    if a.dtype not in (np.float32, np.float64, np.uint8):
        raise TypeError("samples must be float32/float64 (or uint8 images), got dtype %s" % a.dtype)
    if is_toy(data):
        if labels is not None or classifier is not None or ref_labels is not None:
            raise ValueError("labels, classifier and ref_labels apply to image datasets, not to %s" % data)
        return _eval_toy(data, samples, n, seed)
    # the samples are checked before the evaluator opens: a wrong array is reported at once, not
    # after minutes of training a missing classifier
    h, w, c, n_classes = _reference(data, data_dir, ref_labels, n_ref)
    x = _image_matrix(_rows(samples, n), h, w, c, data)
    if labels is not None:
        if n_classes == 0:
            raise ValueError("labels need a labelled reference: %s has none (ref_labels)" % data)
        _labels(labels, x.shape[0], n_classes, data)
    with Evaluator(data, n_ref=n_ref, k=k, data_dir=data_dir, cache_dir=cache_dir, classifier=classifier,
                   train=train, log=log, ref_labels=ref_labels) as ev:
        return ev.score(samples, labels, n=n)
