"""Every public op: check the arguments, apply PyTorch's dtype rules, then either
apply a primitive (primitives.py holds the derivatives) or compose primitives.

Composites here carry no derivative code: their gradients come from the
primitives they are built from.
"""
import builtins
import math

import numpy as np

from scratchgrad import dtypes
from scratchgrad import primitives as P
from scratchgrad.autograd import NO_PARAMS, Node, apply, grad_mode, next_seq, record
from scratchgrad.errors import (
    AxisError,
    DTypeError,
    GraphError,
    ShapeError,
    ValueRangeError,
    broadcast_error,
    describe_shape,
    normalize_axes,
    normalize_axis,
)
from scratchgrad.tensor import Tensor

_PYTHON_NUMBERS = (bool, int, float)
_new = object.__new__


def as_tensor(x):
    """A Tensor as is; anything else (number, list, array) becomes a new constant Tensor."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


# ---------------------------------------------------------------- elementwise: dtypes and broadcasting

def _operands(a, b):
    """The raw values of a and b, cast where needed so NumPy's result dtype is PyTorch's."""
    ta, tb = type(a), type(b)
    if isinstance(a, Tensor):
        ad = a.data
        if isinstance(b, Tensor):
            if ad.dtype is b.data.dtype:
                return ad, b.data
        elif (tb is float and ad.dtype.kind == "f") or (tb is int and ad.dtype.kind in "fi"):
            return ad, _constants.get((b, ad.dtype)) or _constant(b, ad.dtype)
    elif isinstance(b, Tensor):
        bd = b.data
        if (ta is float and bd.dtype.kind == "f") or (ta is int and bd.dtype.kind in "fi"):
            return _constants.get((a, bd.dtype)) or _constant(a, bd.dtype), bd
    return _promoted(a, b)


# NumPy converts a Python number on every call, which costs more than the arithmetic on a
# small array; a cached 0-d array of the tensor's dtype gives the same result twice as fast.
_constants = {}


def _constant(value, dtype):
    if value == 0 or math.isnan(value):  # keep -0.0 and NaN out: == can't tell them apart
        return value
    if len(_constants) > 4096:
        _constants.clear()
    cached = _constants[(value, dtype)] = np.array(value, dtype)
    cached.flags.writeable = False
    return cached


def _promoted(*values):
    """Slow path of _operands: convert lists and arrays, then cast everything to PyTorch's dtype."""
    # A NumPy scalar counts as a Python number (as in PyTorch): np.float64(2) * t stays float32.
    values = [v.item() if isinstance(v, np.generic) else
              v if isinstance(v, (Tensor, *_PYTHON_NUMBERS)) else _constant_array(v)
              for v in values]
    target = dtypes.result_dtype(*values)
    if builtins.all(isinstance(v, _PYTHON_NUMBERS) for v in values):  # sg.add(2, 3)
        return tuple(np.array(v, target) for v in values)
    return tuple(v if isinstance(v, _PYTHON_NUMBERS) else _raw(v).astype(target, copy=False)
                 for v in values)


def _constant_array(v):
    if isinstance(v, (np.ndarray, np.generic)):
        return np.asarray(v)
    return Tensor(v).data


def _is_float(v):
    return type(v) is float or (not isinstance(v, (int, bool)) and v.dtype.kind == "f")


