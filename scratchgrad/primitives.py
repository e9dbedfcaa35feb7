"""The primitives: each op's NumPy forward with its derivative rules beside it.

Read a row as "op = forward, then the gradient for each input". In a rule,
`g` is the gradient arriving at the op's output, `ans` the output, `x`, `y`
the inputs; each rule returns that input's gradient. Rules return the
gradient in the output's shape: the engine sums broadcast dimensions away
and casts to the input's dtype (core/engine.py's fit_gradient), so no rule does.

The same rule runs on NumPy arrays (ordinary backward) and on Tensors
(create_graph=True: `np.cos(x)` on a Tensor dispatches to scratchgrad's cos),
so every rule is itself differentiable. Everything not here (softmax, var,
clip, stack, ...) is composed from these in ops.py and has no rule of its own.
"""
import builtins
import math
import string

import numpy as np

from scratchgrad.core.engine import Primitive, call, per_input
from scratchgrad.core.errors import GraphError, InPlaceError
from scratchgrad.core.quiet import quietly

# ---------------------------------------------------------------- arithmetic

add = Primitive("add", np.add,
                lambda g, ans, x, y: g,
                lambda g, ans, x, y: g,
                saves=False)
sub = Primitive("sub", np.subtract,
                lambda g, ans, x, y: g,
                lambda g, ans, x, y: -g,
                saves=False)
mul = Primitive("mul", np.multiply,
                lambda g, ans, x, y: g * y,
                lambda g, ans, x, y: g * x)
# y's rule reads x, not ans (= x / y), as PyTorch's does: so modifying x in place after a
# division raises at backward, and modifying the quotient doesn't, as there.
div = Primitive("div", quietly(np.true_divide),
                lambda g, ans, x, y: g / y,
                lambda g, ans, x, y: -g * (x / y) / y)


_MULTIPLIED_POWERS = (2, 3, -1, -2, 0.5, -0.5)


def _power(x, y):
    """x ** y. A float tensor to the power 2, 3, -1, -2, 1/2 or -1/2 is worked out as PyTorch's
    kernel does, by multiplying, dividing and square roots (so with its roundings): NumPy's
    general power takes ~50 ns an element (x ** 3 over 16·64·512 floats: 25 ms, not 0.3)."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and np.ndim(y) == 0 \
            and float(y) in _MULTIPLIED_POWERS:
        e, out = float(y), np.empty_like(x)  # an array even for 0-d x (ufuncs give scalars)
        if e == 2:
            return np.square(x, out=out)
        if e == 3:
            np.square(x, out=out)
            return np.multiply(out, x, out=out)
        if e == -1:
            return np.reciprocal(x, out=out)
        if e == -2:
            np.square(x, out=out)
            return np.reciprocal(out, out=out)
        if e == 0.5:
            return np.sqrt(x, out=out)
        if e == -0.5:
            np.sqrt(x, out=out)
            return np.reciprocal(out, out=out)
    return np.power(x, y)


def _pow_grad_base(g, ans, x, y):
    """g·y·x^(y-1), and 0 where y == 0, even at x == 0 (PyTorch's convention)."""
    if isinstance(y, (int, float)):
        return g * 0 if y == 0 else g * (y * x ** (y - 1))
    if isinstance(x, np.ndarray) and np.ndim(y) == 0:
        return g * 0 if y == 0 else g * (y * _power(x, y - 1))
    return np.where(y == 0, 0, g * (y * x ** (y - 1)))


def _pow_grad_exponent(g, ans, x, y):
    """g·x^y·log(x), and 0 where x == 0 and y >= 0 (PyTorch's convention)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.log(np.where(x == 0, 1, x))
    return np.where((x == 0) & (y >= 0), 0, g * ans * log_x)


pow = Primitive("pow", quietly(_power), _pow_grad_base, _pow_grad_exponent)
neg = Primitive("neg", np.negative,
                lambda g, ans, x: -g,
                saves=False)


def _tie_share(x, y):
    """1 where x wins, 0 where it loses, 1/2 on ties (PyTorch splits ties evenly)."""
    return (x > y) + (x == y) * 0.5


maximum = Primitive("maximum", np.maximum,
                    lambda g, ans, x, y: g * _tie_share(x, y),
                    lambda g, ans, x, y: g * _tie_share(y, x))
minimum = Primitive("minimum", np.minimum,
                    lambda g, ans, x, y: g * _tie_share(y, x),
                    lambda g, ans, x, y: g * _tie_share(x, y))
where = Primitive("where", np.where,
                  None,
                  lambda g, ans, cond, x, y: np.where(cond, g, 0),
                  lambda g, ans, cond, x, y: np.where(cond, 0, g))


# ---------------------------------------------------------------- matmul

def _matmul_grad_x(g, ans, x, y):
    """g @ yᵀ, a 1-D x counting as a row and a 1-D y as a column."""
    if y.ndim == 1:
        return np.expand_dims(g, -1) * y            # (..., n, 1) * (m,) -> outer product
    if x.ndim == 1:
        return (y @ np.expand_dims(g, -1))[..., 0]   # (..., n, m) @ (..., m, 1)
    return g @ np.swapaxes(y, -1, -2)


def _matmul_grad_y(g, ans, x, y):
    """xᵀ @ g, with the same 1-D conventions."""
    if x.ndim == 1 and y.ndim == 1:
        return g * x                                # a dot product: g is a scalar
    if x.ndim == 1:
        return np.expand_dims(x, -1) * np.expand_dims(g, -2)
    if y.ndim == 1:
        return (np.swapaxes(x, -1, -2) @ np.expand_dims(g, -1))[..., 0]
    return np.swapaxes(x, -1, -2) @ g


matmul = Primitive("matmul", quietly(np.matmul), _matmul_grad_x, _matmul_grad_y)


def _rows(x):
    """x with its batch dimensions merged into one: NumPy multiplies one big (rows, features)
    matrix about 1.6x faster than a stack of small ones (a GPT's (16, 64, 128) activations)."""
    return x.reshape(-1, x.shape[-1]) if x.ndim > 2 else x


def _linear(x, w, b):
    """x @ wᵀ + b. One primitive (not transpose, matmul, add) because it is every MLP's hot
    path: one node instead of three, and w's gradient comes out contiguous, ready for .grad."""
    out = _rows(x) @ w.T
    if b is not None:
        out += b
    return out.reshape(*x.shape[:-1], w.shape[0]) if x.ndim > 2 else out


def _linear_grad_x(g, ans, x, w, b):
    """g @ w, batch dimensions merged for the product."""
    return (_rows(g) @ w).reshape(x.shape)


def _linear_grad_w(g, ans, x, w, b):
    """gᵀ @ x, summed over every batch dimension."""
    return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])


