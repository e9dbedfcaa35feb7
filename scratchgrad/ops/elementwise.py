"""Elementwise ops: arithmetic with NumPy broadcasting and PyTorch's dtype rules, the
float functions (exp, tanh, ...), composites such as clip and gelu, and comparisons.

Each public op checks its arguments and applies a primitive (primitives.py holds the
derivatives) or composes primitives; composites carry no derivative code.
"""
import builtins
import math

import numpy as np

from scratchgrad import primitives as P
from scratchgrad.core import dtypes
from scratchgrad.core.devices import check_device
from scratchgrad.core.engine import apply, record
from scratchgrad.core.errors import (
    DTypeError,
    DTypeNotImplementedError,
    ShapeError,
    ValueRangeError,
    broadcast_error,
    describe_shape,
)
from scratchgrad.core.quiet import silenced
from scratchgrad.core.tensor import Tensor

_PYTHON_NUMBERS = (bool, int, float)


def as_tensor(x, dtype=None, device=None):
    """A Tensor as is; anything else (number, list, array) becomes a new constant Tensor.
    With dtype, a tensor of another dtype is cast, as torch.as_tensor does."""
    if dtype is None and device is None:
        return x if isinstance(x, Tensor) else Tensor(x)
    check_device("as_tensor", device)
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    return Tensor(x, dtype=dtype)


def _raw(x):
    return x._data if isinstance(x, Tensor) else x


# ---------------------------------------------------------------- elementwise: dtypes and broadcasting

def _operands(a, b):
    """The raw values of a and b, cast where needed so NumPy's result dtype is PyTorch's."""
    ta, tb = type(a), type(b)
    if isinstance(a, Tensor):
        ad = a._data
        if isinstance(b, Tensor):
            if ad.dtype is b._data.dtype:
                return ad, b._data
        elif (tb is float and ad.dtype.kind == "f") or (tb is int and ad.dtype.kind in "fi"):
            return ad, _constants.get((b, ad.dtype)) or _constant(b, ad.dtype)
    elif isinstance(b, Tensor):
        bd = b._data
        if (ta is float and bd.dtype.kind == "f") or (ta is int and bd.dtype.kind in "fi"):
            return _constants.get((a, bd.dtype)) or _constant(a, bd.dtype), bd
    return _promoted(a, b)


# NumPy converts a Python number on every call, which costs more than the arithmetic on a
# small array; a cached 0-d array of the tensor's dtype gives the same result twice as fast.
_constants = {}


def _constant(value, dtype):
    if value == 0 or (type(value) is float and math.isnan(value)):  # -0.0, NaN: == misleads
        return value
    if len(_constants) > 4096:
        _constants.clear()
    try:
        cached = _constants[(value, dtype)] = np.array(value, dtype)
    except OverflowError:
        raise ValueRangeError(f"the number {value} doesn't fit in a {dtype} tensor") from None
    cached.flags.writeable = False
    return cached


def _promoted(*values):
    """Slow path of _operands: convert lists and arrays, then cast everything to PyTorch's dtype."""
    # A NumPy scalar counts as a Python number (as in PyTorch): np.float64(2) * t stays float32.
    values = [v.item() if isinstance(v, np.generic) else
              v if isinstance(v, (Tensor, *_PYTHON_NUMBERS)) else _constant_array(v)
              for v in values]
    target = dtypes.result_dtype(*values)
    if builtins.all(isinstance(v, _PYTHON_NUMBERS) for v in values):  # sg.add(2, 3)
        return tuple(np.array(v, target) for v in values)
    return tuple(v if isinstance(v, _PYTHON_NUMBERS) else _raw(v).astype(target, copy=False)
                 for v in values)


def _constant_array(v):
    if isinstance(v, (np.ndarray, np.generic)):
        return np.asarray(v)
    return Tensor(v)._data


def _is_float(v):
    return type(v) is float or (not isinstance(v, (int, bool)) and v.dtype.kind == "f")


