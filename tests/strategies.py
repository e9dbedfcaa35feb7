"""Hypothesis strategies for shapes, axes and index keys, plus input-value generators.

Shapes are small (at most 3 dims of size 0..4) so gradchecks stay fast, and they
include 0-d tensors and empty (size-0) dimensions. Values are made by `Domain`s
from a seeded NumPy generator: each domain keeps its values where the op is
smooth (away from zero, kinks and ties), so finite differences are meaningful.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_DIMS = 3
MAX_SIDE = 4


# ---------------------------------------------------------------- shapes

@st.composite
def shapes(draw, min_dims=0, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE):
    """One shape: 0-d up to max_dims dimensions, sizes min_side..max_side.

    Sizes are mostly 1..max_side; where min_side is 0, about one shape in five
    has a single size-0 dimension (so empty tensors are common but not the rule).
    """
    ndim = draw(st.integers(min_dims, max_dims))
    dims = [draw(st.integers(max(min_side, 1), max_side)) for _ in range(ndim)]
    if min_side == 0 and ndim and draw(st.integers(0, 4)) == 0:
        dims[draw(st.integers(0, ndim - 1))] = 0
    return tuple(dims)


def broadcastable(n, min_dims=0, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE):
    """n shapes that broadcast together (NumPy rules: size-1 and missing leading dims)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: b.input_shapes)


@st.composite
def matmul_shapes(draw):
    """Two shapes matmul accepts: 1-D or N-D operands with broadcast batch dimensions."""
    n, k, m = (draw(st.integers(0, MAX_SIDE)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable(2, max_dims=2, max_side=3))
    a = (k,) if draw(st.booleans()) else batch_a + (n, k)
    b = (k,) if draw(st.booleans()) else batch_b + (k, m)
    return a, b


def axis(ndim):
    """One valid axis, negative or not (0 and -1 are valid on a 0-d tensor too)."""
    bound = max(ndim, 1)
    return st.integers(-bound, bound - 1)


@st.composite
def axes(draw, ndim):
    """None, one int, or a tuple of distinct axes (each axis spelled either way)."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int" or ndim == 0:
        return draw(axis(ndim))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


@st.composite
def reshaped(draw, shape):
    """A shape with the same number of elements: dims shuffled, 1s added, maybe one -1."""
    dims = list(draw(st.permutations(shape)))
    for _ in range(draw(st.integers(0, 2))):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and 0 not in dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@st.composite
def broadcast_target(draw, shape, allow_minus_one=False):
    """A shape `shape` broadcasts to: size-1 dims stretched, new leading dims added."""
    lead = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    dims = []
    for n in shape:
        if n == 1:
            dims.append(draw(st.integers(0, 3)))
        elif allow_minus_one and draw(st.booleans()):
            dims.append(-1)
        else:
            dims.append(n)
    return lead + tuple(dims)


@st.composite
def slices(draw, n):
    """A slice of a dimension of size n: any start/stop, positive or negative step."""
    start = draw(st.none() | st.integers(-n - 1, n + 1))
    stop = draw(st.none() | st.integers(-n - 1, n + 1))
    step = draw(st.none() | st.sampled_from([1, 2, 3, -1, -2]))
    return slice(start, stop, step)


def int_index(n):
    """An in-range int index of a nonempty dimension of size n, negative or not."""
    return st.integers(-n, n - 1)


def int_array(n, max_len=5, min_len=0):
    """An int64 index array into a dimension of size n (repeats likely, may be empty)."""
    if n == 0:
        return st.just(np.zeros(0, dtype=np.int64))
    return st.lists(st.integers(-n, n - 1), min_size=min_len, max_size=max_len).map(
        lambda v: np.array(v, dtype=np.int64))


def masks(shape):
    """A bool mask of the given shape."""
    return hnp.arrays(np.bool_, shape)


# ---------------------------------------------------------------- nn: linear, convolution, pooling

@st.composite
def linear_shapes(draw):
    """x (..., in), weight (out, in) and, half the time, bias (out,)."""
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(shapes(max_dims=2, min_side=1, max_side=3))
    return ((*batch, n_in), (n_out, n_in)) + (((n_out,),) if draw(st.booleans()) else ())


def _pair_or_int(draw, value, default):
    """A (h, w) argument as PyTorch takes it: an int when both agree (sometimes), else a pair;
    None when it is the default and is left out."""
    if value[0] == value[1] and draw(st.booleans()):
        return value[0]
    if value != (default, default) or draw(st.booleans()):
        return value
    return None


@st.composite
def conv2d_args(draw):
    """A valid conv2d: shapes (x, weight[, bias]) and every argument in one of PyTorch's forms
    (stride, padding, dilation as ints or pairs, padding "same"/"valid", groups)."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_per_group, out_per_group = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    size = [draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 7))
            for k, d, p in zip(kernel, dilation, padding)]
    batch = draw(st.sampled_from([(1,), (2,), ()]))  # () is an unbatched (C, H, W) image
    x_shape = (*batch, in_per_group * groups, *size)
    w_shape = (out_per_group * groups, in_per_group, *kernel)
    kwargs = {"groups": groups}
    for name, value, default in (("stride", stride, 1), ("dilation", dilation, 1),
                                 ("padding", padding, 0)):
        form = _pair_or_int(draw, value, default)
        if form is not None:
            kwargs[name] = form
    if stride == (1, 1) and draw(st.integers(0, 3)) == 0:  # "same" needs stride 1
        kwargs["padding"] = "same"
    elif padding == (0, 0) and draw(st.integers(0, 3)) == 0:
        kwargs["padding"] = "valid"
    bias = ((w_shape[0],),) if draw(st.booleans()) else ()
    return (x_shape, w_shape) + bias, kwargs


