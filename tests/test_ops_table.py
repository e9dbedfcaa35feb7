"""Every op in tests/op_cases.py, checked three ways, plus explicit edge cases.

1. values against a NumPy reference (float64);
2. float64 gradients against finite differences (sg.gradcheck);
3. values and gradients against PyTorch, in float64 and float32, for a random
   upstream gradient.
"""
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import scratchgrad as sg
from tests.helpers import (
    TORCH_TOL,
    as_list,
    check_against_torch,
    close,
    is_float,
    sg_tensors,
    to_numpy,
)
from tests.op_cases import CASES, TIE_CASES

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (rtol, atol) against NumPy in float64; against PyTorch: helpers.TORCH_TOL.
NUMPY_TOL = (1e-9, 1e-12)


# ---------------------------------------------------------------- helpers

def draw_inputs(case, data):
    """Draw shapes and kwargs, then make each input's values from its domain."""
    shapes, kwargs = data.draw(case.args, label="shapes, kwargs")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    arrays = [np.asarray(case.domain(i).make(rng, s)) for i, s in enumerate(shapes)]
    note(f"inputs: {arrays!r}")
    return arrays, kwargs, rng


def quietly(fn):
    """Run fn with NumPy's and PyTorch's warnings off (nan from empty means is expected)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


# ---------------------------------------------------------------- the table

@pytest.mark.parametrize("case", CASES, ids=str)
@FAST
@given(data=st.data())
def test_values_match_numpy(case, data):
    """op(x) in float64 equals the NumPy reference."""
    arrays, kwargs, _ = draw_inputs(case, data)
    outs = as_list(quietly(lambda: case.sg(*sg_tensors(arrays, False), **kwargs)))
    want = as_list(case.ref(*arrays, **kwargs))
    assert len(outs) == len(want)
    for i, (got, ref) in enumerate(zip(outs, want)):
        assert isinstance(got, sg.Tensor), f"output {i} is a {type(got).__name__}"
        if is_float(np.asarray(ref)):
            assert got.dtype == np.float64, f"output {i}: float64 inputs gave {got.dtype}"
        close(got, ref, *NUMPY_TOL, what=f"output {i}")


@pytest.mark.parametrize("case", [c for c in CASES if c.grad and c.gradcheck], ids=str)
@FAST
@given(data=st.data())
def test_gradcheck(case, data):
    """Backward equals central finite differences, in float64."""
    arrays, kwargs, _ = draw_inputs(case, data)
    inputs = sg_tensors([a.astype(np.float64) if is_float(a) else a for a in arrays], True)
    assert quietly(lambda: sg.gradcheck(lambda *xs: case.sg(*xs, **kwargs), inputs)) is True


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES + TIE_CASES, ids=str)
@FAST
@given(data=st.data())
def test_matches_torch(case, dtype, data):
    """Values, dtypes and gradients equal PyTorch's for the same inputs."""
    arrays, kwargs, rng = draw_inputs(case, data)
    quietly(lambda: check_against_torch(lambda *xs: case.sg(*xs, **kwargs),
                                        lambda *ts: case.torch(*ts, **kwargs),
                                        arrays, dtype, rng, case.grad))


# ---------------------------------------------------------------- ties and kinks (PyTorch's conventions)

def grad_of(fn, *values):
    """Gradients of fn(*inputs).sum() with respect to each float64 input."""
    xs = [sg.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.detach().numpy() for x in xs]


def test_max_tie_shares_gradient():
    """d max([1, 3, 3]) = [0, 1/2, 1/2], as torch.amax."""
    (g,) = grad_of(sg.max, [1.0, 3.0, 3.0])
    np.testing.assert_allclose(g, [0.0, 0.5, 0.5])


def test_min_tie_along_axis():
    """min over axis 1 of [[2, 2], [1, 3]]: the tied row splits its gradient."""
    (g,) = grad_of(lambda x: sg.amin(x, axis=1), [[2.0, 2.0], [1.0, 3.0]])
    np.testing.assert_allclose(g, [[0.5, 0.5], [1.0, 0.0]])


def test_maximum_tie_splits_evenly():
    """maximum(a, b) where a == b sends 1/2 to each, as torch.maximum."""
    ga, gb = grad_of(sg.maximum, [1.0, 2.0], [1.0, 3.0])
    np.testing.assert_allclose(ga, [0.5, 0.0])
    np.testing.assert_allclose(gb, [0.5, 1.0])


