"""Losses (sg.nn.functional and the module forms) against torch.nn.functional.

Every case compares the value and the gradients w.r.t. the input (and w.r.t. a float target
that requires grad) with PyTorch's, for each reduction.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import scratchgrad as sg
from scratchgrad.nn import functional as F
from tests.helpers import close

SG_DTYPES = {"float64": sg.float64, "float32": sg.float32}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}
TOLERANCES = {"float64": (1e-9, 1e-12), "float32": (1e-5, 1e-6)}
REDUCTIONS = ["mean", "sum", "none"]


def pair(values, dtype="float64", requires_grad=False):
    """The same values as a scratchgrad and a PyTorch tensor (integers stay int64)."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return sg.tensor(values), torch.tensor(values)
    s = sg.tensor(values, dtype=SG_DTYPES[dtype], requires_grad=requires_grad)
    t = torch.tensor(values, dtype=TORCH_DTYPES[dtype], requires_grad=requires_grad)
    return s, t


def check(name, x, target, dtype="float64", target_grad=False, seed=0, **kwargs):
    """F.<name>(x, target, **kwargs) vs torch: value, dtype, input and target gradients."""
    xs, xt = pair(x, dtype, requires_grad=True)
    ts, tt = pair(target, dtype, requires_grad=target_grad)
    kw_s, kw_t = {}, {}
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray):
            kw_s[key], kw_t[key] = pair(value, dtype)
        else:
            kw_s[key] = kw_t[key] = value
    out_t = getattr(TF, name)(xt, tt, **kw_t)
    out_s = getattr(F, name)(xs, ts, **kw_s)
    assert out_s.shape == tuple(out_t.shape)
    assert out_s.dtype == SG_DTYPES[dtype]
    close(out_s, out_t, *TOLERANCES[dtype])
    upstream = np.random.default_rng(seed).standard_normal(out_s.shape) + 1
    out_s.backward(sg.tensor(upstream, dtype=SG_DTYPES[dtype]))
    out_t.backward(torch.tensor(upstream, dtype=TORCH_DTYPES[dtype]))
    close(xs.grad, xt.grad, *TOLERANCES[dtype])
    if target_grad:
        assert ts.grad is not None
        close(ts.grad, tt.grad, *TOLERANCES[dtype])
    return out_s


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def logits(rng, *shape):
    return rng.standard_normal(shape) * 2


def probabilities(rng, shape, axis):
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis, keepdims=True)


