"""Tensor factories and the random number generator behind sg.rand, sg.randn and sg.manual_seed."""
import operator

import numpy as np

from scratchgrad import dtypes
from scratchgrad.errors import DTypeError, ValueRangeError
from scratchgrad.tensor import Tensor

_rng = np.random.default_rng()


def manual_seed(seed):
    """Make sg.rand, sg.randn and everything random in scratchgrad repeatable."""
    global _rng
    _rng = np.random.default_rng(int(seed))


def generator():
    """The generator every random function in scratchgrad draws from."""
    return _rng


def _size(name, size):
    """zeros(2, 3) and zeros((2, 3)) both mean the shape (2, 3); sizes are ints (not floats, bools
    or strings: PyTorch's TypeError) and not negative (its RuntimeError)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(_dimension(name, n) for n in size)


def _dimension(name, n):
    """One size: an int (or anything with __index__, e.g. np.int64 or a one-element int tensor)."""
    if isinstance(n, (bool, np.bool_)) or not hasattr(n, "__index__"):
        raise TypeError(f"{name}: sizes must be ints, got {type(n).__name__} {n!r}")
    n = operator.index(n)
    if n < 0:
        raise ValueRangeError(f"{name}: sizes can't be negative, got {n}")
    return n


def _finish(array, requires_grad):
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype, default=dtypes.default_float):
    return default if dtype is None else dtypes.as_dtype(dtype)


def zeros(*size, dtype=None, requires_grad=False):
    return _finish(np.zeros(_size("zeros", size), _dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _finish(np.ones(_size("ones", size), _dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    """A tensor filled with fill_value; its dtype follows the value (float32, int64 or bool)."""
    if dtype is None:
        dtype = dtypes.result_dtype(fill_value) if isinstance(fill_value, (bool, int, float)) \
            else np.asarray(fill_value).dtype
    size = _size("full", size if isinstance(size, (tuple, list)) else (size,))
    return _finish(np.full(size, fill_value, _dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=t.dtype if dtype is None else dtype,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """start, start+step, ... below end; int64 for int arguments, else float32 (as PyTorch)."""
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


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """steps evenly spaced values from start to end, both included."""
    steps = _count("linspace", "steps", steps)
    return _finish(np.linspace(start, end, steps).astype(_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """The n × m identity matrix (m = n by default)."""
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


def rand(*size, dtype=None, requires_grad=False):
    """Uniform on [0, 1)."""
    dtype = _dtype(dtype)
    _require_float("rand", dtype)
    return _finish(_rng.random(_size("rand", size)).astype(dtype), requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """Standard normal."""
    dtype = _dtype(dtype)
    _require_float("randn", dtype)
    return _finish(_rng.standard_normal(_size("randn", size)).astype(dtype), requires_grad)


def randint(low, high=None, size=(), dtype=None):
    if high is None:
        low, high = 0, low
    return _finish(_rng.integers(low, high, _size("randint", (size,))).astype(_dtype(dtype, dtypes.int64)),
                   False)


def rand_like(t, dtype=None, requires_grad=False):
    return rand(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def _require_float(name, dtype):
    if dtype.kind != "f":
        raise DTypeError(f"{name}: needs a floating-point dtype, got {dtype}")


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor (a copy) from a number, nested list, NumPy array or Tensor."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