def _summed_to(v, shape):
    """v summed over its leading dimensions down to `shape`, as a product with a vector of ones:
    NumPy's sum(axis=0) is ten times slower on a batch of narrow rows (1000 × 16: 17 µs against
    1.4 µs)."""
    rows = v.reshape(-1, math.prod(shape))
    return (np.ones(rows.shape[0], dtype=v.dtype) @ rows).reshape(shape)


def _linear_grad_b(g, ans, x, w, b):
    """Σ g over every batch dimension."""
    return _summed_to(g, g.shape[-1:])


linear = Primitive("linear", quietly(_linear),
                   _linear_grad_x,
                   _linear_grad_w,
                   _linear_grad_b)


# ---------------------------------------------------------------- elementwise functions

# The float functions: each row is also sg.<name>, Tensor.<name> and, in place, Tensor.<name>_,
# with int and bool inputs computed in float32 as in PyTorch (ops/elementwise.py and
# ops/inplace.py make them from this list). Adding one is its row here plus its test row.
float_functions = []


def float_function(name, doc, forward, rule):
    """A one-input float primitive, listed in float_functions; doc is its public docstring."""
    op = Primitive(name, forward, rule)
    op.doc = doc
    float_functions.append(op)
    return op


exp = float_function("exp", "e^x", np.exp, lambda g, ans, x: g * ans)
log = float_function("log", "natural logarithm", np.log, lambda g, ans, x: g / x)
sqrt = float_function("sqrt", "square root", np.sqrt, lambda g, ans, x: g / (2 * ans))
abs = Primitive("abs", np.abs, lambda g, ans, x: g * np.sign(x))
sin = float_function("sin", "sine", np.sin, lambda g, ans, x: g * np.cos(x))
cos = float_function("cos", "cosine", np.cos, lambda g, ans, x: -g * np.sin(x))
# g·(1 − ans²) and g·ans·(1 − ans), expanded: NumPy is twice as slow with a Python number
# operand (1 - ...) as with arrays only, and these two rules are hot in small networks.
tanh = float_function("tanh", "hyperbolic tangent", np.tanh,
                      lambda g, ans, x: g - g * ans * ans)
relu = Primitive("relu", lambda x: np.maximum(x, 0), lambda g, ans, x: g * (ans > 0))


def _sigmoid(x):
    """1 / (1 + e^-x), written as exp(-log(1 + e^-x)) so that no exp can overflow."""
    return np.exp(-np.logaddexp(0, -x))


sigmoid = float_function("sigmoid", "1 / (1 + e^-x)", _sigmoid,
                         lambda g, ans, x: g * (ans - ans * ans))
# softplus = log(1 + e^x); its derivative e^x / (1 + e^x) equals exp(x - ans), which can't overflow.
softplus = Primitive("softplus", lambda x: np.logaddexp(0, x), lambda g, ans, x: g * np.exp(x - ans))

def _bce(p, t):
    """-(t·log p + (1-t)·log(1-p)), each log clamped at -100 as PyTorch does."""
    with np.errstate(divide="ignore"):
        return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))


def _bce_grad_target(g, ans, p, t):
    """g·(log(1 - p) - log(p)), each log clamped at -100."""
    with np.errstate(divide="ignore"):
        return g * (np.maximum(np.log(1 - p), -100) - np.maximum(np.log(p), -100))


def _log_softmax_last(x):
    """log softmax over the last axis, on x - max(x) so exp can't overflow (the max is a
    constant: its derivative cancels out)."""
    m = np.max(x, axis=-1, keepdims=True)
    shifted = x - np.where(np.isfinite(m), m, 0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _softmax_cross_entropy(x, p):
    """-Σ_c p_c · log softmax(x)_c over the last axis; p is the (weighted) target distribution."""
    terms = _log_softmax_last(x) * p
    return -np.sum(np.where(p == 0, 0, terms), axis=-1)  # 0·log 0 counts as 0, not NaN


def _softmax_cross_entropy_grad(g, ans, x, p):
    """g·(softmax(x) − p): softmax − one-hot, p being the one-hot target (softmax(x)·Σp − p for any p)."""
    return np.expand_dims(g, -1) * (np.exp(_log_softmax_last(x)) * np.sum(p, axis=-1, keepdims=True) - p)


# One primitive for the hottest loss: one node instead of a dozen, and a one-line derivative.
# Its text (the docstring: trace and `scratchgrad learn solution` show it) is softmax − one-hot;
# the code keeps Σp for targets that are not one-hot (label smoothing, class weights).
softmax_cross_entropy = Primitive(
    "softmax_cross_entropy", quietly(_softmax_cross_entropy), _softmax_cross_entropy_grad,
    lambda g, ans, x, p: -np.expand_dims(g, -1) * _log_softmax_last(x))


class Kept:
    """A value a forward works out on the way that its rule needs again (cross-entropy's
    exponentials and their sums, GELU's Φ(x), layer norm's x̂ and 1/σ): the rule takes it once,
    so the graph doesn't hold it after backward (a second backward works it out again)."""
    __slots__ = ("name", "value")

    def __init__(self, name):
        self.name = name
        self.value = None

    def take(self):
        value, self.value = self.value, None
        return value

    def __repr__(self):  # as graphs and traces show it among the node's parameters
        return self.name


def _cross_entropy_mean(x, labels, softmax):
    """mean_n −log softmax(x)[n, labels[n]]: F.cross_entropy's everyday case (rows of logits,
    class indices, mean) as one node, not the general path's one-hot product, sum and divide."""
    m = x.max(axis=1, keepdims=True)
    if not np.isfinite(m).all():  # a row of ±inf: shift it by 0 (the shift is any constant)
        m = np.where(np.isfinite(m), m, 0)
    shifted = x - m
    exps = np.exp(shifted)
    sums = exps.sum(axis=1, keepdims=True)
    softmax.value = exps, sums
    rows = np.arange(len(labels))
    return np.mean(np.log(sums[:, 0]) - shifted[rows, labels])


def _cross_entropy_mean_grad(g, ans, x, labels, softmax):
    """g·(softmax(x) − onehot(labels)) / N."""
    rows = np.arange(len(labels))
    kept = softmax.take()
    if isinstance(x, np.ndarray) and kept is not None:  # the forward's, in its arrays
        exps, sums = kept
        grad = np.divide(exps, sums, out=exps)
        grad[rows, labels] -= 1
        return grad * (g / len(labels))
    onehot = np.zeros(x.shape, dtype=x.dtype)
    onehot[rows, labels] = 1
    return (np.exp(_log_softmax_last(x)) - onehot) * (g / len(labels))


cross_entropy_mean = Primitive("cross_entropy_mean", quietly(_cross_entropy_mean),
                               _cross_entropy_mean_grad, None)


def _bce_with_logits(x, t):
    """(1 - t)·x + log(1 + e^-x): binary cross-entropy of σ(x), finite for any logit."""
    return (1 - t) * x + np.logaddexp(0, -x)


# One primitive for stability and speed: its derivatives σ(x) - t and -x are one line each.
binary_cross_entropy_with_logits = Primitive(
    "binary_cross_entropy_with_logits", quietly(_bce_with_logits),
    # σ(x) as 1/(1 + e^-x): exact enough for a gradient, and 4x faster than the sigmoid op's
    # overflow-free form (backward runs with NumPy's overflow warnings off: e^-x = inf gives 0)
    lambda g, ans, x, t: g * (1 / (1 + np.exp(-x)) - t),
    lambda g, ans, x, t: -g * x)

# A primitive for stability: composed from log and clip, p = 0 or 1 would give 0·∞ = NaN.
# PyTorch's rule bounds the denominator instead: (p - t) / max(p(1 - p), 1e-12).
binary_cross_entropy = Primitive("binary_cross_entropy", quietly(_bce),
                                 lambda g, ans, p, t: g * (p - t) / np.maximum(p * (1 - p), 1e-12),
                                 _bce_grad_target)

_erf_scalar = np.vectorize(math.erf, otypes=[np.float64])
erf = float_function("erf", "the error function, 2/sqrt(pi) ∫_0^x e^(-t²) dt",
                     lambda x: _erf_scalar(x).astype(x.dtype),
                     lambda g, ans, x: g * (2 / math.sqrt(math.pi)) * np.exp(-x * x))

_erfc_scalar = np.vectorize(math.erfc, otypes=[np.float64])
# erfc(z) = t·exp(-z² + P(t)), t = 1 / (1 + z/2), z ≥ 0: a Chebyshev fit with relative error
# below 1.2e-7 everywhere (Numerical Recipes' erfcc), as good as float32 itself and ~40x faster
# than math.erfc element by element; float64 keeps math.erfc's full precision.
_ERFC_FIT = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
             0.09678418, 0.37409196, 1.00002368, -1.26551223)