# ---------------------------------------------------------------- regression losses


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses(name, reduction, dtype, rng):
    x = rng.standard_normal((3, 4))
    target = rng.standard_normal((3, 4))
    target[0, :2] = x[0, :2]  # ties: |x - t| has gradient 0 there in PyTorch
    check(name, x, target, dtype, target_grad=True, reduction=reduction)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses_warn_on_mismatched_shapes_like_torch(name, rng):
    x, target = rng.standard_normal(3), rng.standard_normal((3, 1))
    with pytest.warns(UserWarning):
        getattr(TF, name)(torch.tensor(x), torch.tensor(target))
    with pytest.warns(UserWarning, match=r"\(3, 1\)"):
        getattr(F, name)(sg.tensor(x), sg.tensor(target))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = check(name, x, target, target_grad=True)  # the broadcast value is torch's
    assert out.shape == ()


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses_do_not_warn_on_equal_shapes(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(F, name)(sg.ones(2, 3), sg.zeros(2, 3))


# ---------------------------------------------------------------- cross_entropy / nll_loss


def class_targets(rng, shape, n_classes, ignore=None):
    """Random classes; with `ignore`, one target (not all: see test_all_targets_ignored) is it."""
    t = rng.integers(0, n_classes, size=shape)
    if ignore is not None and t.ndim:
        t.flat[1] = ignore
    elif ignore is not None and t == ignore:
        t = (t + 1) % n_classes
    return t


# (input shape, target shape) for the three layouts: (N, C), (N, C, d1, d2) and (C,)
LAYOUTS = {"NC": ((5, 4), (5,)), "NCdd": ((2, 4, 3, 2), (2, 3, 2)), "C": ((4,), ())}
CLASS_OPTIONS = {
    "plain": {},
    "weight": {"weight": np.array([0.2, 1.0, 2.5, 0.7])},
    "ignore-default": {"ignore": -100},
    "ignore-1": {"ignore_index": 1, "ignore": 1},
    "weight-ignore": {"weight": np.array([0.2, 1.0, 2.5, 0.7]), "ignore_index": 3, "ignore": 3},
}
SMOOTHING_OPTIONS = {
    "smooth": {"label_smoothing": 0.1},
    "smooth-weight": {"label_smoothing": 0.2, "weight": np.array([0.2, 1.0, 2.5, 0.7])},
    "smooth-ignore": {"label_smoothing": 0.3, "ignore": -100},
    "smooth-weight-ignore": {"label_smoothing": 0.1, "weight": np.array([0.2, 1.0, 2.5, 0.7]),
                             "ignore_index": 0, "ignore": 0},
}


def class_case(rng, layout, options):
    in_shape, t_shape = LAYOUTS[layout]
    kwargs = dict(options)
    ignore = kwargs.pop("ignore", None)
    target = class_targets(rng, t_shape, in_shape[0 if layout == "C" else 1], ignore)
    return logits(rng, *in_shape), target, kwargs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", list(CLASS_OPTIONS) + list(SMOOTHING_OPTIONS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_cross_entropy_class_targets(layout, options, reduction, dtype, rng):
    x, target, kwargs = class_case(rng, layout, {**CLASS_OPTIONS, **SMOOTHING_OPTIONS}[options])
    check("cross_entropy", x, target, dtype, reduction=reduction, **kwargs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", list(CLASS_OPTIONS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_nll_loss(layout, options, reduction, dtype, rng):
    x, target, kwargs = class_case(rng, layout, CLASS_OPTIONS[options])
    check("nll_loss", x, target, dtype, reduction=reduction, **kwargs)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_all_targets_ignored(name, rng):
    x, target = logits(rng, 3, 4), np.full(3, -100)
    for reduction in ("sum", "none"):
        check(name, x, target, reduction=reduction)
    # 'mean' is 0/0 = NaN in PyTorch, but the gradient is zero, not NaN: a batch of nothing
    # but padding must not poison the weights.
    xs, xt = pair(x, requires_grad=True)
    expected = getattr(TF, name)(xt, torch.tensor(target))
    expected.backward()
    assert torch.isnan(expected)
    assert not xt.grad.any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        loss = getattr(F, name)(xs, sg.tensor(target))
        assert np.isnan(loss.item())
        loss.backward()
    np.testing.assert_array_equal(xs.grad.detach().numpy(), np.zeros((3, 4)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [
    {},
    {"weight": np.array([0.2, 1.0, 2.5, 0.7])},
    {"label_smoothing": 0.15},
    {"label_smoothing": 0.15, "weight": np.array([0.2, 1.0, 2.5, 0.7])},
], ids=["plain", "weight", "smooth", "smooth-weight"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_cross_entropy_probability_targets(layout, options, reduction, dtype, rng):
    in_shape = LAYOUTS[layout][0]
    axis = 0 if layout == "C" else 1
    x, target = logits(rng, *in_shape), probabilities(rng, in_shape, axis)
    check("cross_entropy", x, target, dtype, target_grad=True, reduction=reduction, **options)


EXTREME_LOGITS = np.array([
    [1e4, -1e4, 0.0],
    [-1e4, -1e4, 1e4],
    [0.0, 0.0, 0.0],
    [1e4, 1e4, -1e4],
    [-1e4, 5.0, -3.0],
])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1},
                                     {"weight": np.array([1.0, 2.0, 0.5])}],
                         ids=["plain", "smooth", "weight"])
def test_cross_entropy_extreme_logits(options, reduction, dtype):
    target = np.array([1, 0, 2, 2, 1])  # confidently wrong, confidently right, uniform
    out = check("cross_entropy", EXTREME_LOGITS, target, dtype, reduction=reduction, **options)
    assert np.all(np.isfinite(out.detach().numpy()))
    soft = np.eye(3)[target] * 0.9 + 0.1 / 3
    out = check("cross_entropy", EXTREME_LOGITS, soft, dtype, target_grad=True,
                reduction=reduction, **options)
    assert np.all(np.isfinite(out.detach().numpy()))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_loss_values_for_extreme_logits_are_exact(dtype):
    xs = sg.tensor(EXTREME_LOGITS, dtype=SG_DTYPES[dtype])
    losses = F.cross_entropy(xs, sg.tensor([1, 0, 2, 2, 1]), reduction="none").detach().numpy()
    np.testing.assert_allclose(losses[:2], [2e4, 2e4], rtol=1e-6)
    np.testing.assert_allclose(losses[2], np.log(3), rtol=1e-6)


# ---------------------------------------------------------------- binary cross entropy


BCE_OPTIONS = {
    "plain": {},
    "weight-row": {"weight": np.array([0.5, 2.0, 1.0])},
    "weight-full": {"weight": np.abs(np.random.default_rng(9).standard_normal((4, 3)))},
    "pos-weight": {"pos_weight": np.array([3.0, 0.5, 1.0])},
    "both": {"weight": np.array([0.5, 2.0, 1.0]), "pos_weight": np.array([3.0, 0.5, 1.0])},
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", list(BCE_OPTIONS))
def test_bce_with_logits(options, reduction, dtype, rng):
    x, target = logits(rng, 4, 3), rng.uniform(size=(4, 3))
    target[0] = [0.0, 1.0, 1.0]
    check("binary_cross_entropy_with_logits", x, target, dtype, target_grad=True,
          reduction=reduction, **BCE_OPTIONS[options])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", list(BCE_OPTIONS))
def test_bce_with_logits_extreme(options, reduction, dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [30.0, -30.0, -1e4], [1e4, -1e4, 2.0]])
    target = np.array([[0.0, 1.0, 0.5], [0.0, 1.0, 0.3], [1.0, 0.0, 1.0], [1.0, 0.0, 0.7]])
    out = check("binary_cross_entropy_with_logits", x, target, dtype, target_grad=True,
                reduction=reduction, **BCE_OPTIONS[options])
    assert np.all(np.isfinite(out.detach().numpy()))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", ["plain", "weight-row", "weight-full"])
def test_binary_cross_entropy(options, reduction, dtype, rng):
    p, target = rng.uniform(0.02, 0.98, size=(4, 3)), rng.uniform(size=(4, 3))
    check("binary_cross_entropy", p, target, dtype, target_grad=True, reduction=reduction,
          **BCE_OPTIONS[options])


# probabilities exactly 0 and 1, against targets 0, 1 and 0.5
EDGE_P = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5])
EDGE_T = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 0.5, 1.0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_clamps_logs_at_minus_100(reduction, dtype):
    xs = sg.tensor(EDGE_P, dtype=SG_DTYPES[dtype])
    ts = sg.tensor(EDGE_T, dtype=SG_DTYPES[dtype])
    expected = TF.binary_cross_entropy(torch.tensor(EDGE_P), torch.tensor(EDGE_T),
                                       reduction=reduction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # see the next test
        out = F.binary_cross_entropy(xs, ts, reduction=reduction)
    assert np.all(np.isfinite(out.detach().numpy()))
    close(out, expected, *TOLERANCES[dtype])


def test_binary_cross_entropy_at_0_and_1_emits_no_numpy_warning():
    # log(0) is expected here (then clamped); NumPy's "divide by zero" must not reach the user.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.binary_cross_entropy(sg.tensor(EDGE_P), sg.tensor(EDGE_T))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_binary_cross_entropy_gradient_at_0_and_1_like_torch(dtype):
    # PyTorch's backward is (p - t) / max(p (1 - p), 1e-12): finite, and ±1e12 where the
    # prediction is certain and wrong.
    xs, xt = pair(EDGE_P, dtype, requires_grad=True)
    ts, tt = pair(EDGE_T, dtype)
    TF.binary_cross_entropy(xt, tt, reduction="sum").backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        F.binary_cross_entropy(xs, ts, reduction="sum").backward()
    grad = xs.grad.detach().numpy()
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, xt.grad.detach().numpy(), rtol=1e-5)


