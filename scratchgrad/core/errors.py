"""The error types scratchgrad raises, and helpers that word their messages.

Each error is also an instance of the built-in type PyTorch raises for the same
mistake and of the one NumPy raises, so `except RuntimeError` (PyTorch habit) and
`except ValueError` (NumPy habit) both catch a shape mismatch. Every message ends
with the line of the user's code that led to it.
"""
import linecache
import operator
import os
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

import numpy as np

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # scratchgrad/


def user_site() -> str | None:
    """'file.py:12: the code', for the innermost stack frame outside scratchgrad (or None).

    Only computed when an error is raised, so the normal path pays nothing for it.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    filename, line = frame.f_code.co_filename, frame.f_lineno
    code = linecache.getline(filename, line).strip()
    return f"{filename}:{line}" + (f": {code}" if code else "")


def user_stacklevel() -> int:
    """The `stacklevel` that makes warnings.warn, called by this function's caller, point at
    the first stack frame outside scratchgrad."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


class PointsAtCaller:
    """Mixin for scratchgrad's errors: the message ends with the user's line that caused it."""

    def __init__(self, message: str = "") -> None:
        site = user_site()
        # The next class in the MRO is the built-in exception (ValueError, ...): a mixin's
        # super() is object only to a type checker.
        super().__init__(f"{message}\n  at {site}" if site else message)  # type: ignore[call-arg]


class ShapeError(PointsAtCaller, ValueError, RuntimeError):
    """Operand shapes don't fit together (broadcasting, matmul, reshape, cat)."""


class AxisError(PointsAtCaller, IndexError, ValueError):
    """An axis (dimension) argument is out of range or repeated."""


class ArgumentError(PointsAtCaller, AssertionError, ValueError):
    """An argument PyTorch checks with an assertion (Embedding's padding_idx out of range)."""


class AxisListError(PointsAtCaller, RuntimeError, ValueError):
    """A list of axes repeats one, or has the wrong length (permute): PyTorch's RuntimeError."""


class DTypeError(PointsAtCaller, TypeError, RuntimeError):
    """A dtype can't be used here (e.g. an int tensor that requires grad)."""


class DTypeNotImplementedError(DTypeError, NotImplementedError):
    """An op has no kernel for this dtype (GELU or softmax of integers): PyTorch's
    NotImplementedError."""


class ValueRangeError(PointsAtCaller, ValueError, RuntimeError):
    """An op can't take these values (e.g. an integer to a negative integer power)."""


class AnomalyError(PointsAtCaller, RuntimeError, FloatingPointError):
    """sg.detect_anomaly found a NaN or infinity in a forward value or a gradient."""


class InPlaceError(PointsAtCaller, RuntimeError):
    """An in-place operation that autograd can't allow, or one that broke a saved value."""


class GraphError(PointsAtCaller, RuntimeError):
    """Backward can't run: nothing requires grad, the graph was freed, a bad gradient."""


def describe_shape(shape: Sequence[int]) -> str:
    """Shapes are printed as tuples, like NumPy and Python, e.g. (3, 4) or ()."""
    return str(tuple(shape))


def broadcast_error(op: str, *shapes: Sequence[int]) -> ShapeError:
    """Name the first dimension (counted from the right) where the shapes clash."""
    ndim = max(len(s) for s in shapes)
    for dim in range(-1, -ndim - 1, -1):
        sizes = [s[dim] for s in shapes if len(s) >= -dim]
        distinct = {n for n in sizes if n != 1}
        if len(distinct) > 1:
            listed = " vs ".join(str(n) for n in sizes)
            break
    else:  # shapes do broadcast; callers only get here on a real clash
        dim, listed = 0, "?"
    joined = " and ".join(describe_shape(s) for s in shapes)
    return ShapeError(f"{op}: shapes {joined} can't broadcast: dimension {dim} is {listed}")


def normalize_axis(op: str, axis: Any, ndim: int) -> int:
    """Turn a possibly negative axis into 0..ndim-1; 0-d tensors accept 0 and -1 like PyTorch."""
    if not isinstance(axis, (int,)) or isinstance(axis, bool):
        try:
            axis = int(axis.__index__())
        except (AttributeError, TypeError):
            raise TypeError(f"{op}: axis must be an int, got {axis!r}") from None
    bound = max(ndim, 1)
    if not -bound <= axis < bound:
        raise AxisError(f"{op}: axis {axis} is out of range for a tensor with {ndim} "
                        f"dimension(s) (expected -{bound} to {bound - 1})")
    return axis % bound if ndim else 0


def normalize_axes(op: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """axis=None means every axis; an int or a tuple is normalised and checked for repeats.

    A 0-d tensor has no axis to reduce, but accepts 0 and -1 (and refuses others) as PyTorch does.
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(op, a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise AxisListError(f"{op}: axis {tuple(axis)} repeats a dimension")
        return axes if ndim else ()
    axis = normalize_axis(op, axis, ndim)
    return (axis,) if ndim else ()


class GradcheckError(PointsAtCaller, RuntimeError):
    """gradcheck found an analytic gradient that disagrees with finite differences."""


class SerializationError(PointsAtCaller, ValueError, RuntimeError):
    """sg.load found a file that isn't a valid safetensors file (truncated, corrupt, or another format)."""


class DeviceError(PointsAtCaller, RuntimeError):
    """A device other than the CPU was asked for (device="cuda", .to("mps")): scratchgrad runs on CPU."""


class IndexRangeError(PointsAtCaller, IndexError, RuntimeError):
    """An index points outside the tensor (gather, scatter_add, index_select)."""


def check_sizes(name: str, size: Any) -> tuple[int, ...]:
    """zeros(2, 3) and zeros((2, 3)) both mean the shape (2, 3); sizes are ints (not floats, bools
    or strings: PyTorch's TypeError) and not negative (its RuntimeError)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(_check_size(name, n) for n in size)


def _check_size(name: str, n: Any) -> int:
    """One size: an int (or anything with __index__, e.g. np.int64 or a one-element int tensor)."""
    if isinstance(n, (bool, np.bool_)) or not hasattr(n, "__index__"):
        raise TypeError(f"{name}: sizes must be ints, got {type(n).__name__} {n!r}")
    n = operator.index(n)
    if n < 0:
        raise ValueRangeError(f"{name}: sizes can't be negative, got {n}")
    return n