def _is_bool(v):
    return type(v) is bool or getattr(v, "dtype", None) == dtypes.bool_


def elementwise_function(op, doc, refuse=None, refusal=DTypeError):
    """Make the public function of a broadcasting binary primitive (add, mul, ...).

    refuse(a, b), if given, names operand dtypes PyTorch won't take (e.g. bools for sub);
    they raise `refusal` (DTypeNotImplementedError where PyTorch has no kernel, as for bool // bool).
    """
    forward = op.forward  # a local name: faster than op.forward

    def elementwise(a, b):
        # The two commonest cases first, inline (the hot path of every small network):
        # tensors of one dtype, and a float tensor with a Python float seen before (a float
        # tensor only: 2.0 and 2 are one key, and an int tensor's cached 2 would keep
        # int_tensor * 2.0 an int).
        if isinstance(a, Tensor):
            ad = a._data
            if isinstance(b, Tensor) and ad.dtype is b._data.dtype:
                bd = b._data
            elif (type(b) is not float or ad.dtype.kind != "f"
                  or (bd := _constants.get((b, ad.dtype))) is None):
                ad, bd = _operands(a, b)
        else:
            ad, bd = _operands(a, b)
        if refuse is not None and refuse(a, b):
            raise _dtype_clash(op.name, ad, bd, error=refusal)
        try:
            out = forward(ad, bd)
        except ValueError as exc:
            raise _shape_clash(op.name, exc, np.shape(ad), np.shape(bd)) from None
        except TypeError:  # NumPy refuses e.g. bool - bool
            raise _dtype_clash(op.name, ad, bd) from None
        except RuntimeWarning:  # inf or nan, with warnings made errors: see core/quiet.py
            with silenced():
                out = forward(ad, bd)
        return record(op, out, (a, b), (ad, bd))

    elementwise.__name__ = elementwise.__qualname__ = op.name
    elementwise.__doc__ = doc
    return elementwise


def _dtype_clash(name, *values, error=DTypeError):
    kinds = " and ".join(str(np.result_type(v)) for v in values)
    return error(f"{name}: not defined for {kinds} operands")


def float_only(name, x):
    """x, if floating point; else PyTorch's NotImplementedError (it has no integer kernel for
    GELU, softplus, leaky_relu, softmax, ...)."""
    if x.dtype.kind != "f":
        raise DTypeNotImplementedError(f"{name}: not implemented for {x._data.dtype} tensors; "
                                       f"convert to floating point first, e.g. x.float()")
    return x


def _shape_clash(name, exc, *shapes):
    """A ValueError from NumPy is a broadcasting clash (reworded) or a real bug (kept)."""
    if isinstance(exc, ShapeError):  # already ours (sg.set_broadcast_mode("raise"))
        return exc
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return broadcast_error(name, *shapes)
    return ValueRangeError(f"{name}: {exc}")


add = elementwise_function(P.add, "a + b")
# PyTorch refuses bools in subtraction (use ~ or logical_not) and bool ** bool.
sub = elementwise_function(P.sub, "a - b", refuse=lambda a, b: _is_bool(a) or _is_bool(b))
mul = elementwise_function(P.mul, "a * b")


