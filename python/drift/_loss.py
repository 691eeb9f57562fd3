"""drift.loss: the training objective of one step (drift_drift_loss, src/train/loss.c) on NumPy
arrays: the value and dL/dx the trainer uses, computed by the same C function.

    drift      L = mean over samples and dims of ‖x/s − sg(x/s + V/s)‖²  (value mean ‖V‖²/(s²D))
               dL/dx = −2V / (s²·D·N)                  (s: the feature scale, 1 without --feature-norm)
    potential  L = −mean Φ(x)                           (conservative families: sharp, kdegrad, mmd)
               dL/dx = −V / N                          (∇Φ = V)

N counts every generated row of the batch. With labels, the rows of each class form a group whose
field is computed against that class's positives and the group itself (self-masked), as in the
trainer's class-conditional steps; `unc` rows join every group's negatives with weight
unc_weight (training-time guidance).
"""
import ctypes

import numpy as np

from . import _arrays
from ._field import config
from ._lib import ClassGroup, LossStats, check, lib, use_threads

OBJECTIVES = {"drift": 0, "potential": 1}  # drift_objective (drift/train.h)


def _stats(st, n_tau):
    return {"loss": st.loss, "v_rms": st.v_rms, "tau_rms": list(st.tau_rms[:n_tau]),
            "feature_scale": st.feature_scale, "gen_spread": st.gen_spread, "pos_spread": st.pos_spread,
            "diversity": st.diversity, "dup_frac": st.dup_frac}


def _int_labels(a, name, rows):
    a = _arrays.as_array(a, name)
    if a.dtype.kind not in "iu":
        raise TypeError("%s must be an integer array, got dtype %s" % (name, a.dtype))
    if a.shape != (rows,):
        raise ValueError("%s must have shape (%d,), got %s" % (name, rows, a.shape))
    return a


def groups_of(labels, pos_labels, n, p):
    """(order, [(rows of x, rows of pos)]) for class-conditional batches: `order` sorts x by class
    (stable), each group one class present in labels. Without labels: one group of everything."""
    if labels is None and pos_labels is None:
        return None, [(np.arange(n), np.arange(p))]
    if labels is None or pos_labels is None:
        raise ValueError("labels and pos_labels go together (one class per generated row and per positive)")
    labels = _int_labels(labels, "labels", n)
    pos_labels = _int_labels(pos_labels, "pos_labels", p)
    order = np.argsort(labels, kind="stable")
    groups = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        prow = np.flatnonzero(pos_labels == c)
        if prow.size == 0:
            raise ValueError("class %d has generated rows but no positives" % c)
        groups.append((rows, prow))
    return order, groups


def loss(x, pos, labels=None, pos_labels=None, unc=None, unc_weight=1.0, objective="drift", **field_options):
    """(L, dL/dx, stats) of one step for the generated batch x (N, D) against the data pos (P, D)
    (float32/float64; computed in float32, the trainer's precision; dL/dx is float32 with x's shape).
    field_options: those of drift.field (family, kernel, tau, feature_norm, drift_norm, ...);
    stats: the trainer's logged figures (v_rms, tau_rms, feature_scale, diversity, dup_frac, ...)."""
    if objective not in OBJECTIVES:
        raise ValueError("objective must be 'drift' or 'potential', got %r" % (objective,))
    x_in = _arrays.as_array(x, "x")
    X = _arrays.matrix(x_in, "x", np.float32)
    n, d = X.shape
    Pm = _arrays.matrix(pos, "pos", np.float32, cols=d)
    U = None if unc is None else _arrays.matrix(unc, "unc", np.float32, cols=d)
    try:
        unc_weight = float(unc_weight)
    except (TypeError, ValueError):
        raise TypeError("unc_weight must be a number, got %r" % (unc_weight,)) from None
    order, parts = groups_of(labels, pos_labels, n, Pm.shape[0])
    cfg = config(**field_options)
    if order is not None:
        Xs = np.ascontiguousarray(X[order])
        pos_blocks = [np.ascontiguousarray(Pm[prow]) for _, prow in parts]
    else:
        Xs, pos_blocks = X, [Pm]
    G = (ClassGroup * len(parts))()
    for g, ((rows, _), pb) in enumerate(zip(parts, pos_blocks)):
        G[g].n_gen, G[g].n_pos, G[g].pos = rows.size, pb.shape[0], pb.ctypes.data
        G[g].n_unc, G[g].unc, G[g].unc_weight = (0, None, 0.0) if U is None else (U.shape[0], U.ctypes.data,
                                                                                   unc_weight)
    grad = np.empty((n, d), dtype=np.float32)
    st = LossStats()
    use_threads()
    check(lib().drift_drift_loss(ctypes.byref(cfg), OBJECTIVES[objective], Xs.ctypes.data, d, G, len(parts),
                                 grad.ctypes.data, ctypes.byref(st)))
    if order is not None:
        unsorted = np.empty_like(grad)
        unsorted[order] = grad
        grad = unsorted
    return st.loss, grad.reshape(x_in.shape), _stats(st, cfg.n_tau)
