"""The table of op cases: one row per differentiable op (or op variant).

Each row says how to call the op in scratchgrad, in PyTorch and in NumPy (the
reference), which shapes and keyword arguments to draw, and which values each
input takes. test_ops_table.py runs every row through value tests, float64
gradchecks and a comparison of values and gradients with PyTorch.
"""
import math
import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

import scratchgrad as sg
from tests import strategies as S
from tests.strategies import (
    BOOL,
    DISTINCT,
    HIGH_BOUND,
    LOW_BOUND,
    NONZERO,
    OFF_GRID,
    ON_GRID,
    POSITIVE,
    REAL,
    TIE_HIGH,
    TIE_LOW,
    TIES,
    Domain,
)


@dataclass(frozen=True)
class OpCase:
    """One op under test; `args` draws (input shapes, keyword arguments)."""
    name: str
    sg: Callable
    torch: Callable
    ref: Callable
    args: SearchStrategy
    domains: tuple[Domain, ...]
    grad: bool = True         # differentiable: gradients are checked
    gradcheck: bool = True    # finite differences are valid (False for tie cases)

    def domain(self, i):
        """The domain of input i (the last one repeats for ops taking any number of inputs)."""
        return self.domains[min(i, len(self.domains) - 1)]

    def __str__(self):
        return self.name


# ---------------------------------------------------------------- argument strategies

def _no_kwargs(shapes):
    return st.just((shapes, {}))


def broadcast_args(n):
    """n broadcastable shapes, no keyword arguments."""
    return S.broadcastable(n).flatmap(_no_kwargs)


def unary_args(kwargs=None, shapes=None):
    """One shape; kwargs(shape) draws the keyword arguments (none by default)."""
    shapes = shapes if shapes is not None else S.shapes()
    if kwargs is None:
        return shapes.map(lambda s: ((s,), {}))
    return shapes.flatmap(lambda s: kwargs(s).map(lambda kw: ((s,), kw)))


def _kwargs(**strategies):
    return st.fixed_dictionaries(strategies)


# ---------------------------------------------------------------- helpers for references

def _np_axes(axis, ndim):
    """NumPy's axis for a reduction: on a 0-d array, axis 0/-1 means the whole array."""
    return None if ndim == 0 else axis


def _torch_dims(axis, ndim):
    """PyTorch dims meaning 'all' explicitly, for ops whose dim=None isn't 'all'."""
    return tuple(range(ndim)) if axis is None else axis


def _ignore_warnings(fn):
    """NumPy warns on mean/var of empty slices; the nan it returns is what we want."""
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return wrapped


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


@_ignore_warnings
def _np_logsumexp(x, axis=None, keepdims=False):
    axis = _np_axes(axis, x.ndim)
    if x.size == 0:
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_softmax(x, axis):
    return np.exp(x - _np_logsumexp(x, axis, keepdims=True))


def _np_log_softmax(x, axis):
    return x - _np_logsumexp(x, axis, keepdims=True)


def _np_gelu(x, approximate):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


def _np_squeeze(x, axis):
    if axis is None:
        return np.squeeze(x)
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {a % max(x.ndim, 1) for a in axes}
    return x.reshape(tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def _np_expand(x, shape):
    lead = len(shape) - x.ndim
    sizes = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    return np.broadcast_to(x, sizes)


def _np_split(x, sizes, axis):
    length = x.shape[axis]
    if isinstance(sizes, int):
        sizes = [min(sizes, length - start) for start in range(0, length, sizes)] or [0]
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def _np_pad(x, pad, value):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(-min(b, 0), n + min(a, 0)) for (b, a), n in zip(widths, x.shape))
    widths = [(max(b, 0), max(a, 0)) for b, a in widths]
    return np.pad(x[crop], widths, constant_values=value)


def _np_flatten(x, start_dim, end_dim):
    if x.ndim == 0:
        return x.reshape(1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:])


def _np_transpose(x, dim0, dim1):
    return x if x.ndim == 0 else np.swapaxes(x, dim0, dim1)


def _np_var(x, axis, keepdims, correction=1):
    n = x.size if axis is None or x.ndim == 0 else math.prod(
        x.shape[a] for a in (axis if isinstance(axis, tuple) else (axis,)))
    axis = _np_axes(axis, x.ndim)
    centred = x - np.mean(x, axis=axis, keepdims=True)
    return np.sum(centred ** 2, axis=axis, keepdims=keepdims) / max(n - correction, 0)


# ---------------------------------------------------------------- helpers for PyTorch

def _torch_prod(x, axis, keepdims):
    """torch.prod takes one dim at a time: reduce the axes one after another."""
    if axis is None:
        out = torch.prod(x)
        return out.reshape((1,) * x.ndim) if keepdims else out
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in sorted({a % max(x.ndim, 1) for a in axes}, reverse=True):
        x = torch.prod(x, dim=a, keepdim=True)
    return x if keepdims else _torch_squeeze_axes(x, axes)


def _torch_squeeze_axes(x, axes):
    if x.ndim == 0:
        return x
    return x.squeeze(tuple(a % x.ndim for a in axes))


def _torch_amax(fn):
    return lambda x, axis, keepdims, alias: fn(x, dim=() if axis is None else axis, keepdim=keepdims)


def _torch_index(x, key):
    """x[key] in PyTorch. It has no negative slice steps, so a key of ints, slices, None
    and Ellipsis is applied one dimension at a time, each slice as an index array."""
    parts = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, np.ndarray) for k in parts):
        converted = tuple(torch.as_tensor(k) if isinstance(k, np.ndarray) else k for k in parts)
        return x[converted if isinstance(key, tuple) else converted[0]]
    dim = 0
    for i, k in enumerate(parts):
        if k is None:
            x = x.unsqueeze(dim)
            dim += 1
        elif k is Ellipsis:
            dim = x.ndim - sum(isinstance(j, (int, slice)) for j in parts[i + 1:])
        elif isinstance(k, int):
            x = x.select(dim, k)
        else:
            picked = np.arange(x.shape[dim])[k].copy()  # torch refuses negative strides
            x = x.index_select(dim, torch.as_tensor(picked))
            dim += 1
    return x


def _torch_clamp(x, lo, hi):
    """torch.clamp with tensor bounds won't broadcast a 0-d x up to the bounds' shape."""
    return torch.clamp(*torch.broadcast_tensors(x, lo, hi))


# ---------------------------------------------------------------- rows: arithmetic

def same(fn):
    """An expression (operators, methods) that reads the same in all three libraries."""
    return {"sg_fn": fn, "torch_fn": fn, "ref": fn}


def binary(name, sg_fn, torch_fn, ref, domains=(REAL, REAL), **extra):
    return OpCase(name, sg_fn, torch_fn, ref, broadcast_args(len(domains)), domains, **extra)


def unary(name, sg_fn, torch_fn, ref, domain=REAL, kwargs=None, shapes=None, **extra):
    return OpCase(name, sg_fn, torch_fn, ref, unary_args(kwargs, shapes), (domain,), **extra)