# True division, the `/` operator; the public sg.div (rounding modes too) is ops/rounding.py's.
def div(a, b):
    """a / b, always a float result (int / int gives float32, as in PyTorch)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    ad, bd = _operands(a, b)
    if not (_is_float(ad) or _is_float(bd)):
        ad, bd = _to_float(ad), _to_float(bd)
    try:
        return apply(P.div, (a, b), (ad, bd))
    except ValueError as exc:
        raise _shape_clash("div", exc, np.shape(ad), np.shape(bd)) from None


def _to_float(v):
    return float(v) if isinstance(v, (int, bool)) else v.astype(dtypes.default_float)


pow = elementwise_function(P.pow, "a ** b", refuse=lambda a, b: _is_bool(a) and _is_bool(b),
                           refusal=DTypeNotImplementedError)


maximum = elementwise_function(P.maximum, "Elementwise max; a tie sends half the gradient to each side.")


minimum = elementwise_function(P.minimum, "Elementwise min; a tie sends half the gradient to each side.")


def neg(x):
    """-x"""
    x = as_tensor(x)
    if x.dtype == dtypes.bool_:
        raise _dtype_clash("neg", x._data)
    return apply(P.neg, (x,), (x._data,))


def where(cond, a, b):
    """a where cond is True, else b (cond gets no gradient)."""
    c = _raw(cond) if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != dtypes.bool_:
        raise DTypeError(f"where: the condition must be a bool tensor, got {c.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    ad, bd = _operands(a, b)
    try:
        return apply(P.where, (cond, a, b), (c, ad, bd))
    except ValueError as exc:
        raise _shape_clash("where", exc, c.shape, np.shape(ad), np.shape(bd)) from None


def matmul(a, b):
    """Matrix product with NumPy/PyTorch rules: 1-D vectors, batches, broadcast batch dims."""
    a, b = as_tensor(a), as_tensor(b)
    if a.dtype != b.dtype:  # PyTorch doesn't promote in matmul (a float64 batch, float32 weights)
        raise DTypeError(f"matmul: expected both operands to have the same dtype, got {a.dtype} "
                         f"and {b.dtype}; convert one, e.g. b.to({a.dtype})")
    ad, bd = _operands(a, b)
    if ad.ndim == 0 or bd.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{describe_shape(ad.shape)} and {describe_shape(bd.shape)}")
    try:
        return apply(P.matmul, (a, b), (ad, bd))
    except ValueError:
        raise _matmul_error(ad.shape, bd.shape) from None


def _matmul_error(sa, sb):
    inner_b = -2 if len(sb) > 1 else -1
    shapes = f"shapes {describe_shape(sa)} and {describe_shape(sb)}"
    if sa[-1] != sb[inner_b]:
        return ShapeError(f"matmul: {shapes} don't line up: {sa[-1]} != {sb[inner_b]} "
                          f"(dimension -1 of the first vs dimension {inner_b} of the second)")
    return ShapeError(f"matmul: {shapes}: batch dimensions {describe_shape(sa[:-2])} and "
                      f"{describe_shape(sb[:-2])} can't broadcast")


# ---------------------------------------------------------------- elementwise functions

def _float_function(op, doc):
    """Make the public function of a float-valued primitive (exp, tanh, ...): bool and int
    inputs become float32 first, as in PyTorch."""
    forward = op.forward  # a local name: faster than op.forward

    def float_function(x):
        if not isinstance(x, Tensor):
            x = Tensor(x)
        xd = x._data
        if xd.dtype.kind != "f":
            xd = xd.astype(dtypes.default_float)
        try:
            out = forward(xd)
        except RuntimeWarning:  # inf or nan, with warnings made errors: see core/quiet.py
            with silenced():
                out = forward(xd)
        return record(op, out, (x,), (xd,))

    float_function.__name__ = float_function.__qualname__ = op.name
    float_function.__doc__ = doc
    return float_function


# exp, log, tanh, ...: one public function per row of primitives.float_functions.
float_functions = {op.name: _float_function(op, op.doc) for op in P.float_functions}
globals().update(float_functions)
_softplus = _float_function(P.softplus, "log(1 + e^x)")


def _numeric(name, x):
    """x as a Tensor, refusing bools where PyTorch does (abs, relu, argmax, softmax)."""
    x = as_tensor(x)
    if x.dtype == dtypes.bool_:
        raise _dtype_clash(name, x._data)
    return x


def no_bool_kernel(name, x):
    """x as a Tensor, refusing bools where PyTorch has no kernel for them (abs, floor, round):
    its NotImplementedError."""
    x = as_tensor(x)
    if x.dtype == dtypes.bool_:
        raise _dtype_clash(name, x._data, error=DTypeNotImplementedError)
    return x


def abs(x):
    """|x|; the gradient is sign(x), so 0 at x = 0 (as in PyTorch)."""
    x = no_bool_kernel("abs", x)
    return apply(P.abs, (x,), (x._data,))


def relu(x):
    """max(x, 0); the gradient at 0 is 0, as in PyTorch."""
    x = _numeric("relu", x)
    return apply(P.relu, (x,), (x._data,))


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    x = float_only("leaky_relu", as_tensor(x))
    return where(x > 0, x, x * negative_slope)


def gelu(x, approximate="none"):
    """x * Φ(x), Φ the standard normal CDF; approximate='tanh' uses PyTorch's tanh formula."""
    x = float_only("gelu", as_tensor(x))
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
        return 0.5 * x * (1 + float_functions["tanh"](inner))
    if approximate != "none":
        raise ValueRangeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply(P.gelu, (x,), (x._data,), {"slope": P.Kept("Φ(x) + x·φ(x)")})


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule)."""
    x = float_only("softplus", as_tensor(x))
    scaled = x * beta if beta != 1 else x
    smooth = _softplus(scaled)
    if beta != 1:
        smooth = smooth / beta
    return where(scaled > threshold, x, smooth)


def clip(x, min=None, max=None):
    """Limit x to [min, max]; bounds may be numbers or tensors (which then get gradients)."""
    x = as_tensor(x)
    if min is None and max is None:
        raise ValueRangeError("clip: at least one of min and max must be given")
    if min is not None:
        x = where(x < min, min, x)
    if max is not None:
        x = where(x > max, max, x)
    return x


clamp = clip


def cast(x, dtype):
    """x as another dtype; gradients flow back in x's own dtype."""
    dtype = dtypes.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    out = apply(P.cast, (x,), (x._data,), {"dtype": dtype})
    if dtype.kind != "f" and out.requires_grad:  # an int result can't carry gradients
        out = out.detach()
    return out


