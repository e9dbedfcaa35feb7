"""Tensor factories: zeros, ones, full, arange, ..., each taking PyTorch's dtype=, device= and
requires_grad= (the random ones live in random.py)."""
import operator

import numpy as np

from scratchgrad import random as _random
from scratchgrad.core import dtypes
from scratchgrad.core.devices import check_device
from scratchgrad.core.errors import ValueRangeError, check_sizes
from scratchgrad.core.tensor import Tensor


def generator():
    """The NumPy generator every random function in scratchgrad draws from by default."""
    return _random.numpy_rng()


def _finish(array, requires_grad):
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype, default=dtypes.default_float):
    return default if dtype is None else dtypes.as_dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros; size as numbers or one tuple, float32 unless dtype says otherwise."""
    check_device("zeros", device)
    return _finish(np.zeros(check_sizes("zeros", size), _dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones; size as numbers or one tuple, float32 unless dtype says otherwise."""
    check_device("ones", device)
    return _finish(np.ones(check_sizes("ones", size), _dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor in PyTorch; here zeros (as cheap, and never garbage)."""
    check_device("empty", device)
    return _finish(np.zeros(check_sizes("empty", size), _dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with fill_value; its dtype follows the value (float32, int64 or bool)."""
    check_device("full", device)
    if dtype is None:
        dtype = dtypes.result_dtype(fill_value) if isinstance(fill_value, (bool, int, float)) \
            else np.asarray(fill_value).dtype
    size = check_sizes("full", size if isinstance(size, (tuple, list)) else (size,))
    return _finish(np.full(size, fill_value, _dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros with t's shape (and dtype, unless dtype is given)."""
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                 requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """A tensor of ones with t's shape (and dtype, unless dtype is given)."""
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros (an uninitialised tensor in PyTorch) with t's shape (and dtype, unless dtype is given)."""
    return empty(t.shape, dtype=t.dtype if dtype is None else dtype, device=device,
                 requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of fill_value with t's shape (and dtype, unless dtype is given)."""
    return full(t.shape, fill_value, dtype=t.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start+step, ... below end; int64 for int arguments, else float32 (as PyTorch)."""
    check_device("arange", device)
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        if isinstance(value, (str, bytes)) or not np.isscalar(_raw_number(value)):
            raise TypeError(f"arange: {name} must be a number, got {type(value).__name__} {value!r}")
    start, end, step = _raw_number(start), _raw_number(end), _raw_number(step)
    if not all(np.isfinite(v) for v in (start, end, step)):
        raise ValueRangeError(f"arange: unsupported range {start} -> {end} with step {step}: "
                              "start, end and step must be finite")
    if step == 0:
        raise ValueRangeError(f"arange: step must be nonzero (start={start}, end={end})")
    if (end > start and step < 0) or (end < start and step > 0):
        raise ValueRangeError(f"arange: the bounds {start} -> {end} are inconsistent with the "
                              f"sign of step {step}")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.default_float
    try:
        values = np.arange(start, end, step)
    except (ValueError, MemoryError) as exc:
        raise ValueRangeError(f"arange: can't make the range {start} -> {end} with step {step}: "
                              f"{exc}") from None
    return _finish(values.astype(_dtype(dtype)), requires_grad)


def _raw_number(value):
    """A 0-d tensor or NumPy scalar as its number; anything else as it is."""
    if isinstance(value, Tensor):
        return value.item()
    return value.item() if isinstance(value, np.generic) else value


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """steps evenly spaced values from start to end, both included."""
    check_device("linspace", device)
    steps = _count("linspace", "steps", steps)
    return _finish(np.linspace(start, end, steps).astype(_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The n × m identity matrix (m = n by default)."""
    check_device("eye", device)
    n = _count("eye", "n", n)
    m = n if m is None else _count("eye", "m", m)
    return _finish(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def _count(name, argument, value):
    """An int argument that counts something: TypeError if not an int, RuntimeError if negative."""
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise TypeError(f"{name}: {argument} must be an int, got {type(value).__name__} {value!r}")
    value = operator.index(value)
    if value < 0:
        raise ValueRangeError(f"{name}: {argument} must be greater than or equal to 0, got {value}")
    return value


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor (a copy) from a number, nested list, NumPy array or Tensor."""
    check_device("tensor", device)
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
