"""Reductions (sum, mean, var, max, logsumexp, ...) and softmax, with NumPy's axis/keepdims
or PyTorch's dim/keepdim."""
import builtins
import collections
import math
import warnings

import numpy as np

from scratchgrad import primitives as P
from scratchgrad.core import dtypes
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import (
    DTypeError,
    DTypeNotImplementedError,
    ShapeError,
    describe_shape,
    normalize_axes,
    normalize_axis,
    user_stacklevel,
)
from scratchgrad.core.quiet import silenced
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops.elementwise import (
    _numeric,
    _raw,
    abs,
    as_tensor,
    cast,
    exp,
    float_only,
    log,
    maximum,
    minimum,
    sqrt,
    where,
)

# ---------------------------------------------------------------- reductions

def _reduction_axes(name, x, axis, keepdims, dim, keepdim):
    """Accept NumPy's (axis, keepdims) or PyTorch's (dim, keepdim) spelling."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return normalize_axes(name, axis, x.ndim), builtins.bool(keepdims)


def _reduced_count(x, axes):
    return math.prod(x.shape[a] for a in axes)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    """Σ over the given axes (all by default)."""
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    axes, keepdims = _reduction_axes("sum", x, axis, keepdims, dim, keepdim)
    xd = x._data
    if xd.dtype.kind in "bu" or xd.dtype == dtypes.int32:
        xd = xd.astype(dtypes.int64)  # PyTorch sums bools and ints as int64
    return apply(P.sum, (x,), (xd,), {"axis": axes, "keepdims": keepdims})


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Σx / n over the given axes."""
    x = as_tensor(x)
    axes, keepdims = _reduction_axes("mean", x, axis, keepdims, dim, keepdim)
    if x.dtype.kind != "f":
        raise DTypeError(f"mean: input dtype must be floating point, got {x.dtype}; "
                         "use .float() first")
    count = _reduced_count(x, axes)
    if count == 0:  # the mean of nothing is nan (0 / 0), as in PyTorch, without NumPy's warning
        with silenced():
            return sum(x, axes, keepdims) / count
    return sum(x, axes, keepdims) / count


def var(x, axis=None, unbiased=None, keepdims=False, *, correction=None, dim=None, keepdim=None):
    """Σ(x - mean)² / (n - correction); correction=1 (unbiased) by default, as in PyTorch."""
    return _variance("var", x, axis, unbiased, keepdims, correction, dim, keepdim)


def std(x, axis=None, unbiased=None, keepdims=False, *, correction=None, dim=None, keepdim=None):
    """sqrt(var(x)); where var is 0 the gradient is 0, as in PyTorch (not 0 · ∞)."""
    v = _variance("std", x, axis, unbiased, keepdims, correction, dim, keepdim)
    flat = v == 0
    # sqrt never sees the zeros (their branch of where gets no gradient), so no 0/0 appears.
    return where(flat, 0, sqrt(where(flat, 1, v)))


def _variance(name, x, axis, unbiased, keepdims, correction, dim, keepdim):
    x = as_tensor(x)
    axes, keepdims = _reduction_axes(name, x, axis, keepdims, dim, keepdim)
    if x.dtype.kind != "f":
        raise DTypeError(f"{name}: input dtype must be floating point, got {x.dtype}")
    if correction is None:
        correction = 0 if unbiased is False else 1
    centred = x - mean(x, axes, keepdims=True)
    divisor = builtins.max(_reduced_count(x, axes) - correction, 0)
    if divisor > 0:
        return sum(centred * centred, axes, keepdims) / divisor
    warnings.warn(f"{name}(): degrees of freedom is <= 0: correction {correction} is not less than "
                  f"the {_reduced_count(x, axes)} element(s) reduced, so the result is nan or inf",
                  UserWarning, stacklevel=user_stacklevel())
    with silenced():  # x / 0: inf or nan, as in PyTorch, without NumPy's warning
        return sum(centred * centred, axes, keepdims) / divisor


def _extremum(op, x, axis, keepdims, dim, keepdim):
    x = as_tensor(x)
    axes, keepdims = _reduction_axes(op.name, x, axis, keepdims, dim, keepdim)
    if x._data.size == 0 and (axis is None and dim is None or _reduced_count(x, axes) == 0):
        raise ShapeError(f"{op.name}: can't reduce an empty tensor of shape "
                         f"{describe_shape(x.shape)} over axis {axes}: there is no identity")
    return apply(op, (x,), (x._data,), {"axis": axes, "keepdims": keepdims})


