"""drift.field(): the drift-field engine (include/drift/field.h, docs/MATH.md §2-§3) on NumPy arrays.

One keyword per option of `drift field` (src/cli/cmd_field.c), with the same meaning:

    --x / --pos / --neg            x, pos, neg
    --pos-weights / --neg-weights  pos_weights, neg_weights
    --extra-neg / --extra-weights  extra_neg, extra_weights
    --family --kernel --tau        family, kernel, tau (a number or a list of up to 16)
    --rq-alpha --deng-norm         rq_alpha, deng_norm
    --pos-scale --neg-scale        pos_scale, neg_scale
    --feature-norm --drift-norm    feature_norm, drift_norm
    --deng-released                deng_released
    --deng-soft-mask --deng-floor  deng_soft_mask, deng_floor
    --out                          the returned V (or out=, an array to write it into)
    --potential                    potential=True
    --diagnostics                  full=True: FieldResult.diagnostics (and its three parts)
    --precision f32|f64            precision (default: the dtype of x)
    --block                        block
    --threads                      threads (this call; drift.set_threads for all that follow)
    --quiet                        tau_rms=False
"""
import numpy as np

from . import _arrays
import ctypes

from . import _lib
from ._lib import MAX_TAU, FieldBatch, FieldBatch64, FieldConfig, FieldResult, check, lib


class FieldOutput:
    """Everything one field evaluation returns (field(..., full=True)).

    v               (n, D) field, float32 (fast path) or float64 (reference), x's leading shape
    potential       (n,) float64 potential Φ (conservative families) or None when not asked
    log_pos_mass, log_neg_mass, pos_ess   (n, n_tau) float64 per-row diagnostics
    diagnostics     (n, 3·n_tau): [log_pos_mass | log_neg_mass | pos_ess], `drift field
                    --diagnostics`'s layout
    tau_rms         (n_tau,) RMS of each temperature's raw field (NaN with tau_rms=False)
    feature_scale   s (1 without feature normalization); mean_dist μ; rms of V
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def diagnostics(self):
        return np.concatenate([self.log_pos_mass, self.log_neg_mass, self.pos_ess], axis=1)

    def __repr__(self):
        return "FieldOutput(v %s %s, rms %.6g, feature_scale %.6g)" % (self.v.shape, self.v.dtype, self.rms,
                                                                    self.feature_scale)


def _taus(tau):
    taus = [tau] if np.isscalar(tau) else list(tau)
    if not 1 <= len(taus) <= MAX_TAU:
        raise ValueError("tau needs 1 to %d temperatures, got %d" % (MAX_TAU, len(taus)))
    try:
        return [float(t) for t in taus]
    except (TypeError, ValueError):
        raise TypeError("tau must be a number or a list of numbers, got %r" % (tau,)) from None


def config(family="meanshift", kernel="gaussian", tau=1.0, rq_alpha=2.0, deng_norm="both", pos_scale=1.0,
           neg_scale=1.0, feature_norm=False, drift_norm=False, deng_released=False, deng_soft_mask=False,
           deng_floor=False, block=0, tau_rms=True):
    """A checked drift_field_config built the way `drift field` builds it (names parsed by the
    library, so a misspelt one is a DriftError listing the valid names)."""
    L = lib()
    taus = _taus(tau)
    if not isinstance(block, (int, np.integer)) or block < 0:
        raise ValueError("block must be an integer >= 0, got %r" % (block,))
    cfg = FieldConfig()
    L.drift_field_config_init(ctypes.byref(cfg))
    for parse, name, field in ((L.drift_family_parse, family, "family"), (L.drift_kernel_parse, kernel, "kernel"),
                               (L.drift_deng_norm_parse, deng_norm, "deng_norm")):
        if not isinstance(name, str):
            raise TypeError("%s must be a name (str), got %r" % (field, name))
        out = ctypes.c_int()
        check(parse(name.encode(), ctypes.byref(out)))
        setattr(cfg, field, out.value)
    cfg.n_tau = len(taus)
    for i, t in enumerate(taus):
        cfg.tau[i] = t
    if deng_released:
        if family != "deng":
            raise ValueError("deng_released needs family='deng'")
        L.drift_field_config_deng_released(ctypes.byref(cfg))
    cfg.rq_alpha = float(rq_alpha)
    cfg.pos_scale = float(pos_scale)
    cfg.neg_scale = float(neg_scale)
    cfg.feature_norm |= bool(feature_norm)
    cfg.drift_norm |= bool(drift_norm)
    cfg.deng_soft_mask |= bool(deng_soft_mask)
    cfg.deng_floor |= bool(deng_floor)
    cfg.block_rows = int(block)
    cfg.skip_tau_rms = 0 if tau_rms else 1
    check(L.drift_field_config_check(ctypes.byref(cfg)))
    return cfg


def set_threads(n):
    """Threads of the library's parallel loops and of its BLAS for the calls that follow, from any
    Python thread: n >= 1, 0 = all cores, None = the default ($OMP_NUM_THREADS, else all cores,
    like `drift` without --threads)."""
    _lib.set_threads(n)


def get_threads():
    """The thread count drift's next call will use."""
    _lib.use_threads()
    return lib().drift_get_threads()


