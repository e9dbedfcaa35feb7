"""Bad arguments raise PyTorch's exception type, with a message naming the op and the value
(issue 10, items 5 and 7): each case runs on PyTorch and on scratchgrad.

A case passes when PyTorch's exception type is among the classes of scratchgrad's exception
(scratchgrad's errors are both PyTorch's type and NumPy's), the message names the op and the
offending value, and no bare NumPy error gets through.
"""
import warnings

import numpy as np
import pytest
import torch

import scratchgrad as sg
from tests.helpers import assert_not_bare_numpy

# name: (call with the library as `m`, what the message must mention)
BAD = {
    # Python ints outside int64 wrap in NumPy; PyTorch refuses them.
    "tensor(2**63)": (lambda m: m.tensor(2**63), ["tensor", "9223372036854775808"]),
    "tensor([2**64 - 1])": (lambda m: m.tensor([2**64 - 1]), ["tensor", "18446744073709551615"]),
    "tensor(-2**63 - 1)": (lambda m: m.tensor(-2**63 - 1), ["tensor", "-9223372036854775809"]),
    "tensor([2**64 - 1, -1])": (lambda m: m.tensor([2**64 - 1, -1]), ["tensor"]),
    "tensor([2**40], int32)": (lambda m: m.tensor([2**40], dtype=m.int32), ["tensor", "int32"]),
    "tensor(nan, int64)": (lambda m: m.tensor(float("nan"), dtype=m.int64), ["tensor", "nan"]),
    # sizes: ints, not floats, bools or strings; not negative
    "zeros(2.5)": (lambda m: m.zeros(2.5), ["zeros", "2.5"]),
    "zeros((2, 2.0))": (lambda m: m.zeros((2, 2.0)), ["zeros", "2.0"]),
    "ones('3')": (lambda m: m.ones("3"), ["ones", "'3'"]),
    "zeros(True)": (lambda m: m.zeros(True), ["zeros", "True"]),
    "zeros(2, -1)": (lambda m: m.zeros(2, -1), ["zeros", "-1"]),
    "full((-2,), 1.0)": (lambda m: m.full((-2,), 1.0), ["full", "-2"]),
    "rand(-1)": (lambda m: m.rand(-1), ["rand", "-1"]),
    "randn(2.5)": (lambda m: m.randn(2.5), ["randn", "2.5"]),
    "arange(0, 5, 0)": (lambda m: m.arange(0, 5, 0), ["arange", "step"]),
    "arange(0, 5, -1)": (lambda m: m.arange(0, 5, -1), ["arange", "-1"]),
    "arange(5, 0)": (lambda m: m.arange(5, 0), ["arange", "5"]),
    "arange(0, inf)": (lambda m: m.arange(0, float("inf")), ["arange", "inf"]),
    "arange(0, nan)": (lambda m: m.arange(0, float("nan")), ["arange", "nan"]),
    "arange('a')": (lambda m: m.arange("a"), ["arange", "'a'"]),
    "linspace(0, 1, -1)": (lambda m: m.linspace(0, 1, -1), ["linspace", "-1"]),
    "linspace(0, 1, 2.5)": (lambda m: m.linspace(0, 1, 2.5), ["linspace", "2.5"]),
    "eye(-1)": (lambda m: m.eye(-1), ["eye", "-1"]),
    "eye(2, -3)": (lambda m: m.eye(2, -3), ["eye", "-3"]),
    "eye(2.5)": (lambda m: m.eye(2.5), ["eye", "2.5"]),
    # dims
    "permute(0)": (lambda m: m.zeros(2, 3).permute(0), ["permute", "(0,)"]),
    "permute(0, 1, 2)": (lambda m: m.zeros(2, 3).permute(0, 1, 2), ["permute", "(0, 1, 2)"]),
    "permute(0, 0)": (lambda m: m.zeros(2, 3).permute(0, 0), ["permute", "(0, 0)"]),
    "permute(0, 2)": (lambda m: m.zeros(2, 3).permute(0, 2), ["permute", "2"]),
    "reshape(-2, 3)": (lambda m: m.zeros(6).reshape(-2, 3), ["reshape", "-2"]),
    "reshape(2.5)": (lambda m: m.zeros(6).reshape(2.5), ["reshape", "2.5"]),
    "sum(dim=(0, 0))": (lambda m: m.zeros(2).sum(dim=(0, 0)), ["sum", "(0, 0)"]),
    "flatten 0-d (1)": (lambda m: m.tensor(1.0).flatten(1), ["flatten", "1"]),
    "squeeze 0-d (1)": (lambda m: m.tensor(1.0).squeeze(1), ["squeeze", "1"]),
    "any(dim=3)": (lambda m: m.tensor([True]).any(dim=3), ["any", "3"]),
    # layers
    "Linear(2.5, 3)": (lambda m: m.nn.Linear(2.5, 3), ["Linear", "2.5"]),
    "Linear(2, 3.0)": (lambda m: m.nn.Linear(2, 3.0), ["Linear", "3.0"]),
    "Linear(-1, 3)": (lambda m: m.nn.Linear(-1, 3), ["Linear", "-1"]),
    "Linear('2', 3)": (lambda m: m.nn.Linear("2", 3), ["Linear", "'2'"]),
    "Conv2d(1, 2, 2.5)": (lambda m: m.nn.Conv2d(1, 2, 2.5), ["Conv2d", "2.5"]),
    "Conv2d(1, -2, 2)": (lambda m: m.nn.Conv2d(1, -2, 2), ["Conv2d", "-2"]),
    "Conv2d(1, 2, -1)": (lambda m: m.nn.Conv2d(1, 2, -1), ["Conv2d", "-1"]),
    "Conv2d(1, 2, 0)(x)": (lambda m: m.nn.Conv2d(1, 2, 0)(m.zeros(1, 1, 4, 4)),
                           ["conv2d", "(0, 0)"]),
    "Conv2d(1, 2, (2, 0))(x)": (lambda m: m.nn.Conv2d(1, 2, (2, 0))(m.zeros(1, 1, 4, 4)),
                                ["conv2d", "(2, 0)"]),
    "Conv2d(dilation=0)(x)": (lambda m: m.nn.Conv2d(1, 2, 2, dilation=0)(m.zeros(1, 1, 4, 4)),
                              ["conv2d", "0"]),
    "Conv2d(stride=1.5)(x)": (lambda m: m.nn.Conv2d(1, 2, 2, stride=1.5)(m.zeros(1, 1, 4, 4)),
                              ["conv2d", "1.5"]),
    "MaxPool2d(0)(x)": (lambda m: m.nn.MaxPool2d(0)(m.zeros(1, 1, 4, 4)), ["max_pool2d", "0"]),
    "MaxPool2d(2.5)(x)": (lambda m: m.nn.MaxPool2d(2.5)(m.zeros(1, 1, 4, 4)),
                          ["max_pool2d", "2.5"]),
    "MaxPool2d(2, stride=0)(x)": (lambda m: m.nn.MaxPool2d(2, stride=0)(m.zeros(1, 1, 4, 4)),
                                  ["max_pool2d", "0"]),
    "AvgPool2d(0)(x)": (lambda m: m.nn.AvgPool2d(0)(m.zeros(1, 1, 4, 4)), ["avg_pool2d", "0"]),
    "Embedding(3.5, 2)": (lambda m: m.nn.Embedding(3.5, 2), ["Embedding", "3.5"]),
    "Embedding(-1, 2)": (lambda m: m.nn.Embedding(-1, 2), ["Embedding", "-1"]),
    "Embedding(3, 2, padding_idx=3)": (lambda m: m.nn.Embedding(3, 2, padding_idx=3),
                                       ["Embedding", "3"]),
    "Embedding(3, 2, padding_idx=-4)": (lambda m: m.nn.Embedding(3, 2, padding_idx=-4),
                                        ["Embedding", "-4"]),
    "LayerNorm(-1)": (lambda m: m.nn.LayerNorm(-1), ["LayerNorm", "-1"]),
    "LayerNorm((2, -1))": (lambda m: m.nn.LayerNorm((2, -1)), ["LayerNorm", "-1"]),
    "BatchNorm1d(2.5)": (lambda m: m.nn.BatchNorm1d(2.5), ["BatchNorm1d", "2.5"]),
    "BatchNorm2d(-1)": (lambda m: m.nn.BatchNorm2d(-1), ["BatchNorm2d", "-1"]),
    "Dropout(1.5)": (lambda m: m.nn.Dropout(1.5), ["Dropout", "1.5"]),
    "Dropout(-0.1)": (lambda m: m.nn.Dropout(-0.1), ["Dropout", "-0.1"]),
    "GELU('foo')(x)": (lambda m: m.nn.GELU("foo")(m.zeros(2)), ["gelu", "foo"]),
    # a float64 input to a float32 layer (item 5)
    "Linear(3, 2)(float64)": (lambda m: m.nn.Linear(3, 2)(m.zeros(2, 3, dtype=m.float64)),
                              ["linear", "float64", "float32"]),
    "Linear(3, 2).double()(float32)": (
        lambda m: m.nn.Linear(3, 2).to(m.float64)(m.zeros(2, 3)), ["linear", "float64"]),
    "matmul(float32, float64)": (lambda m: m.ones(2, 3) @ m.ones(3, 2, dtype=m.float64),
                                 ["matmul", "float32", "float64"]),
    "matmul(int64, float32)": (lambda m: m.matmul(m.ones(2, 3, dtype=m.int64), m.ones(3, 2)),
                               ["matmul", "int64", "float32"]),
    "Conv2d(float64)": (lambda m: m.nn.Conv2d(1, 2, 2)(m.zeros(1, 1, 3, 3, dtype=m.float64)),
                        ["conv2d", "float64"]),
    "LayerNorm(float64)": (lambda m: m.nn.LayerNorm(3)(m.zeros(2, 3, dtype=m.float64)),
                           ["layer_norm", "float64"]),
    "BatchNorm1d(float64)": (lambda m: m.nn.BatchNorm1d(3)(m.zeros(2, 3, dtype=m.float64)),
                             ["batch_norm", "float64"]),
    # int targets to BCE (item 5)
    "binary_cross_entropy(int target)": (
        lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0.2, 0.7]), m.tensor([0, 1])),
        ["binary_cross_entropy", "int64"]),
    "binary_cross_entropy(bool target)": (
        lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0.2, 0.7]),
                                                       m.tensor([False, True])),
        ["binary_cross_entropy", "bool"]),
    "binary_cross_entropy(float64 target)": (
        lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0.2, 0.7]),
                                                       m.tensor([0.0, 1.0], dtype=m.float64)),
        ["binary_cross_entropy", "float64"]),
    "binary_cross_entropy(target 2)": (
        lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0.2, 0.7]), m.tensor([0.0, 2.0])),
        ["binary_cross_entropy", "target"]),
    "binary_cross_entropy(nan input)": (
        lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0.2, float("nan")]),
                                                       m.tensor([0.0, 1.0])),
        ["binary_cross_entropy", "input"]),
    "BCELoss(int target)": (lambda m: m.nn.BCELoss()(m.tensor([0.2, 0.7]), m.tensor([0, 1])),
                            ["binary_cross_entropy", "int64"]),
    "binary_cross_entropy_with_logits(int target)": (
        lambda m: m.nn.functional.binary_cross_entropy_with_logits(m.tensor([0.2, 0.7]),
                                                                   m.tensor([0, 1])),
        ["binary_cross_entropy_with_logits", "int64"]),
    "BCEWithLogitsLoss(bool target)": (
        lambda m: m.nn.BCEWithLogitsLoss()(m.tensor([0.2, 0.7]), m.tensor([False, True])),
        ["binary_cross_entropy_with_logits", "bool"]),
}