def test_minimum_tie_splits_evenly():
    ga, gb = grad_of(sg.minimum, [1.0, 4.0], [1.0, 3.0])
    np.testing.assert_allclose(ga, [0.5, 0.0])
    np.testing.assert_allclose(gb, [0.5, 1.0])


def test_maximum_of_a_tensor_with_itself():
    """maximum(a, a) = a, so the two halves add up to 1."""
    (g,) = grad_of(lambda a: sg.maximum(a, a), [1.0, -2.0])
    np.testing.assert_allclose(g, [1.0, 1.0])


def test_relu_grad_at_zero_is_zero():
    (g,) = grad_of(sg.relu, [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(g, [0.0, 0.0, 1.0])


def test_abs_grad_at_zero_is_zero():
    (g,) = grad_of(sg.abs, [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(g, [-1.0, 0.0, 1.0])


KINKS = {
    "max": (lambda m, x: m.amax(x) if m is torch else m.max(x), [[1.0, 3.0, 3.0]]),
    "max axis": (lambda m, x: m.amax(x, 0),
                 [[[1.0, 2.0], [1.0, 0.0]]]),
    "maximum": (lambda m, a, b: m.maximum(a, b), [[1.0, 2.0, 3.0], [1.0, 1.0, 3.0]]),
    "minimum": (lambda m, a, b: m.minimum(a, b), [[1.0, 2.0, 3.0], [1.0, 1.0, 3.0]]),
    "relu": (lambda m, x: m.relu(x), [[-1.0, 0.0, 1.0]]),
    "leaky_relu": (lambda m, x: (F if m is torch else m).leaky_relu(x, 0.2), [[-1.0, 0.0, 1.0]]),
    "abs": (lambda m, x: m.abs(x), [[-1.0, 0.0, 1.0]]),
    "clip at bounds": (lambda m, x: m.clamp(x, -1.0, 1.0) if m is torch else m.clip(x, -1.0, 1.0),
                       [[-1.0, 0.0, 1.0, 2.0]]),
    "clip tensor bounds": (lambda m, x, lo, hi: m.clamp(x, lo, hi) if m is torch
                           else m.clip(x, lo, hi),
                           [[-1.0, 0.0, 1.0, 2.0], [-1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 1.0, 2.0]]),
    "prod with a zero": (lambda m, x: m.prod(x, 1) if m is torch else m.prod(x, axis=1),
                         [[[2.0, 0.0, 3.0], [0.0, 0.0, 1.0]]]),
    "sqrt at 0": (lambda m, x: m.sqrt(x), [[0.0, 4.0]]),
    "x**2 at 0": (lambda m, x: x ** 2, [[0.0, 1.0]]),
    "x**0 at 0": (lambda m, x: x ** 0, [[0.0, 1.0]]),
    "x**0.5 at 0": (lambda m, x: x ** 0.5, [[0.0, 1.0]]),
    "pow(0, y)": (lambda m, x, y: m.pow(x, y), [[0.0, 0.0, 0.0, 2.0], [0.0, 1.0, 2.5, 0.0]]),
    "2**x": (lambda m, x: 2 ** x, [[0.0, -1.0]]),
    "std of constant": (lambda m, x: m.std(x), [[1.0, 1.0, 1.0]]),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", KINKS)
def test_kinks_and_ties_match_torch(name, dtype):
    """At kinks, ties and zeros, values and (sub)gradients are PyTorch's."""
    fn, values = KINKS[name]
    quietly(lambda: check_against_torch(lambda *xs: fn(sg, *xs), lambda *ts: fn(torch, *ts),
                                        [np.array(v) for v in values], dtype))


# ---------------------------------------------------------------- explicit shapes

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)),
    ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((1, 2, 3), (4, 3, 2)),
    ((0, 3), (3, 2)), ((2, 0), (0, 3)), ((0,), (0,)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_shapes_match_torch(shapes, dtype):
    """1-D, 2-D, batched and broadcast-batch matmul, values and gradients."""
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in shapes]
    check_against_torch(sg.matmul, torch.matmul, arrays, dtype, rng)


def test_matmul_broadcast_batch_shape():
    """(2, 1, 3, 4) @ (5, 4, 2) has shape (2, 5, 3, 2); each grad keeps its input's shape."""
    a = sg.tensor(np.ones((2, 1, 3, 4)), requires_grad=True)
    b = sg.tensor(np.ones((5, 4, 2)), requires_grad=True)
    out = a @ b
    assert out.shape == (2, 5, 3, 2)
    out.sum().backward()
    assert a.grad.shape == (2, 1, 3, 4) and b.grad.shape == (5, 4, 2)
    np.testing.assert_allclose(a.grad.detach().numpy(), np.full((2, 1, 3, 4), 10.0))  # 5 batches x 2 cols
    np.testing.assert_allclose(b.grad.detach().numpy(), np.full((5, 4, 2), 6.0))      # 2 batches x 3 rows


def test_repeated_indices_accumulate():
    """x[[0, 0, 2]] sends gradient 2 to x[0], 0 to x[1], 1 to x[2]."""
    (g,) = grad_of(lambda x: x[np.array([0, 0, 2])], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(g, [2.0, 0.0, 1.0])


def test_repeated_index_pairs_accumulate():
    """x[rows, cols] with a repeated (row, col) pair adds both gradients there."""
    rows, cols = np.array([1, 1, 0]), np.array([2, 2, 0])
    (g,) = grad_of(lambda x: x[rows, cols], np.zeros((2, 3)))
    np.testing.assert_allclose(g, [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])


def test_gathered_rows_accumulate_as_add_at():
    """An embedding's backward: rows picked many times by a 2-D index, -1 and n - 1 naming the
    same row, add up as np.add.at adds them (1-D x too)."""
    rng = np.random.default_rng(5)
    rows = rng.integers(-7, 7, (6, 40))
    for shape in ((7, 3), (7,)):
        x = sg.tensor(rng.standard_normal(shape), requires_grad=True)
        g = rng.standard_normal(rows.shape + shape[1:])
        x[sg.tensor(rows)].backward(sg.tensor(g))
        want = np.zeros(shape)
        np.add.at(want, rows, g)
        np.testing.assert_allclose(x.grad.detach().numpy(), want, rtol=1e-12)


INDEX_FORMS = {
    "list with repeats": lambda m, x: x[[0, 0, 2]],
    "int tensor with repeats": lambda m, x: x[m.tensor([2, 0, 2, 2])],
    "2-D int tensor": lambda m, x: x[m.tensor([[1, 1], [0, 2]])],
    "mask from a comparison": lambda m, x: x[x > 0],
    "mask tensor on rows": lambda m, x: x[m.tensor([True, False, True])],
    "rows and cols": lambda m, x: x[[0, 2, 0], [1, 1, 1]],
    "slice then list": lambda m, x: x[1:, [1, 1, 0]],
    "None and Ellipsis": lambda m, x: x[None, ..., 1],
    "negative int": lambda m, x: x[-1, -2],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", INDEX_FORMS)
def test_index_forms_match_torch(name, dtype):
    """Keys as users write them (lists, Tensors, masks from comparisons), values and grads."""
    fn = INDEX_FORMS[name]
    x = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0], [7.0, 8.0, -9.0]])
    check_against_torch(lambda x: fn(sg, x), lambda x: fn(torch, x), [x], dtype)


def test_negative_step_slice():
    """x[::-2] picks x[3], x[1]; the gradient lands back there."""
    x = sg.tensor(np.arange(4.0), requires_grad=True)
    y = x[::-2]
    np.testing.assert_array_equal(y.detach().numpy(), [3.0, 1.0])
    y.backward(sg.tensor(np.array([10.0, 20.0])))
    np.testing.assert_array_equal(x.grad.detach().numpy(), [0.0, 20.0, 0.0, 10.0])


def test_pad_starts_from_last_dim():
    """F.pad's (left, right, top, bottom): (2, 3) padded by (1, 2, 0, 1) becomes (3, 6)."""
    x = sg.tensor(np.ones((2, 3)), requires_grad=True)
    y = sg.pad(x, (1, 2, 0, 1), value=7.0)
    want = F.pad(torch.ones(2, 3, dtype=torch.float64), (1, 2, 0, 1), value=7.0)
    close(y, want, *NUMPY_TOL)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), np.ones((2, 3)))