# What max/min with an int dim return, as PyTorch's torch.return_types.max: a (values,
# indices) pair with names, so both `_, predicted = out.max(1)` and `.values` work.
MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Largest element: over everything (ties share the gradient evenly), or along an int dim
    as (values, indices), the gradient going to the index returned. max(x, y) is maximum."""
    if isinstance(axis, Tensor):
        return maximum(x, axis)
    along = axis if dim is None else dim
    if along is None or isinstance(along, (tuple, list)):
        return _extremum(P.max, x, axis, keepdims, dim, keepdim)
    return _extremum_along(np.argmax, MaxResult, x, along, keepdims if keepdim is None else keepdim)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Smallest element: over everything, or along an int dim as (values, indices), as max."""
    if isinstance(axis, Tensor):
        return minimum(x, axis)
    along = axis if dim is None else dim
    if along is None or isinstance(along, (tuple, list)):
        return _extremum(P.min, x, axis, keepdims, dim, keepdim)
    return _extremum_along(np.argmin, MinResult, x, along, keepdims if keepdim is None else keepdim)


def _extremum_along(arg, result, x, dim, keepdim):
    """(x at the arg-extreme index along dim, that index): an index op, so the gradient goes
    to the one element returned (the first of tied ones, as NumPy's and PyTorch's argmax)."""
    name = result.__name__
    x = _numeric(name, x)
    axis = normalize_axis(name, dim, x.ndim)
    if x.ndim == 0:
        return result(x[...], Tensor._wrap(np.zeros((), dtype=dtypes.int64)))
    if x.shape[axis] == 0:
        raise ShapeError(f"{name}: can't reduce an empty dimension: dim {dim} of a tensor of "
                         f"shape {describe_shape(x.shape)} has size 0")
    indices = arg(x._data, axis=axis, keepdims=True)
    key = tuple(indices if i == axis else
                np.arange(n).reshape([-1 if j == i else 1 for j in range(x.ndim)])
                for i, n in enumerate(x.shape))
    values = x[key]
    if not keepdim:
        values = values.squeeze(axis)
        indices = np.squeeze(indices, axis)
    return result(values, Tensor._wrap(indices.astype(dtypes.int64)))


def amax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Largest element over the axes (all by default); ties share the gradient evenly."""
    return _extremum(P.max, x, axis, keepdims, dim, keepdim)


def amin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Smallest element over the axes (all by default); ties share the gradient evenly."""
    return _extremum(P.min, x, axis, keepdims, dim, keepdim)


