"""No NumPy RuntimeWarning escapes from scratchgrad at extreme inputs, and the values match PyTorch.

Every op of the op table (tests/op_cases.py) and the nn.functional losses and activations run
with RuntimeWarning turned into an error, forward and backward, on inputs drawn from float32's
extremes: ±3e38 (near float32's max), ±1e30, subnormal and tiny values, ±0, ±inf and nan.
With finite inputs the values must equal PyTorch's, inf and nan included.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import scratchgrad as sg
import scratchgrad.nn.functional as F
from tests.op_cases import CASES, TIE_CASES

FAST = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FINITE = np.array([3e38, -3e38, 1e30, -1e30, 1e-38, -1e-45, 0.0, -0.0, 1.0, -2.5], np.float32)
# Where an op adds up many values (sum, var, matmul), whether a float32 total near the max is
# inf or finite depends on the order and precision of accumulation (PyTorch accumulates some in
# float64): their values are compared on inputs whose sums and squares stay in range.
SUMMABLE = np.array([1e18, -1e18, 1e-38, -1e-45, 0.0, -0.0, 1.0, -2.5], np.float32)
ACCUMULATING = {"sum", "mean", "var", "std", "var(correction=0)", "prod", "logsumexp", "matmul",
                "mm", "bmm", "mv", "dot", "addmm", "norm", "norm(p=3)",
                "a@b", "cumsum", "x.cumsum(dim)", "einsum", "F.linear", "F.conv2d", "F.avg_pool2d",
                "F.layer_norm"}
# Ops that return indices next to values (sort, topk): only the values are compared here.
ORDERING = {"sort", "topk", "argsort"}
NON_FINITE = np.array([np.inf, -np.inf, np.nan], np.float32)
# Rows whose inputs must be probabilities (outside [0, 1] they raise, as PyTorch): their
# extremes (0, 1, tiny) are checked with the losses below.
PROBABILITY_INPUTS = {"F.binary_cross_entropy"}


def extreme_arrays(case, shapes, rng, values):
    """Each float input filled from the values (bool and int inputs keep their domain)."""
    arrays = []
    for i, shape in enumerate(shapes):
        a = np.asarray(case.domain(i).make(rng, shape))
        arrays.append(rng.choice(values, shape).astype(np.float32) if a.dtype.kind == "f" else a)
    return arrays


def outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def run_scratchgrad(fn, arrays, **kwargs):
    """Forward and backward (upstream gradient of ones) with RuntimeWarning as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # var of one element warns, as PyTorch does
        warnings.simplefilter("error", RuntimeWarning)
        xs = [sg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        outs = outputs(fn(*xs, **kwargs))
        for i, o in enumerate(outs):
            if o.requires_grad:
                o.backward(sg.ones(o.shape, dtype=o.dtype), retain_graph=i < len(outs) - 1)
    return [o.detach() for o in outs]


def torch_values(fn, arrays, dtype, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = [torch.tensor(a.astype(dtype) if a.dtype.kind == "f" else a) for a in arrays]
        return [t.detach().numpy() for t in outputs(fn(*ts, **kwargs))]


def assert_same_values(outs, wants, atol=0.0):
    """Equal to PyTorch's float32 values, inf and nan included, or, where PyTorch's own float32
    answer depends on its accumulation order (a sum near the float32 max), to its float64 one."""
    for i, o in enumerate(outs):
        got = np.asarray(o.data)
        for want in wants:
            want = want[i].astype(got.dtype) if want[i].dtype.kind == "f" else want[i]
            if got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=atol,
                                                        equal_nan=True):
                break
        else:
            np.testing.assert_allclose(got, wants[0][i], rtol=1e-5, atol=atol, equal_nan=True,
                                       err_msg=f"output {i}")


def cancellation_scale(arrays):
    """What a sum of these values may lose to rounding: 1e-6 of the largest product of two
    inputs (matmul's terms, var's squares), and the float32 subnormals (flushed when squared)."""
    largest = max((float(np.max(np.abs(a))) for a in arrays if a.dtype.kind == "f" and a.size),
                  default=0.0)
    return 1e-6 * max(largest, 1.0) ** 2 + 1e-37


@pytest.mark.parametrize("case", [c for c in CASES + TIE_CASES if c.name not in PROBABILITY_INPUTS],
                         ids=str)
@FAST
@given(data=st.data(), kind=st.sampled_from(["finite", "non-finite", "summable"]))
def test_op_table_at_extreme_inputs(case, data, kind):
    shapes, kwargs = data.draw(case.args, label="shapes, kwargs")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    values = {"finite": FINITE, "non-finite": np.concatenate([FINITE, NON_FINITE]),
              "summable": SUMMABLE}[kind]
    arrays = extreme_arrays(case, shapes, rng, values)
    note(f"inputs: {arrays!r}")
    outs = run_scratchgrad(case.sg, arrays, **kwargs)
    accumulating = case.name.split(" (")[0] in ACCUMULATING
    if kind == ("summable" if accumulating else "finite"):
        wants = [torch_values(case.torch, arrays, dtype, **kwargs)
                 for dtype in (np.float32, np.float64)]
        if case.name.split(" (")[0] in ORDERING:  # drawn values tie often: which index comes first
            outs, wants = outs[:1], [want[:1] for want in wants]  # among equals is not specified
        assert_same_values(outs, wants, cancellation_scale(arrays) if accumulating else 0.0)


# ---------------------------------------------------------------- nn.functional

def _logits_and_classes(rng, values):
    return [rng.choice(values, (3, 4)).astype(np.float32), rng.integers(0, 4, 3)]


def _pair(rng, values):
    return [rng.choice(values, (2, 3)).astype(np.float32) for _ in range(2)]


def _probabilities(rng, values):
    """BCE's input and target must lie in [0, 1] (PyTorch refuses others): their extremes are
    0, 1 and tiny."""
    edges = np.array([0.0, 1.0, 1e-38, 1e-45, 1 - 2**-24, 0.5], np.float32)
    return [rng.choice(edges, (2, 3)), rng.choice(edges, (2, 3))]


def _one(rng, values):
    return [rng.choice(values, (2, 4)).astype(np.float32)]


def _images(rng, values):
    return [rng.choice(values, (1, 2, 4, 4)).astype(np.float32)]


# name: (scratchgrad, PyTorch, inputs, accumulating)
FUNCTIONAL = {
    "gelu": (F.gelu, TF.gelu, _one, False),
    "gelu(tanh)": (lambda x: F.gelu(x, approximate="tanh"),
                   lambda x: TF.gelu(x, approximate="tanh"), _one, False),
    "softplus": (F.softplus, TF.softplus, _one, False),
    "softplus(beta=2)": (lambda x: F.softplus(x, beta=2.0), lambda x: TF.softplus(x, beta=2.0),
                         _one, False),
    "sigmoid": (F.sigmoid, torch.sigmoid, _one, False),
    "tanh": (F.tanh, torch.tanh, _one, False),
    "relu": (F.relu, TF.relu, _one, False),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu, _one, False),
    "softmax": (lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1), _one, False),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1), lambda x: TF.log_softmax(x, dim=1),
                    _one, False),
    "layer_norm": (lambda x: F.layer_norm(x, (4,)), lambda x: TF.layer_norm(x, (4,)), _one, True),
    "mse_loss": (F.mse_loss, TF.mse_loss, _pair, True),
    "l1_loss": (F.l1_loss, TF.l1_loss, _pair, True),
    "cross_entropy": (F.cross_entropy, TF.cross_entropy, _logits_and_classes, True),
    "cross_entropy(probabilities)": (F.cross_entropy, TF.cross_entropy, _pair, True),
    "nll_loss": (F.nll_loss, TF.nll_loss, _logits_and_classes, True),
    "binary_cross_entropy_with_logits": (F.binary_cross_entropy_with_logits,
                                         TF.binary_cross_entropy_with_logits, _pair, True),
    "binary_cross_entropy": (F.binary_cross_entropy, TF.binary_cross_entropy, _probabilities,
                             True),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), _images, True),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), _images, False),
    "batch_norm": (lambda x: F.batch_norm(x, None, None, training=True),
                   lambda x: TF.batch_norm(x, None, None, training=True), _images, True),
}