def field(x, pos, neg=None, *, family="meanshift", kernel="gaussian", tau=1.0, rq_alpha=2.0, deng_norm="both",
          pos_weights=None, neg_weights=None, extra_neg=None, extra_weights=None, pos_scale=1.0, neg_scale=1.0,
          feature_norm=False, drift_norm=False, deng_released=False, deng_soft_mask=False, deng_floor=False,
          precision=None, block=0, threads=None, tau_rms=True, potential=False, full=False, out=None):
    """The drift field V(x_i) for every row of x: attraction to pos minus repulsion from neg.

    x (n, D), pos (p, D), neg (m, D) or None (then the negatives are x itself, each row's own
    entry excluded), extra_neg (e, D): float32 or float64 arrays; more than 2 dims are flattened
    per row. Weights are vectors (rows,) >= 0. precision "f32" runs the blocked float32 fast path,
    "f64" the plain float64 reference; the default follows x's dtype. Inputs already C-contiguous
    in that precision are used in place (no copy); others are converted once.

    Returns V with x's shape in the precision's dtype; with potential=True the pair (V, Φ) (Φ:
    (n,) float64; conservative families only); with full=True a FieldOutput holding V, Φ (if
    asked), the per-row diagnostics and the scalars. out: an array (x's shape, the precision's
    dtype, C-contiguous) to write V into. C failures raise drift.DriftError with the library's
    message; bad dtypes and shapes raise TypeError / ValueError before any C call.
    """
    x_in = _arrays.as_array(x, "x")
    if precision is None:
        precision = "f64" if x_in.dtype == np.float64 else "f32"
    if precision not in ("f32", "f64"):
        raise ValueError("precision must be 'f32' or 'f64', got %r" % (precision,))
    f64 = precision == "f64"
    dt = np.float64 if f64 else np.float32
    X = _arrays.matrix(x_in, "x", dt)
    n, d = X.shape
    Pm = _arrays.matrix(pos, "pos", dt, cols=d)
    Nm = None if neg is None else _arrays.matrix(neg, "neg", dt, cols=d)
    E = None if extra_neg is None else _arrays.matrix(extra_neg, "extra_neg", dt, cols=d)
    if neg_weights is not None and Nm is None:
        raise ValueError("neg_weights given without neg (the default negatives, x itself, are unweighted)")
    if extra_weights is not None and E is None:
        raise ValueError("extra_weights given without extra_neg")
    PW = None if pos_weights is None else _arrays.vector(pos_weights, "pos_weights", dt, Pm.shape[0])
    NW = None if neg_weights is None else _arrays.vector(neg_weights, "neg_weights", dt, Nm.shape[0])
    EW = None if extra_weights is None else _arrays.vector(extra_weights, "extra_weights", dt, E.shape[0])
    if out is None:
        V = np.empty(x_in.shape, dtype=dt)
    else:
        V = out
        if not isinstance(V, np.ndarray) or V.dtype != dt or V.shape != x_in.shape or not V.flags.c_contiguous \
                or not V.flags.writeable:
            raise ValueError("out must be a writeable C-contiguous %s array of shape %s"
                             % (np.dtype(dt).name, x_in.shape))
    if threads is not None and (not isinstance(threads, (int, np.integer)) or threads < 0):
        raise ValueError("threads must be an integer >= 0 (0 = all cores), got %r" % (threads,))
    cfg = config(family=family, kernel=kernel, tau=tau, rq_alpha=rq_alpha, deng_norm=deng_norm,
                 pos_scale=pos_scale, neg_scale=neg_scale, feature_norm=feature_norm, drift_norm=drift_norm,
                 deng_released=deng_released, deng_soft_mask=deng_soft_mask, deng_floor=deng_floor,
                 block=block, tau_rms=tau_rms)
    nt = cfg.n_tau
    phi = np.empty(n, dtype=np.float64) if potential else None
    lpm = lnm = ess = None
    if full:
        lpm, lnm, ess = (np.empty((n, nt), dtype=np.float64) for _ in range(3))

    res = FieldResult()
    res.v = V.ctypes.data
    res.potential, res.log_pos_mass, res.log_neg_mass, res.pos_ess = map(_arrays.ptr, (phi, lpm, lnm, ess))
    B = (FieldBatch64 if f64 else FieldBatch)()
    B.n, B.d, B.x = n, d, X.ctypes.data
    B.p, B.pos, B.pos_w = Pm.shape[0], Pm.ctypes.data, _arrays.ptr(PW)
    B.m, B.neg, B.neg_w = (0 if Nm is None else Nm.shape[0]), _arrays.ptr(Nm), _arrays.ptr(NW)
    B.e, B.extra, B.extra_w = (0 if E is None else E.shape[0]), _arrays.ptr(E), _arrays.ptr(EW)
    L = lib()
    compute = L.drift_field_compute_f64 if f64 else L.drift_field_compute
    _lib.use_threads(None if threads is None else int(threads))
    check(compute(ctypes.byref(cfg), ctypes.byref(B), ctypes.byref(res)))
    if full:
        return FieldOutput(v=V, potential=phi, log_pos_mass=lpm, log_neg_mass=lnm, pos_ess=ess,
                           tau_rms=np.array(res.tau_rms[:nt]), feature_scale=res.feature_scale,
                           mean_dist=res.mean_dist, rms=res.rms, family=family, kernel=kernel)
    return (V, phi) if potential else V