def _erfc_fit(z):
    """erfc(z) for z ≥ 0 by the fit, in z's float dtype; z (a fresh array) is overwritten."""
    t = z * 0.5
    t += 1
    np.reciprocal(t, out=t)
    poly = t * _ERFC_FIT[0]
    for c in _ERFC_FIT[1:-1]:
        poly += c
        poly *= t
    poly += _ERFC_FIT[-1]
    z *= z
    poly -= z
    np.exp(poly, out=poly)
    poly *= t
    return poly


def _erfc(x):
    if x.dtype == np.float64:
        return _erfc_scalar(x)
    with np.errstate(under="ignore", over="ignore"):
        ans = _erfc_fit(np.abs(x).reshape(-1)).reshape(x.shape)  # 1-D: 0-d would give scalars
    return np.where(x >= 0, ans, 2 - ans).astype(x.dtype, copy=False)


# 1 - erf(x), without the cancellation that 1 - erf has where erf is near 1 (GELU's tail).
erfc = float_function("erfc", "1 - erf(x), accurate where erf(x) is near 1", _erfc,
                      lambda g, ans, x: g * (-2 / math.sqrt(math.pi)) * np.exp(-x * x))

# Elements per step of GELU's elementwise work: its ~30 passes then run over arrays that stay in
# the CPU's cache. GELU forward and backward over a GPT MLP's 16·64·512 float32 activations:
# 2.5 ms in chunks of 2^16, 2.9 ms of 2^14 (more calls), 2.7 ms of 2^17.
_CHUNK = 1 << 16


def _chunkwise(fn, *arrays):
    """fn(*parts) on matching chunks of _CHUNK elements of the flattened arrays (inputs, then
    the outputs fn writes into, which must be contiguous). Under- and overflow give the right
    answers here (0 and inf), and so does -inf·Φ(-inf) = nan, as in PyTorch: no warnings."""
    flats = [a.reshape(-1) for a in arrays]
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        for start in range(0, flats[0].size, _CHUNK):
            fn(*(f[start:start + _CHUNK] for f in flats))


# GELU's Φ(-|x|) = erfc(|x|/√2)/2 below float64, as t·P(t)·e^(-x²/2) with t = 1/(1 + a·|x|):
# a minimax fit (Lawson's reweighted least squares over 0 ≤ |x| ≤ 12.7) whose error is below
# 4e-8 absolute (float32 rounds Φ = 1/2 to 6e-8) and 1e-6 relative in the tail. It takes
# eight coefficients where the erfc fit above takes ten, and e^(-x²/2), the density φ(x) up to
# a constant, comes out on the way for the derivative.
_GELU_A = 0.4 / math.sqrt(2)
_GELU_FIT = tuple(c / 2 for c in (  # P's coefficients halved, highest power first; they add
    # up to 1, so that Φ(0) is 1/2 exactly in float32 too
    0.06405002274326006, -0.345726288928187, 0.5872068191171065,
    -0.2695765926783522, 0.3436365693206772, 0.16321663087412833,
    0.23187751841468449, 0.2253153211366825))


def _gelu_into(x, ans, slope):
    """ans = x·Φ(x) and slope = Φ(x) + x·φ(x), GELU's derivative, for a 1-D chunk, in float32
    one pass at a time in place."""
    t = np.abs(x, dtype=np.float32)
    t *= _GELU_A
    t += 1
    np.reciprocal(t, out=t)
    cdf = t * _GELU_FIT[0]
    for c in _GELU_FIT[1:]:
        cdf += c
        cdf *= t
    density = np.multiply(x, x, out=t, dtype=np.float32)  # t's buffer, free again
    density *= -0.5
    np.exp(density, out=density)  # e^(-x²/2)
    cdf *= density  # Φ(-|x|)
    # Φ(x) is Φ(-|x|) for x < 0 and 1 - Φ(-|x|) otherwise: |[x ≥ 0] - Φ(-|x|)| for both, which
    # keeps the tail's tiny values exact (1 - (1 - Φ) would not)
    np.subtract(x >= 0, cdf, out=cdf)
    np.abs(cdf, out=cdf)
    np.multiply(x, cdf, out=ans)
    np.multiply(x, density, out=slope)
    slope *= 1 / math.sqrt(2 * math.pi)
    slope += cdf