ARITHMETIC = [
    binary("add", sg.add, torch.add, np.add),
    binary("sub", sg.sub, torch.sub, np.subtract),
    binary("mul", sg.mul, torch.mul, np.multiply),
    binary("div", sg.div, torch.div, np.divide, (REAL, NONZERO)),
    binary("pow", sg.pow, torch.pow, np.power, (POSITIVE, REAL)),
    binary("a+b", **same(operator.add)),
    binary("a-b", **same(operator.sub)),
    binary("a*b", **same(operator.mul)),
    binary("a/b", **same(operator.truediv), domains=(REAL, NONZERO)),
    binary("a**b", **same(operator.pow), domains=(POSITIVE, REAL)),
    unary("-x", **same(operator.neg)),
    unary("neg", sg.neg, torch.neg, np.negative),
    unary("2.5+x", **same(lambda x: 2.5 + x)),
    unary("x+1", **same(lambda x: x + 1)),
    unary("2-x", **same(lambda x: 2 - x)),
    unary("x-0.5", **same(lambda x: x - 0.5)),
    unary("3*x", **same(lambda x: 3 * x)),
    unary("x*-1.5", **same(lambda x: x * -1.5)),
    unary("1/x", **same(lambda x: 1 / x), domain=NONZERO),
    unary("x/4", **same(lambda x: x / 4)),
    unary("2**x", **same(lambda x: 2 ** x)),
    unary("0.5**x", **same(lambda x: 0.5 ** x)),
    unary("x**2", **same(lambda x: x ** 2)),
    unary("x**3", **same(lambda x: x ** 3)),
    unary("x**0", **same(lambda x: x ** 0)),
    unary("x**0.5", **same(lambda x: x ** 0.5), domain=POSITIVE),
    unary("x**-1.5", **same(lambda x: x ** -1.5), domain=POSITIVE),
    unary("sub(2, x)", lambda x: sg.sub(2, x), lambda x: torch.sub(2, x), lambda x: 2 - x),
    unary("div(1.5, x)", lambda x: sg.div(1.5, x), lambda x: torch.div(1.5, x),
          lambda x: 1.5 / x, NONZERO),
    unary("pow(3, x)", lambda x: sg.pow(3, x), lambda x: torch.pow(3, x), lambda x: 3.0 ** x),
    unary("pow(x, 2.5)", lambda x: sg.pow(x, 2.5), lambda x: torch.pow(x, 2.5),
          lambda x: x ** 2.5, POSITIVE),
]


# ---------------------------------------------------------------- rows: matmul

MATMUL = [
    OpCase("matmul", sg.matmul, torch.matmul, np.matmul,
           S.matmul_shapes().flatmap(_no_kwargs), (REAL, REAL)),
    OpCase("a@b", operator.matmul, operator.matmul, operator.matmul,
           S.matmul_shapes().flatmap(_no_kwargs), (REAL, REAL)),
]


@st.composite
def _product_shapes(draw, pattern):
    """Shapes for a named product: pattern's letters are sides (one letter, one length)."""
    sides = {letter: draw(st.integers(0, S.MAX_SIDE)) for letter in set("".join(pattern))}
    return tuple(tuple(sides[letter] for letter in part) for part in pattern), {}


def _addmm_ref(c, a, b, beta=1, alpha=1):
    return beta * c + alpha * (a @ b)


# mm, bmm, mv, dot, outer and addmm: matmul with the operands' ranks fixed (ops/products.py)
MATMUL += [
    OpCase("mm", sg.mm, torch.mm, np.matmul, _product_shapes(("nk", "km")), (REAL, REAL)),
    OpCase("bmm", sg.bmm, torch.bmm, np.matmul, _product_shapes(("bnk", "bkm")), (REAL, REAL)),
    OpCase("mv", sg.mv, torch.mv, np.matmul, _product_shapes(("nk", "k")), (REAL, REAL)),
    OpCase("dot", sg.dot, torch.dot, np.dot, _product_shapes(("k", "k")), (REAL, REAL)),
    OpCase("outer", sg.outer, torch.outer, np.outer, _product_shapes(("n", "m")), (REAL, REAL)),
    OpCase("addmm", sg.addmm, torch.addmm, _addmm_ref,
           _product_shapes(("m", "nk", "km")).map(lambda a: (a[0], {"beta": 0.5, "alpha": 2.0})),
           (REAL, REAL, REAL)),
]


# ---------------------------------------------------------------- rows: elementwise functions

def _leaky_kwargs(shape):
    return _kwargs(negative_slope=st.sampled_from([0.01, 0.2, 1.5]))