@st.composite
def pool2d_args(draw, average):
    """A valid max_pool2d (average=False) or avg_pool2d: the input shape and the keyword
    arguments (kernel, stride, padding up to half the kernel, ceil_mode; dilation for max,
    count_include_pad and divisor_override for avg), in PyTorch's int or pair forms."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (1, 1) if average else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # A dilated window must not fall wholly into the padding (PyTorch then sends the gradient
    # to an arbitrary element): at least as many rows and columns as the dilated window spans.
    size = [draw(st.integers(d * (k - 1) + 1 if d > 1 else max(1, k - 2 * p), 6))
            for k, d, p in zip(kernel, dilation, padding)]
    batch = draw(st.sampled_from([(1,), (2,), ()]))  # () is an unbatched (C, H, W) image
    kwargs = {"kernel_size": kernel[0] if kernel[0] == kernel[1] else kernel,
              "ceil_mode": draw(st.booleans())}
    if draw(st.integers(0, 3)):  # else left out: the stride is then the kernel size
        kwargs["stride"] = _pair_or_int(draw, stride, None)
    for name, value, default in (("padding", padding, 0), ("dilation", dilation, 1)):
        form = _pair_or_int(draw, value, default)
        if form is not None:
            kwargs[name] = form
    if average:
        kwargs["count_include_pad"] = draw(st.booleans())
        kwargs["divisor_override"] = draw(st.sampled_from([None, None, 1, 3]))
        kwargs.pop("dilation", None)  # avg_pool2d has none
    return ((*batch, draw(st.integers(1, 2)), *size),), kwargs


# ---------------------------------------------------------------- input values

@dataclass(frozen=True)
class Domain:
    """Where an input's values come from; `make(rng, shape)` returns a float64 array."""
    name: str
    make: Callable[[np.random.Generator, tuple], np.ndarray]


def _uniform(lo, hi):
    return Domain(f"uniform({lo}, {hi})", lambda rng, shape: rng.uniform(lo, hi, shape))


def _grid(lo, hi, offset):
    """Multiples of 1/4 plus an offset: two grids with different offsets never tie,
    and every value is exact in float32 and 1/8 away from the other grid's."""
    steps = np.arange(lo, hi + 1e-9, 0.25) + offset
    return Domain(f"grid({lo}, {hi}, +{offset})", lambda rng, shape: rng.choice(steps, shape))


def _away_from_zero(lo, hi):
    def make(rng, shape):
        return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)
    return Domain(f"±uniform({lo}, {hi})", make)


def _distinct(rng, shape):
    """All values different (at least 0.1 apart), so max/min/argmax have no ties."""
    size = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(size) * 0.1 - 1 + rng.uniform(0, 0.05)).reshape(shape)


def _bools(rng, shape):
    return rng.random(shape) < 0.5


def _small_ints(rng, shape):
    """Values from {-1, 0, 1} as floats: ties between operands are common."""
    return rng.integers(-1, 2, shape).astype(np.float64)


REAL = _uniform(-2.0, 2.0)
POSITIVE = _uniform(0.5, 2.0)
NONZERO = _away_from_zero(0.5, 2.0)
OFF_GRID = _grid(-2.0, 1.75, 0.125)    # never equal to a value of ON_GRID
ON_GRID = _grid(-2.0, 2.0, 0.0)
LOW_BOUND = _grid(-2.0, -0.25, 0.0)    # clip bounds: lo < 0 < hi, on the grid
HIGH_BOUND = _grid(0.25, 2.0, 0.0)
TIE_LOW = _grid(-1.0, 0.0, 0.0)       # clip bounds with ties: lo in {-1, -0.75, ..., 0}
TIE_HIGH = Domain("ones", lambda rng, shape: np.ones(shape))
DISTINCT = Domain("distinct", _distinct)
BOOL = Domain("bool", _bools)
TIES = Domain("ties", _small_ints)