def _gelu_parts(x):
    """x·Φ(x) and the derivative Φ(x) + x·φ(x), φ(x) = e^(-x²/2)/√(2π) the normal density:
    float64 from math.erfc, lower precisions by the fit, chunk by chunk."""
    if x.dtype == np.float64:
        with np.errstate(over="ignore", invalid="ignore"):
            cdf = 0.5 * _erfc_scalar(x * (-1 / math.sqrt(2)))
            slope = x * np.exp(x * x * -0.5)
            slope *= 1 / math.sqrt(2 * math.pi)
            slope += cdf
            return x * cdf, slope
    ans, slope = np.empty(x.shape, x.dtype), np.empty(x.shape, np.float32)
    _chunkwise(_gelu_into, x, ans, slope)
    return ans, slope


def _gelu(x, slope):
    """x·Φ(x); the derivative is kept for the rule."""
    ans, slope.value = _gelu_parts(x)
    return ans


def _gelu_grad(g, ans, x, slope):
    """g·(Φ(x) + x·φ(x)), the derivative the forward worked out on the way."""
    if not isinstance(x, np.ndarray):  # Tensors (create_graph): Φ as a differentiable op
        cdf = 0.5 * call(erfc, x * (-1 / math.sqrt(2)))
        return g * (cdf + x * np.exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi)))
    derivative = slope.take()
    if derivative is None:  # a second backward
        derivative = _gelu_parts(x)[1]
    return np.multiply(g, derivative, dtype=np.result_type(x, g, np.float32))  # float16: float32, cast back later


# One node, not five (mul, erfc, mul, mul, mul), for every transformer's MLP: the forward works
# out the derivative on the way, and the rule is one product.
gelu = Primitive("gelu", quietly(_gelu), _gelu_grad)
# A dtype change passes the gradient through; the engine casts it back to the input's dtype.
cast = Primitive("cast", quietly(lambda x, dtype: x.astype(dtype)), lambda g, ans, x, dtype: g, saves=False)
copy = Primitive("copy", np.copy, lambda g, ans, x: g, saves=False)


# ---------------------------------------------------------------- reductions (axis is a tuple)

def _unreduce(g, x, axis, keepdims):
    """Give a reduced gradient back its reduced axes, as size-1 dims, ready to broadcast (a
    reduction over every axis left a 0-d g, which broadcasts as it is)."""
    return g if keepdims or g.ndim == 0 else np.expand_dims(g, axis)


def _sum_grad(g, ans, x, axis, keepdims):
    """g, copied back to every element that was summed (broadcast over the summed axes)."""
    return np.broadcast_to(_unreduce(g, x, axis, keepdims), x.shape)


sum = Primitive("sum", quietly(lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims)),
                _sum_grad,
                saves=False)


def _extremum_grad(g, ans, x, axis, keepdims):
    """g, shared evenly among the elements that reach the max (or min)."""
    hits = x == _unreduce(ans, x, axis, keepdims)
    return _unreduce(g, x, axis, keepdims) * hits / np.sum(hits, axis=axis, keepdims=True)


