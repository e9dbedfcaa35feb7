"""Tensor factories and the random number generator behind sg.rand, sg.randn and sg.manual_seed."""
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from scratchgrad import dtypes
from scratchgrad.errors import DTypeError
from scratchgrad.tensor import Tensor

_rng = np.random.default_rng()

# A size: the dimensions as separate ints, or one tuple (or list) of them, as in PyTorch.
SizeArg = int | Sequence[int]


def manual_seed(seed: int) -> None:
    """Make sg.rand, sg.randn and everything random in scratchgrad repeatable."""
    global _rng
    _rng = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    """The generator every random function in scratchgrad draws from."""
    return _rng


def _size(name: str, size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        size = tuple(int(n) for n in size)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: sizes must be ints, got {size!r}") from None
    if any(n < 0 for n in size):
        raise ValueError(f"{name}: sizes can't be negative, got {size}")
    return size


def _finish(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype: npt.DTypeLike | None, default: np.dtype = dtypes.default_float) -> np.dtype:
    return default if dtype is None else dtypes.as_dtype(dtype)


def zeros(*size: SizeArg, dtype: npt.DTypeLike | None = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; size as numbers or one tuple, float32 unless dtype says otherwise."""
    return _finish(np.zeros(_size("zeros", size), _dtype(dtype)), requires_grad)


def ones(*size: SizeArg, dtype: npt.DTypeLike | None = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones; size as numbers or one tuple, float32 unless dtype says otherwise."""
    return _finish(np.ones(_size("ones", size), _dtype(dtype)), requires_grad)


def full(size: SizeArg, fill_value: Any, dtype: npt.DTypeLike | None = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with fill_value; its dtype follows the value (float32, int64 or bool)."""
    if dtype is None:
        dtype = dtypes.result_dtype(fill_value) if isinstance(fill_value, (bool, int, float)) \
            else np.asarray(fill_value).dtype
    size = _size("full", size if isinstance(size, (tuple, list)) else (size,))
    return _finish(np.full(size, fill_value, _dtype(dtype)), requires_grad)


def zeros_like(t: Tensor, dtype: npt.DTypeLike | None = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros with t's shape (and dtype, unless dtype is given)."""
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: npt.DTypeLike | None = None,
              requires_grad: bool = False) -> Tensor:
    """Ones with t's shape (and dtype, unless dtype is given)."""
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: npt.DTypeLike | None = None,
              requires_grad: bool = False) -> Tensor:
    """fill_value everywhere, with t's shape (and dtype, unless dtype is given)."""
    return full(t.shape, fill_value, dtype=t.dtype if dtype is None else dtype,
                requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1,
           dtype: npt.DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """start, start+step, ... below end; int64 for int arguments, else float32 (as PyTorch)."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.default_float
    return _finish(np.arange(start, end, step).astype(_dtype(dtype)), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: npt.DTypeLike | None = None,
             requires_grad: bool = False) -> Tensor:
    """steps evenly spaced values from start to end, both included."""
    if int(steps) < 0:
        raise ValueError(f"linspace: steps can't be negative, got {steps}")
    return _finish(np.linspace(start, end, int(steps)).astype(_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: npt.DTypeLike | None = None,
        requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m defaults to n): ones on the diagonal, zeros elsewhere."""
    return _finish(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def rand(*size: SizeArg, dtype: npt.DTypeLike | None = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    dtype = _dtype(dtype)
    _require_float("rand", dtype)
    return _finish(_rng.random(_size("rand", size)).astype(dtype), requires_grad)


def randn(*size: SizeArg, dtype: npt.DTypeLike | None = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    dtype = _dtype(dtype)
    _require_float("randn", dtype)
    return _finish(_rng.standard_normal(_size("randn", size)).astype(dtype), requires_grad)


def randint(low: int, high: int | None = None, size: SizeArg = (),
            dtype: npt.DTypeLike | None = None) -> Tensor:
    """Integers drawn uniformly from [low, high) (from [0, low) without high); int64."""
    if high is None:
        low, high = 0, low
    return _finish(_rng.integers(low, high, _size("randint", (size,))).astype(_dtype(dtype, dtypes.int64)),
                   False)


def rand_like(t: Tensor, dtype: npt.DTypeLike | None = None,
              requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), with t's shape (and dtype, unless dtype is given)."""
    return rand(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def randn_like(t: Tensor, dtype: npt.DTypeLike | None = None,
               requires_grad: bool = False) -> Tensor:
    """Standard normal, with t's shape (and dtype, unless dtype is given)."""
    return randn(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def _require_float(name: str, dtype: np.dtype) -> None:
    if dtype.kind != "f":
        raise DTypeError(f"{name}: needs a floating-point dtype, got {dtype}")


def tensor(data: Any, dtype: npt.DTypeLike | None = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor (a copy) from a number, nested list, NumPy array or Tensor."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
