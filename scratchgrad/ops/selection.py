"""Ops that pick or place elements by position or by order: tril/triu, masked_fill, gather,
scatter_add, index_select, one_hot, sort, argsort and topk.

All but gather and scatter_add (primitives, each the other's adjoint) are composites: sort and
topk are a gather at the order NumPy's stable argsort finds, tril and masked_fill a `where`.
"""
import operator
from collections import namedtuple

import numpy as np

from scratchgrad import primitives as P
from scratchgrad.core import dtypes
from scratchgrad.core.engine import apply
from scratchgrad.core.errors import (
    DTypeError,
    IndexRangeError,
    ShapeError,
    ValueRangeError,
    broadcast_error,
    describe_shape,
    normalize_axis,
)
from scratchgrad.core.tensor import Tensor
from scratchgrad.ops import shapes
from scratchgrad.ops.elementwise import as_tensor, cast, where
from scratchgrad.ops.shapes import reshape

# What sort and topk return, as torch.return_types: a tuple with .values and .indices.
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


# ---------------------------------------------------------------- triangles and masks

def _triangle(name, x, diagonal, lower):
    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"{name}: needs a tensor with at least 2 dimensions, got shape "
                         f"{describe_shape(x.shape)}")
    n, m = x.shape[-2:]
    below = np.tri(n, m, int(diagonal) if lower else int(diagonal) - 1, dtype=bool)
    return where(below if lower else ~below, x, np.zeros((), x.dtype))


def tril(input, diagonal=0):
    """The lower triangle of the last two dimensions (on and below `diagonal`); the rest 0."""
    return _triangle("tril", input, diagonal, lower=True)


def triu(input, diagonal=0):
    """The upper triangle of the last two dimensions (on and above `diagonal`); the rest 0."""
    return _triangle("triu", input, diagonal, lower=False)


def masked_fill(input, mask, value):
    """value where mask is True, else input; mask broadcasts, value is a number or 0-d tensor."""
    x = as_tensor(input)
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != dtypes.bool_:
        raise DTypeError(f"masked_fill: the mask must be a bool tensor, got {m.dtype} "
                         "(make one with a comparison, e.g. mask == 0, or mask.bool())")
    try:
        np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise broadcast_error("masked_fill", x.shape, m.shape) from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got a tensor "
                             f"of shape {describe_shape(value.shape)}")
        fill = value if value.dtype == x.dtype else cast(value, x.dtype)
    else:
        fill = _fill_value(x.dtype, value)
    return where(m, fill, x)


def _fill_value(dtype, value):
    """value as a Python number of dtype's kind (a float into an int tensor truncates, as in PyTorch)."""
    if isinstance(value, str):  # float("1") would take it; PyTorch takes numbers only
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got str {value!r}")
    try:
        if dtype.kind == "f":
            return float(value)
        if dtype.kind == "b":
            return bool(value)
        return int(value)
    except (OverflowError, ValueError):
        raise ValueRangeError(f"masked_fill: value {value} can't be stored in a {dtype} tensor") from None
    except TypeError:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                        f"{type(value).__name__}") from None


# ---------------------------------------------------------------- gather, scatter_add, index_select

def _index_array(name, index):
    """index as an int64 NumPy array; int32 is taken too (as PyTorch does), floats and the
    other int dtypes are refused."""
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.name not in ("int64", "int32"):
        raise DTypeError(f"{name}: index must be a tensor of int64 or int32, got {idx.dtype}")
    return np.asarray(idx, dtype=np.int64)


def _check_in_range(name, idx, size, dim):
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexRangeError(f"{name}: index {int(bad)} is out of range for dimension {dim} "
                              f"of size {size} (valid: 0 to {size - 1})")


def _check_index_shape(name, idx, x, dim, what="input"):
    """index has x's rank and is no larger than x except along dim (PyTorch's rule)."""
    if idx.ndim != x.ndim:
        raise ShapeError(f"{name}: index of shape {describe_shape(idx.shape)} must have as many "
                         f"dimensions as the {what}, of shape {describe_shape(x.shape)}")
    for d, (n, limit) in enumerate(zip(idx.shape, x.shape)):
        if d != dim and n > limit:
            raise ShapeError(f"{name}: index of shape {describe_shape(idx.shape)} is larger than "
                             f"the {what}, of shape {describe_shape(x.shape)}, in dimension {d} "
                             f"(only dimension {dim} may differ)")


def gather(input, dim, index, *, sparse_grad=False):
    """out[p] = input[p with dimension dim replaced by index[p]]; out has index's shape."""
    x = as_tensor(input)
    idx = _index_array("gather", index)
    if x.ndim == 0 and idx.ndim == 0:  # a 0-d tensor counts as one element
        return reshape(gather(reshape(x, (1,)), 0, idx.reshape(1)), ())
    dim = normalize_axis("gather", dim, x.ndim)
    _check_index_shape("gather", idx, x, dim)
    _check_in_range("gather", idx, x.shape[dim], dim)
    return apply(P.gather, (x,), (x._data,), {"dim": dim, "index": idx})