def clone(x):
    """A copy of x that stays in the graph: the gradient flows back to x unchanged."""
    return apply(P.copy, (x,), (x._data,))


def contiguous(x):
    """x itself when its elements are already in row-major order, else a row-major copy."""
    x = as_tensor(x)
    if not isinstance(x._data, np.ndarray) or x._data.flags.c_contiguous:
        return x
    return record(P.copy, np.ascontiguousarray(x._data), (x,), (x._data,))


# ---------------------------------------------------------------- comparisons and logic (no gradient)

def _compare(ufunc, name, a, b):
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    ad, bd = _operands(a, b)
    try:
        return Tensor._wrap(ufunc(ad, bd))
    except ValueError as exc:
        raise _shape_clash(name, exc, np.shape(ad), np.shape(bd)) from None


def lt(a, b):
    """a < b elementwise, with broadcasting (a bool tensor, no gradient)."""
    return _compare(np.less, "lt", a, b)


def le(a, b):
    """a <= b elementwise, with broadcasting (a bool tensor, no gradient)."""
    return _compare(np.less_equal, "le", a, b)


def gt(a, b):
    """a > b elementwise, with broadcasting (a bool tensor, no gradient)."""
    return _compare(np.greater, "gt", a, b)


def ge(a, b):
    """a >= b elementwise, with broadcasting (a bool tensor, no gradient)."""
    return _compare(np.greater_equal, "ge", a, b)


def eq(a, b):
    """a == b elementwise, with broadcasting (a bool tensor); False against None or a string."""
    if b is None or isinstance(b, str):
        return False
    return _compare(np.equal, "eq", a, b)


def ne(a, b):
    """a != b elementwise, with broadcasting (a bool tensor); True against None or a string."""
    if b is None or isinstance(b, str):
        return True
    return _compare(np.not_equal, "ne", a, b)


def logical_and(a, b):
    """a and b elementwise (bools; bitwise for integers), with broadcasting."""
    return _compare(np.bitwise_and, "and", a, b)


