"""Helpers shared by the test modules (test modules import from here, never from each other).

- leaves for both libraries, and the one closeness check, `close`;
- `check_against_torch`: an expression's values, dtypes and gradients against PyTorch's;
- `compare_with_torch`: a module's outputs and gradients against the same torch.nn module's;
- custom Functions x² with a right and a wrong (factor 2 forgotten) backward, and x³;
- error and documentation helpers (`raised`, `assert_not_bare_numpy`, `FENCE`, `normalized`).
"""
import math
import os
import re

import numpy as np
import pytest
import torch

import scratchgrad as sg

# The two float dtypes the PyTorch comparisons run in, by name, in each library.
SG_DTYPES = {"float64": sg.float64, "float32": sg.float32}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def leaf(values, dtype=sg.float64):
    return sg.tensor(values, dtype=dtype, requires_grad=True)


def tleaf(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def to_numpy(t):
    """A scratchgrad or PyTorch tensor (or an array, or a number) as a NumPy array."""
    if isinstance(t, (torch.Tensor, sg.Tensor)):
        return t.detach().numpy()
    return np.asarray(t)


def is_float(a):
    return a.dtype.kind == "f"


def close(actual, expected, rtol=1e-7, atol=1e-10, what=""):
    """Same shape; floats within rtol/atol (nan matches nan), anything else exactly equal.

    Either side may be a scratchgrad or PyTorch tensor, an array or a number. Expected floats
    need actual floats; expected integers or bools from a tensor or array need the same dtype.
    """
    got, want = to_numpy(actual), to_numpy(expected)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if is_float(want):
        assert is_float(got), f"{what}: dtype {got.dtype}, expected a float"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
        return
    if isinstance(expected, (torch.Tensor, sg.Tensor, np.ndarray)):
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    np.testing.assert_array_equal(got, want, err_msg=what)


# ---------------------------------------------------------------- an expression against PyTorch

# (rtol, atol) of values and of gradients against PyTorch, per dtype.
TORCH_TOL = {"float64": ((1e-7, 1e-9), (1e-7, 1e-9)),
             "float32": ((1e-5, 1e-6), (1e-5, 1e-5))}


def sg_tensors(arrays, requires_grad):
    return [sg.tensor(a, requires_grad=requires_grad and is_float(a)) for a in arrays]


def torch_tensors(arrays):
    return [torch.tensor(a, requires_grad=is_float(a)) for a in arrays]


def as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def backward_each(outs, upstream, wrap):
    """Backward of each output that requires grad (sort's indices don't), graph kept till the last."""
    live = [(t, g) for t, g in zip(outs, upstream) if t.requires_grad]
    for i, (t, g) in enumerate(live):
        t.backward(wrap(g.astype(to_numpy(t).dtype)), retain_graph=i < len(live) - 1)


def run_torch(torch_fn, arrays, upstream=None):
    """Inputs and outputs of torch_fn, after a backward of `upstream` when given."""
    ts = torch_tensors(arrays)
    outs = as_list(torch_fn(*ts))
    if upstream is not None:
        backward_each(outs, upstream, torch.tensor)
    return ts, outs


def close_to_either(got, wants, rtol, atol, what):
    """Close to PyTorch in the same dtype, or else to PyTorch's float64 answer.

    In float32 PyTorch itself is sometimes off by more than the tolerance
    (ill-conditioned var/std, logsumexp at 1e4); then the exact answer decides.
    """
    try:
        close(got, wants[0], rtol, atol, what)
    except AssertionError:
        if len(wants) == 1:
            raise
        close(got, wants[1], rtol, atol, what + " (vs float64)")


def assert_grads_match(xs, ts, exact_ts, tol):
    """Each input's .grad equals PyTorch's (or PyTorch's float64 one, see above)."""
    for i, (x, t) in enumerate(zip(xs, ts)):
        if not t.requires_grad:
            continue
        if t.grad is None:
            assert x.grad is None or not np.any(to_numpy(x.grad)), f"input {i}: unexpected grad"
            continue
        assert x.grad is not None, f"input {i}: no gradient (PyTorch has one)"
        assert x.grad.dtype == x.dtype, f"input {i}: grad dtype {x.grad.dtype} != {x.dtype}"
        wants = [t.grad] if exact_ts is None else [t.grad, exact_ts[i].grad]
        close_to_either(x.grad, wants, *tol, what=f"grad of input {i}")


def check_against_torch(sg_fn, torch_fn, arrays, dtype=np.float64, rng=None, grad=True, tol=None):
    """sg_fn and torch_fn on the same inputs: values, dtypes and (for a random upstream
    gradient) input gradients agree. Float inputs are cast to `dtype` and get gradients.

    tol is ((rtol, atol) of values, (rtol, atol) of gradients), TORCH_TOL[dtype] by default.
    In float32 a result may instead match PyTorch's float64 answer (see close_to_either).
    """
    dtype = np.dtype(dtype)
    rng = rng if rng is not None else np.random.default_rng(0)
    arrays = [np.asarray(a) for a in arrays]
    arrays = [a.astype(dtype) if is_float(a) else a for a in arrays]
    xs = sg_tensors(arrays, True)
    outs = as_list(sg_fn(*xs))
    ts, touts = run_torch(torch_fn, arrays)
    value_tol, grad_tol = tol if tol is not None else TORCH_TOL[dtype.name]
    assert len(outs) == len(touts)
    for i, (o, t) in enumerate(zip(outs, touts)):
        assert isinstance(o, sg.Tensor), f"output {i} is a {type(o).__name__}"
        assert o.dtype == to_numpy(t).dtype, f"output {i}: dtype {o.dtype} != torch {t.dtype}"
        assert o.requires_grad == t.requires_grad, f"output {i}: requires_grad {o.requires_grad}"
    upstream = [rng.standard_normal(t.shape).astype(dtype) for t in touts] if grad else None
    if grad:
        backward_each(outs, upstream, sg.tensor)
        backward_each(touts, upstream, torch.tensor)
    exact = None
    if dtype == np.float32:
        wide = [a.astype(np.float64) if is_float(a) else a for a in arrays]
        exact = run_torch(torch_fn, wide, upstream)
    for i, (o, t) in enumerate(zip(outs, touts)):
        wants = [t] if exact is None else [t, exact[1][i]]
        close_to_either(o, wants, *value_tol, what=f"output {i}")
    if grad:
        assert_grads_match(xs, ts, exact[0] if exact else None, grad_tol)


# ---------------------------------------------------------------- a module against torch.nn's

# (rtol, atol) for comparing modules with PyTorch in each dtype.
TOLERANCES = {"float64": (1e-9, 1e-11), "float32": (2e-4, 2e-5)}


def names(module):
    return [name for name, _ in module.named_parameters()]


def torch_state_as_numpy(tmod):
    return {k: v.detach().numpy() for k, v in tmod.state_dict().items()}


def copy_weights(smod, tmod):
    """Load torch's state dict (converted with .detach().numpy()) into the scratchgrad module."""
    smod.load_state_dict(torch_state_as_numpy(tmod))


def randomize(tmod, seed=0):
    """Non-trivial weights (LayerNorm starts at ones and zeros) so their gradients matter."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in tmod.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


def compare_with_torch(smod, tmod, x, dtype="float64", seed=0, tol=TOLERANCES):
    """Same weights, same input, same upstream gradient: outputs, input and parameter gradients
    must agree. x is a NumPy array; float inputs get gradients, integer ones (indices) don't."""
    if dtype == "float64":
        smod.double()
        tmod.double()
    copy_weights(smod, tmod)
    if x.dtype.kind == "f":
        xs = sg.tensor(x, dtype=SG_DTYPES[dtype], requires_grad=True)
        xt = torch.tensor(x, dtype=TORCH_DTYPES[dtype], requires_grad=True)
    else:
        xs, xt = sg.tensor(x), torch.tensor(x)
    out_s, out_t = smod(xs), tmod(xt)
    assert out_s.dtype == SG_DTYPES[dtype]
    close(out_s, out_t, *tol[dtype], what="output")
    upstream = np.random.default_rng(seed).standard_normal(out_s.shape)
    out_s.backward(sg.tensor(upstream, dtype=SG_DTYPES[dtype]))
    out_t.backward(torch.tensor(upstream, dtype=TORCH_DTYPES[dtype]))
    if x.dtype.kind == "f":
        close(xs.grad, xt.grad, *tol[dtype], what="input gradient")
    torch_params = dict(tmod.named_parameters())
    assert names(smod) == list(torch_params)
    for name, p in smod.named_parameters():
        assert p.grad is not None, name
        close(p.grad, torch_params[name].grad, *tol[dtype], what=f"gradient of {name}")


def uniform_bins_ok(values, low, high, bins=10):
    """Each of `bins` equal bins holds its share of the values within 5 standard deviations."""
    counts, _ = np.histogram(values, bins=bins, range=(low, high))
    share = 1 / bins
    sd = math.sqrt(share * (1 - share) / values.size)
    return np.all(np.abs(counts / values.size - share) < 5 * sd)


class Square(sg.Function):
    """x²"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class WrongSquare(Square):
    """x², with a backward that forgets the factor 2 (a planted bug)."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


class Cube(sg.Function):
    """x³, with a backward written in sg ops so that it can be differentiated again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        """g·3x²"""
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


# For tests that read sg.data.names() / tiny_shakespeare(): skip where no local copy is set up
# (tests/conftest.py), since tests never download.
needs_corpora = pytest.mark.skipif("SCRATCHGRAD_DATA" not in os.environ,
                                   reason="no local copy of the text corpora (../shared/data)")


# ---------------------------------------------------------------- errors

def raised(fn):
    """The exception fn() raises (it must raise one)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - we want whatever the oracle raises
        return exc
    raise AssertionError("no exception raised")


# How NumPy words its own errors: none of these may reach the user unchanged.
NUMPY_PREFIXES = (
    "operands could not be broadcast",
    "could not broadcast",
    "matmul: Input operand",
    "cannot reshape array",
    "all the input array dimensions",
    "all the input arrays must have",
    "axis ",
    "index ",
    "too many indices",
    "setting an array element with a sequence",
    "The truth value of an array",
    "shape mismatch",
    "could not convert",
    "invalid literal",
    "only integers, slices",
    "zero-dimensional arrays cannot be concatenated",
    "need at least one array",
    "axes don't match array",
    "repeated axis",
    "duplicate value in 'axes'",
    "non-broadcastable output operand",
)


def assert_not_bare_numpy(exc):
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} with an empty message"
    for prefix in NUMPY_PREFIXES:
        assert not message.startswith(prefix), f"bare NumPy message: {message!r}"
    assert type(exc).__module__ not in ("numpy", "numpy.exceptions"), (
        f"a NumPy exception type leaked: {type(exc)!r}")


# ---------------------------------------------------------------- documents (tutorial, notebook)

FENCE = re.compile(r"^```(\w*)[ \t]*(\S*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SITE_LINE = re.compile(r"(\b[\w.-]+\.md):\d+")


def normalized(output):
    """Printed output compared line by line: trailing spaces and chapter line numbers dropped."""
    lines = [line.rstrip() for line in SITE_LINE.sub(r"\1:N", output).strip("\n").splitlines()]
    return "\n".join(lines)

def every_primitive():
    """Every primitive of the library: the rows of the rules tables (not sg.Function's)."""
    from scratchgrad import convolution, primitives, recurrence
    from scratchgrad.core.engine import Primitive
    return [value for module in (primitives, convolution, recurrence)
            for value in vars(module).values() if isinstance(value, Primitive)]