ELEMENTWISE = [
    unary("exp", sg.exp, torch.exp, np.exp),
    unary("x.exp", **same(lambda x: x.exp()) | {"ref": np.exp}),
    unary("log", sg.log, torch.log, np.log, POSITIVE),
    unary("sqrt", sg.sqrt, torch.sqrt, np.sqrt, POSITIVE),
    unary("abs", sg.abs, torch.abs, np.abs, NONZERO),
    unary("abs(x)", **same(abs), domain=NONZERO),
    unary("sin", sg.sin, torch.sin, np.sin),
    unary("cos", sg.cos, torch.cos, np.cos),
    unary("tanh", sg.tanh, torch.tanh, np.tanh),
    unary("sigmoid", sg.sigmoid, torch.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    unary("relu", sg.relu, torch.relu, lambda x: np.maximum(x, 0), OFF_GRID),
    unary("leaky_relu", sg.leaky_relu, F.leaky_relu,
          lambda x: np.where(x > 0, x, 0.01 * x), OFF_GRID),
    unary("leaky_relu(slope)", sg.leaky_relu, F.leaky_relu,
          lambda x, negative_slope: np.where(x > 0, x, negative_slope * x), OFF_GRID,
          kwargs=_leaky_kwargs),
    unary("gelu", sg.gelu, F.gelu, lambda x: _np_gelu(x, "none")),
    unary("erfc", sg.erfc, torch.erfc, _erfc),
    unary("norm", sg.norm, torch.norm, lambda x: np.sqrt(np.sum(x * x))),
    unary("norm(p=3)", lambda x: sg.norm(x, p=3), lambda x: torch.norm(x, p=3),
          lambda x: np.sum(np.abs(x) ** 3) ** (1 / 3)),
    # GELU's tail: Φ(x) for x ≪ 0 is erfc's small value, not 1 + erf's cancellation.
    unary("gelu (tail)", sg.gelu, F.gelu, lambda x: 0.5 * x * _erfc(-x / math.sqrt(2)),
          domain=Domain("tail", lambda rng, shape: rng.uniform(-9, -3, shape))),
    unary("gelu(approximate)", sg.gelu, F.gelu, _np_gelu,
          kwargs=lambda s: _kwargs(approximate=st.sampled_from(["none", "tanh"]))),
    unary("softplus", sg.softplus, F.softplus, _np_softplus),
    # beta * x crosses the threshold (1) at x = 0.5, which OFF_GRID never hits.
    unary("softplus(beta, threshold)", sg.softplus, F.softplus, _np_softplus, OFF_GRID,
          kwargs=lambda s: _kwargs(beta=st.just(2.0), threshold=st.just(1.0))),
    unary("clip(x, -1, 1)", lambda x: sg.clip(x, -1.0, 1.0), lambda x: torch.clamp(x, -1.0, 1.0),
          lambda x: np.clip(x, -1.0, 1.0), OFF_GRID),
    unary("clip(min=)", lambda x: sg.clip(x, min=-0.5), lambda x: torch.clamp(x, min=-0.5),
          lambda x: np.maximum(x, -0.5), OFF_GRID),
    unary("x.clip(max=)", lambda x: x.clip(max=0.5), lambda x: x.clip(max=0.5),
          lambda x: np.minimum(x, 0.5), OFF_GRID),
    unary("x.clamp(int bounds)", lambda x: x.clamp(-1, 1), lambda x: x.clamp(-1, 1),
          lambda x: np.clip(x, -1, 1), OFF_GRID),
    binary("clip(x, lo, hi) tensors", sg.clip, _torch_clamp, np.clip,
           (OFF_GRID, LOW_BOUND, HIGH_BOUND)),
    binary("clip(x, min=lo) tensor", lambda x, lo: sg.clip(x, min=lo),
           lambda x, lo: torch.clamp(x, min=lo), np.maximum, (OFF_GRID, LOW_BOUND)),
    binary("clip(x, max=hi) tensor", lambda x, hi: sg.clip(x, max=hi),
           lambda x, hi: torch.clamp(x, max=hi), np.minimum, (OFF_GRID, HIGH_BOUND)),
    binary("maximum", sg.maximum, torch.maximum, np.maximum, (OFF_GRID, ON_GRID)),
    binary("minimum", sg.minimum, torch.minimum, np.minimum, (OFF_GRID, ON_GRID)),
    binary("where", sg.where, torch.where, np.where, (BOOL, REAL, REAL)),
    binary("where(c, a, 0.0)", lambda c, a: sg.where(c, a, 0.0),
           lambda c, a: torch.where(c, a, 0.0), lambda c, a: np.where(c, a, 0.0), (BOOL, REAL)),
    binary("where(c, 1, b)", lambda c, b: sg.where(c, 1, b),
           lambda c, b: torch.where(c, 1, b), lambda c, b: np.where(c, 1.0, b), (BOOL, REAL)),
]


# ---------------------------------------------------------------- rows: reductions

@st.composite
def _reduce_kwargs(draw, shape, axes=S.axes):
    """axis/keepdims, spelled NumPy's way or PyTorch's (dim/keepdim: `alias`)."""
    return {"axis": draw(axes(len(shape))), "keepdims": draw(st.booleans()),
            "alias": draw(st.booleans())}


def _sg_reduce(name, **fixed):
    """sg.name(x, axis=, keepdims=), or the method x.name(dim=, keepdim=) when alias."""
    def fn(x, axis, keepdims, alias):
        if alias:
            return getattr(x, name)(dim=axis, keepdim=keepdims, **fixed)
        return getattr(sg, name)(x, axis=axis, keepdims=keepdims, **fixed)
    return fn


def _np_reduce(fn, **fixed):
    @_ignore_warnings
    def ref(x, axis, keepdims, alias):
        return fn(x, axis=_np_axes(axis, x.ndim), keepdims=keepdims, **fixed)
    return ref


def reduction(name, torch_fn, ref, domain=REAL, shapes=None, axes=S.axes, **extra):
    return OpCase(name, _sg_reduce(name), torch_fn, ref,
                  unary_args(lambda s: _reduce_kwargs(s, axes), shapes), (domain,), **extra)


def _torch_reduce(fn, **fixed):
    def call(x, axis, keepdims, alias):
        with warnings.catch_warnings():  # var with no degrees of freedom warns, returns nan
            warnings.simplefilter("ignore")
            return fn(x, dim=axis, keepdim=keepdims, **fixed)
    return call


def _one_axis(ndim):
    return st.none() | S.axis(ndim)


NONEMPTY = S.shapes(min_side=1)

REDUCTIONS = [
    reduction("sum", _torch_reduce(torch.sum), _np_reduce(np.sum)),
    reduction("mean", _torch_reduce(torch.mean), _np_reduce(np.mean)),
    reduction("var", _torch_reduce(torch.var),
              _ignore_warnings(lambda x, axis, keepdims, alias: _np_var(x, axis, keepdims))),
    reduction("std", _torch_reduce(torch.std), _ignore_warnings(
        lambda x, axis, keepdims, alias: np.sqrt(_np_var(x, axis, keepdims)))),
    OpCase("var(correction=0)", _sg_reduce("var", correction=0),
           _torch_reduce(torch.var, correction=0),
           _ignore_warnings(lambda x, axis, keepdims, alias: _np_var(x, axis, keepdims, 0)),
           unary_args(_reduce_kwargs), (REAL,)),
    reduction("amax", _torch_amax(torch.amax), _np_reduce(np.max), DISTINCT, NONEMPTY),
    reduction("amin", _torch_amax(torch.amin), _np_reduce(np.min), DISTINCT, NONEMPTY),
    reduction("prod", lambda x, axis, keepdims, alias: _torch_prod(x, axis, keepdims),
              _np_reduce(np.prod), NONZERO),
    reduction("logsumexp",
              lambda x, axis, keepdims, alias: torch.logsumexp(
                  x, dim=_torch_dims(axis, x.ndim), keepdim=keepdims),
              lambda x, axis, keepdims, alias: _np_logsumexp(x, axis, keepdims)),
    reduction("argmax", _torch_reduce(torch.argmax), _np_reduce(np.argmax), DISTINCT, NONEMPTY,
              axes=_one_axis, grad=False),
    reduction("argmin", _torch_reduce(torch.argmin), _np_reduce(np.argmin), DISTINCT, NONEMPTY,
              axes=_one_axis, grad=False),
]


# ---------------------------------------------------------------- rows: softmax

def _softmax_kwargs(shape):
    return _kwargs(axis=S.axis(len(shape)))


SOFTMAX = [
    unary("softmax", lambda x, axis: sg.softmax(x, axis), lambda x, axis: torch.softmax(x, axis),
          _np_softmax, kwargs=_softmax_kwargs),
    unary("x.softmax(dim=)", lambda x, axis: x.softmax(dim=axis),
          lambda x, axis: x.softmax(dim=axis), _np_softmax, kwargs=_softmax_kwargs),
    unary("log_softmax", lambda x, axis: sg.log_softmax(x, axis),
          lambda x, axis: torch.log_softmax(x, axis), _np_log_softmax, kwargs=_softmax_kwargs),
]


# ---------------------------------------------------------------- rows: shapes

def _sg_reshape_varargs(x, shape):
    return sg.reshape(x, *shape) if shape else sg.reshape(x, shape)


def _star(method):
    """x.method(*sizes), as users write it; x.method(()) when there are no sizes."""
    def call(x, **kwargs):
        (sizes,) = kwargs.values()
        return getattr(x, method)(*sizes) if sizes else getattr(x, method)(tuple(sizes))
    return call


@st.composite
def _flatten_kwargs(draw, shape):
    n = max(len(shape), 1)
    start = draw(st.integers(0, n - 1))
    end = draw(st.integers(start, n - 1))
    spell = draw(st.booleans()), draw(st.booleans())
    return {"start_dim": start - n if spell[0] else start, "end_dim": end - n if spell[1] else end}


@st.composite
def _squeeze_kwargs(draw, shape):
    return {"axis": draw(S.axes(len(shape)))}


def _expand_kwargs(shape):
    return _kwargs(shape=S.broadcast_target(shape, allow_minus_one=True))


@st.composite
def _pad_kwargs(draw, shape):
    """F.pad's tuple, last dim first; negative entries crop, never below size 0."""
    pad = []
    for n in reversed(shape[len(shape) - draw(st.integers(1, len(shape))):]):
        before = draw(st.integers(-min(n, 1), 2))
        after = draw(st.integers(-min(n + min(before, 0), 1), 2))
        pad += [before, after]
    return {"pad": tuple(pad), "value": draw(st.sampled_from([0.0, 1.5]))}


@st.composite
def _cat_args(draw, new_axis=False):
    """1-3 shapes that agree except along `axis` (for cat), or equal shapes (for stack)."""
    ndim = draw(st.integers(0 if new_axis else 1, S.MAX_DIMS))
    base = list(draw(S.shapes(min_dims=ndim, max_dims=ndim)))
    count = draw(st.integers(1, 3))
    if new_axis:
        axis = draw(st.integers(-ndim - 1, ndim))
        return (tuple(base),) * count, {"axis": axis}
    axis = draw(S.axis(ndim))
    shapes = []
    for _ in range(count):
        base[axis] = draw(st.integers(0, S.MAX_SIDE))
        shapes.append(tuple(base))
    return tuple(shapes), {"axis": axis}


@st.composite
def _split_kwargs(draw, shape):
    axis = draw(S.axis(len(shape)))
    length = shape[axis]
    if draw(st.booleans()):
        sizes = draw(st.integers(1, 4))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, length), max_size=3)))
        sizes = list(np.diff([0, *cuts, length]).tolist())
    return {"sizes": sizes, "axis": axis}


