"""Gradient clipping, in place on each parameter's .grad (as PyTorch's clip_grad_norm_ and
clip_grad_value_ do): aliases of a .grad see the change."""
import math

import numpy as np

from scratchgrad.core.tensor import Tensor


def _grads(parameters):
    """The .grad arrays of the parameters that have one (one Tensor counts as a list of one)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _writeable(grad):
    """grad's array, made writeable first if it is a read-only view."""
    if not grad._data.flags.writeable:
        grad._data = np.array(grad._data)
    return grad._data


def _changed(grad):
    bump = getattr(grad, "_bump_version", None)
    if bump is not None:
        bump()


def _norm(array, norm_type):
    """The vector norm of every element of array, of order norm_type (inf: the largest |x|)."""
    flat = np.abs(array.ravel())
    if norm_type == math.inf:
        return flat.max(initial=0)
    if norm_type == -math.inf:
        return flat.min(initial=math.inf)
    if norm_type == 0:
        return np.asarray(np.count_nonzero(flat), dtype=array.dtype)
    if norm_type == 2:
        return np.sqrt(np.dot(flat, flat))
    return np.sum(flat ** norm_type) ** (1 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale every gradient by max_norm / (total norm + 1e-6) when that is below 1, where the
    total norm is the norm of all the gradients together. Returns the total norm (a Tensor)."""
    norm_type = float(norm_type)
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    dtype = np.result_type(*(g._data for g in grads))
    norms = np.array([_norm(g._data, norm_type) for g in grads], dtype=dtype)
    total = np.asarray(_norm(norms, norm_type), dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} for gradients "
                           "from `parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    coefficient = np.minimum(np.asarray(max_norm, dtype=dtype) / (total + dtype.type(1e-6)), 1)
    for g in grads:
        np.multiply(g._data, coefficient.astype(g.dtype), out=_writeable(g))
        _changed(g)
    return Tensor._wrap(total)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=_writeable(g))
        _changed(g)
