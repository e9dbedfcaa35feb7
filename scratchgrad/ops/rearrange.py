"""Ops that move, repeat, accumulate, contract or count elements: roll, flip, repeat, chunk,
cumsum, einsum and histc.

roll, flip, repeat and chunk are composites of indexing, cat, reshape and broadcast_to;
cumsum and einsum are primitives (their gradients are a cumsum and an einsum).
"""
import builtins
import math
import string

import numpy as np

from scratchgrad import primitives as P
from scratchgrad.core import dtypes
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import (
    DTypeError,
    DTypeNotImplementedError,
    ShapeError,
    ValueRangeError,
    describe_shape,
    normalize_axis,
)
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops.elementwise import as_tensor, cast, clone
from scratchgrad.ops.shapes import _shape_args, broadcast_to, cat, index, reshape, split


def _ints(name, what, value):
    """An int or a sequence of ints, as a tuple."""
    values = (value,) if isinstance(value, (int, np.integer)) else value
    try:
        return tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: {what} must be an int or a tuple of ints, got {value!r}") from None


def _window(dim, start, stop, step=None):
    return (slice(None),) * dim + (slice(start, stop, step),)


# ---------------------------------------------------------------- roll, flip, repeat, chunk

def roll(input, shifts, dims=None):
    """Shift elements along dims, wrapping around; with no dims, over the flattened tensor."""
    x = as_tensor(input)
    shifts = _ints("roll", "shifts", shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueRangeError(f"roll: without dims, give one shift, got {len(shifts)}")
        return reshape(roll(reshape(x, (-1,)), shifts, 0), x.shape)
    dims = _ints("roll", "dims", dims)
    if len(shifts) != len(dims):
        raise ValueRangeError(f"roll: shifts and dims must have the same length, got "
                              f"{len(shifts)} shifts and {len(dims)} dims")
    out = x
    for shift, dim in zip(shifts, dims):
        dim = normalize_axis("roll", dim, x.ndim)
        n = x.shape[dim] if x.ndim else 1
        shift = shift % n if n else 0
        if shift:  # the last `shift` entries move to the front
            out = cat([index(out, _window(dim, -shift, None)), index(out, _window(dim, None, -shift))],
                      dim)
    return clone(out) if out is x else out


def flip(input, *args, dims=None):
    """Reverse the order of elements along each of dims (x.flip(0, 1) or sg.flip(x, (0, 1)))."""
    x = as_tensor(input)
    if dims is None:
        dims = args[0] if len(args) == 1 else args
    dims = _ints("flip", "dims", dims)
    axes = [normalize_axis("flip", d, x.ndim) for d in dims]
    if len(set(axes)) != len(axes):
        raise ValueRangeError(f"flip: dims {dims} repeat a dimension")  # RuntimeError, as PyTorch
    if x.ndim == 0 or not axes:
        return clone(x)
    return index(x, tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(x.ndim)))