@pytest.mark.parametrize("name", FUNCTIONAL)
@FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["finite", "non-finite", "summable"]))
def test_functional_at_extreme_inputs(name, seed, kind):
    sg_fn, torch_fn, make, accumulating = FUNCTIONAL[name]
    values = {"finite": FINITE, "non-finite": np.concatenate([FINITE, NON_FINITE]),
              "summable": SUMMABLE}[kind]
    arrays = make(np.random.default_rng(seed), values)
    note(f"inputs: {arrays!r}")
    outs = run_scratchgrad(sg_fn, arrays)
    if kind == ("summable" if accumulating else "finite"):
        wants = [torch_values(torch_fn, arrays, dtype) for dtype in (np.float32, np.float64)]
        assert_same_values(outs, wants, cancellation_scale(arrays) if accumulating else 0.0)


def test_sg_grad_at_extreme_inputs_gives_no_warning():
    x = sg.tensor([3e38, -3e38, 0.0, np.inf], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        (g,) = sg.grad((x * x / x).sum(), x)
    t = torch.tensor([3e38, -3e38, 0.0, np.inf], requires_grad=True)
    (want,) = torch.autograd.grad((t * t / t).sum(), t)
    np.testing.assert_array_equal(np.isnan(g.numpy()), np.isnan(want.numpy()))
