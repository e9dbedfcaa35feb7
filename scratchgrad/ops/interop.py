"""NumPy interoperability: np.exp(t), ndarray + t and np.where(c, t, 0) give Tensors.

This is also how derivative rules, written with NumPy functions, become differentiable under
create_graph=True: the same np.cos(x) runs scratchgrad's cos when x is a Tensor.
"""
import builtins

import numpy as np

from scratchgrad.autograd import grad_mode
from scratchgrad.ops.elementwise import (
    abs,
    add,
    clip,
    cos,
    div,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    logical_and,
    logical_or,
    lt,
    matmul,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    sin,
    sqrt,
    sub,
    tanh,
    where,
)
from scratchgrad.ops.reductions import amax, amin, mean, sum
from scratchgrad.ops.shapes import (
    broadcast_to,
    cat,
    expand_dims,
    permute,
    reshape,
    stack,
    transpose,
)
from scratchgrad.tensor import Tensor

_UFUNCS = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div, np.power: pow,
    np.negative: neg, np.exp: exp, np.log: log, np.sqrt: sqrt, np.sin: sin, np.cos: cos,
    np.tanh: tanh, np.absolute: abs, np.maximum: maximum, np.minimum: minimum,
    np.matmul: matmul, np.less: lt, np.less_equal: le, np.greater: gt, np.greater_equal: ge,
    np.equal: eq, np.not_equal: ne, np.bitwise_and: logical_and, np.bitwise_or: logical_or,
    np.logical_and: logical_and, np.logical_or: logical_or,
}


def _np_transpose(x, axes=None):
    return permute(x, tuple(range(x.ndim - 1, -1, -1)) if axes is None else tuple(axes))


_FUNCTIONS = {
    np.where: where, np.broadcast_to: broadcast_to, np.swapaxes: transpose,
    np.expand_dims: expand_dims, np.transpose: _np_transpose, np.reshape: reshape,
    np.sum: sum, np.mean: mean, np.concatenate: cat, np.stack: stack, np.clip: clip,
    np.max: amax, np.amax: amax, np.min: amin, np.amin: amin,  # NumPy's max is PyTorch's amax
}


def _plain(value):
    """Tensors (also inside lists and tuples) as NumPy arrays, for NumPy functions we don't map."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


# Ufuncs whose derivative is zero (or undefined) everywhere: on a Tensor they simply give
# plain NumPy results, which carry no gradient, correctly.
_CONSTANT_UFUNCS = {np.sign, np.isfinite, np.isnan, np.isinf, np.floor, np.ceil, np.rint,
                    np.trunc, np.signbit, np.logical_not}


def numpy_ufunc(ufunc, method, inputs, kwargs):
    """np.exp(t), ndarray + t, ...: scratchgrad's op where there is one, else plain NumPy."""
    fn = _UFUNCS.get(ufunc)
    if fn is not None and method == "__call__" and not kwargs:
        return fn(*inputs)
    if (ufunc not in _CONSTANT_UFUNCS and grad_mode.enabled
            and builtins.any(getattr(x, "requires_grad", False) for x in inputs)):
        raise TypeError(f"np.{ufunc.__name__} has no scratchgrad op: on a tensor that requires "
                        "grad its result would silently carry no gradient; use scratchgrad's ops")
    return getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))


def numpy_function(func, args, kwargs):
    fn = _FUNCTIONS.get(func)
    if fn is not None:
        return fn(*args, **kwargs)
    return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