def elementwise_function(op, doc):
    """Make the public function of a broadcasting binary primitive (add, mul, ...)."""
    forward = op.forward

    def elementwise(a, b):
        # The two commonest cases first, inline (the hot path of every small network):
        # tensors of one dtype, and a tensor with a Python float seen before.
        if isinstance(a, Tensor):
            ad = a.data
            if isinstance(b, Tensor) and ad.dtype is b.data.dtype:
                bd = b.data
            elif type(b) is not float or (bd := _constants.get((b, ad.dtype))) is None:
                ad, bd = _operands(a, b)
        else:
            ad, bd = _operands(a, b)
        # What record() does, inlined: this is the hottest path of a small network's forward.
        out = _new(Tensor)
        try:
            out.data = forward(ad, bd)
        except ValueError as exc:
            raise _shape_clash(op.name, exc, np.shape(ad), np.shape(bd)) from None
        except TypeError:  # NumPy refuses e.g. bool - bool
            raise _dtype_clash(op.name, ad, bd) from None
        out.grad = None
        if grad_mode.enabled and ((isinstance(a, Tensor) and a.requires_grad)
                                  or (isinstance(b, Tensor) and b.requires_grad)):
            node = _new(Node)
            node.op = op
            node.inputs = (a, b)
            node.args = (ad, bd)
            node.params = NO_PARAMS
            node.seq = next_seq()
            out.requires_grad = True
            out.grad_fn = node
        else:
            out.requires_grad = False
            out.grad_fn = None
        return out

    elementwise.__name__ = elementwise.__qualname__ = op.name
    elementwise.__doc__ = doc
    return elementwise


def _dtype_clash(name, *values):
    kinds = " and ".join(str(np.result_type(v)) for v in values)
    return DTypeError(f"{name}: not defined for {kinds} operands")


def _shape_clash(name, exc, *shapes):
    """A ValueError from NumPy is a broadcasting clash (reworded) or a real bug (kept)."""
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return broadcast_error(name, *shapes)
    return ValueRangeError(f"{name}: {exc}")


add = elementwise_function(P.add, "a + b")
sub = elementwise_function(P.sub, "a - b")
mul = elementwise_function(P.mul, "a * b")