def repeat(input, *sizes):
    """Tile the tensor: dimension i repeated sizes[i] times (np.tile); extra sizes add dims."""
    x = as_tensor(input)
    sizes = _shape_args("repeat", sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: got {len(sizes)} repeat sizes for a tensor of shape "
                         f"{describe_shape(x.shape)}; give at least one per dimension")
    if builtins.any(n < 0 for n in sizes):
        raise ValueRangeError(f"repeat: sizes can't be negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    # (a, b) repeated (r, s): view as (1, a, 1, b), stretch to (r, a, s, b), merge to (ra, sb).
    spread = reshape(x, tuple(d for n in shape for d in (1, n)))
    tiled = broadcast_to(spread, tuple(d for r, n in zip(sizes, shape) for d in (r, n)))
    return reshape(tiled, tuple(r * n for r, n in zip(sizes, shape)))


def chunk(input, chunks, dim=0):
    """Split into `chunks` pieces of ceil(n / chunks) along dim (the last may be smaller, and
    there may be fewer pieces), as torch.chunk."""
    x = as_tensor(input)
    chunks = int(chunks)
    if chunks <= 0:
        raise ValueRangeError(f"chunk: the number of chunks must be positive, got {chunks}")
    dim = normalize_axis("chunk", dim, x.ndim)
    if x.ndim == 0:
        raise ShapeError("chunk: a 0-d tensor can't be chunked")
    n = x.shape[dim]
    if n == 0:
        return tuple(index(x, _window(dim, None, None)) for _ in range(chunks))
    return split(x, math.ceil(n / chunks), dim)


# ---------------------------------------------------------------- cumsum

def _running(name, primitive, input, dim, dtype, params):
    """A running op (cumsum, cumprod) along dim: bools and ints in int64, as in PyTorch, unless
    dtype names the result's dtype (the input is cast to it first; a bool result has no
    kernel there); a 0-d input as one element."""
    x = as_tensor(input)
    if dtype is not None:
        x = cast(x, dtype)
    dim = normalize_axis(name, dim, x.ndim)
    if x.ndim == 0:
        return reshape(_running(name, primitive, reshape(x, (1,)), 0, dtype, params), ())
    widen = dtype is None and x.dtype.kind in "biu"
    if x.dtype == dtypes.bool_ and not widen:
        raise DTypeNotImplementedError(f"{name}: not implemented for a bool result (as in "
                                       "PyTorch); leave dtype out to count in int64")
    xd = x._data.astype(dtypes.int64) if widen else x._data
    return apply(primitive, (x,), (xd,), {"axis": dim, **params})


def cumsum(input, dim, *, dtype=None):
    """Running sums along dim (bools and ints in int64 unless dtype is given)."""
    return _running("cumsum", P.cumsum, input, dim, dtype, {"reverse": False})


def cumprod(input, dim, *, dtype=None):
    """Running products along dim (bools and ints in int64 unless dtype is given); the
    gradient is exact where the input holds zeros."""
    return _running("cumprod", P.cumprod, input, dim, dtype, {})


# ---------------------------------------------------------------- einsum

def einsum(equation, *operands):
    """Einstein summation, as torch.einsum: sg.einsum("bij,bjk->bik", a, b)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {equation!r}")
    tensors = [as_tensor(t) for t in operands]
    if not tensors:
        raise ValueRangeError("einsum: needs at least one operand")
    kinds = {t.dtype for t in tensors}
    if dtypes.bool_ in kinds:
        raise DTypeError("einsum: bool operands aren't supported (as in PyTorch); use .long() first")
    if len(kinds) > 1:
        raise DTypeError(f"einsum: operands must share a dtype, got "
                         f"{', '.join(str(t.dtype) for t in tensors)}")
    explicit = _explicit_equation(equation, [t.shape for t in tensors])
    return apply(P.einsum, tuple(tensors), tuple(t._data for t in tensors), {"equation": explicit})


def _explicit_equation(equation, shapes):
    """The equation with '...' spelled out as letters and the output written out, checked
    against the operands' shapes (every letter one size, or 1 to broadcast)."""
    text = equation.replace(" ", "")
    left, arrow, output = text.partition("->")
    if "->" in output or builtins.any(not (c.isalpha() or c in ".,") for c in left + output):
        raise ValueRangeError(f"einsum: {equation!r} is not a valid equation (letters, ',', "
                              "'...' and one '->')")
    terms = left.split(",")
    if len(terms) != len(shapes):
        raise ValueRangeError(f"einsum: {equation!r} has {len(terms)} operand(s) but "
                              f"{len(shapes)} tensor(s) were given")
    spare = iter(c for c in string.ascii_letters if c not in text)
    widths = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        if term.count("...") > 1 or "." in term.replace("...", ""):
            raise ValueRangeError(f"einsum: operand {i} ({term!r}) has a malformed '...'")
        width = len(shape) - named if "..." in term else 0
        if width < 0 or ("..." not in term and named != len(shape)):
            raise ShapeError(f"einsum: operand {i} has subscripts {term!r} but shape "
                             f"{describe_shape(shape)} ({len(shape)} dimensions)")
        widths.append(width)
    broadcast = "".join(next(spare) for _ in range(builtins.max(widths)))
    terms = [t.replace("...", broadcast[len(broadcast) - w:]) for t, w in zip(terms, widths)]
    letters = "".join(terms)
    if arrow:
        output = output.replace("...", broadcast)
        for c in output:
            if c not in letters or output.count(c) > 1:
                raise ValueRangeError(f"einsum: output subscript {c!r} in {equation!r} "
                                      + ("appears more than once" if c in letters
                                         else "does not appear in any operand"))
    else:  # implicit: the broadcast dims, then the letters used once, in alphabetical order
        named = "".join(terms).translate({ord(c): None for c in broadcast})
        output = broadcast + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    sizes = {}
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        for c, n in zip(term, shape):
            seen = sizes.setdefault(c, n)
            if n != seen and 1 not in (n, seen):
                raise ShapeError(f"einsum: subscript {c!r} has size {n} in operand {i} (shape "
                                 f"{describe_shape(shape)}) but size {seen} elsewhere")
            sizes[c] = builtins.max(n, seen) if 1 in (n, seen) else n
    return ",".join(terms) + "->" + output


# ---------------------------------------------------------------- histc

def histc(input, bins=100, min=0, max=0):
    """Counts of input's elements in `bins` equal bins over [min, max] (the data's own range
    when min == max); elements outside are ignored. A float tensor, with no gradient."""
    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise DTypeNotImplementedError(f"histc: input must be a floating-point tensor, got {x.dtype}")
    bins = int(bins)
    if bins <= 0:
        raise ValueRangeError(f"histc: bins must be positive, got {bins}")
    data = np.asarray(x._data).reshape(-1)
    scalar = x.dtype.type
    lo, hi = scalar(min), scalar(max)
    if lo == hi and data.size:
        lo, hi = data.min(), data.max()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueRangeError(f"histc: the range [{lo}, {hi}] is not finite")
    if lo > hi:
        raise ValueRangeError(f"histc: max must be larger than min, got min={min}, max={max}")
    inside = data[(data >= lo) & (data <= hi)]
    # PyTorch's arithmetic, in the input's dtype: bin = (x - min)·bins / (max - min), and the
    # right edge itself counts in the last bin. A range too wide or too narrow for the dtype
    # (±3e38, or 1e30 ± 1 in float32) gives inf or nan there; such elements go to the edge bins.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        position = ((inside - lo) * scalar(bins) / (hi - lo)).astype(np.int64)
    np.clip(position, 0, bins - 1, out=position)
    return Tensor._wrap(np.bincount(position, minlength=bins).astype(x.dtype))


# The public ops of this module: sg.<name>, and Tensor methods (see ops/__init__.py).
__all__ = ["chunk", "cumprod", "cumsum", "einsum", "flip", "histc", "roll"]
