"""NumPy interoperability: np.exp(t), ndarray + t and np.where(c, t, 0) give Tensors.

This is also how derivative rules, written with NumPy functions, become differentiable under
create_graph=True: the same np.cos(x) runs scratchgrad's cos when x is a Tensor.
"""
import builtins
import inspect

import numpy as np

from scratchgrad.core.gradmode import grad_mode
from scratchgrad.core.tensor import Tensor
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
    # No gradient flows through these (a rule under create_graph may call them on a Tensor).
    np.zeros_like: lambda x, *args, **kwargs: Tensor._wrap(np.zeros_like(x._data, *args, **kwargs)),
    np.ones_like: lambda x, *args, **kwargs: Tensor._wrap(np.ones_like(x._data, *args, **kwargs)),
}


def _plain(value):
    """Tensors (also inside lists and tuples) as NumPy arrays, for NumPy functions we don't map."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _needs_grad(values):
    """Does any Tensor among values (also inside lists, tuples and dicts) require grad?"""
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Tensor):
            if value.requires_grad:
                return True
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return False


def _holds_floats(result):
    """Could result carry a gradient: a float array or number (also inside a tuple or list)?"""
    stack = [result]
    while stack:
        value = stack.pop()
        if isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, builtins.float) or (
                isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "fc"):
            return True
    return False


# Ufuncs whose derivative is zero (or undefined) everywhere: on a Tensor they simply give
# plain NumPy results, which carry no gradient, correctly.
_CONSTANT_UFUNCS = {np.sign, np.isfinite, np.isnan, np.isinf, np.floor, np.ceil, np.rint,
                    np.trunc, np.signbit, np.logical_not}

# What to write instead of a NumPy function, where the name alone doesn't say it. Functions not
# listed here are looked up by name in scratchgrad (so new ops are found without an entry).
_INSTEAD = {
    "dot": "sg.matmul(a, b) (or a @ b)",
    "inner": "(a * b).sum(-1)",
    "vdot": "(a * b).sum()",
    "norm": "t.pow(2).sum().sqrt() (or its axis= version)",
    "std": "sg.std(t, correction=0) (NumPy's ddof=0; sg.std divides by n - 1, like PyTorch)",
    "var": "sg.var(t, correction=0) (NumPy's ddof=0; sg.var divides by n - 1, like PyTorch)",
    "square": "t * t",
    "absolute": "sg.abs(t)",
    "negative": "sg.neg(t) (or -t)",
    "subtract": "sg.sub(a, b) (or a - b)",
    "multiply": "sg.mul(a, b) (or a * b)",
    "true_divide": "sg.div(a, b) (or a / b)",
    "divide": "sg.div(a, b) (or a / b)",
    "power": "sg.pow(a, b) (or a ** b)",
    "expm1": "sg.exp(t) - 1",
    "log1p": "sg.log(1 + t)",
    "reciprocal": "1 / t",
    "ptp": "t.max() - t.min()",
    "average": "sg.mean(t) (or (t * w).sum() / w.sum() with weights)",
    "nanmean": "sg.where(sg.isnan(t), 0, t).sum() / (~sg.isnan(t)).sum()",
    "add.reduce": "sg.sum(t, dim)",
    "add.accumulate": "a running sum built from scratchgrad's ops",
    "multiply.reduce": "sg.prod(t, dim)",
    "maximum.reduce": "sg.amax(t, dim)",
    "minimum.reduce": "sg.amin(t, dim)",
}


def _instead(name):
    """How to say np.<name> in scratchgrad, for an error message."""
    import scratchgrad as sg  # only when an error is being worded
    if name in _INSTEAD:
        return _INSTEAD[name]
    if callable(getattr(sg, name, None)):
        return f"sg.{name}(...)"
    return "scratchgrad's ops (compose them: each has its derivative)"


def _gradient_lost(what, name, reason=None):
    reason = reason or "NumPy would compute it on the plain values, so the result carries no gradient"
    return TypeError(f"{what} on a tensor that requires grad: {reason}. Use {_instead(name)} "
                     "instead, or pass t.detach() if you want a value without gradient")


def numpy_ufunc(ufunc, method, inputs, kwargs):
    """np.exp(t), ndarray + t, ...: scratchgrad's op where there is one, else plain NumPy."""
    fn = _UFUNCS.get(ufunc)
    if fn is not None and method == "__call__" and not kwargs:
        return fn(*inputs)
    name = ufunc.__name__ + ("" if method == "__call__" else f".{method}")
    call = f"np.{name}"
    out = kwargs.get("out")
    if out is not None and _holds_tensor(out):
        raise TypeError(f"{call}(..., out=...): a scratchgrad Tensor can't be NumPy's out= (its "
                        f"data would change behind autograd's back); assign the result instead: "
                        f"t = {_instead(name)}")
    if (ufunc not in _CONSTANT_UFUNCS and grad_mode.enabled
            and builtins.any(getattr(x, "requires_grad", False) for x in inputs)):
        if fn is None or method != "__call__":
            raise _gradient_lost(call, name, "scratchgrad has no op for it, so the result would "
                                 "carry no gradient")
        keywords = ", ".join(f"{k}=" for k in kwargs)
        raise _gradient_lost(f"{call}(..., {keywords})", name,
                             f"scratchgrad's {fn.__name__} takes no {keywords}, and plain NumPy's "
                             "result would carry no gradient")
    return getattr(ufunc, method)(*_plain(inputs), **{k: _plain(v) for k, v in kwargs.items()})


def _binds(fn, args, kwargs):
    """Would fn accept these arguments?"""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return False
    return True


def _holds_tensor(value):
    return isinstance(value, Tensor) or (
        isinstance(value, tuple) and builtins.any(isinstance(v, Tensor) for v in value))


def numpy_function(func, args, kwargs):
    """np.sum(t), np.where(c, t, 0), ...: scratchgrad's op where there is one; else plain NumPy,
    unless a tensor requires grad and NumPy's result (floats) would silently lose its gradient."""
    fn = _FUNCTIONS.get(func)
    if fn is not None:
        try:
            return fn(*args, **kwargs)
        except TypeError:
            if _binds(fn, args, kwargs):
                raise  # scratchgrad's own complaint about the arguments
            # NumPy arguments scratchgrad's function doesn't take (out=, dtype=, where=, ...)
            if grad_mode.enabled and _needs_grad((args, kwargs)):
                keywords = ", ".join(f"{k}=" for k in kwargs)
                raise _gradient_lost(f"np.{func.__name__}(..., {keywords})", func.__name__,
                                     f"scratchgrad's {fn.__name__} doesn't take these arguments, "
                                     "and plain NumPy's result would carry no gradient") from None
    result = func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
    if grad_mode.enabled and _holds_floats(result) and _needs_grad((args, kwargs)):
        module = func.__module__.replace("numpy.linalg", "np.linalg").replace("numpy", "np")
        name = f"{module}.{func.__name__}" if module.startswith("np.linalg") else f"np.{func.__name__}"
        raise _gradient_lost(name, func.__name__)
    return result