def div(a, b):
    """a / b, always a float result (int / int gives float32, as in PyTorch)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    ad, bd = _operands(a, b)
    if not (_is_float(ad) or _is_float(bd)):
        ad, bd = _to_float(ad), _to_float(bd)
    try:
        return apply(P.div, (a, b), (ad, bd))
    except ValueError as exc:
        raise _shape_clash("div", exc, np.shape(ad), np.shape(bd)) from None


def _to_float(v):
    return float(v) if isinstance(v, (int, bool)) else v.astype(dtypes.default_float)


pow = elementwise_function(P.pow, "a ** b")


maximum = elementwise_function(P.maximum, "Elementwise max; a tie sends half the gradient to each side.")


minimum = elementwise_function(P.minimum, "Elementwise min; a tie sends half the gradient to each side.")


def neg(x):
    """-x"""
    x = as_tensor(x)
    if x.dtype == dtypes.bool_:
        raise _dtype_clash("neg", x.data)
    return apply(P.neg, (x,), (x.data,))


def where(cond, a, b):
    """a where cond is True, else b (cond gets no gradient)."""
    c = _raw(cond) if isinstance(cond, Tensor) else np.asarray(cond)
    if c.dtype != dtypes.bool_:
        raise DTypeError(f"where: the condition must be a bool tensor, got {c.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    ad, bd = _operands(a, b)
    try:
        return apply(P.where, (cond, a, b), (c, ad, bd))
    except ValueError as exc:
        raise _shape_clash("where", exc, c.shape, np.shape(ad), np.shape(bd)) from None


def matmul(a, b):
    """Matrix product with NumPy/PyTorch rules: 1-D vectors, batches, broadcast batch dims."""
    a, b = as_tensor(a), as_tensor(b)
    ad, bd = _operands(a, b)
    if ad.ndim == 0 or bd.ndim == 0:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{describe_shape(ad.shape)} and {describe_shape(bd.shape)}")
    try:
        return apply(P.matmul, (a, b), (ad, bd))
    except ValueError:
        raise _matmul_error(ad.shape, bd.shape) from None


def _matmul_error(sa, sb):
    inner_b = -2 if len(sb) > 1 else -1
    shapes = f"shapes {describe_shape(sa)} and {describe_shape(sb)}"
    if sa[-1] != sb[inner_b]:
        return ShapeError(f"matmul: {shapes} don't line up: {sa[-1]} != {sb[inner_b]} "
                          f"(dimension -1 of the first vs dimension {inner_b} of the second)")
    return ShapeError(f"matmul: {shapes}: batch dimensions {describe_shape(sa[:-2])} and "
                      f"{describe_shape(sb[:-2])} can't broadcast")


# ---------------------------------------------------------------- elementwise functions

def _float_function(op, doc):
    """Make the public function of a float-valued primitive (exp, tanh, ...): bool and int
    inputs become float32 first, as in PyTorch."""
    forward = op.forward

    def float_function(x):
        if not isinstance(x, Tensor):
            x = Tensor(x)
        xd = x.data
        if xd.dtype.kind != "f":
            xd = xd.astype(dtypes.default_float)
        return record(op, forward(xd), (x,), (xd,))

    float_function.__name__ = float_function.__qualname__ = op.name
    float_function.__doc__ = doc
    return float_function


exp = _float_function(P.exp, "e^x")
log = _float_function(P.log, "natural logarithm")
sqrt = _float_function(P.sqrt, "square root")
sin = _float_function(P.sin, "sine")
cos = _float_function(P.cos, "cosine")
tanh = _float_function(P.tanh, "hyperbolic tangent")
sigmoid = _float_function(P.sigmoid, "1 / (1 + e^-x)")
erf = _float_function(P.erf, "the error function, 2/sqrt(pi) ∫_0^x e^(-t²) dt")
_softplus = _float_function(P.softplus, "log(1 + e^x)")


def abs(x):
    x = as_tensor(x)
    return apply(P.abs, (x,), (x.data,))


def relu(x):
    """max(x, 0); the gradient at 0 is 0, as in PyTorch."""
    x = as_tensor(x)
    return apply(P.relu, (x,), (x.data,))


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    x = as_tensor(x)
    return where(x > 0, x, x * negative_slope)


def gelu(x, approximate="none"):
    """x * Φ(x), Φ the standard normal CDF; approximate='tanh' uses PyTorch's tanh formula."""
    x = as_tensor(x)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
        return 0.5 * x * (1 + tanh(inner))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule)."""
    x = as_tensor(x)
    scaled = x * beta if beta != 1 else x
    smooth = _softplus(scaled)
    if beta != 1:
        smooth = smooth / beta
    return where(scaled > threshold, x, smooth)


def clip(x, min=None, max=None):
    """Limit x to [min, max]; bounds may be numbers or tensors (which then get gradients)."""
    x = as_tensor(x)
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None:
        x = where(x < min, min, x)
    if max is not None:
        x = where(x > max, max, x)
    return x


clamp = clip


def sign(x):
    """-1, 0 or 1 (no gradient: the derivative is 0 almost everywhere)."""
    return Tensor._wrap(np.sign(_raw(as_tensor(x))))


def cast(x, dtype):
    """x as another dtype; gradients flow back in x's own dtype."""
    dtype = dtypes.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    out = apply(P.cast, (x,), (x.data,), {"dtype": dtype})
    if dtype.kind != "f" and out.requires_grad:  # an int result can't carry gradients
        out = out.detach()
    return out


def clone(x):
    return apply(P.copy, (x,), (x.data,))


# ---------------------------------------------------------------- comparisons and logic (no gradient)

def _compare(ufunc, name, a, b):
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    ad, bd = _operands(a, b)
    try:
        return Tensor._wrap(ufunc(ad, bd))
    except ValueError as exc:
        raise _shape_clash(name, exc, np.shape(ad), np.shape(bd)) from None


def lt(a, b):
    return _compare(np.less, "lt", a, b)


def le(a, b):
    return _compare(np.less_equal, "le", a, b)


def gt(a, b):
    return _compare(np.greater, "gt", a, b)


def ge(a, b):
    return _compare(np.greater_equal, "ge", a, b)