SHAPES = [
    unary("reshape", lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape),
          np.reshape, kwargs=lambda s: _kwargs(shape=S.reshaped(s))),
    unary("sg.reshape(*shape)", _sg_reshape_varargs,
          lambda x, shape: torch.reshape(x, shape), np.reshape,
          kwargs=lambda s: _kwargs(shape=S.reshaped(s))),
    unary("view", **same(_star("view")) | {"ref": np.reshape},
          kwargs=lambda s: _kwargs(shape=S.reshaped(s))),
    unary("flatten", sg.flatten, torch.flatten, _np_flatten, kwargs=_flatten_kwargs),
    unary("transpose", lambda x, dim0, dim1: x.transpose(dim0, dim1),
          lambda x, dim0, dim1: x.transpose(dim0, dim1), _np_transpose,
          kwargs=lambda s: _kwargs(dim0=S.axis(len(s)), dim1=S.axis(len(s)))),
    unary("permute", **same(_star("permute")) | {"ref": np.transpose},
          kwargs=lambda s: _kwargs(axes=st.permutations(range(len(s))))),
    unary("x.T", lambda x: x.T, lambda x: x.permute(tuple(reversed(range(x.ndim)))),
          lambda x: x.T),
    unary("squeeze", lambda x, axis: sg.squeeze(x, axis),
          lambda x, axis: x.squeeze() if axis is None else x.squeeze(axis), _np_squeeze,
          kwargs=_squeeze_kwargs),
    unary("unsqueeze", lambda x, axis: x.unsqueeze(axis), lambda x, axis: x.unsqueeze(axis),
          np.expand_dims, kwargs=lambda s: _kwargs(axis=st.integers(-len(s) - 1, len(s)))),
    unary("expand", **same(_star("expand")) | {"ref": _np_expand}, kwargs=_expand_kwargs),
    unary("broadcast_to", lambda x, shape: sg.broadcast_to(x, shape),
          lambda x, shape: torch.broadcast_to(x, shape), np.broadcast_to,
          kwargs=lambda s: _kwargs(shape=S.broadcast_target(s))),
    OpCase("cat", lambda *xs, axis: sg.cat(list(xs), axis),
           lambda *xs, axis: torch.cat(xs, axis), lambda *xs, axis: np.concatenate(xs, axis),
           _cat_args(), (REAL,)),
    OpCase("cat(dim=)", lambda *xs, axis: sg.cat(xs, dim=axis),
           lambda *xs, axis: torch.cat(xs, dim=axis), lambda *xs, axis: np.concatenate(xs, axis),
           _cat_args(), (REAL,)),
    OpCase("stack", lambda *xs, axis: sg.stack(list(xs), axis),
           lambda *xs, axis: torch.stack(xs, axis), lambda *xs, axis: np.stack(xs, axis),
           _cat_args(new_axis=True), (REAL,)),
    unary("split", lambda x, sizes, axis: sg.split(x, sizes, axis),
          lambda x, sizes, axis: torch.split(x, sizes, axis), _np_split,
          shapes=S.shapes(min_dims=1), kwargs=_split_kwargs),
    unary("x.split(dim=)", lambda x, sizes, axis: x.split(sizes, dim=axis),
          lambda x, sizes, axis: x.split(sizes, dim=axis), _np_split,
          shapes=S.shapes(min_dims=1), kwargs=_split_kwargs),
    unary("pad", lambda x, pad, value: sg.pad(x, pad, value=value),
          lambda x, pad, value: F.pad(x, pad, value=value), _np_pad,
          shapes=S.shapes(min_dims=1), kwargs=_pad_kwargs),
]


# ---------------------------------------------------------------- rows: indexing

@st.composite
def _int_key(draw, shape):
    return draw(S.int_index(shape[0]))


@st.composite
def _slice_key(draw, shape):
    return tuple(draw(S.slices(n)) for n in shape[:draw(st.integers(1, len(shape)))])


@st.composite
def _basic_key(draw, shape):
    """Ints, slices and None for leading dims, then maybe Ellipsis and trailing dims."""
    front = draw(st.integers(0, len(shape)))
    back = draw(st.integers(0, len(shape) - front))
    ellipsis = back > 0 or draw(st.booleans())
    parts = []
    for i, n in enumerate(shape[:front] + shape[len(shape) - back:]):
        if i == front and ellipsis:
            parts.append(Ellipsis)
        parts.append(draw(S.slices(n) | S.int_index(n) if n else S.slices(n)))
        if draw(st.booleans()):
            parts.append(None)
    if ellipsis and back == 0:
        parts.append(Ellipsis)
    return tuple(parts)


@st.composite
def _mask_key(draw, shape):
    """A mask over all dims, or over the leading ones."""
    return draw(S.masks(shape[:draw(st.integers(1, len(shape)))]))


@st.composite
def _array_key(draw, shape):
    """An int array on dim 0, two broadcast int arrays, or a slice then an int array."""
    kind = draw(st.sampled_from(["one", "two", "after slice"]))
    if kind == "one" or len(shape) < 2:
        return draw(S.int_array(shape[0]))
    if kind == "two":
        length = draw(st.integers(0, 4)) if shape[0] and shape[1] else 0
        return (draw(S.int_array(shape[0], length, length)),
                draw(S.int_array(shape[1], length, length)))
    return slice(None), draw(S.int_array(shape[1]))


