"""Rounding and integer division: floor, ceil, round, trunc, sign, floor_divide (//),
remainder (%), fmod, and div with its rounding modes.

floor, ceil, round, trunc, sign, // and the rounded divisions are flat between their jumps, so
their gradient is 0 (PyTorch's convention, except that PyTorch raises at a backward through //);
x % y = x - floor(x / y)·y, and fmod(x, y) = x - trunc(x / y)·y.
"""
import numpy as np

from scratchgrad import primitives as P
from scratchgrad.core import dtypes
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import DTypeNotImplementedError, ValueRangeError
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops import elementwise
from scratchgrad.ops.elementwise import (
    _is_bool,
    _tensors_only,
    as_tensor,
    elementwise_function,
    no_bool_kernel,
)


def _rounding(op, x, **params):
    """A float tensor goes through op; an integer one is already whole (a copy, as PyTorch)."""
    x = no_bool_kernel(op.name, x)
    if x.dtype.kind == "f":
        return apply(op, (x,), (x._data,), params)
    return Tensor._wrap(x._data.copy())


def floor(x):
    """The largest whole number <= x (gradient 0)."""
    return _rounding(P.floor, x)


def ceil(x):
    """The smallest whole number >= x (gradient 0)."""
    return _rounding(P.ceil, x)


def trunc(x):
    """x rounded towards 0 (gradient 0)."""
    return _rounding(P.trunc, x)


fix = trunc


def round(x, decimals=0):
    """x rounded half to even, to `decimals` places (gradient 0)."""
    x = as_tensor(x)
    decimals = int(decimals)
    if decimals and x.dtype.kind != "f":  # PyTorch has no integer kernel for this
        raise DTypeNotImplementedError(f"round: decimals={decimals} needs a floating-point tensor, got {x.dtype}")
    return _rounding(P.round, x, decimals=decimals)


def sign(x):
    """-1, 0 or 1 (gradient 0); a bool tensor is its own sign."""
    x = as_tensor(x)
    if x.dtype == dtypes.bool_:
        return Tensor._wrap(x._data.copy())
    if x.dtype.kind != "f":
        return Tensor._wrap(np.sign(x._data))
    return apply(P.sign, (x,), (x._data,))


def _both_bool(a, b):
    return _is_bool(a) and _is_bool(b)


_floor_divide = elementwise_function(P.floor_divide, "floor(a / b)", refuse=_both_bool,
                                     refusal=DTypeNotImplementedError)
_remainder = elementwise_function(P.remainder, "a - floor(a / b)·b, with the sign of b",
                                  refuse=_both_bool, refusal=DTypeNotImplementedError)


_fmod = elementwise_function(P.fmod, "a - trunc(a / b)·b, with the sign of a",
                             refuse=_both_bool, refusal=DTypeNotImplementedError)
_trunc_divide = elementwise_function(P.trunc_divide, "trunc(a / b)", refuse=_both_bool,
                                     refusal=DTypeNotImplementedError)


def _no_integer_zero(name, out, b):
    """Integer division by zero has no answer: PyTorch raises, NumPy would say 0 and warn."""
    if out.dtype.kind in "iub" and np.any((b._data if isinstance(b, Tensor) else np.asarray(b)) == 0):
        raise ValueRangeError(f"{name}: integer division by zero")
    return out


def floor_divide(a, b):
    """a // b, rounded towards -inf (Python's and PyTorch's rule, for ints and floats); gradient 0."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    return _no_integer_zero("floor_divide", _floor_divide(a, b), b)


def remainder(a, b):
    """a % b, which has the sign of b (Python's and PyTorch's rule, for ints and floats)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    return _no_integer_zero("remainder", _remainder(a, b), b)


def fmod(input, other):
    """C's fmod: a - trunc(a / b)·b, which has the sign of a (remainder's has the sign of b)."""
    _tensors_only("fmod", input)
    return _no_integer_zero("fmod", _fmod(input, other), other)


_ROUNDED_DIVISIONS = {"trunc": _trunc_divide, "floor": _floor_divide}


def div(input, other, *, rounding_mode=None):
    """a / b: a float result without rounding_mode (int / int gives float32), else the quotient
    rounded towards 0 ('trunc') or -inf ('floor') in the operands' dtype (ints stay ints)."""
    if rounding_mode is None:
        return elementwise.div(input, other)
    if rounding_mode not in _ROUNDED_DIVISIONS:
        raise ValueRangeError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                              f"{rounding_mode!r}")
    if _both_bool(input, other):  # PyTorch has no bool kernel for either
        raise DTypeNotImplementedError(f"div: not defined for bool and bool operands "
                                       f"(rounding_mode={rounding_mode!r})")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = as_tensor(input)
    return _no_integer_zero("div", _ROUNDED_DIVISIONS[rounding_mode](input, other), other)


# The public ops of this module: sg.<name>, and Tensor methods (see ops/__init__.py).
__all__ = ["ceil", "div", "fix", "floor", "floor_divide", "fmod", "remainder", "round", "sign",
           "trunc"]