def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Π over the given axes."""
    x = as_tensor(x)
    axes, keepdims = _reduction_axes("prod", x, axis, keepdims, dim, keepdim)
    xd = x._data.astype(dtypes.int64) if x.dtype.kind in "bu" else x._data
    return apply(P.prod, (x,), (xd,), {"axis": axes, "keepdims": keepdims})


def _shifted(x, axes):
    """x - m, with m the max over the axes (0 where the max isn't finite) as a constant.

    Shifting by the max keeps exp from overflowing; since the shift's derivative cancels
    out of logsumexp and softmax exactly, m is detached (no gradient through it).
    """
    m = np.max(x._data, axis=axes, keepdims=True) if x._data.size else np.zeros(())
    return x - Tensor._wrap(np.where(np.isfinite(m), m, 0)), m


def _as_float(x):
    x = as_tensor(x)
    return x if x.dtype.kind == "f" else cast(x, dtypes.default_float)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log Σ exp(x), computed as m + log Σ exp(x - m) with m the max, so it can't overflow."""
    x = _as_float(x)
    axes, keepdims = _reduction_axes("logsumexp", x, axis, keepdims, dim, keepdim)
    shifted, m = _shifted(x, axes)
    total = log(sum(exp(shifted), axes, keepdims=True)) + np.where(np.isfinite(m), m, 0)
    return total if keepdims else total.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def softmax(x, axis=-1, *, dim=None):
    """exp(x) / Σ exp(x) along an axis, computed on x - max(x) so exp can't overflow."""
    x = float_only("softmax", as_tensor(x))  # as PyTorch: softmax of integers isn't defined
    axis = normalize_axis("softmax", axis if dim is None else dim, x.ndim)
    e = exp(_shifted(x, (axis,) if x.ndim else ())[0])
    return e / sum(e, axis, keepdims=True)


def log_softmax(x, axis=-1, *, dim=None):
    """(x - m) - log Σ exp(x - m) along an axis: stable for logits of any size.

    Subtracting the max before the log-sum keeps float32 exact near ±1e4, where
    x - logsumexp(x) would lose digits to the large intermediate m + log Σ.
    """
    x = float_only("log_softmax", as_tensor(x))  # as PyTorch: not defined for integers
    axis = normalize_axis("log_softmax", axis if dim is None else dim, x.ndim)
    shifted = _shifted(x, (axis,) if x.ndim else ())[0]
    return shifted - log(sum(exp(shifted), axis, keepdims=True))


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the largest element (flattened when axis is None); no gradient."""
    return _arg_extremum(np.argmax, "argmax", x, axis, keepdims, dim, keepdim)


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the smallest element (flattened when axis is None); no gradient."""
    return _arg_extremum(np.argmin, "argmin", x, axis, keepdims, dim, keepdim)


def _arg_extremum(fn, name, x, axis, keepdims, dim, keepdim):
    x = _numeric(name, x)
    axis = axis if dim is None else dim
    keepdims = keepdims if keepdim is None else keepdim
    if x._data.size == 0:
        raise ShapeError(f"{name}: can't take the {name} of an empty tensor of shape "
                         f"{describe_shape(x.shape)}")
    if axis is not None:
        axis = normalize_axis(name, axis, x.ndim)
        if x.ndim == 0:
            axis = None
    out = fn(x._data, axis=axis, keepdims=keepdims)
    return Tensor._wrap(np.asarray(out, dtype=dtypes.int64))


def any(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """True where some element over the axes is nonzero; no gradient."""
    x = as_tensor(x)
    axes, keepdims = _reduction_axes("any", x, axis, keepdims, dim, keepdim)
    return Tensor._wrap(np.any(_raw(x), axis=axes, keepdims=keepdims))


def all(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """True where every element over the axes is nonzero; no gradient."""
    x = as_tensor(x)
    axes, keepdims = _reduction_axes("all", x, axis, keepdims, dim, keepdim)
    return Tensor._wrap(np.all(_raw(x), axis=axes, keepdims=keepdims))


# The public ops of this module: sg.<name>, and Tensor methods (see ops/__init__.py).
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over dim (all elements by default): (Σ|x|^p)^(1/p), 'fro' and 2 the
    Euclidean one, inf and -inf the largest and smallest |x|, 0 the count of non-zeros. Built
    from differentiable ops, so its derivatives are theirs; where the norm is 0 the gradient is
    0, as PyTorch's (not the 0/0 of the formula: both branches of a `where` stay finite)."""
    x = float_only("norm", as_tensor(input))
    if dtype is not None:
        x = cast(x, dtype)
    if p == "fro":
        p = 2
    elif isinstance(p, str):
        raise DTypeNotImplementedError(f"norm: p={p!r} is not implemented here (the p-norms, "
                                       "'fro', inf and -inf are)")
    p = float(p)
    a = abs(x)
    if p == math.inf:
        return amax(a, dim=dim, keepdim=keepdim)
    if p == -math.inf:
        return amin(a, dim=dim, keepdim=keepdim)
    if p == 0:
        return sum(cast(x != 0, x.dtype), dim=dim, keepdim=keepdim)
    if p == 1:
        return sum(a, dim=dim, keepdim=keepdim)
    if p == 2:
        powers = a * a
    else:  # |x|^p's slope at 0 is infinite below p = 1: the same two-sided where
        at_zero = a == 0
        powers = where(at_zero, 0.0, where(at_zero, 1.0, a) ** p)
    total = sum(powers, dim=dim, keepdim=keepdim)
    zero = total == 0
    root = sqrt(where(zero, 1.0, total)) if p == 2 else where(zero, 1.0, total) ** (1 / p)
    return where(zero, 0.0, root)


__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "log_softmax", "logsumexp", "max",
           "mean", "min", "norm", "prod", "softmax", "std", "sum", "var"]
