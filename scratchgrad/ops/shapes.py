"""Shape ops: reshape, permute, squeeze, broadcasting, indexing, cat, stack, split, pad."""
import builtins
import itertools
import math
import operator

import numpy as np

from scratchgrad import primitives as P
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import (
    AxisError,
    AxisListError,
    ShapeError,
    ValueRangeError,
    broadcast_error,
    describe_shape,
    normalize_axes,
    normalize_axis,
)
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops import inplace
from scratchgrad.ops.elementwise import _promoted, as_tensor

# ---------------------------------------------------------------- shapes

def _shape_args(name, shape):
    """reshape(2, 3) and reshape((2, 3)) both mean the shape (2, 3); floats are refused, as in
    PyTorch (int(2.5) would quietly give 2)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"{name}: a shape must be ints, got {shape!r}") from None


def reshape(x, *shape):
    """The same elements in a new shape (one size may be -1: inferred)."""
    x = as_tensor(x)
    shape = _shape_args("reshape", shape)
    for i, n in enumerate(shape):
        if n < -1:  # NumPy would read any negative size as "infer it"
            raise ShapeError(f"reshape: invalid size {n} at index {i} of the shape "
                             f"{describe_shape(shape)}; only -1 (inferred) may be negative")
    try:
        out = apply(P.reshape, (x,), (x._data,), {"shape": shape})
    except ValueError:
        raise ShapeError(f"reshape: can't reshape a tensor of shape {describe_shape(x.shape)} "
                         f"({x._data.size} elements) into {describe_shape(shape)}") from None
    xd = x._data
    # A view when NumPy could reshape without copying (always, for contiguous memory).
    if type(xd) is np.ndarray and (xd.flags.c_contiguous or np.may_share_memory(xd, out._data)):
        inplace.as_view(out, x, P.reshape, {"shape": shape})
    return out


view = reshape


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one."""
    x = as_tensor(x)
    start = normalize_axis("flatten", start_dim, x.ndim)
    end = normalize_axis("flatten", end_dim, x.ndim)
    if x.ndim == 0:
        return reshape(x, (1,))
    if start > end:
        raise AxisError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:]
    return reshape(x, shape)


def permute(x, *axes):
    """Reorder the dimensions: result dimension i is input dimension axes[i]."""
    x = as_tensor(x)
    axes = _shape_args("permute", axes)
    if len(axes) != x.ndim:  # checked first, as PyTorch does (a RuntimeError, not an IndexError)
        raise AxisListError(f"permute: {axes} has {len(axes)} dimension(s), but the tensor of shape "
                            f"{describe_shape(x.shape)} has {x.ndim}")
    normalized = tuple(normalize_axis("permute", a, x.ndim) for a in axes)
    if sorted(normalized) != list(range(x.ndim)):
        raise AxisListError(f"permute: {axes} repeats a dimension, so it is not a permutation of "
                            f"the {x.ndim} dimensions of a tensor of shape {describe_shape(x.shape)}")
    params = {"axes": normalized}
    return inplace.as_view(apply(P.permute, (x,), (x._data,), params), x, P.permute, params)


def transpose(x, dim0, dim1):
    """Swap two dimensions."""
    x = as_tensor(x)
    axes = list(range(x.ndim))
    a, b = normalize_axis("transpose", dim0, x.ndim), normalize_axis("transpose", dim1, x.ndim)
    if x.ndim < 2:
        return x
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, tuple(axes))


swapaxes = transpose


def squeeze(x, axis=None, *, dim=None):
    """Drop size-1 dimensions (all of them, or the given ones; others are left alone)."""
    x = as_tensor(x)
    axis = axis if dim is None else dim
    axes = normalize_axes("squeeze", axis, x.ndim)
    shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return x if shape == x.shape else reshape(x, shape)


def unsqueeze(x, axis=None, *, dim=None):
    """Insert a size-1 dimension at position axis (of the result)."""
    x = as_tensor(x)
    axis = axis if dim is None else dim
    position = normalize_axis("unsqueeze", axis, x.ndim + 1)
    return reshape(x, x.shape[:position] + (1,) + x.shape[position:])


def expand_dims(x, axis):
    x = as_tensor(x)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = x.ndim + len(axes)
    positions = {normalize_axis("expand_dims", a, ndim) for a in axes}
    sizes = iter(x.shape)
    return reshape(x, tuple(1 if i in positions else next(sizes) for i in range(ndim)))


def broadcast_to(x, *shape):
    """Stretch size-1 dimensions (and add leading ones) to reach shape, without copying."""
    x = as_tensor(x)
    shape = _shape_args("broadcast_to", shape)
    params = {"shape": shape}
    try:
        out = apply(P.broadcast_to, (x,), (x._data,), params)
    except ValueError:
        raise broadcast_error("broadcast_to", x.shape, shape) from None
    return inplace.as_view(out, x, P.broadcast_to, params)