def test_binary_cross_entropy_rejects_values_outside_0_1():
    with pytest.raises(RuntimeError):
        TF.binary_cross_entropy(torch.tensor([1.5, 0.5]), torch.tensor([1.0, 0.0]))
    for bad in ([1.5, 0.5], [-0.1, 0.5]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # log of a negative number
            with pytest.raises((RuntimeError, ValueError)):
                F.binary_cross_entropy(sg.tensor(bad), sg.tensor([1.0, 0.0]))


# ---------------------------------------------------------------- module forms


MODULE_CASES = {
    "MSELoss": ({"reduction": "sum"}, "mse_loss", "float"),
    "L1Loss": ({"reduction": "none"}, "l1_loss", "float"),
    "CrossEntropyLoss": ({"weight": [0.2, 1.0, 2.5, 0.7], "ignore_index": 2,
                          "label_smoothing": 0.1}, "cross_entropy", "class"),
    "NLLLoss": ({"weight": [0.2, 1.0, 2.5, 0.7], "reduction": "sum"}, "nll_loss", "class"),
    "BCEWithLogitsLoss": ({"pos_weight": [1.0, 2.0, 3.0, 0.5], "weight": [1.0, 0.5, 2.0, 1.0]},
                          "binary_cross_entropy_with_logits", "float"),
    "BCELoss": ({"weight": [1.0, 0.5, 2.0, 1.0]}, "binary_cross_entropy", "prob"),
}


@pytest.mark.parametrize("loss", list(MODULE_CASES))
def test_loss_modules_match_functions_and_torch(loss, rng):
    options, function, kind = MODULE_CASES[loss]
    x = rng.uniform(0.05, 0.95, (5, 4)) if kind == "prob" else logits(rng, 5, 4)
    target = class_targets(rng, (5,), 4, ignore=2) if kind == "class" else rng.uniform(size=(5, 4))
    kw_s = {k: sg.tensor(v, dtype=sg.float64) if isinstance(v, list) else v
            for k, v in options.items()}
    kw_t = {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v
            for k, v in options.items()}
    xs, xt = pair(x, requires_grad=True)
    ts, tt = pair(target)
    out_s = getattr(sg.nn, loss)(**kw_s)(xs, ts)
    out_t = getattr(torch.nn, loss)(**kw_t)(xt, tt)
    close(out_s, out_t, *TOLERANCES["float64"])
    close(out_s, getattr(F, function)(xs, ts, **kw_s), *TOLERANCES["float64"])
    out_s.sum().backward()
    out_t.sum().backward()
    close(xs.grad, xt.grad, *TOLERANCES["float64"])


def test_loss_modules_default_to_mean(rng):
    x, target = logits(rng, 3, 4), class_targets(rng, (3,), 4)
    xs, xt = pair(x)
    ts, tt = pair(target)
    close(sg.nn.CrossEntropyLoss()(xs, ts), torch.nn.CrossEntropyLoss()(xt, tt), *TOLERANCES["float64"])
    close(sg.nn.MSELoss()(xs, xs * 2), torch.nn.MSELoss()(xt, xt * 2), *TOLERANCES["float64"])


# ---------------------------------------------------------------- errors


def _float_target(shape=(3, 4)):
    return sg.tensor(np.random.default_rng(0).uniform(size=shape), dtype=sg.float32)


BAD_REDUCTION_CALLS = {
    "mse_loss": lambda r: F.mse_loss(sg.ones(3, 4), _float_target(), reduction=r),
    "l1_loss": lambda r: F.l1_loss(sg.ones(3, 4), _float_target(), reduction=r),
    "cross_entropy": lambda r: F.cross_entropy(sg.ones(3, 4), sg.tensor([0, 1, 2]), reduction=r),
    "cross_entropy-smooth": lambda r: F.cross_entropy(sg.ones(3, 4), sg.tensor([0, 1, 2]),
                                                      reduction=r, label_smoothing=0.1),
    "cross_entropy-probabilities": lambda r: F.cross_entropy(sg.ones(3, 4), _float_target(),
                                                             reduction=r),
    "nll_loss": lambda r: F.nll_loss(sg.ones(3, 4), sg.tensor([0, 1, 2]), reduction=r),
    "bce_with_logits": lambda r: F.binary_cross_entropy_with_logits(sg.ones(3, 4),
                                                                    _float_target(), reduction=r),
    "bce": lambda r: F.binary_cross_entropy(sg.full((3, 4), 0.5), _float_target(), reduction=r),
    "MSELoss": lambda r: sg.nn.MSELoss(reduction=r)(sg.ones(3, 4), _float_target()),
}


@pytest.mark.parametrize("call", list(BAD_REDUCTION_CALLS))
def test_bad_reduction_is_value_error(call):
    with pytest.raises(ValueError):
        TF.mse_loss(torch.ones(3), torch.ones(3), reduction="average")
    with pytest.raises(ValueError, match="average"):
        BAD_REDUCTION_CALLS[call]("average")


@pytest.mark.parametrize("name, smoothing", [("cross_entropy", 0.0), ("cross_entropy", 0.1),
                                             ("nll_loss", 0.0)])
@pytest.mark.parametrize("shape, target", [
    ((4, 3), [0, 1, 3, 1]),
    ((4, 3), [0, 1, -1, 1]),
    ((2, 3, 2), [[0, 1], [5, 2]]),
    ((3,), 3),
], ids=["too-big", "negative", "spatial", "single"])
def test_class_target_out_of_range_is_index_error(name, shape, target, smoothing):
    kwargs = {"label_smoothing": smoothing} if name == "cross_entropy" else {}
    with pytest.raises(IndexError):
        getattr(TF, name)(torch.zeros(shape), torch.tensor(target), **kwargs)
    with pytest.raises(IndexError, match="3|5|-1"):
        getattr(F, name)(sg.zeros(shape), sg.tensor(target), **kwargs)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("in_shape, t_shape", [
    ((4, 3), (3,)),
    ((4, 3), (4, 1)),
    ((2, 3, 4, 5), (2, 4, 4)),
    ((3,), (2,)),
    ((3,), (1, 1)),
])
def test_class_target_wrong_shape_names_both_shapes(name, in_shape, t_shape):
    with pytest.raises((ValueError, RuntimeError)):
        getattr(TF, name)(torch.zeros(in_shape), torch.zeros(t_shape, dtype=torch.int64))
    with pytest.raises((ValueError, RuntimeError)) as info:
        getattr(F, name)(sg.zeros(in_shape), sg.zeros(t_shape, dtype=sg.int64))
    message = str(info.value)
    assert str(in_shape) in message and str(t_shape) in message


@pytest.mark.parametrize("name, in_shape, t_shape", [
    ("cross_entropy", (4, 3), (4, 2)),
    ("binary_cross_entropy_with_logits", (3, 1), (3,)),
    ("binary_cross_entropy_with_logits", (2, 3), (3, 2)),
    ("binary_cross_entropy", (3, 1), (3,)),
])
def test_float_target_wrong_shape_names_both_shapes(name, in_shape, t_shape):
    with pytest.raises((ValueError, RuntimeError)):
        getattr(TF, name)(torch.full(in_shape, 0.5), torch.full(t_shape, 0.5))
    with pytest.raises((ValueError, RuntimeError)) as info:
        getattr(F, name)(sg.full(in_shape, 0.5), sg.full(t_shape, 0.5))
    message = str(info.value)
    assert str(in_shape) in message and str(t_shape) in message


def test_class_weight_wrong_shape():
    with pytest.raises(RuntimeError):
        TF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), weight=torch.ones(4))
    with pytest.raises((ValueError, RuntimeError), match=r"\(4,\)"):
        F.cross_entropy(sg.zeros(2, 3), sg.tensor([0, 1]), weight=sg.ones(4))