def eq(a, b):
    if b is None or isinstance(b, str):
        return False
    return _compare(np.equal, "eq", a, b)


def ne(a, b):
    if b is None or isinstance(b, str):
        return True
    return _compare(np.not_equal, "ne", a, b)


def logical_and(a, b):
    return _compare(np.bitwise_and, "and", a, b)


def logical_or(a, b):
    return _compare(np.bitwise_or, "or", a, b)


def logical_not(x):
    return Tensor._wrap(np.invert(_raw(as_tensor(x))))


def isnan(x):
    return Tensor._wrap(np.isnan(_raw(as_tensor(x))))


def isfinite(x):
    return Tensor._wrap(np.isfinite(_raw(as_tensor(x))))


# ---------------------------------------------------------------- reductions

def _reduction_axes(name, x, axis, keepdims, dim, keepdim):
    """Accept NumPy's (axis, keepdims) or PyTorch's (dim, keepdim) spelling."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: give axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return normalize_axes(name, axis, x.ndim), builtins.bool(keepdims)


def _reduced_count(x, axes):
    return math.prod(x.shape[a] for a in axes)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    """Σ over the given axes (all by default)."""
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    axes, keepdims = _reduction_axes("sum", x, axis, keepdims, dim, keepdim)
    xd = x.data
    if xd.dtype.kind in "bu" or xd.dtype == dtypes.int32:
        xd = xd.astype(dtypes.int64)  # PyTorch sums bools and ints as int64
    return apply(P.sum, (x,), (xd,), {"axis": axes, "keepdims": keepdims})


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Σx / n over the given axes."""
    x = as_tensor(x)
    axes, keepdims = _reduction_axes("mean", x, axis, keepdims, dim, keepdim)
    if x.dtype.kind != "f":
        raise DTypeError(f"mean: input dtype must be floating point, got {x.dtype}; "
                         "use .float() first")
    return sum(x, axes, keepdims) / _reduced_count(x, axes)


def var(x, axis=None, unbiased=None, keepdims=False, *, correction=None, dim=None, keepdim=None):
    """Σ(x - mean)² / (n - correction); correction=1 (unbiased) by default, as in PyTorch."""
    return _variance("var", x, axis, unbiased, keepdims, correction, dim, keepdim)


def std(x, axis=None, unbiased=None, keepdims=False, *, correction=None, dim=None, keepdim=None):
    """sqrt(var(x)); where var is 0 the gradient is 0, as in PyTorch (not 0 · ∞)."""
    v = _variance("std", x, axis, unbiased, keepdims, correction, dim, keepdim)
    flat = v == 0
    # sqrt never sees the zeros (their branch of where gets no gradient), so no 0/0 appears.
    return where(flat, 0, sqrt(where(flat, 1, v)))


def _variance(name, x, axis, unbiased, keepdims, correction, dim, keepdim):
    x = as_tensor(x)
    axes, keepdims = _reduction_axes(name, x, axis, keepdims, dim, keepdim)
    if x.dtype.kind != "f":
        raise DTypeError(f"{name}: input dtype must be floating point, got {x.dtype}")
    if correction is None:
        correction = 0 if unbiased is False else 1
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) / builtins.max(_reduced_count(x, axes) - correction, 0)


def _extremum(op, x, axis, keepdims, dim, keepdim):
    x = as_tensor(x)
    axes, keepdims = _reduction_axes(op.name, x, axis, keepdims, dim, keepdim)
    if x.data.size == 0 and (axis is None and dim is None or _reduced_count(x, axes) == 0):
        raise ShapeError(f"{op.name}: can't reduce an empty tensor of shape "
                         f"{describe_shape(x.shape)} over axis {axes}: there is no identity")
    return apply(op, (x,), (x.data,), {"axis": axes, "keepdims": keepdims})


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Largest element over the axes; ties share the gradient evenly. max(x, y) is maximum."""
    if isinstance(axis, Tensor):
        return maximum(x, axis)
    return _extremum(P.max, x, axis, keepdims, dim, keepdim)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Smallest element over the axes; ties share the gradient evenly. min(x, y) is minimum."""
    if isinstance(axis, Tensor):
        return minimum(x, axis)
    return _extremum(P.min, x, axis, keepdims, dim, keepdim)