def expand(x, *sizes):
    """broadcast_to where -1 keeps a dimension's size, as in PyTorch."""
    x = as_tensor(x)
    sizes = _shape_args("expand", sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: {describe_shape(sizes)} has fewer dimensions than the "
                         f"tensor's shape {describe_shape(x.shape)}")
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    return broadcast_to(x, shape)


def _index_key(key):
    """Turn Tensors and lists inside an index into NumPy arrays."""
    if type(key) is tuple:
        return tuple(_index_part(k) for k in key)
    return _index_part(key)


def _index_part(k):
    if isinstance(k, Tensor):
        return np.asarray(k._data)
    if isinstance(k, list):
        return np.asarray([int(i) if isinstance(i, Tensor) else i for i in k])
    return k


def index(x, key):
    """x[key] with ints, slices, None, Ellipsis, bool masks and int arrays.

    Ints, slices, None and Ellipsis make a view (it shares x's memory, as in PyTorch); arrays
    and masks make a copy."""
    key = _index_key(key)
    params = {"key": key}
    try:
        out = apply(P.index, (x,), (x._data,), params)
    except IndexError as exc:
        raise IndexError(f"index: {exc} (tensor of shape {describe_shape(x.shape)})") from None
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"index: can't index a tensor of shape {describe_shape(x.shape)} with "
                        f"{key!r}: {exc}") from None
    if P._has_array_index(key) or type(x._data) is not np.ndarray:
        return out
    if type(out._data) is not np.ndarray:  # NumPy gives a scalar for x[0] of a vector: a 0-d view
        params["key"] = key = (key if type(key) is tuple else (key,)) + (Ellipsis,)
        out._data = x._data[key]
    return inplace.as_view(out, x, P.index, params)


def setitem(x, key, value):
    """x[key] = value, in place (recorded in a graph, as in PyTorch)."""
    inplace.setitem(x, key, value, _index_key)


def cat(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    axis = normalize_axis("cat", axis if dim is None else dim, first.ndim)
    if first.ndim == 0:
        raise ShapeError("cat: 0-d tensors can't be concatenated; use sg.stack")
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim or builtins.any(
                a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != axis):
            raise ShapeError(f"cat: tensor {i} has shape {describe_shape(t.shape)} but tensor 0 has "
                             f"{describe_shape(first.shape)}; all dimensions except axis {axis} "
                             "must match")
    arrays = _promoted(*tensors)
    offsets = (0, *itertools.accumulate(t.shape[axis] for t in tensors))
    return apply(P.cat, tuple(tensors), arrays, {"axis": axis, "offsets": offsets})


concatenate = cat


def stack(tensors, axis=0, *, dim=None):
    """Join same-shaped tensors along a new axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueRangeError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise ShapeError(f"stack: every tensor must have the same shape, but tensor 0 has "
                             f"{describe_shape(tensors[0].shape)} and tensor {i} has "
                             f"{describe_shape(t.shape)}")
    axis = normalize_axis("stack", axis if dim is None else dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t, axis) for t in tensors], axis)


def split(x, split_size_or_sections, axis=0, *, dim=None):
    """Cut x along an axis into pieces of a given size (the last may be smaller) or given sizes."""
    x = as_tensor(x)
    axis = normalize_axis("split", axis if dim is None else dim, x.ndim)
    length = x.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueRangeError(f"split: split size must be positive, got {size}")
        sizes = [builtins.min(size, length - start) for start in range(0, length, size)] or [0]
    else:
        sizes = [int(n) for n in split_size_or_sections]
        if builtins.sum(sizes) != length:
            raise ShapeError(f"split: sizes {sizes} add up to {builtins.sum(sizes)}, but axis "
                             f"{axis} has length {length}")
    pieces, start = [], 0
    for n in sizes:
        window = (slice(None),) * axis + (slice(start, start + n),)
        pieces.append(index(x, window))
        start += n
    return tuple(inplace.mark_multi_output(pieces))


def pad(x, pad, mode="constant", value=0):
    """PyTorch's F.pad: pad = (last_before, last_after, prev_before, ...); negatives crop."""
    x = as_tensor(x)
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueRangeError(f"pad: needs an even number of sizes, at most 2 per dimension; "
                              f"got {len(pad)} for a tensor of shape {describe_shape(x.shape)}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if builtins.any(b < 0 or a < 0 for b, a in widths):  # negative padding crops first
        crop = tuple(slice(-builtins.min(b, 0), n + builtins.min(a, 0))
                     for (b, a), n in zip(widths, x.shape))
        x = index(x, crop)
        widths = [(builtins.max(b, 0), builtins.max(a, 0)) for b, a in widths]
    return apply(P.pad, (x,), (x._data,), {"widths": tuple(widths), "value": value})


# The public ops of this module: sg.<name>, and Tensor methods (see ops/__init__.py).
__all__ = ["broadcast_to", "cat", "concatenate", "expand", "flatten", "pad", "permute", "reshape",
           "split", "squeeze", "stack", "transpose", "unsqueeze", "view"]
