"""drift.torch: the drift objectives as a PyTorch loss for CPU tensors, computed by libdrift.

    crit = drift.torch.DriftLoss(family="deng", kernel="laplace", tau=0.05)   # the trainer's toy recipe
    loss = crit(model(noise), data_batch)      # a 0-d tensor; loss.backward() fills the model's grads
    crit.stats                                 # the step's figures (v_rms, diversity, ...)

The value and the gradient are drift_drift_loss's (src/train/loss.c), the function `drift train`
steps with: objective "drift" is mean over samples and dims of ‖x/s − sg(x/s + V/s)‖², whose
gradient −2V/(s²·D·N) treats the target x + V as a constant (stop-gradient, as the trainer does);
objective "potential" is −mean Φ(x) with gradient −V/N (sharp, kdegrad, mmd). See drift.loss for
class groups (labels / pos_labels) and guidance negatives (unc, unc_weight).

x must be a float32 or float64 CPU tensor (the engine computes in float32; the gradient comes
back in x's dtype); no gradient flows to pos, labels or unc (they are data).
"""
import numpy as np
import torch

from ._loss import loss as _np_loss

__all__ = ["DriftLoss", "drift_loss"]


def _numpy(t, name):
    """A tensor or array as NumPy without copying a CPU float32 contiguous tensor."""
    if isinstance(t, torch.Tensor):
        if t.device.type != "cpu":
            raise ValueError("%s: drift.torch computes on the CPU; got a tensor on %s (use .cpu())" % (name, t.device))
        return t.detach().contiguous().numpy()
    return t


def _check_x(x):
    if not isinstance(x, torch.Tensor):
        raise TypeError("x must be a torch.Tensor, got %s" % type(x).__name__)
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError("x must be a float32 or float64 tensor, got %s" % x.dtype)
    if x.device.type != "cpu":
        raise ValueError("x: drift.torch computes on the CPU; got a tensor on %s (use .cpu())" % x.device)
    if x.dim() < 2:
        raise ValueError("x must have shape (N, D) (or more dims, flattened per row), got %s" % (tuple(x.shape),))


class DriftLossFunction(torch.autograd.Function):
    """L(x) with dL/dx from the C engine; pos, labels, unc and the options get no gradient."""

    @staticmethod
    def forward(ctx, x, pos, labels, pos_labels, unc, unc_weight, objective, options, stats_out):
        value, grad, stats = _np_loss(_numpy(x, "x"), _numpy(pos, "pos"), labels=_numpy(labels, "labels"),
                                      pos_labels=_numpy(pos_labels, "pos_labels"), unc=_numpy(unc, "unc"),
                                      unc_weight=unc_weight, objective=objective, **options)
        ctx.save_for_backward(torch.from_numpy(grad).to(x.dtype))
        if stats_out is not None:
            stats_out.clear()
            stats_out.update(stats)
        return torch.tensor(value, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (grad,) = ctx.saved_tensors
        return grad_out * grad, None, None, None, None, None, None, None, None


def drift_loss(x, pos, labels=None, pos_labels=None, unc=None, unc_weight=1.0, objective="drift", stats=None,
               **field_options):
    """The loss as a function: a 0-d tensor of x's dtype whose backward is the C gradient.
    stats: a dict to receive the step's figures."""
    _check_x(x)
    return DriftLossFunction.apply(x, pos, labels, pos_labels, unc, unc_weight, objective, field_options, stats)


class DriftLoss(torch.nn.Module):
    """The drift (objective="drift") or potential (objective="potential") objective as an
    nn.Module. Keyword options are drift.field's (family, kernel, tau, rq_alpha, deng_norm,
    pos_scale, neg_scale, feature_norm, drift_norm, deng_released, deng_soft_mask, deng_floor,
    block); the defaults are `drift train`'s toy 2-D recipe: deng, laplace, tau 0.05.
    After each call, .stats holds the step's figures (loss, v_rms, tau_rms, feature_scale,
    gen_spread, pos_spread, diversity, dup_frac)."""

    def __init__(self, objective="drift", family="deng", kernel="laplace", tau=0.05, **field_options):
        super().__init__()
        if objective not in ("drift", "potential"):
            raise ValueError("objective must be 'drift' or 'potential', got %r" % (objective,))
        self.objective = objective
        self.options = dict(field_options, family=family, kernel=kernel, tau=tau)
        self.stats = {}
        # a wrong option fails here, not at the first step
        from ._field import config
        config(**self.options)

    def forward(self, x, pos, labels=None, pos_labels=None, unc=None, unc_weight=1.0):
        return drift_loss(x, pos, labels=labels, pos_labels=pos_labels, unc=unc, unc_weight=unc_weight,
                          objective=self.objective, stats=self.stats, **self.options)

    def extra_repr(self):
        return "objective=%s, %s" % (self.objective, ", ".join("%s=%r" % kv for kv in sorted(self.options.items())))