amax = max
amin = min


def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Π over the given axes."""
    x = as_tensor(x)
    axes, keepdims = _reduction_axes("prod", x, axis, keepdims, dim, keepdim)
    xd = x.data.astype(dtypes.int64) if x.dtype.kind in "bu" else x.data
    return apply(P.prod, (x,), (xd,), {"axis": axes, "keepdims": keepdims})


def _shifted(x, axes):
    """x - m, with m the max over the axes (0 where the max isn't finite) as a constant.

    Shifting by the max keeps exp from overflowing; since the shift's derivative cancels
    out of logsumexp and softmax exactly, m is detached (no gradient through it).
    """
    m = np.max(x.data, axis=axes, keepdims=True) if x.data.size else np.zeros(())
    return x - Tensor._wrap(np.where(np.isfinite(m), m, 0)), m


def _as_float(x):
    x = as_tensor(x)
    return x if x.dtype.kind == "f" else cast(x, dtypes.default_float)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log Σ exp(x), computed as m + log Σ exp(x - m) with m the max, so it can't overflow."""
    x = _as_float(x)
    axes, keepdims = _reduction_axes("logsumexp", x, axis, keepdims, dim, keepdim)
    shifted, m = _shifted(x, axes)
    total = log(sum(exp(shifted), axes, keepdims=True)) + np.where(np.isfinite(m), m, 0)
    return total if keepdims else total.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def softmax(x, axis=-1, *, dim=None):
    """exp(x) / Σ exp(x) along an axis, computed on x - max(x) so exp can't overflow."""
    x = _as_float(x)
    axis = normalize_axis("softmax", axis if dim is None else dim, x.ndim)
    e = exp(_shifted(x, (axis,) if x.ndim else ())[0])
    return e / sum(e, axis, keepdims=True)


def log_softmax(x, axis=-1, *, dim=None):
    """(x - m) - log Σ exp(x - m) along an axis: stable for logits of any size.

    Subtracting the max before the log-sum keeps float32 exact near ±1e4, where
    x - logsumexp(x) would lose digits to the large intermediate m + log Σ.
    """
    x = _as_float(x)
    axis = normalize_axis("log_softmax", axis if dim is None else dim, x.ndim)
    shifted = _shifted(x, (axis,) if x.ndim else ())[0]
    return shifted - log(sum(exp(shifted), axis, keepdims=True))


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the largest element (flattened when axis is None); no gradient."""
    return _arg_extremum(np.argmax, "argmax", x, axis, keepdims, dim, keepdim)


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the smallest element (flattened when axis is None); no gradient."""
    return _arg_extremum(np.argmin, "argmin", x, axis, keepdims, dim, keepdim)


def _arg_extremum(fn, name, x, axis, keepdims, dim, keepdim):
    x = as_tensor(x)
    axis = axis if dim is None else dim
    keepdims = keepdims if keepdim is None else keepdim
    if x.data.size == 0:
        raise ShapeError(f"{name}: can't take the {name} of an empty tensor of shape "
                         f"{describe_shape(x.shape)}")
    if axis is not None:
        axis = normalize_axis(name, axis, x.ndim)
        if x.ndim == 0:
            axis = None
    out = fn(x.data, axis=axis, keepdims=keepdims)
    return Tensor._wrap(np.asarray(out, dtype=dtypes.int64))


def any(x, axis=None, keepdims=False):
    return Tensor._wrap(np.any(_raw(as_tensor(x)), axis=axis, keepdims=keepdims))


def all(x, axis=None, keepdims=False):
    return Tensor._wrap(np.all(_raw(as_tensor(x)), axis=axis, keepdims=keepdims))


# ---------------------------------------------------------------- shapes

def _shape_args(name, shape):
    """reshape(2, 3) and reshape((2, 3)) both mean the shape (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: a shape must be ints, got {shape!r}") from None


def reshape(x, *shape):
    """The same elements in a new shape (one size may be -1: inferred)."""
    x = as_tensor(x)
    shape = _shape_args("reshape", shape)
    try:
        return apply(P.reshape, (x,), (x.data,), {"shape": shape})
    except ValueError:
        raise ShapeError(f"reshape: can't reshape a tensor of shape {describe_shape(x.shape)} "
                         f"({x.data.size} elements) into {describe_shape(shape)}") from None


view = reshape


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_axis("flatten", start_dim, x.ndim)
    end = normalize_axis("flatten", end_dim, x.ndim)
    if start > end:
        raise AxisError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:]
    return reshape(x, shape)


def permute(x, *axes):
    """Reorder the dimensions: result dimension i is input dimension axes[i]."""
    x = as_tensor(x)
    axes = _shape_args("permute", axes)
    normalized = tuple(normalize_axis("permute", a, x.ndim) for a in axes)
    if sorted(normalized) != list(range(x.ndim)):
        raise AxisError(f"permute: {axes} is not a permutation of the {x.ndim} dimensions "
                        f"of a tensor of shape {describe_shape(x.shape)}")
    return apply(P.permute, (x,), (x.data,), {"axes": normalized})


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
    try:
        return apply(P.broadcast_to, (x,), (x.data,), {"shape": shape})
    except ValueError:
        raise broadcast_error("broadcast_to", x.shape, shape) from None


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
        return np.asarray(k.data)
    if isinstance(k, list):
        return np.asarray([int(i) if isinstance(i, Tensor) else i for i in k])
    return k


def index(x, key):
    """x[key] with ints, slices, None, Ellipsis, bool masks and int arrays."""
    key = _index_key(key)
    try:
        return apply(P.index, (x,), (x.data,), {"key": key})
    except IndexError as exc:
        raise IndexError(f"index: {exc} (tensor of shape {describe_shape(x.shape)})") from None
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"index: can't index a tensor of shape {describe_shape(x.shape)} with "
                        f"{key!r}: {exc}") from None


def setitem(x, key, value):
    """x[key] = value, in place: allowed only when no gradient could be affected."""
    if grad_mode.enabled and (x.requires_grad or getattr(value, "requires_grad", False)):
        raise GraphError("setitem: can't assign into a tensor that requires grad (or from one) "
                         "while recording a graph; do it inside `with sg.no_grad():` or build "
                         "a new tensor with sg.where / sg.cat")
    if not isinstance(x.data, np.ndarray) or not x.data.flags.writeable:
        x.data = np.array(x.data)
    try:
        x.data[_index_key(key)] = _raw(value)
    except (IndexError, ValueError) as exc:
        raise type(exc)(f"setitem: {exc} (tensor of shape {describe_shape(x.shape)})") from None


def inplace(x, other, op):
    """x op= other: change x's data when no graph is recorded, else fall back to x = x op other."""
    if grad_mode.enabled and (x.requires_grad or getattr(other, "requires_grad", False)):
        if x.requires_grad and x.grad_fn is None:
            raise GraphError("in-place: a leaf tensor that requires grad can't be changed in place "
                             "while recording a graph; update it inside `with sg.no_grad():`")
        return op(x, other)
    result = op(x, other).data
    if not np.can_cast(result.dtype, x.dtype, casting="same_kind"):
        raise DTypeError(f"in-place: the result is {result.dtype} and can't be stored in a "
                         f"{x.dtype} tensor")
    if np.shape(result) != x.shape:
        raise broadcast_error("in-place", x.shape, np.shape(result))
    if isinstance(x.data, np.ndarray) and x.data.flags.writeable:
        np.copyto(x.data, result, casting="same_kind")
    else:
        x.data = np.array(result, dtype=x.dtype)
    return x


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
    return apply(P.cat, tuple(tensors), arrays, {"axis": axis})


concatenate = cat


def stack(tensors, axis=0, *, dim=None):
    """Join same-shaped tensors along a new axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
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
            raise ValueError(f"split: split size must be positive, got {size}")
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
    return tuple(pieces)


def pad(x, pad, mode="constant", value=0):
    """PyTorch's F.pad: pad = (last_before, last_after, prev_before, ...); negatives crop."""
    x = as_tensor(x)
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: needs an even number of sizes, at most 2 per dimension; got "
                         f"{len(pad)} for a tensor of shape {describe_shape(x.shape)}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if builtins.any(b < 0 or a < 0 for b, a in widths):  # negative padding crops first
        crop = tuple(slice(-builtins.min(b, 0), n + builtins.min(a, 0))
                     for (b, a), n in zip(widths, x.shape))
        x = index(x, crop)
        widths = [(builtins.max(b, 0), builtins.max(a, 0)) for b, a in widths]
    return apply(P.pad, (x,), (x.data,), {"widths": tuple(widths), "value": value})


# ---------------------------------------------------------------- NumPy interoperability

_UFUNCS = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div, np.power: pow,
    np.negative: neg, np.exp: exp, np.log: log, np.sqrt: sqrt, np.sin: sin, np.cos: cos,
    np.tanh: tanh, np.absolute: abs, np.maximum: maximum, np.minimum: minimum,
    np.matmul: matmul, np.less: lt, np.less_equal: le, np.greater: gt, np.greater_equal: ge,
    np.equal: eq, np.not_equal: ne, np.bitwise_and: logical_and, np.bitwise_or: logical_or,
    np.logical_and: logical_and, np.logical_or: logical_or,
}