def test_squeeze_of_non_one_dim_is_a_no_op():
    """squeeze(0) of shape (2, 1) keeps (2, 1); squeeze(1) gives (2,); gradients flow."""
    x = sg.tensor(np.array([[1.0], [2.0]]), requires_grad=True)
    assert x.squeeze(0).shape == (2, 1)
    assert sg.squeeze(x, -2).shape == (2, 1)
    assert x.squeeze(1).shape == (2,)
    (x.squeeze(0) * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), [[3.0], [3.0]])


def test_split_and_cat_round_trip():
    """cat(split(x)) == x, and each piece's gradient lands in its own slice."""
    x = sg.tensor(np.arange(10.0).reshape(5, 2), requires_grad=True)
    pieces = sg.split(x, 2)
    assert [p.shape for p in pieces] == [(2, 2), (2, 2), (1, 2)]
    np.testing.assert_array_equal(sg.cat(pieces, 0).detach().numpy(), x.detach().numpy())
    (pieces[2] * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy()[4], [5.0, 5.0])
    assert not np.any(x.grad.detach().numpy()[:4])


# ---------------------------------------------------------------- 0-d tensors

ZERO_D = {
    "sum": (lambda m, x: m.sum(x, 0), lambda m, x: m.sum(x, -1, keepdim=True)),
    "mean": (lambda m, x: m.mean(x, 0), lambda m, x: m.mean(x, -1, keepdim=True)),
    "max": (lambda m, x: m.amax(x, 0),
            lambda m, x: m.amax(x, -1, keepdim=True)),
    "min": (lambda m, x: m.amin(x, 0),
            lambda m, x: m.amin(x, -1, keepdim=True)),
    "prod": (lambda m, x: m.prod(x, 0), lambda m, x: m.prod(x, -1, keepdim=True)),
    "logsumexp": (lambda m, x: m.logsumexp(x, 0), lambda m, x: m.logsumexp(x, -1, keepdim=True)),
    "var": (lambda m, x: m.var(x, 0, correction=0), lambda m, x: m.var(x, -1, correction=0)),
    "softmax": (lambda m, x: m.softmax(x, 0), lambda m, x: m.softmax(x, -1)),
    "log_softmax": (lambda m, x: m.log_softmax(x, 0), lambda m, x: m.log_softmax(x, -1)),
    "unsqueeze": (lambda m, x: m.unsqueeze(x, 0), lambda m, x: m.unsqueeze(x, -1)),
    "squeeze": (lambda m, x: m.squeeze(x, 0), lambda m, x: m.squeeze(x, -1)),
    "flatten": (lambda m, x: m.flatten(x), lambda m, x: m.reshape(x, (1, 1))),
    "transpose": (lambda m, x: m.transpose(x, 0, -1), lambda m, x: m.permute(x, ())),
    "index": (lambda m, x: x[None], lambda m, x: x[...]),
    "mul": (lambda m, x: x * m.tensor(np.ones((2, 1))), lambda m, x: 3.0 / x),
    "stack": (lambda m, x: m.stack([x, x * 2]), lambda m, x: m.stack([x, x], -1)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("form", [0, 1])
@pytest.mark.parametrize("name", ZERO_D)
def test_zero_d(name, form, dtype):
    """Ops accept 0-d tensors (axis 0 and -1 mean the only 'dimension'), like PyTorch."""
    fn = ZERO_D[name][form]
    check_against_torch(lambda x: fn(sg, x), lambda x: fn(torch, x), [np.array(1.5)], dtype)


def test_argmax_of_0d():
    assert sg.argmax(sg.tensor(2.0), 0).item() == 0
    assert sg.tensor(2.0).argmin(dim=-1).shape == ()


# ---------------------------------------------------------------- empty tensors

def test_sum_of_empty_is_zero():
    s = sg.sum(sg.tensor(np.zeros((0, 3), dtype=np.float32)))
    assert s.shape == () and s.dtype == np.float32 and s.item() == 0.0


def test_mean_of_empty_is_nan():
    """torch.mean of an empty tensor is nan (0 / 0), not an error."""
    m = quietly(lambda: sg.mean(sg.tensor(np.zeros(0, dtype=np.float32))))
    assert m.shape == () and math.isnan(m.item())


EMPTY = {
    "sum": lambda m, x: m.sum(x),
    "sum axis 0": lambda m, x: m.sum(x, 0),
    "sum axis 1": lambda m, x: m.sum(x, 1),
    "mean": lambda m, x: m.mean(x),
    "mean axis 0": lambda m, x: m.mean(x, 0),
    "prod": lambda m, x: m.prod(x),
    "logsumexp axis 0": lambda m, x: m.logsumexp(x, 0),
    "max over the nonempty axis": lambda m, x: m.amax(x, 1),
    "softmax": lambda m, x: m.softmax(x, 0),
    "exp": lambda m, x: m.exp(x),
    "reshape": lambda m, x: m.reshape(x, (3, 0, 1)),
    "matmul": lambda m, x: m.matmul(m.transpose(x, 0, 1), x),
    "matmul inner 0": lambda m, x: m.matmul(x, m.transpose(x, 0, 1)),
    "cat": lambda m, x: m.cat([x, x * 2], 0),
    "index": lambda m, x: x[:, 1],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", EMPTY)
def test_empty(name, dtype):
    """Reductions and ops on a (0, 3) tensor give PyTorch's results (0, 1, nan, -inf, empty)."""
    fn = EMPTY[name]
    quietly(lambda: check_against_torch(lambda x: fn(sg, x), lambda x: fn(torch, x),
                                        [np.zeros((0, 3))], dtype))


@pytest.mark.parametrize("name", ["max", "min", "argmax"])
def test_empty_reduction_without_identity_raises(name):
    """max/min of an empty tensor has no value: PyTorch raises, and so must we."""
    with pytest.raises((RuntimeError, IndexError)):
        getattr(torch, name)(torch.zeros(0))
    with pytest.raises((RuntimeError, IndexError, ValueError)):
        getattr(sg, name)(sg.tensor(np.zeros(0)))


# ---------------------------------------------------------------- numerical stability

STABLE = {
    "logsumexp": lambda m, x: m.logsumexp(x, -1),
    "softmax": lambda m, x: m.softmax(x, -1),
    "log_softmax": lambda m, x: m.log_softmax(x, -1),
}
EXTREME = {
    "+1e4": [[1e4, 1e4 - 1.0, 0.0]],
    "-1e4": [[-1e4, -1e4 + 2.0, -1e4 + 0.5]],
    "mixed 1e4": [[1e4, -1e4, 3.0], [-1e4, -1e4, -1e4]],
    "-inf entry": [[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("inputs", EXTREME)
@pytest.mark.parametrize("name", STABLE)
def test_stable_at_extremes(name, inputs, dtype):
    """No overflow at ±1e4, and -inf entries get probability 0 (gradient 0), like PyTorch."""
    fn = STABLE[name]
    x = np.array(EXTREME[inputs])
    check_against_torch(lambda x: fn(sg, x), lambda x: fn(torch, x), [x], dtype)
    s = sg.tensor(x.astype(dtype), requires_grad=True)
    out = fn(sg, s)
    out.sum().backward()
    assert np.all(np.isfinite(s.grad.detach().numpy()))
    finite = np.isfinite(x) if name == "log_softmax" else np.ones(out.shape, bool)
    assert np.all(np.isfinite(out.detach().numpy()[finite]))


@pytest.mark.parametrize("name", STABLE)
def test_all_neg_inf_row(name):
    """A row of only -inf: logsumexp is -inf, softmax nan, as in PyTorch."""
    fn = STABLE[name]
    x = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
    want = fn(torch, torch.tensor(x))
    close(quietly(lambda: fn(sg, sg.tensor(x))), want, *NUMPY_TOL)


# ---------------------------------------------------------------- nan and inf

SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0])
UNARY_SPECIALS = {
    "exp": lambda m, x: m.exp(x),
    "log": lambda m, x: m.log(x),
    "sqrt": lambda m, x: m.sqrt(x),
    "abs": lambda m, x: m.abs(x),
    "tanh": lambda m, x: m.tanh(x),
    "sigmoid": lambda m, x: m.sigmoid(x),
    "relu": lambda m, x: m.relu(x),
    "softplus": lambda m, x: (F if m is torch else m).softplus(x),
    "neg": lambda m, x: -x,
    "1/x": lambda m, x: 1 / x,
    "x**-1": lambda m, x: x ** -1.0,
    "clip": lambda m, x: m.clamp(x, -1.0, 1.0) if m is torch else m.clip(x, -1.0, 1.0),
    "maximum": lambda m, x: m.maximum(x, m.zeros_like(x)),
    "minimum": lambda m, x: m.minimum(m.zeros_like(x), x),
    "sum": lambda m, x: m.sum(x[:1]) + m.sum(x[1:2]),
    "max": lambda m, x: m.amax(x) if m is torch else m.max(x),
    "min": lambda m, x: m.amin(x[:2]) if m is torch else m.min(x[:2]),
    "mean": lambda m, x: m.mean(x),
    "prod": lambda m, x: m.prod(x[1:]),
    "softmax": lambda m, x: m.softmax(x, 0),
    "logsumexp": lambda m, x: m.logsumexp(x, 0),
    "logsumexp +inf": lambda m, x: m.logsumexp(x[1:], 0),
}


@pytest.mark.parametrize("name", UNARY_SPECIALS)
def test_nan_and_inf_values_match_torch(name):
    """nan propagates and ±inf gives PyTorch's limits (values only)."""
    fn = UNARY_SPECIALS[name]
    want = quietly(lambda: fn(torch, torch.tensor(SPECIALS)))
    close(quietly(lambda: fn(sg, sg.tensor(SPECIALS))), want, *NUMPY_TOL)


# ---------------------------------------------------------------- dtypes

DTYPE_RULES = {
    "float list": lambda m: m.tensor([1.5, 2.0]),
    "int list": lambda m: m.tensor([1, 2]),
    "int * 0.5": lambda m: m.tensor([1, 2]) * 0.5,
    "int + 2": lambda m: m.tensor([1, 2]) + 2,
    "int / int": lambda m: m.tensor([1, 2]) / m.tensor([2, 4]),
    "int / 2": lambda m: m.tensor([1, 3]) / 2,
    "exp(int)": lambda m: m.exp(m.tensor([1, 2])),
    "sqrt(int)": lambda m: m.sqrt(m.tensor([1, 4])),
    "sum(bool)": lambda m: m.sum(m.tensor([True, False, True])),
    "sum(int)": lambda m: m.sum(m.tensor([1, 2])),
    "float32 + float64": lambda m: m.tensor([1.0], dtype=m.float32) + m.tensor([2.0], dtype=m.float64),
    "float32 + int": lambda m: m.tensor([1.0]) + m.tensor([2]),
    "float32 + 0-d float64": lambda m: m.tensor([1.0]) + m.tensor(2.0, dtype=m.float64),
    "int + 0-d float64": lambda m: m.tensor([1]) + m.tensor(2.0, dtype=m.float64),
    "float64 * 2.5": lambda m: m.tensor([1.0], dtype=m.float64) * 2.5,
    "bool + bool": lambda m: m.tensor([True]) + m.tensor([True]),
    "bool * 2": lambda m: m.tensor([True, False]) * 2,
    "2 ** int": lambda m: 2 ** m.tensor([1, 2]),
    "int ** 2": lambda m: m.tensor([1, 2]) ** 2,
    "int @ int": lambda m: m.tensor([1, 2]) @ m.tensor([3, 4]),
    "prod(int)": lambda m: m.prod(m.tensor([2, 3])),
    "max(int)": lambda m: m.max(m.tensor([2, 3])),
    "argmax": lambda m: m.argmax(m.tensor([1.0, 3.0])),
    "int < 1.5": lambda m: m.tensor([1, 2]) < 1.5,
    "softmax(float64)": lambda m: m.softmax(m.tensor([1.0, 2.0], dtype=m.float64), 0),
    "where(cond, int, float)": lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2]),
                                                 m.tensor([0.5, 1.5])),
}


@pytest.mark.parametrize("name", DTYPE_RULES)
def test_result_dtype_matches_torch(name):
    """Result dtypes follow PyTorch's promotion (float32 default, int / int is float)."""
    got, want = DTYPE_RULES[name](sg), DTYPE_RULES[name](torch)
    assert got.dtype == to_numpy(want).dtype, f"{name}: {got.dtype}, PyTorch {want.dtype}"
    close(got, want, *TORCH_TOL["float32"][0])


def test_comparisons_are_bool_without_grad():
    a = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for out in (a < 2, a <= 2, a > 2, a >= 2, a == 2, a != 2, 2 < a, a < a * 1):
        assert out.dtype == np.bool_ and out.requires_grad is False and out.grad_fn is None
    np.testing.assert_array_equal((a >= 2).detach().numpy(), [False, True, True])


def test_grad_keeps_input_dtype():
    """A float32 leaf gets a float32 gradient even when the graph computes in float64."""
    x = sg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * sg.tensor(np.full(3, 2.0))).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.detach().numpy(), [2.0, 2.0, 2.0])