def getitem(name, key, shapes):
    return unary(name, lambda x, key: x[key], _torch_index, lambda x, key: x[key],
                 kwargs=lambda s: _kwargs(key=key(s)), shapes=shapes)


INDEXING = [
    getitem("x[int]", _int_key, S.shapes(min_dims=1, min_side=1)),
    getitem("x[slices]", _slice_key, S.shapes(min_dims=1)),
    getitem("x[int, slice, None, ...]", _basic_key, S.shapes()),
    getitem("x[mask]", _mask_key, S.shapes(min_dims=1)),
    getitem("x[int array]", _array_key, S.shapes(min_dims=1)),
]


# ---------------------------------------------------------------- rows: comparisons (no gradient)

def comparison(name, fn):
    return binary(name, **same(fn), domains=(TIES, TIES), grad=False)


COMPARISONS = [
    comparison("a<b", operator.lt),
    comparison("a<=b", operator.le),
    comparison("a>b", operator.gt),
    comparison("a>=b", operator.ge),
    comparison("a==b", operator.eq),
    comparison("a!=b", operator.ne),
    unary("x>=0", **same(lambda x: x >= 0), domain=TIES, grad=False),
    unary("x<0.5", **same(lambda x: x < 0.5), domain=TIES, grad=False),
]


# ---------------------------------------------------------------- rows: the everyday PyTorch surface

def _positions(index, dim):
    """The full index tuple that picks x[..., index[p], ...] along dim, position by position."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


def _np_gather(x, dim, index):
    return x[_positions(index, dim % x.ndim)]


def _np_scatter_add(x, src, dim, index):
    out = x.copy()
    np.add.at(out, _positions(index, dim % x.ndim), src[tuple(slice(n) for n in index.shape)])
    return out


@st.composite
def _gather_args(draw, extra_src=False):
    """x of >= 1 dims, a dim, and an int64 index of x's rank: any length along dim, no larger
    than x elsewhere, values in range (for scatter_add, also a src at least index's size)."""
    shape = draw(S.shapes(min_dims=1, min_side=1))
    dim = draw(S.axis(len(shape)))
    index_shape = tuple(draw(st.integers(0, 4)) if d == dim % len(shape) else
                        draw(st.integers(0, n)) for d, n in enumerate(shape))
    seed = draw(st.integers(0, 2**16))
    index = np.random.default_rng(seed).integers(0, shape[dim], index_shape)
    if not extra_src:
        return (shape,), {"dim": dim, "index": index}
    # src the size of index: PyTorch's own backward fails for a larger src (test_surface has it)
    return (shape, index_shape), {"dim": dim, "index": index}


@st.composite
def _index_select_kwargs(draw, shape):
    dim = draw(S.axis(len(shape)))
    return {"dim": dim, "index": draw(S.int_array(shape[dim] if shape else 1)) % max(
        shape[dim] if shape else 1, 1)}


@st.composite
def _sort_kwargs(draw, shape):
    return {"dim": draw(S.axis(len(shape))), "descending": draw(st.booleans())}


def _np_sort(x, dim, descending):
    if x.ndim == 0:
        return x, np.zeros((), np.int64)
    order = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, order, dim), order


@st.composite
def _topk_kwargs(draw, shape):
    dim = draw(S.axis(len(shape)))
    size = shape[dim] if shape else 1
    return {"k": draw(st.integers(0, size)), "dim": dim, "largest": draw(st.booleans())}


def _np_topk(x, k, dim, largest):
    values, order = _np_sort(x, dim, largest)
    if x.ndim == 0:
        return values, order
    window = (slice(None),) * (dim % x.ndim) + (slice(0, k),)
    return values[window], order[window]


@st.composite
def _roll_kwargs(draw, shape):
    if not shape or draw(st.booleans()):
        return {"shifts": draw(st.integers(-5, 5)), "dims": None}
    dims = draw(st.lists(S.axis(len(shape)), min_size=1, max_size=3))
    return {"shifts": tuple(draw(st.integers(-5, 5)) for _ in dims), "dims": tuple(dims)}


def _np_roll(x, shifts, dims):
    return np.roll(x, shifts, dims if x.ndim else None)


@st.composite
def _flip_kwargs(draw, shape):
    chosen = draw(st.lists(st.integers(0, max(len(shape), 1) - 1), unique=True, max_size=len(shape)))
    return {"dims": tuple(d - len(shape) if draw(st.booleans()) else d for d in chosen)}


def _np_flip(x, dims):
    return np.flip(x, tuple(d % x.ndim for d in dims)) if x.ndim else x.copy()


def _repeat_kwargs(shape):
    extra = st.lists(st.integers(0, 3), max_size=2)
    own = st.tuples(*[st.integers(0, 3) for _ in shape])
    return st.tuples(extra, own).map(lambda p: {"sizes": tuple(p[0]) + p[1]})


def _np_repeat(x, sizes):
    return np.tile(x, sizes)


@st.composite
def _chunk_kwargs(draw, shape):
    return {"chunks": draw(st.integers(1, 5)), "dim": draw(S.axis(len(shape)))}