def torch_exception(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call(torch)
        except Exception as exc:  # noqa: BLE001 - any exception type is what we compare
            return type(exc)
    return None


@pytest.mark.parametrize("name", BAD)
def test_bad_argument_raises_pytorchs_type(name):
    call, mentions = BAD[name]
    expected = torch_exception(call)
    assert expected is not None, f"PyTorch accepts {name}: the case is wrong"
    if expected is AssertionError:  # Embedding's padding_idx: PyTorch asserts
        expected = AssertionError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(expected) as info:
            call(sg)
    message = str(info.value)
    for word in mentions:
        assert word in message, f"{word!r} not in {message!r}"
    assert_not_bare_numpy(info.value)


# ---------------------------------------------------------------- accepted as in PyTorch

GOOD = {
    "tensor([2**63 - 1])": lambda m: m.tensor([2**63 - 1]),
    "tensor([1.0, 2**70])": lambda m: m.tensor([1.0, 2**70]),
    "tensor([1e300])": lambda m: m.tensor([1e300]),
    "tensor(2**63, float32)": lambda m: m.tensor(2**63, dtype=m.float32),
    "zeros(np.int64(2))": lambda m: m.zeros(np.int64(2)),
    "zeros(tensor(2))": lambda m: m.zeros(m.tensor(2)),
    "arange(5, 0, -2)": lambda m: m.arange(5, 0, -2),
    "arange(2, 2)": lambda m: m.arange(2, 2),
    "linspace(0, 1, 0)": lambda m: m.linspace(0, 1, 0),
    "eye(0)": lambda m: m.eye(0),
    "eye(3, 0)": lambda m: m.eye(3, 0),
    "sum 0-d (dim=0)": lambda m: m.tensor(2.0).sum(dim=0),
    "sum 0-d (dim=-1)": lambda m: m.tensor(2.0).sum(dim=-1),
    "sum 0-d (dim=(0,))": lambda m: m.tensor(2.0).sum(dim=(0,)),
    "Linear(0, 3)": lambda m: m.nn.Linear(0, 3)(m.zeros(2, 0)),
    "Conv2d(0, 2, 2) built": lambda m: m.nn.Conv2d(0, 2, 2).weight.shape,
    "Conv2d(1, 2, 0) built": lambda m: m.nn.Conv2d(1, 2, 0).weight.shape,
    "Embedding(3, 2, padding_idx=-3)": lambda m: m.nn.Embedding(3, 2, padding_idx=-3).padding_idx,
    "Dropout(1.0)": lambda m: m.nn.Dropout(1.0).p,
    "LayerNorm(float16)": lambda m: m.nn.LayerNorm(3)(m.zeros(2, 3, dtype=m.float16)).dtype,
    "BatchNorm1d(float16)": lambda m: m.nn.BatchNorm1d(3)(m.ones(2, 3, dtype=m.float16)).dtype,
    "bce_with_logits(float64 target)": lambda m: m.nn.functional.binary_cross_entropy_with_logits(
        m.tensor([0.2, 0.7]), m.tensor([0.0, 1.0], dtype=m.float64)),
}


@pytest.mark.parametrize("name", GOOD)
def test_pytorch_accepts_so_does_scratchgrad(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        want, got = GOOD[name](torch), GOOD[name](sg)
    if isinstance(want, torch.Tensor):
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(np.asarray(got.detach().numpy(), dtype=np.float64),
                                   want.detach().double().numpy(), rtol=1e-6)
    elif isinstance(want, torch.dtype):
        assert str(got) == str(want).removeprefix("torch.")
    else:
        assert tuple(got) == tuple(want) if isinstance(want, tuple) else got == want


@pytest.mark.parametrize("dims, reduction", [
    (d, r) for d in (1, 7, -2) for r in ("sum", "mean", "var", "std", "prod", "amax", "amin",
                                         "logsumexp", "argmax", "argmin", "softmax",
                                         "log_softmax")])
def test_reductions_of_0d_accept_only_dims_0_and_minus_1(dims, reduction):
    for m in (torch, sg):
        with pytest.raises(IndexError):
            getattr(m.tensor(1.5), reduction)(dim=dims)
    for dim in (0, -1):
        want = getattr(torch.tensor(1.5), reduction)(dim=dim)
        got = getattr(sg.tensor(1.5), reduction)(dim=dim)
        np.testing.assert_allclose(np.asarray(got), want.numpy(), equal_nan=True)


# ---------------------------------------------------------------- softmax's implicit dim

@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_dim_picks_pytorchs_dim_and_warns(name, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice for " + name):
        want = getattr(torch.nn.functional, name)(torch.tensor(x))
    with pytest.warns(UserWarning, match="Implicit dimension choice for " + name) as record:
        got = getattr(sg.nn.functional, name)(sg.tensor(x))
    assert record[0].filename == __file__  # the warning points at the caller's line
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("layer", ["Softmax", "LogSoftmax"])
def test_softmax_layers_default_to_the_implicit_dim(layer):
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    assert repr(getattr(sg.nn, layer)()) == repr(getattr(torch.nn, layer)())
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        want = getattr(torch.nn, layer)()(torch.tensor(x))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        got = getattr(sg.nn, layer)()(sg.tensor(x))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)


def test_softmax_with_dim_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sg.nn.functional.softmax(sg.ones(2, 3), dim=0)
        sg.nn.Softmax(dim=1)(sg.ones(2, 3))
        sg.nn.functional.log_softmax(sg.ones(2, 3), 1, dtype=sg.float64)


def test_zero_element_init_warns_as_pytorch():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        sg.nn.Linear(0, 3)
