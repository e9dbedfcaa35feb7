"""Rounding and integer division: floor, ceil, round, sign, floor_divide (//), remainder (%).

floor, ceil, round, sign and // are flat between their jumps, so their gradient is 0 (PyTorch's
convention, except that PyTorch raises at a backward through //); x % y = x - floor(x / y)·y.
"""
import numpy as np

from scratchgrad import primitives as P
from scratchgrad.core import dtypes
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import DTypeNotImplementedError, ValueRangeError
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops.elementwise import (
    _is_bool,
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


# The public ops of this module: sg.<name>, and Tensor methods (see ops/__init__.py).
__all__ = ["ceil", "floor", "floor_divide", "remainder", "round", "sign"]
