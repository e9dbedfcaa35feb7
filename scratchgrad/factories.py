"""Tensor factories: zeros, ones, full, arange, ..., each taking PyTorch's dtype=, device= and
requires_grad= (the random ones live in random.py)."""
import numpy as np

from scratchgrad import dtypes
from scratchgrad import random as _random
from scratchgrad.devices import check_device
from scratchgrad.random import (  # noqa: F401  (sg.factories.rand etc. keep working)
    manual_seed,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
)
from scratchgrad.tensor import Tensor


def generator():
    """The NumPy generator every random function in scratchgrad draws from by default."""
    return _random.numpy_rng()


def _size(name, size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        size = tuple(int(n) for n in size)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: sizes must be ints, got {size!r}") from None
    if any(n < 0 for n in size):
        raise ValueError(f"{name}: sizes can't be negative, got {size}")
    return size


def _finish(array, requires_grad):
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype, default=dtypes.default_float):
    return default if dtype is None else dtypes.as_dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    check_device("zeros", device)
    return _finish(np.zeros(_size("zeros", size), _dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    check_device("ones", device)
    return _finish(np.ones(_size("ones", size), _dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor in PyTorch; here zeros (as cheap, and never garbage)."""
    check_device("empty", device)
    return _finish(np.zeros(_size("empty", size), _dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with fill_value; its dtype follows the value (float32, int64 or bool)."""
    check_device("full", device)
    if dtype is None:
        dtype = dtypes.result_dtype(fill_value) if isinstance(fill_value, (bool, int, float)) \
            else np.asarray(fill_value).dtype
    size = _size("full", size if isinstance(size, (tuple, list)) else (size,))
    return _finish(np.full(size, fill_value, _dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                 requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return empty(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                 requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=t.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start+step, ... below end; int64 for int arguments, else float32 (as PyTorch)."""
    check_device("arange", device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.default_float
    return _finish(np.arange(start, end, step).astype(_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """steps evenly spaced values from start to end, both included."""
    check_device("linspace", device)
    if int(steps) < 0:
        raise ValueError(f"linspace: steps can't be negative, got {steps}")
    return _finish(np.linspace(start, end, int(steps)).astype(_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    check_device("eye", device)
    return _finish(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor (a copy) from a number, nested list, NumPy array or Tensor."""
    check_device("tensor", device)
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