def _np_transpose(x, axes=None):
    return permute(x, tuple(range(x.ndim - 1, -1, -1)) if axes is None else tuple(axes))


_FUNCTIONS = {
    np.where: where, np.broadcast_to: broadcast_to, np.swapaxes: transpose,
    np.expand_dims: expand_dims, np.transpose: _np_transpose, np.reshape: reshape,
    np.sum: sum, np.mean: mean, np.concatenate: cat, np.stack: stack, np.clip: clip,
}


def _plain(value):
    """Tensors (also inside lists and tuples) as NumPy arrays, for NumPy functions we don't map."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


# Ufuncs whose derivative is zero (or undefined) everywhere: on a Tensor they simply give
# plain NumPy results, which carry no gradient, correctly.
_CONSTANT_UFUNCS = {np.sign, np.isfinite, np.isnan, np.isinf, np.floor, np.ceil, np.rint,
                    np.trunc, np.signbit, np.logical_not}


def numpy_ufunc(ufunc, method, inputs, kwargs):
    """np.exp(t), ndarray + t, ...: scratchgrad's op where there is one, else plain NumPy."""
    fn = _UFUNCS.get(ufunc)
    if fn is not None and method == "__call__" and not kwargs:
        return fn(*inputs)
    if (ufunc not in _CONSTANT_UFUNCS and grad_mode.enabled
            and builtins.any(getattr(x, "requires_grad", False) for x in inputs)):
        raise TypeError(f"np.{ufunc.__name__} has no scratchgrad op: on a tensor that requires "
                        "grad its result would silently carry no gradient; use scratchgrad's ops")
    return getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))


def numpy_function(func, args, kwargs):
    fn = _FUNCTIONS.get(func)
    if fn is not None:
        return fn(*args, **kwargs)
    return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})


__all__ = [name for name in dir() if not name.startswith("_") and name not in
           ("np", "math", "builtins", "dtypes", "P", "apply", "grad_mode", "sum_to", "Tensor",
            "AxisError", "DTypeError", "GraphError", "ShapeError", "broadcast_error",
            "describe_shape", "normalize_axes", "normalize_axis")]