def logical_or(a, b):
    """a or b elementwise (bools; bitwise for integers), with broadcasting."""
    return _compare(np.bitwise_or, "or", a, b)


def logical_not(x):
    """not x elementwise (bools; bitwise for integers)."""
    return Tensor._wrap(np.invert(_raw(as_tensor(x))))


def isnan(x):
    """True where x is NaN (a bool tensor)."""
    return Tensor._wrap(np.isnan(_raw(as_tensor(x))))


def isfinite(x):
    """True where x is neither infinite nor NaN (a bool tensor)."""
    return Tensor._wrap(np.isfinite(_raw(as_tensor(x))))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when |a - b| <= atol + rtol·|b| everywhere (a Python bool), as torch.allclose."""
    a, b = as_tensor(a), as_tensor(b)
    if a.dtype != b.dtype:
        raise DTypeError(f"allclose: both tensors must have the same dtype, got {a.dtype} "
                         f"and {b.dtype}")
    try:
        with np.errstate(invalid="ignore", over="ignore"):
            return builtins.bool(np.allclose(a._data, b._data, rtol=rtol, atol=atol,
                                             equal_nan=equal_nan))
    except ValueError:
        raise broadcast_error("allclose", a.shape, b.shape) from None


def _tensors_only(name, *args):
    """PyTorch's isclose and equal take tensors only (no numbers, lists or arrays)."""
    for position, (what, arg) in enumerate(zip(("input", "other"), args), start=1):
        if not isinstance(arg, Tensor):
            raise TypeError(f"{name}(): argument '{what}' (position {position}) must be Tensor, "
                            f"not {type(arg).__name__}")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol·|b| elementwise, with broadcasting (a bool tensor): as
    torch.isclose, ±inf is close only to itself, and NaN to NaN only with equal_nan."""
    _tensors_only("isclose", input, other)
    if input.dtype != other.dtype:
        raise DTypeError(f"isclose: both tensors must have the same dtype, got {input.dtype} "
                         f"and {other.dtype}")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol < 0:
            raise ValueRangeError(f"isclose: {name} must be greater than or equal to zero, "
                                  f"got {tol}")
    a, b = input._data, other._data
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise broadcast_error("isclose", a.shape, b.shape) from None
    close = np.asarray(a == b)
    if equal_nan and a.dtype.kind == "f":
        close = close | (np.isnan(a) & np.isnan(b))
    if rtol or atol:
        if a.dtype.kind != "f":  # PyTorch measures ints and bools in its default float
            a, b = a.astype(dtypes.default_float), b.astype(dtypes.default_float)
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: not close (unless ==)
            error = np.abs(a - b)
            close = close | (np.isfinite(error) & (error <= atol + np.abs(rtol * b)))
    return Tensor._wrap(np.asarray(close))


def equal(input, other):
    """True when both tensors have the same shape and the same values (a Python bool; dtypes
    may differ, as in torch.equal; NaN equals nothing)."""
    _tensors_only("equal", input, other)
    if input.shape != other.shape:
        return False
    a, b = _operands(input, other)
    return builtins.bool(np.array_equal(a, b))


def is_tensor(obj):
    """True for a scratchgrad Tensor (or a subclass, such as Parameter)."""
    return isinstance(obj, Tensor)


# The public ops of this module: sg.<name>, and Tensor methods (see ops/__init__.py).
__all__ = ["abs", "add", "allclose", "as_tensor", "cast", "clamp", "clip", "clone", "eq",
           "equal", "ge", "gelu", "gt", "is_tensor", "isclose", "isfinite", "isnan",
           "le", "leaky_relu", "logical_and", "logical_not", "logical_or", "lt", "matmul",
           "maximum", "minimum", "mul", "ne", "neg", "pow", "relu", "softplus", "sub", "where"]
__all__.extend(float_functions)  # exp, log, tanh, ...
