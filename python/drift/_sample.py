"""drift.load_generator(path).sample(...): a `drift train` checkpoint's generator from Python.

The same library calls as `drift sample` (src/cli/cmd_sample.c): drift_generator_load with the EMA
weights (raw_weights=True: the optimizer's) and the same largest batch (512), then drift_generate
with the same labels (class `cls` for every sample, or sample i of a conditional generator has
class i mod n_classes) and the same seed, so the samples are the CLI's, byte for byte.
"""
import ctypes
import threading

import numpy as np

from ._lib import check, cstr, lib, use_threads


def _parse_config(text):
    """drift_model_config_format's "key=value ..." line as a dict (ints where they are ints)."""
    out = {}
    for item in text.split():
        k, _, v = item.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            out[k] = v
    return out


class Generator:
    """A one-step generator loaded from a checkpoint (drift_generator_load).

    dim          values per sample (D); samples come as (n, D) float32 arrays, like `drift sample`
    n_classes    0 for an unconditional generator
    use_alpha    the generator takes a guidance scale alpha (>= 1)
    image_shape  (channels, height, width) of an image generator, else None
    config       the model description (drift_model_config_format) as a dict

    One forward pass at a time per generator (its activations live in the C model): calls to
    sample() from several threads take turns. close() (or a `with` block) frees it at once.
    """

    def __init__(self, path, raw_weights=False, batch=512):
        if not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError("batch must be an integer >= 1, got %r" % (batch,))
        L = lib()
        m = ctypes.c_void_p()
        check(L.drift_generator_load(cstr(str(path)), 0 if raw_weights else 1, int(batch), ctypes.byref(m), None),
              "loading the generator of %s" % path)
        self._m = m
        self._lock = threading.Lock()
        self.path = str(path)
        buf = ctypes.create_string_buffer(1024)
        # drift_model starts with its drift_model_config (drift/models.h), so the model's address
        # is its config's
        check(L.drift_model_config_format(m, buf, len(buf)))
        self.description = buf.value.decode()
        self.config = _parse_config(self.description)
        self.kind = self.config["kind"]
        self.dim = self.config["out_dim"]
        self.noise_dim = self.config["noise_dim"]
        self.n_classes = self.config["classes"]
        self.use_alpha = bool(self.config["alpha"])
        c, h, w = (int(s) for s in str(self.config["image"]).split("x"))
        self.image_shape = (c, h, w) if h > 0 else None

    def close(self):
        """Frees the C model (sample() afterwards raises ValueError)."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # __init__ failed before the model existed
            return
        with lock:  # not while another thread samples
            m, self._m = self._m, None
        if m:
            lib().drift_model_free(m)

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: module globals may already be gone
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "Generator(%r: %s)" % (self.path, self.description)

    def labels_for(self, n, cls=None):
        """The labels `drift sample` gives n samples: None for an unconditional generator, else
        cls for every sample, or i mod n_classes for sample i when cls is None. cls may also be
        an int array of n labels."""
        if self.n_classes == 0:
            if cls is not None:
                raise ValueError("cls given, but this generator is unconditional")
            return None
        if cls is None:
            return (np.arange(n) % self.n_classes).astype(np.intc)
        if np.isscalar(cls):
            if not isinstance(cls, (int, np.integer)) or isinstance(cls, bool):
                raise TypeError("cls must be an integer class, got %r" % (cls,))
            labels = np.full(n, int(cls), dtype=np.int64)
        else:
            labels = np.asarray(cls)
            if labels.dtype.kind not in "iu":
                raise TypeError("cls must be an integer array, got dtype %s" % labels.dtype)
            if labels.shape != (n,):
                raise ValueError("cls as an array must have shape (%d,), got %s" % (n, labels.shape))
        if n and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError("cls must be a class of this generator, 0..%d (there is no unconditional class: "
                             "leave cls out to cycle through the classes)" % (self.n_classes - 1))
        return labels.astype(np.intc)

    def sample(self, n, cls=None, alpha=1.0, seed=0, return_labels=False, threads=None):
        """n samples as an (n, dim) float32 array, one forward pass each: `drift sample --n n
        [--class cls] --alpha alpha --seed seed`. Sample i uses noise stream (seed, i).
        return_labels=True: also the (n,) int32 labels of a conditional generator (None for an
        unconditional one)."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError("n must be an integer >= 0, got %r" % (n,))
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2 ** 64:
            raise ValueError("seed must be an integer in [0, 2^64), got %r" % (seed,))
        try:
            alpha = float(alpha)
        except (TypeError, ValueError):
            raise TypeError("alpha must be a number, got %r" % (alpha,)) from None
        n = int(n)
        labels = self.labels_for(n, cls)
        if threads is not None and (not isinstance(threads, (int, np.integer)) or threads < 0):
            raise ValueError("threads must be an integer >= 0 (0 = all cores), got %r" % (threads,))
        out = np.empty((n, self.dim), dtype=np.float32)
        with self._lock:
            if not self._m:
                raise ValueError("this generator was closed")
            use_threads(None if threads is None else int(threads))
            check(lib().drift_generate(self._m, n, None if labels is None else labels.ctypes.data, alpha,
                                       int(seed), out.ctypes.data))
        if return_labels:
            return out, None if labels is None else labels.astype(np.int32)
        return out


def load_generator(path, raw_weights=False, batch=512):
    """The generator of a `drift train` checkpoint (EMA weights unless raw_weights), batched
    `batch` rows per forward pass (512, like `drift sample`'s default)."""
    return Generator(path, raw_weights=raw_weights, batch=batch)