max = Primitive("max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), _extremum_grad)
min = Primitive("min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), _extremum_grad)


def _prod_grad(g, ans, x, axis, keepdims):
    """g·(the product of the other elements); exact where x holds zeros (no division by 0)."""
    is_zero = x == 0
    nonzero = np.where(is_zero, 1, x)
    prod_nonzero = call(prod, nonzero, axis=axis, keepdims=True)
    zeros = np.sum(is_zero, axis=axis, keepdims=True)
    others = np.where(is_zero, prod_nonzero * (zeros == 1), prod_nonzero / nonzero * (zeros == 0))
    return _unreduce(g, x, axis, keepdims) * others


prod = Primitive("prod", quietly(lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims)),
                 _prod_grad)


# ---------------------------------------------------------------- shapes

reshape = Primitive("reshape", np.reshape,
                    lambda g, ans, x, shape: g.reshape(x.shape),
                    saves=False)
permute = Primitive("permute", np.transpose,
                    lambda g, ans, x, axes: np.transpose(g, np.argsort(axes)),
                    saves=False)
# Broadcasting's gradient is a sum over the stretched axes, which the engine already does.
broadcast_to = Primitive("broadcast_to", np.broadcast_to,
                         lambda g, ans, x, shape: g,
                         saves=False)


def _add_at(g, shape, key):
    """A zero array of `shape` with g added at x[key]; repeated indices add up."""
    if isinstance(key, np.ndarray) and key.dtype.kind in "iu" and key.size:
        return _add_rows(g, shape, key)
    out = np.zeros(shape, dtype=g.dtype)
    if _has_array_index(key):
        np.add.at(out, key, g)
    else:
        out[key] = g
    return out


def _add_rows(g, shape, rows):
    """out[rows[i]] += g[i], for rows picked by an int array (an embedding's backward): the
    indices sorted and each run of equal ones summed by np.add.reduceat, five times faster than
    np.add.at (16·64 tokens of width 128: 0.15 ms against 0.77 ms)."""
    rows = rows.reshape(-1)
    rows = np.where(rows < 0, rows + shape[0], rows)  # -1 and n - 1 are the same row
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    out = np.zeros(shape, dtype=g.dtype)
    out[rows[starts]] = np.add.reduceat(g.reshape((rows.size, *shape[1:]))[order], starts, axis=0)
    return out


def _has_array_index(key):
    parts = key if type(key) is tuple else (key,)
    return any(isinstance(k, np.ndarray) for k in parts)


index = Primitive("index", lambda x, key: x[key],
                  lambda g, ans, x, key: call(add_at, g, shape=x.shape, key=key),
                  saves=False)
# (scatter_add, the public op, is torch.scatter_add's dim/index/src form, further down.)
add_at = Primitive("add_at", _add_at,
                   lambda g, ans, x, shape, key: call(index, g, key=key),
                   saves=False)


def _cat_grad(g, ans, xs, axis, offsets, index):
    """The slice of g that lines up with this input: offsets[index] up to offsets[index + 1]."""
    window = [slice(None)] * g.ndim
    window[axis] = slice(offsets[index], offsets[index + 1])
    return g[tuple(window)]


# offsets (where each input starts along the axis, and the total) are worked out once, by
# ops.cat: summing the earlier inputs' sizes in every rule made backward quadratic in n.
cat = Primitive("cat", lambda *xs, axis, offsets: np.concatenate(xs, axis=axis),
                per_input(_cat_grad),
                saves=False)


def _pad_grad(g, ans, x, widths, value):
    """g with the padding cut off."""
    return g[tuple(slice(before, before + n) for (before, _), n in zip(widths, x.shape))]


pad = Primitive("pad", lambda x, widths, value: np.pad(x, widths, constant_values=value),
                _pad_grad,
                saves=False)


# ---------------------------------------------------------------- writes (what in-place ops record)

def _index_put(x, v, key):
    """x with x[key] replaced by v: what `x[key] = v` records in a graph."""
    out = np.array(x, copy=True)
    out[key] = v
    return out


def _written(shape, key):
    """True where `x[key] = v` writes, for an x of this shape."""
    mask = np.zeros(shape, dtype=bool)
    mask[key] = True
    return mask


index_put = Primitive("index_put", _index_put,
                      lambda g, ans, x, v, key: np.where(_written(g.shape, key), 0, g),
                      lambda g, ans, x, v, key: call(index, g, key=key),
                      saves=False)


def view_of(x, steps):
    """Replay a view's steps ((primitive, params), ...) on x: an array or a Tensor."""
    for op, params in steps:
        x = call(op, x, **params)
    return x


def _view_put(base, v, steps):
    """base with the view that steps make of it replaced by v."""
    out = np.array(base, copy=True)
    view_of(out, steps)[...] = v
    return out


def _view_region(shape, steps):
    """True where the view that steps make of a base of this shape lies."""
    mask = np.zeros(shape, dtype=bool)
    view_of(mask, steps)[...] = True
    return mask


def _stale_view_grad(g, ans, base, steps, message):
    """Never a gradient: the view's values were changed behind its back (see ops/inplace.py)."""
    raise InPlaceError(f"backward: {message}")


stale_view = Primitive("stale_view", lambda base, steps, message: view_of(base, steps),
                       _stale_view_grad, saves=False)


# An in-place op on a view writes into its base: the base's new value is the old one with the
# view's region replaced. The region's gradient goes to the new values, the rest to the old base.
copy_slices = Primitive("copy_slices", _view_put,
                        lambda g, ans, base, v, steps: np.where(_view_region(g.shape, steps), 0, g),
                        lambda g, ans, base, v, steps: view_of(g, steps),
                        saves=False)


# ---------------------------------------------------------------- more elementwise functions

log10 = float_function("log10", "logarithm to base 10", np.log10,
                       lambda g, ans, x: g / (x * math.log(10)))
log2 = float_function("log2", "logarithm to base 2", np.log2,
                      lambda g, ans, x: g / (x * math.log(2)))
log1p = float_function("log1p", "log(1 + x), exact for small x", np.log1p,
                       lambda g, ans, x: g / (1 + x))
expm1 = float_function("expm1", "e^x - 1, exact for small x", np.expm1,
                       lambda g, ans, x: g * (ans + 1))
# Both rules read the output only, as PyTorch's (-g·ans³/2 and -g·ans²).
rsqrt = float_function("rsqrt", "1 / sqrt(x)", lambda x: np.reciprocal(np.sqrt(x)),
                       lambda g, ans, x: g * (ans * ans * ans) * -0.5)
reciprocal = float_function("reciprocal", "1 / x", np.reciprocal,
                            lambda g, ans, x: -g * (ans * ans))


def _piecewise_constant(g, ans, *args, **params):
    """0: the function is flat between its jumps (PyTorch gives 0 there, and at the jumps)."""
    return np.zeros_like(g)


def _round(x, decimals):
    """Round half to even, to `decimals` places, scaling as PyTorch does (x·10^d, or x / 10^-d)."""
    if decimals == 0:
        return np.rint(x)
    scale = x.dtype.type(10.0 ** builtins.abs(decimals))
    with np.errstate(over="ignore"):  # x·10^d beyond the dtype's range is ±inf, as in PyTorch
        return np.rint(x * scale) / scale if decimals > 0 else np.rint(x / scale) * scale


def _sign(x):
    """-1, 0 or 1; and 0 for nan, as PyTorch (NumPy says nan)."""
    s = np.sign(x)
    return np.where(np.isnan(s), s.dtype.type(0), s) if s.dtype.kind == "f" else s


sign = Primitive("sign", _sign, _piecewise_constant, saves=False)
floor = Primitive("floor", np.floor, _piecewise_constant, saves=False)
ceil = Primitive("ceil", np.ceil, _piecewise_constant, saves=False)
round = Primitive("round", _round, _piecewise_constant, saves=False)
trunc = Primitive("trunc", np.trunc, _piecewise_constant, saves=False)


def _by_zero_quietly(ufunc):
    """ufunc(x, y) without NumPy's warnings where y is 0 (or x is inf): the ±inf or nan it
    gives is PyTorch's answer."""
    def divide(x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return ufunc(x, y)
    return divide


# x // y is flat between its jumps, like floor: gradient 0 (PyTorch raises at backward instead).
floor_divide = Primitive("floor_divide", _by_zero_quietly(np.floor_divide), _piecewise_constant,
                         _piecewise_constant,
                         saves=False)
# x % y = x - floor(x / y)·y: floor's derivative is 0, so x gets g and y gets -g·floor(x / y).
remainder = Primitive("remainder", _by_zero_quietly(np.remainder),
                      lambda g, ans, x, y: g,
                      lambda g, ans, x, y: -g * call(floor_divide, x, y))


def _trunc_divide(x, y):
    """x / y rounded towards 0: trunc(x / y) for floats (PyTorch's kernel), and for ints the
    floor quotient moved up by one where it was rounded down past a negative result."""
    if np.result_type(x, y).kind == "f":
        return np.trunc(np.true_divide(x, y))
    q = np.floor_divide(x, y)
    return q + ((np.remainder(x, y) != 0) & ((np.asarray(x) < 0) != (np.asarray(y) < 0)))


# div(x, y, rounding_mode='trunc'): flat between its jumps, gradient 0 (as PyTorch's).
trunc_divide = Primitive("trunc_divide", _by_zero_quietly(_trunc_divide), _piecewise_constant,
                         _piecewise_constant,
                         saves=False)
# fmod(x, y) = x - trunc(x / y)·y (C's fmod: the sign of x), so y gets -g·trunc(x / y).
fmod = Primitive("fmod", _by_zero_quietly(np.fmod),
                 lambda g, ans, x, y: g,
                 lambda g, ans, x, y: -g * call(trunc_divide, x, y))


# ---------------------------------------------------------------- gather, scatter, cumsum, einsum

def _along(index, dim):
    """The full index tuple that picks element index[p] of dimension dim, for every position p."""
    ndim = index.ndim
    grids = [np.arange(n).reshape((n,) + (1,) * (ndim - 1 - i)) for i, n in enumerate(index.shape)]
    grids[dim] = index
    return tuple(grids)


def _scatter_add(x, src, dim, index):
    """x with each src[p] added at x[p with dimension dim replaced by index[p]]."""
    out = x.copy()
    with np.errstate(over="ignore", invalid="ignore"):  # inf + -inf is nan, as in PyTorch
        np.add.at(out, _along(index, dim), src[tuple(slice(n) for n in index.shape)])
    return out


def _scatter_add_grad_src(g, ans, x, src, dim, index):
    """gather(g, dim, index), zero-padded where src is larger than index."""
    picked = call(gather, g, dim=dim, index=index)
    if picked.shape == src.shape:
        return picked
    return call(pad, picked, widths=tuple((0, s - n) for s, n in zip(src.shape, index.shape)),
                value=0)


# gather and scatter_add are each other's adjoints, so each rule is one call of the other.
gather = Primitive("gather", lambda x, dim, index: x[_along(index, dim)],
                   lambda g, ans, x, dim, index: call(scatter_add, np.zeros_like(x), g,
                                                      dim=dim, index=index))
scatter_add = Primitive("scatter_add", _scatter_add,
                        lambda g, ans, x, src, dim, index: g,
                        _scatter_add_grad_src)


def _cumsum(x, axis, reverse):
    """Running sums along axis (from the far end when reverse), in x's dtype (NumPy would
    widen int32 to int64; the op widens first where PyTorch does)."""
    with np.errstate(over="ignore", invalid="ignore"):  # sums past the range are ±inf (or nan)
        if not reverse:
            return np.cumsum(x, axis=axis, dtype=x.dtype)
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)


# The gradient of a running sum is the running sum of g taken from the other end.
cumsum = Primitive("cumsum", _cumsum,
                   lambda g, ans, x, axis, reverse: call(cumsum, g, axis=axis, reverse=not reverse),
                   saves=False)


def _values(x):
    """x's values as an array (a Tensor's, outside the graph): for masks, which need no gradient."""
    return x if isinstance(x, np.ndarray) else x.detach().numpy()


def _cumprod_grad(g, ans, x, axis):
    """Σ_{j≥k} g_j·Π_{i≤j, i≠k} x_i, without dividing by 0: before x's first zero along axis
    (at z) it is Σ_{j≥k} g_j·ans_j / x_k, at z ans_{z-1}·Σ_{j≥z} g_j·Π_{z<i≤j} x_i, after z 0."""
    x_values = _values(x)
    zeros_so_far = np.cumsum(x_values == 0, axis=axis)
    later_sums = call(cumsum, g * ans, axis=axis, reverse=True)
    if not zeros_so_far.any():
        return later_sums / x
    before = zeros_so_far == 0
    first = (zeros_so_far == 1) & (x_values == 0)
    on_or_after = ~before
    head = call(prod, np.where(before, x, 1), axis=(axis,), keepdims=True)  # ans_{z-1}
    tail = call(cumprod, np.where(on_or_after & ~first, x, 1), axis=axis)  # Π_{z<i≤j} x_i
    at_first = head * call(sum, np.where(on_or_after, g * tail, 0), axis=(axis,), keepdims=True)
    return np.where(before, later_sums / np.where(before, x, 1), np.where(first, at_first, 0))


def _cumprod(x, axis):
    """Running products along axis, in x's dtype (the op widens ints to int64 first), float32
    and float16 carried in float64 as PyTorch's CPU kernel does: [1e30, 1e9, 0] ends in 0, not
    inf·0 = nan."""
    carried = np.float64 if x.dtype.kind == "f" else x.dtype
    with np.errstate(over="ignore", invalid="ignore"):  # past the range: ±inf; inf·0: nan
        return np.cumprod(x, axis=axis, dtype=carried).astype(x.dtype, copy=False)


cumprod = Primitive("cumprod", _cumprod, _cumprod_grad)


def _einsum_grad(g, ans, xs, equation, index):
    """einsum of g with the other operands, into this operand's subscripts."""
    inputs, output = equation.split("->")
    terms = inputs.split(",")
    spare = (c for c in string.ascii_letters if c not in equation)
    parts, operands = [output], [g]
    for j, (term, x) in enumerate(zip(terms, xs)):
        if j != index:
            parts.append(term)
            operands.append(x)
    present = set("".join(parts))
    x = xs[index]
    wanted, seen = [], set()
    for c, n in zip(terms[index], x.shape):
        if c in seen:  # a repeated subscript (a diagonal): only the diagonal gets gradient
            new = next(spare)
            parts.append(c + new)
            operands.append(np.eye(n, dtype=x.dtype))
            wanted.append(new)
            continue
        seen.add(c)
        if c not in present:  # summed away in the forward: each element got the same g
            parts.append(c)
            operands.append(np.ones(n, dtype=x.dtype))
            present.add(c)
        wanted.append(c)
    return call(einsum, *operands, equation=",".join(parts) + "->" + "".join(wanted))


def _einsum(*xs, equation):
    """np.einsum; its optimizer (BLAS for contractions) pays from a few thousand elements on:
    (16, 4, 64, 32) "bhtd,bhsd->bhts" takes 0.8 ms with it, 6.4 ms without, but a product of
    two 4×4 matrices 90 µs with it and 10 µs without."""
    big = len(xs) > 2 or builtins.sum(x.size for x in xs) > 4096
    with np.errstate(over="ignore", invalid="ignore"):  # sums past the range are ±inf (or nan)
        return np.einsum(equation, *xs, optimize=big)


# The equation is always explicit here (ops spell out '...' and the implicit output).
einsum = Primitive("einsum", _einsum, per_input(_einsum_grad))

# ---------------------------------------------------------------- rules that share their work

class Memo:
    """Every input's gradient, computed once per incoming gradient (a node's rules run one after
    another on the same g) and dropped once the last input that needs one has taken its share.
    `inputs` are the op's inputs at the forward, to find that last one."""
    __slots__ = ("g", "grads", "last")

    def __init__(self, inputs=()):
        self.g = self.grads = None
        self.last = builtins.max((i for i, x in enumerate(inputs)
                                  if getattr(x, "requires_grad", False)), default=-1)

    def __repr__(self):  # as graphs and traces show it among the node's parameters
        return "memo"


def memoized(vjp):
    """The rules of an op whose vjp(g, ans, *args, **params) returns every input's gradient at
    once; the op's params must include a Memo as `memo`."""
    def rule(g, ans, args, index, memo, **params):  # args: the inputs, as one tuple (per_input)
        if memo.g is not g:
            memo.grads = vjp(g, ans, *args, **params)
            memo.g = g
        grad = memo.grads[index]
        if index >= memo.last:
            memo.g = memo.grads = None
        return grad
    rule.__doc__ = vjp.__doc__
    rule.vjp = vjp  # what the rule reads is what vjp reads (core/engine.py's per_input_reads)
    return per_input(rule)


# ---------------------------------------------------------------- layer normalisation
# One node for F.layer_norm (every transformer block has two), where the composition (mean, sub,
# mul, mean, add, pow, mul, mul, add) would be nine, with a rule that reuses the forward's x̂ and
# 1/σ instead of differentiating through all nine.

def _mean_over(v, axes, times=None):
    """The mean of v (of v·times, if given) over the trailing `axes`, keepdims; on arrays as
    products with a vector of 1/n or einsum's row sums, several times faster than v.mean on
    short rows (NumPy's reductions loop per row), and with no temporary for v·times."""
    if not isinstance(v, np.ndarray):  # Tensors (create_graph)
        return (v if times is None else v * times).mean(axes, keepdims=True)
    n = math.prod(v.shape[v.ndim - len(axes):])
    rows = v.reshape(-1, n)
    if times is None:
        means = rows @ np.full(n, 1 / n, dtype=v.dtype)
    else:
        means = np.einsum("ri,ri->r", rows, times.reshape(-1, n)) / n
    return means.reshape(v.shape[:v.ndim - len(axes)] + (1,) * len(axes))


def _normalized(x, axes, eps):
    """x̂ = (x - mean) / σ and 1/σ over axes, σ = √(var + eps) (the biased variance); float16
    arrays are worked out in float32, as in PyTorch."""
    if isinstance(x, np.ndarray) and x.dtype.itemsize < 4:
        x = x.astype(np.float32)
    centred = x - _mean_over(x, axes)
    inv_std = (_mean_over(centred, axes, times=centred) + eps) ** -0.5
    if isinstance(centred, np.ndarray):  # an array of our own: scaled in place
        centred *= inv_std
        return centred, inv_std
    return centred * inv_std, inv_std


def _layer_norm(x, w, b, axes, eps, stats, memo):
    """x̂·w + b, in x's dtype; x̂ and 1/σ are kept for the rule."""
    stats.value = x_hat, _ = _normalized(x, axes, eps)
    if w is None:  # never x̂ itself: the output may be modified in place before backward
        out = x_hat.copy() if b is None else x_hat + b
    else:
        out = x_hat * w
        if b is not None:
            out += b
    return out.astype(x.dtype, copy=False)


def _layer_norm_vjp(g, ans, x, w, b, axes, eps, stats):
    """With gw = g·w: dx = (gw - mean(gw) - x̂·mean(gw·x̂)) / σ, dw = Σ g·x̂, db = Σ g, the sums
    over the batch dimensions."""
    kept = stats.take()
    if kept is None or not isinstance(x, np.ndarray):  # a second backward, or create_graph
        kept = _normalized(x, axes, eps)
    x_hat, inv_std = kept
    if not isinstance(g, np.ndarray):  # Tensors (create_graph)
        gw = g if w is None else g * w
        mean_gw, mean_gw_x_hat = _mean_over(gw, axes), _mean_over(gw, axes, times=x_hat)
        return (gw - mean_gw - x_hat * mean_gw_x_hat) * inv_std, g * x_hat, g
    # On arrays, row by row: the means of g·w and g·w·x̂ are products of g's and g·x̂'s rows
    # with w/n (no g·w·x̂ made), and g·x̂, made once for dw, takes x̂·mean(gw·x̂) afterwards.
    shape = x.shape[x.ndim - len(axes):]  # not b.shape: the rule doesn't read b (nor need it)
    n = math.prod(shape)
    rows = g.reshape(-1, n)
    g_x_hat = np.multiply(rows, x_hat.reshape(-1, n), dtype=x_hat.dtype)
    per_feature = np.full(n, 1 / n, x_hat.dtype) if w is None else w.reshape(-1) / n
    mean_gw, mean_gw_x_hat = rows @ per_feature, g_x_hat @ per_feature
    dw = None if w is None else _summed_to(g_x_hat, shape)
    dx = np.array(rows, x_hat.dtype) if w is None else np.multiply(rows, w.reshape(-1), dtype=x_hat.dtype)
    dx -= mean_gw[:, None]
    dx -= np.multiply(x_hat.reshape(-1, n), mean_gw_x_hat[:, None], out=g_x_hat)
    dx *= inv_std.reshape(-1, 1)
    return dx.reshape(x.shape), dw, _summed_to(g, shape)


layer_norm = Primitive("layer_norm", quietly(_layer_norm), memoized(_layer_norm_vjp))


# ---------------------------------------------------------------- attention
# Fused for speed (benchmarks/sequence.py times it): one node for Q Kᵀ and the scaled, masked
# softmax, where the composition (transpose, matmul, mul, add, where, max, sub, exp, sum, div)
# would be ten, working in place on the product's buffer. Measured on the causal benchmark's
# arrays (B=16, H=4, T=64, head 32), forward and backward in NumPy alone: 7.6-8.5 ms against
# 9.3-11.1 ms with a separate matmul node; fresh (B, H, L, S) arrays cost page faults, which
# dominate on some hosts (the rule below went from 1.7 ms to 0.3 ms by making one, not four).

def _keys_first(a, shape):
    """a, laid out as the scores (..., L, S), broadcast to `shape`, the transposed scores'
    (..., S, L). A mask of at most two dimensions (the causal one) is transposed into a
    contiguous copy first: adding it takes 0.07 ms, the strided view 0.12 (B=16, H=4, T=64)."""
    scores = shape[:-2] + (shape[-1], shape[-2])
    if a.ndim <= 2:
        return np.broadcast_to(np.ascontiguousarray(np.broadcast_to(a, scores[-2:]).T), shape)
    return np.swapaxes(np.broadcast_to(a, scores), -1, -2)


def _attention_weights_t(q, k, bias, masked, scale, masked_rows_nan):
    """softmax(Q Kᵀ·scale + bias + masked) over the keys, transposed: (..., S, L), K Qᵀ's layout.

    Laid out so, each query's keys run down a column, and the max and sum over them are NumPy
    reductions across rows, which it vectorises: the max over 64-wide rows took 0.34 ms, across
    them 0.10 ms (B=16, H=4, T=64). bias is a float mask that may need a gradient (or None);
    masked is a constant float array of 0 and -inf (or None) for the bool and causal masks. A
    query masked everywhere gets all 0 (what PyTorch's scaled_dot_product_attention gives), or
    all NaN with masked_rows_nan (what its explicit softmax gives, as in MultiheadAttention's)."""
    x = k @ np.swapaxes(q, -1, -2)
    x *= scale
    if masked is not None:
        x += _keys_first(masked, x.shape)
    if bias is not None:
        x += _keys_first(bias, x.shape)
    peak = x.max(axis=-2, keepdims=True)
    x -= np.where(np.isfinite(peak), peak, 0)
    np.exp(x, out=x)
    total = np.ones(x.shape[-2], dtype=x.dtype) @ x  # Σ over the keys: a product, no temporary
    total = total[..., None, :]
    if masked_rows_nan:
        with np.errstate(divide="ignore", invalid="ignore"):
            x *= 1 / total
    else:
        x *= np.divide(1, total, out=np.zeros_like(total), where=total > 0)
    return x


def _attention_weights(q, k, bias, masked, scale, masked_rows_nan, memo):
    """softmax(Q Kᵀ·scale + bias + masked) over the last axis (the keys)."""
    return np.ascontiguousarray(np.swapaxes(
        _attention_weights_t(q, k, bias, masked, scale, masked_rows_nan), -1, -2))


def _softmax_vjp(g, ans):
    """The softmax rule, ans·(g - Σ g·ans): 0 on rows of zeros, NaN on rows of NaN."""
    if not isinstance(g, np.ndarray):  # Tensors (create_graph): the same formula, recorded
        return ans * (g - (g * ans).sum(axis=-1, keepdims=True))
    out = g - np.einsum("...i,...i->...", g, ans)[..., None]  # the row sums need no temporary
    out *= ans
    return out


def _attention_weights_vjp(g, ans, q, k, bias, masked, scale, masked_rows_nan):
    """With dS the softmax's rule: dS·K·scale for Q, dSᵀ·Q·scale for K, dS for the bias."""
    d_scores = _softmax_vjp(g, ans)
    d_q = d_scores @ k
    d_k = np.swapaxes(d_scores, -1, -2) @ q
    if isinstance(d_q, np.ndarray):
        d_q *= scale
        d_k *= scale
        return d_q, d_k, d_scores
    return d_q * scale, d_k * scale, d_scores


attention_weights = Primitive("attention_weights", _attention_weights,
                              memoized(_attention_weights_vjp))


def _attention(q, k, v, bias, masked, scale, masked_rows_nan, weights, memo):
    """softmax(Q Kᵀ·scale + bias + masked) V; the weights (transposed) are kept for the rule."""
    weights.value = _attention_weights_t(q, k, bias, masked, scale, masked_rows_nan)
    return np.swapaxes(weights.value, -1, -2) @ v


def _attention_grads(g, q, k, v, bias, masked, scale, masked_rows_nan, weights, out=None):
    """With P the weights, dS = P·(dP - Σ_keys dP·P) the softmax's rule and dP = g Vᵀ:
    dS K·scale for Q, dSᵀ Q·scale for K, Pᵀ g for V, dS for the bias. Σ_keys dP·P equals
    Σ_features g·out (both are gᵀ P V per query), the cheaper form when out may be read."""
    p_t = weights.take()  # Pᵀ, (..., S, L)
    if not isinstance(g, np.ndarray):  # Tensors (create_graph): P as a differentiable op
        p = call(attention_weights, q, k, bias, masked=masked, scale=scale,
                 masked_rows_nan=masked_rows_nan, memo=Memo((q, k, bias)))
        d_scores = _softmax_vjp(g @ np.swapaxes(v, -1, -2), p)
        return (d_scores @ k * scale, np.swapaxes(d_scores, -1, -2) @ q * scale,
                np.swapaxes(p, -1, -2) @ g, d_scores)
    if p_t is None:  # a second backward
        p_t = _attention_weights_t(q, k, bias, masked, scale, masked_rows_nan)
    d_t = v @ np.swapaxes(g, -1, -2)  # dPᵀ, laid out as Pᵀ
    if out is None:
        d_t -= np.einsum("...sl,...sl->...l", d_t, p_t)[..., None, :]
    else:
        d_t -= np.einsum("...ld,...ld->...l", g, out)[..., None, :]
    d_t *= p_t  # dSᵀ
    d_q = np.swapaxes(d_t, -1, -2) @ k
    d_q *= scale
    d_k = d_t @ q
    d_k *= scale
    return d_q, d_k, p_t @ g, np.swapaxes(d_t, -1, -2)


def _attention_vjp(g, ans, q, k, v, bias, masked, scale, masked_rows_nan, weights):
    """The rule of PyTorch's CPU flash attention (4-D inputs, no dropout): it reads the output,
    so modifying the output in place before backward raises, as there; and it is differentiable
    once: with create_graph its results are linked to the graph by a node whose own derivative
    raises, as PyTorch's does."""
    if isinstance(g, np.ndarray):
        return _attention_grads(g, q, k, v, bias, masked, scale, masked_rows_nan, weights, ans)
    arrays = [None if t is None else t.detach().numpy() for t in (g, q, k, v, bias, ans)]
    grads = _attention_grads(*arrays[:5], masked, scale, masked_rows_nan, weights, arrays[5])
    return tuple(call(attention_backward, g, q, k, v, bias, grad=d) for d in grads)


def _no_second_derivative(g, ans, *args, grad):
    """not implemented: flash attention's backward is differentiable once, as in PyTorch"""
    raise GraphError(
        "backward: the derivative of scaled_dot_product_attention's backward is not "
        "implemented, as in PyTorch: its CPU flash kernel (4-D query, key and value of one head "
        "size, no dropout) is differentiable once. For higher derivatives give 3-D inputs "
        "(batch·heads, length, head size), which take the math kernel")


# The gradients of the flash rule under create_graph: computed, and tied to g, q, k, v and the
# mask by a node that refuses to be differentiated.
attention_backward = Primitive("scaled_dot_product_attention_backward",
                               lambda g, q, k, v, bias, grad: grad,
                               *[_no_second_derivative] * 5, saves=False)


def _attention_math_vjp(g, ans, q, k, v, bias, masked, scale, masked_rows_nan, weights):
    """The rule of PyTorch's math attention (other shapes): it doesn't read the output."""
    return _attention_grads(g, q, k, v, bias, masked, scale, masked_rows_nan, weights)


# softmax(Q Kᵀ·scale) V as one node (scaled_dot_product_attention without dropout), where the
# weights and the product would be two: its rule works in the kept weights' transposed layout.
# Two primitives, as PyTorch has two CPU kernels that differ in what backward reads: F's
# scaled_dot_product_attention picks the one PyTorch would.
attention = Primitive("attention", _attention, memoized(_attention_vjp))
attention_math = Primitive("attention", _attention, memoized(_attention_math_vjp))