def _np_chunk(x, chunks, dim):
    n = x.shape[dim]
    if n == 0:
        return tuple(x for _ in range(chunks))
    return _np_split(x, -(-n // chunks), dim)


def _cumsum_kwargs(shape):
    return _kwargs(dim=S.axis(len(shape)))


def _np_cumsum(x, dim):
    return np.cumsum(x, axis=dim) if x.ndim else x.copy()


# Each equation with a function that draws its operands' shapes from a few letter sizes.
EINSUM = {
    "ij,jk->ik": lambda n: [(n["i"], n["j"]), (n["j"], n["k"])],
    "bij,bjk->bik": lambda n: [(n["b"], n["i"], n["j"]), (n["b"], n["j"], n["k"])],
    "bhtd,bhsd->bhts": lambda n: [(n["b"], n["h"], n["i"], n["j"]), (n["b"], n["h"], n["k"], n["j"])],
    "ij,jk": lambda n: [(n["i"], n["j"]), (n["j"], n["k"])],
    "ii->i": lambda n: [(n["i"], n["i"])],
    "ii": lambda n: [(n["i"], n["i"])],
    "iij->j": lambda n: [(n["i"], n["i"], n["j"])],
    "ij->": lambda n: [(n["i"], n["j"])],
    "ij->ji": lambda n: [(n["i"], n["j"])],
    "i,j->ij": lambda n: [(n["i"],), (n["j"],)],
    "i,i->": lambda n: [(n["i"],), (n["i"],)],
    "ij,ij->i": lambda n: [(n["i"], n["j"]), (1, n["j"])],
    "ij,jk,kl->il": lambda n: [(n["i"], n["j"]), (n["j"], n["k"]), (n["k"], n["b"])],
    "...ij,...jk->...ik": lambda n: [(n["b"], n["i"], n["j"]), (n["j"], n["k"])],
    "b...,b->...": lambda n: [(n["b"], n["i"], n["j"]), (n["b"],)],
    "i,i,i->i": lambda n: [(n["i"],), (n["i"],), (n["i"],)],
}


@st.composite
def _einsum_args(draw):
    equation = draw(st.sampled_from(sorted(EINSUM)))
    sizes = {c: draw(st.integers(0 if c == "k" else 1, 3)) for c in "bhijk"}
    return tuple(EINSUM[equation](sizes)), {"equation": equation}


def _one_hot_kwargs(shape):
    choices = [4, 6] + ([-1] if 0 not in shape else [])
    return _kwargs(num_classes=st.sampled_from(choices))


def _np_one_hot(x, num_classes):
    n = int(x.max()) + 1 if num_classes == -1 else num_classes
    return (x[..., None] == np.arange(n)).astype(np.int64)


@st.composite
def _histc_kwargs(draw, shape):
    """An explicit range (test_surface has the data's own range, min == max)."""
    lo = draw(st.sampled_from([0.0, -1.0, -2.5]))
    return {"bins": draw(st.integers(1, 7)), "min": lo, "max": draw(st.sampled_from([1.0, 2.5]))}


def _np_histc(x, bins, min, max):
    data = x.reshape(-1)
    lo, hi = (min, max) if min != max or data.size == 0 else (data.min(), data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    inside = data[(data >= lo) & (data <= hi)]
    bins_of = np.minimum(((inside - lo) * bins / (hi - lo)).astype(np.int64), bins - 1)
    return np.bincount(bins_of, minlength=bins).astype(x.dtype)


def _np_round(x, decimals):
    scale = 10.0 ** abs(decimals)
    return np.rint(x * scale) / scale if decimals >= 0 else np.rint(x / scale) * scale


def _np_cumprod(x, dim):
    return np.cumprod(x, axis=dim) if x.ndim else x.copy()


CLASSES = Domain("classes 0..3", lambda rng, shape: rng.integers(0, 4, shape))
# About one element in three exactly 0: cumprod's gradient past zeros (none, one, several).
WITH_ZEROS = Domain("uniform(-2, 2), a third 0",
                    lambda rng, shape: rng.uniform(-2.0, 2.0, shape) * (rng.random(shape) > 0.35))
ABOVE_MINUS_ONE = Domain("uniform(-0.5, 2)", lambda rng, shape: rng.uniform(-0.5, 2.0, shape))


def _sg_with_index(fn):
    """Call fn with the kwarg `index` (a NumPy array) as a scratchgrad tensor."""
    return lambda *xs, index, **kw: fn(*xs, index=sg.tensor(index), **kw)


def _torch_with_index(fn):
    return lambda *xs, index, **kw: fn(*xs, index=torch.as_tensor(index), **kw)


SURFACE = [
    unary("tril", sg.tril, torch.tril, lambda x, diagonal: np.tril(x, diagonal),
          shapes=S.shapes(min_dims=2), kwargs=lambda s: _kwargs(diagonal=st.integers(-3, 3))),
    unary("x.triu(diagonal=)", lambda x, diagonal: x.triu(diagonal=diagonal),
          lambda x, diagonal: x.triu(diagonal=diagonal), lambda x, diagonal: np.triu(x, diagonal),
          shapes=S.shapes(min_dims=2), kwargs=lambda s: _kwargs(diagonal=st.integers(-3, 3))),
    binary("masked_fill(x, mask, -1.5)", lambda x, m: sg.masked_fill(x, m, -1.5),
           lambda x, m: torch.masked_fill(x, m, -1.5), lambda x, m: np.where(m, -1.5, x),
           (REAL, BOOL)),
    binary("x.masked_fill(mask, 0-d value)", lambda x, m, v: x.masked_fill(m, v.sum()),
           lambda x, m, v: x.masked_fill(m, v.sum()), lambda x, m, v: np.where(m, v.sum(), x),
           (REAL, BOOL, REAL)),
    OpCase("gather", _sg_with_index(lambda x, dim, index: sg.gather(x, dim, index)),
           _torch_with_index(lambda x, dim, index: torch.gather(x, dim, index)),
           _np_gather, _gather_args(), (REAL,)),
    OpCase("x.scatter_add", _sg_with_index(lambda x, src, dim, index: x.scatter_add(dim, index, src)),
           _torch_with_index(lambda x, src, dim, index: x.scatter_add(dim, index, src)),
           _np_scatter_add, _gather_args(extra_src=True), (REAL, REAL)),
    unary("index_select", _sg_with_index(lambda x, dim, index: sg.index_select(x, dim, index)),
          _torch_with_index(lambda x, dim, index: torch.index_select(x, dim, index)),
          lambda x, dim, index: np.take(x, index, axis=dim % x.ndim),
          shapes=S.shapes(min_dims=1), kwargs=_index_select_kwargs),
    unary("sort", sg.sort, torch.sort, _np_sort, DISTINCT, kwargs=_sort_kwargs),
    unary("x.argsort", lambda x, dim, descending: x.argsort(dim, descending),
          lambda x, dim, descending: x.argsort(dim, descending),
          lambda x, dim, descending: _np_sort(x, dim, descending)[1], DISTINCT,
          kwargs=_sort_kwargs, grad=False),
    unary("topk", sg.topk, torch.topk, _np_topk, DISTINCT, kwargs=_topk_kwargs),
    unary("cumsum", sg.cumsum, torch.cumsum, _np_cumsum, kwargs=_cumsum_kwargs),
    unary("x.cumsum(dim)", lambda x, dim: x.cumsum(dim), lambda x, dim: x.cumsum(dim), _np_cumsum,
          kwargs=_cumsum_kwargs),
    unary("cumprod", sg.cumprod, torch.cumprod, _np_cumprod, kwargs=_cumsum_kwargs),
    unary("cumprod (zeros)", sg.cumprod, torch.cumprod, _np_cumprod, WITH_ZEROS,
          kwargs=_cumsum_kwargs),
    unary("x.cumprod(dim)", lambda x, dim: x.cumprod(dim), lambda x, dim: x.cumprod(dim),
          _np_cumprod, WITH_ZEROS, kwargs=_cumsum_kwargs),
    unary("roll", sg.roll, torch.roll, _np_roll, kwargs=_roll_kwargs),
    unary("flip", sg.flip, torch.flip, _np_flip, kwargs=_flip_kwargs),
    unary("x.repeat(*sizes)", **same(_star("repeat")) | {"ref": _np_repeat}, kwargs=_repeat_kwargs),
    unary("chunk", sg.chunk, torch.chunk, _np_chunk, shapes=S.shapes(min_dims=1),
          kwargs=_chunk_kwargs),
    OpCase("einsum", lambda *xs, equation: sg.einsum(equation, *xs),
           lambda *xs, equation: torch.einsum(equation, *xs),
           lambda *xs, equation: np.einsum(equation, *xs), _einsum_args(), (REAL,)),
    unary("F.one_hot", sg.nn.functional.one_hot, F.one_hot, _np_one_hot,
          CLASSES, kwargs=_one_hot_kwargs, grad=False),
    unary("log10", sg.log10, torch.log10, np.log10, POSITIVE),
    unary("x.log2", lambda x: x.log2(), lambda x: x.log2(), np.log2, POSITIVE),
    unary("log1p", sg.log1p, torch.log1p, np.log1p, ABOVE_MINUS_ONE),
    unary("expm1", sg.expm1, torch.expm1, np.expm1),
    unary("rsqrt", sg.rsqrt, torch.rsqrt, lambda x: 1 / np.sqrt(x), POSITIVE),
    unary("x.rsqrt", lambda x: x.rsqrt(), lambda x: x.rsqrt(), lambda x: 1 / np.sqrt(x), POSITIVE),
    unary("reciprocal", sg.reciprocal, torch.reciprocal, np.reciprocal, NONZERO),
    unary("x.reciprocal", lambda x: x.reciprocal(), lambda x: x.reciprocal(), np.reciprocal,
          NONZERO),
    # PyTorch raises at a backward through //; scratchgrad's gradient is 0 (test_surface).
    binary("floor_divide", sg.floor_divide, torch.floor_divide, np.floor_divide, (REAL, NONZERO),
           grad=False),
    binary("a//b", **same(operator.floordiv), domains=(REAL, NONZERO), grad=False),
    unary("x//0.75", **same(lambda x: x // 0.75), grad=False),
    unary("3.5//x", **same(lambda x: 3.5 // x), domain=NONZERO, grad=False),
    binary("remainder", sg.remainder, torch.remainder, np.remainder, (REAL, NONZERO)),
    binary("a%b", **same(operator.mod), domains=(REAL, NONZERO)),
    unary("x%0.75", **same(lambda x: x % 0.75)),
    # PyTorch has no derivative for number % tensor (scratchgrad does: the rows above check it).
    unary("-2.5%x", **same(lambda x: -2.5 % x), domain=NONZERO, grad=False),
    binary("fmod", sg.fmod, torch.fmod, np.fmod, (REAL, NONZERO)),
    binary("a.fmod(b)", lambda a, b: a.fmod(b), lambda a, b: a.fmod(b), np.fmod, (REAL, NONZERO)),
    unary("x.fmod(0.75)", lambda x: x.fmod(0.75), lambda x: x.fmod(0.75), lambda x: np.fmod(x, 0.75)),
    # PyTorch's derivative of a rounded division is 0 (it raises at a backward through // only).
    binary("div(trunc)", lambda a, b: sg.div(a, b, rounding_mode="trunc"),
           lambda a, b: torch.div(a, b, rounding_mode="trunc"), lambda a, b: np.trunc(a / b),
           (REAL, NONZERO)),
    binary("a.div(b, floor)", lambda a, b: a.div(b, rounding_mode="floor"),
           lambda a, b: a.div(b, rounding_mode="floor"), np.floor_divide, (REAL, NONZERO)),
    binary("div(rounding_mode=None)", lambda a, b: sg.div(a, b, rounding_mode=None),
           lambda a, b: torch.div(a, b, rounding_mode=None), np.divide, (REAL, NONZERO)),
    unary("div(1.5, x, trunc)", lambda x: sg.div(1.5, x, rounding_mode="trunc"),
          lambda x: torch.div(torch.tensor(1.5, dtype=x.dtype), x, rounding_mode="trunc"),
          lambda x: np.trunc(1.5 / x), NONZERO),
    unary("trunc", sg.trunc, torch.trunc, np.trunc),
    unary("fix", sg.fix, torch.fix, np.trunc),
    unary("x.trunc", lambda x: x.trunc(), lambda x: x.trunc(), np.trunc),
    unary("sign", sg.sign, torch.sign, np.sign, NONZERO),
    unary("floor", sg.floor, torch.floor, np.floor),
    unary("x.ceil", lambda x: x.ceil(), lambda x: x.ceil(), np.ceil),
    unary("round", sg.round, torch.round, np.round),
    unary("round(decimals)", sg.round, torch.round, _np_round,
          kwargs=lambda s: _kwargs(decimals=st.integers(-1, 3)), gradcheck=False),
    unary("histc", sg.histc, torch.histc, _np_histc, kwargs=_histc_kwargs, grad=False),
    unary("x.T.contiguous()", **same(lambda x: x.T.contiguous()) | {"ref": lambda x: x.T}),
    unary("x.to(float64)", lambda x: x.to(sg.float64), lambda x: x.to(torch.float64),
          lambda x: x.astype(np.float64)),
]


# ---------------------------------------------------------------- rows: nn primitives, conv, pooling

def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _np_log_softmax_axis1(z):
    return _np_log_softmax(z, 1)


def _np_cross_entropy(z, target, label_smoothing=0.0):
    """Mean over the batch of -(1-ε) log p[target] - ε/C Σ_c log p[c], p = softmax(z)."""
    logp = _np_log_softmax_axis1(z)
    picked = np.take_along_axis(logp, target[:, None], axis=1)[:, 0]
    smooth = logp.mean(axis=1)
    return np.mean(-(1 - label_smoothing) * picked - label_smoothing * smooth)


@_ignore_warnings
def _np_bce_with_logits(z, t):
    return np.mean((1 - t) * z + np.logaddexp(0, -z))


@_ignore_warnings
def _np_bce(p, t):
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)))


def _np_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Direct convolution: a sum over kernel offsets of strided slices times weights."""
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    (sh, sw), (dh, dw), (kh, kw) = _pair(stride), _pair(dilation), w.shape[2:]
    if padding == "same":
        total = (dh * (kh - 1), dw * (kw - 1))
        pads = [(t // 2, t - t // 2) for t in total]
    else:
        pads = [(p, p) for p in _pair(0 if padding == "valid" else padding)]
    x = np.pad(x, [(0, 0), (0, 0), *pads])
    oh = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    cin, cout = x.shape[1] // groups, w.shape[0] // groups
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            for g in range(groups):
                out[:, g * cout:(g + 1) * cout] += np.einsum(
                    "nchw,oc->nohw", window[:, g * cin:(g + 1) * cin],
                    w[g * cout:(g + 1) * cout, :, i, j])
    if b is not None:
        out += b[:, None, None]
    return out[0] if unbatched else out


def _pool_size(n, k, s, p, d, ceil_mode):
    """Output size of a pooling along one dimension (PyTorch's formula)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input
        out -= 1
    return out


def _np_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               count_include_pad=True, divisor_override=None, average=False):
    """Max or average pooling, one output position at a time."""
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(kernel_size if stride is None else stride)
    h, w = x.shape[-2:]
    oh, ow = _pool_size(h, kh, sh, ph, dh, ceil_mode), _pool_size(w, kw, sw, pw, dw, ceil_mode)
    out = np.empty(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            top, left = i * sh - ph, j * sw - pw
            if average:  # PyTorch counts padding up to the padded edge, not past it
                bottom, right = min(top + kh, h + ph), min(left + kw, w + pw)
                padded_count = (bottom - top) * (right - left)
                top, left, bottom, right = max(top, 0), max(left, 0), min(bottom, h), min(right, w)
                window = x[..., top:bottom, left:right]
                count = padded_count if count_include_pad else window.shape[-2] * window.shape[-1]
                out[..., i, j] = window.sum(axis=(-2, -1)) / (divisor_override or count)
            else:
                rows = [r for r in range(top, top + dh * kh, dh) if 0 <= r < h]
                cols = [c for c in range(left, left + dw * kw, dw) if 0 <= c < w]
                out[..., i, j] = x[..., rows, :][..., cols].max(axis=(-2, -1), initial=-np.inf)
    return out


def _np_max_pool2d(x, **kwargs):
    return _np_pool2d(x, **kwargs)


def _np_avg_pool2d(x, **kwargs):
    return _np_pool2d(x, average=True, **kwargs)


PROBABILITY = Domain("uniform(0.1, 0.9)", lambda rng, shape: rng.uniform(0.1, 0.9, shape))
LOGITS = Domain("uniform(-6, 6)", lambda rng, shape: rng.uniform(-6.0, 6.0, shape))


@st.composite
def _class_target_args(draw):
    """Logits (N, C) with C ≥ 4 (CLASSES draws 0..3), targets (N,), a label smoothing."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(4, 5))
    return ((n, c), (n,)), {"label_smoothing": draw(st.sampled_from([0.0, 0.2]))}


@st.composite
def _probability_target_args(draw):
    """Logits and target probabilities of one shape (N, C[, d]), summed."""
    shape = draw(S.shapes(min_dims=2, max_dims=3, min_side=1, max_side=3))
    return (shape, shape), {"reduction": "sum"}


def _same_shapes(n):
    """n inputs of one shape, no keyword arguments."""
    return S.shapes().map(lambda shape: ((shape,) * n, {}))


@st.composite
def _layer_norm_args(draw):
    """x (..., *normalized) with 1 or 2 normalized dims; then a weight, or a weight and a bias.

    Not two normalized elements: there x̂ is ±1 up to eps, and the gradient (∝ 1 - x̂²) is all
    cancellation, off by ~1e-4 from float64's in float32 in PyTorch as here, each its own way."""
    normalized = draw(S.shapes(min_dims=1, max_dims=2, min_side=1).filter(
        lambda shape: math.prod(shape) != 2))
    batch = draw(S.shapes(max_dims=2))
    shapes = ((*batch, *normalized),) + (normalized,) * draw(st.integers(0, 2))
    return shapes, {"normalized_shape": normalized, "eps": draw(st.sampled_from([1e-5, 1e-2]))}


def _np_layer_norm(x, weight=None, bias=None, *, normalized_shape, eps):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    out = centred / np.sqrt((centred * centred).mean(axis=axes, keepdims=True) + eps)
    return out * (1 if weight is None else weight) + (0 if bias is None else bias)


NN = [
    # F.linear is one primitive (x Wᵀ + b), not a matmul and an add: checked here on its own.
    OpCase("F.linear", sg.nn.functional.linear, F.linear,
           lambda x, w, b=None: x @ w.T + (0 if b is None else b),
           S.linear_shapes().flatmap(_no_kwargs), (REAL,)),
    # F.layer_norm is one primitive too, whose rule reuses the forward's x̂ and 1/σ.
    OpCase("F.layer_norm", lambda x, *wb, normalized_shape, eps: sg.nn.functional.layer_norm(
               x, normalized_shape, *wb, eps=eps),
           lambda x, *wb, normalized_shape, eps: F.layer_norm(x, normalized_shape, *wb, eps=eps),
           _np_layer_norm, _layer_norm_args(), (REAL,)),
    OpCase("F.cross_entropy (class targets)", sg.nn.functional.cross_entropy, F.cross_entropy,
           _np_cross_entropy, _class_target_args(), (REAL, CLASSES)),
    OpCase("F.cross_entropy (probabilities)", sg.nn.functional.cross_entropy, F.cross_entropy,
           lambda z, p, reduction: -np.sum(p * _np_log_softmax_axis1(z)),
           _probability_target_args(), (REAL, POSITIVE)),
    OpCase("F.binary_cross_entropy_with_logits", sg.nn.functional.binary_cross_entropy_with_logits,
           F.binary_cross_entropy_with_logits, _np_bce_with_logits, _same_shapes(2),
           (LOGITS, PROBABILITY)),
    OpCase("F.binary_cross_entropy", sg.nn.functional.binary_cross_entropy,
           F.binary_cross_entropy, _np_bce, _same_shapes(2), (PROBABILITY, PROBABILITY)),
    OpCase("F.conv2d", sg.nn.functional.conv2d, F.conv2d, _np_conv2d, S.conv2d_args(), (REAL,)),
    OpCase("F.max_pool2d", sg.nn.functional.max_pool2d, F.max_pool2d, _np_max_pool2d,
           S.pool2d_args(average=False), (REAL,)),
    OpCase("F.avg_pool2d", sg.nn.functional.avg_pool2d, F.avg_pool2d, _np_avg_pool2d,
           S.pool2d_args(average=True), (REAL,)),
]


# ---------------------------------------------------------------- rows: ties (PyTorch only)

# Finite differences are wrong at kinks and ties, so these rows skip gradcheck;
# PyTorch's subgradient conventions are the oracle (ties share evenly, relu'(0) = 0).
TIE_CASES = [replace(case, name=f"{case.name} (ties)") for case in [
    reduction("amax", _torch_amax(torch.amax), _np_reduce(np.max), TIES, NONEMPTY,
              gradcheck=False),
    reduction("amin", _torch_amax(torch.amin), _np_reduce(np.min), TIES, NONEMPTY,
              gradcheck=False),
    reduction("argmax", _torch_reduce(torch.argmax), _np_reduce(np.argmax), TIES, NONEMPTY,
              axes=_one_axis, grad=False),
    reduction("prod", lambda x, axis, keepdims, alias: _torch_prod(x, axis, keepdims),
              _np_reduce(np.prod), TIES, gradcheck=False),
    binary("maximum", sg.maximum, torch.maximum, np.maximum, (TIES, TIES), gradcheck=False),
    binary("minimum", sg.minimum, torch.minimum, np.minimum, (TIES, TIES), gradcheck=False),
    unary("relu", sg.relu, torch.relu, lambda x: np.maximum(x, 0), TIES, gradcheck=False),
    unary("abs", sg.abs, torch.abs, np.abs, TIES, gradcheck=False),
    unary("leaky_relu", sg.leaky_relu, F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x),
          TIES, gradcheck=False),
    unary("clip(x, -1, 1)", lambda x: sg.clip(x, -1.0, 1.0), lambda x: torch.clamp(x, -1.0, 1.0),
          lambda x: np.clip(x, -1.0, 1.0), TIES, gradcheck=False),
    # Bounds with lo < hi only: at lo == hi PyTorch drops the gradient of x < lo entirely.
    binary("clip(x, lo, hi) tensors", sg.clip, _torch_clamp, np.clip, (TIES, TIE_LOW, TIE_HIGH),
           gradcheck=False),
    # Ties in a window: the whole gradient goes to its first maximum (row by row), as PyTorch.
    OpCase("F.max_pool2d", sg.nn.functional.max_pool2d, F.max_pool2d, _np_max_pool2d,
           S.pool2d_args(average=False), (TIES,), gradcheck=False),
]]


CASES = (ARITHMETIC + MATMUL + ELEMENTWISE + REDUCTIONS + SOFTMAX + SHAPES + INDEXING + COMPARISONS
         + SURFACE + NN)