def scatter_add(input, dim, index, src):
    """A copy of input with src[p] added at input[p with dimension dim replaced by index[p]]."""
    x, src = as_tensor(input), as_tensor(src)
    idx = _index_array("scatter_add", index)
    if x.dtype != src.dtype:
        raise DTypeError(f"scatter_add: src must have the input's dtype {x.dtype}, got {src.dtype}")
    if x.ndim == 0 and idx.ndim == 0 and src.ndim == 0:
        return reshape(scatter_add(reshape(x, (1,)), 0, idx.reshape(1), reshape(src, (1,))), ())
    dim = normalize_axis("scatter_add", dim, x.ndim)
    _check_index_shape("scatter_add", idx, x, dim)
    _check_index_shape("scatter_add", idx, src, -1, what="src")
    _check_in_range("scatter_add", idx, x.shape[dim], dim)
    return apply(P.scatter_add, (x, src), (x._data, src._data), {"dim": dim, "index": idx})


def index_select(input, dim, index):
    """The entries of dimension dim at the positions in the 1-D index (repeats allowed)."""
    x = as_tensor(input)
    idx = _index_array("index_select", index)
    if idx.ndim > 1:  # PyTorch's IndexError ("Index is supposed to be a vector")
        raise IndexRangeError(f"index_select: index must be 1-D, got shape "
                              f"{describe_shape(idx.shape)}")
    dim = normalize_axis("index_select", dim, x.ndim)
    size = x.shape[dim] if x.ndim else 1
    _check_in_range("index_select", idx, size, dim)
    if x.ndim == 0:
        if idx.size != 1:
            raise ShapeError(f"index_select: a 0-d tensor takes exactly one index, got {idx.size}")
        return reshape(x, ())  # index 0, the only one there is
    return shapes.index(x, (slice(None),) * dim + (idx.reshape(-1),))


def one_hot(tensor, num_classes=-1):
    """int64 rows with a 1 at each class index: shape tensor.shape + (num_classes,)."""
    t = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if t.dtype != dtypes.int64:
        raise DTypeError(f"one_hot: the class indices must be an int64 tensor, got {t.dtype}")
    num_classes = int(num_classes)
    if num_classes == -1:
        if t.size == 0:
            raise ValueRangeError("one_hot: can't infer the number of classes from an empty "
                                  "tensor; pass num_classes")
        num_classes = int(t.max()) + 1
    if t.size and t.min() < 0:
        raise ValueRangeError(f"one_hot: class indices must be non-negative, got {int(t.min())}")
    if t.size and t.max() >= num_classes:
        raise ValueRangeError(f"one_hot: class index {int(t.max())} is out of range for "
                              f"num_classes={num_classes}")
    return Tensor._wrap((t[..., None] == np.arange(num_classes)).astype(dtypes.int64))


# ---------------------------------------------------------------- sort, argsort, topk

def _order(x, dim, descending):
    """Positions that sort x along dim, ties in their original order; NaN counts as largest."""
    data = x._data
    if not descending:
        return np.argsort(data, axis=dim, kind="stable")
    # Stable and descending: sort the reversed array ascending and read it backwards, so equal
    # elements keep their original order (argsort of -x would break on ints and bools).
    order = np.flip(np.argsort(np.flip(data, dim), axis=dim, kind="stable"), dim)
    return data.shape[dim] - 1 - order


def _sort_axis(name, x, dim):
    x = as_tensor(x)
    if x.dtype.kind not in "biuf":
        raise DTypeError(f"{name}: can't sort a {x.dtype} tensor")
    return x, normalize_axis(name, dim, x.ndim)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) along dim, ascending unless descending; ties keep their order."""
    x, dim = _sort_axis("sort", input, dim)
    if x.ndim == 0:
        return SortResult(gather(x, 0, np.zeros((), np.int64)), Tensor._wrap(np.zeros((), np.int64)))
    order = _order(x, dim, descending)
    return SortResult(gather(x, dim, order), Tensor._wrap(order))


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort input along dim (int64)."""
    x, dim = _sort_axis("argsort", input, dim)
    if x.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64))
    return Tensor._wrap(_order(x, dim, descending))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or smallest) entries along dim, best first."""
    x, dim = _sort_axis("topk", input, dim)
    if x.dtype == dtypes.bool_:
        raise DTypeError("topk: bool tensors aren't supported (as in PyTorch); use .long() first")
    size = x.shape[dim] if x.ndim else 1
    if isinstance(k, bool) or not hasattr(k, "__index__"):  # int(2.5) would truncate
        raise TypeError(f"topk: k must be an int, got {type(k).__name__} {k!r}")
    k = operator.index(k)
    if not 0 <= k <= size:
        raise ValueRangeError(f"topk: k={k} is out of range for dimension {dim} of size {size} "
                              f"(tensor of shape {describe_shape(x.shape)})")
    if x.ndim == 0:
        return TopkResult(*sort(x))
    order = _order(x, dim, descending=largest)
    order = order[(slice(None),) * dim + (slice(0, k),)]
    return TopkResult(gather(x, dim, order), Tensor._wrap(order))


# The public ops of this module: sg.<name>, and Tensor methods (see ops/__init__.py).
__all__ = ["argsort", "gather", "index_select", "masked_fill", "scatter_add", "sort", "topk", "tril",
           "triu"]
