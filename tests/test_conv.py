"""Convolution and pooling (F.conv2d, F.max_pool2d, F.avg_pool2d and their layers) against
PyTorch: values and gradients on named geometries (stride, padding, dilation, groups,
non-square kernels, batch 1, unbatched), gradients of gradients, max pooling's ties and
indices, layers, default initialisation, and the errors.

Drawn geometries (values against NumPy, float64 gradchecks, values and gradients against
PyTorch, ties in max pooling) are rows of the op table (tests/op_cases.py, "conv, pooling").
BatchNorm is in test_batchnorm.py.
"""
import math

import numpy as np
import pytest
import torch

import scratchgrad as sg
from scratchgrad.nn import functional as F
from tests import helpers
from tests.helpers import (
    SG_DTYPES,
    TORCH_DTYPES,
    check_against_torch,
    close,
    compare_with_torch,
    raised,
    randomize,
    uniform_bins_ok,
)

TF = torch.nn.functional
TOLERANCES = {"float64": (1e-9, 1e-11), "float32": (1e-4, 1e-5)}
# for check_against_torch: the same (rtol, atol) for values and gradients
CONV_TOL = {dtype: (tol, tol) for dtype, tol in TOLERANCES.items()}


def pair_of_leaves(values, dtype="float64"):
    return (sg.tensor(values, dtype=SG_DTYPES[dtype], requires_grad=True),
            torch.tensor(values, dtype=TORCH_DTYPES[dtype], requires_grad=True))


# ---------------------------------------------------------------- conv2d vs PyTorch

CONV_CASES = {
    "plain": ((2, 3, 6, 5), (4, 3, 3, 3), {}),
    "batch-1": ((1, 2, 5, 5), (3, 2, 3, 3), {"padding": 1}),
    "unbatched": ((2, 5, 6), (3, 2, 3, 2), {"stride": 2}),
    "non-square": ((2, 2, 7, 6), (3, 2, 1, 3), {"stride": (2, 1), "padding": (0, 1)}),
    "dilated": ((2, 2, 8, 7), (3, 2, 3, 2), {"dilation": (2, 3), "padding": 2}),
    "groups": ((2, 4, 5, 5), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    "depthwise": ((2, 3, 5, 5), (3, 1, 3, 3), {"groups": 3}),
    "stride-gt-kernel": ((2, 2, 9, 9), (2, 2, 2, 2), {"stride": 3}),
    "padding-beyond-kernel": ((1, 2, 3, 3), (2, 2, 1, 1), {"padding": 2}),
    "same": ((2, 2, 6, 5), (3, 2, 4, 3), {"padding": "same", "dilation": (1, 2)}),
    "valid": ((2, 2, 6, 5), (3, 2, 4, 3), {"padding": "valid"}),
    "1x1": ((2, 5, 3, 4), (2, 5, 1, 1), {}),
    "kernel-equals-input": ((2, 2, 3, 3), (4, 2, 3, 3), {}),
    # at least kh·kw channels: windows are copied through one strided view, not per offset
    "many-channels": ((2, 7, 6, 7), (8, 7, 2, 3), {"dilation": (1, 2), "padding": (1, 2)}),
    "many-channels-strided": ((2, 7, 6, 7), (8, 7, 2, 3), {"stride": (2, 1), "padding": (0, 1)}),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_matches_torch(case, bias, dtype):
    x_shape, w_shape, kwargs = CONV_CASES[case]
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    check_against_torch(lambda *a: F.conv2d(*a, **kwargs), lambda *a: TF.conv2d(*a, **kwargs),
                        arrays, dtype, tol=CONV_TOL[dtype])


def test_conv2d_on_an_empty_batch():
    out = F.conv2d(sg.zeros(0, 2, 5, 5), sg.ones(3, 2, 3, 3))
    assert out.shape == tuple(TF.conv2d(torch.zeros(0, 2, 5, 5), torch.ones(3, 2, 3, 3)).shape)


def test_conv2d_gradcheck_fails_on_a_wrong_rule(monkeypatch):
    """The op table's conv2d gradchecks can fail: a weight gradient off by 2 is caught."""
    from scratchgrad import convolution as C
    right = C.conv2d.vjps
    wrong = (right[0], lambda *a, **k: 2 * right[1](*a, **k), right[2])
    monkeypatch.setattr(C.conv2d, "vjps", wrong)
    x, w = helpers.leaf(np.ones((1, 1, 3, 3))), helpers.leaf(np.ones((1, 1, 2, 2)))
    with pytest.raises(sg.GradcheckError, match="input 1"):
        sg.gradcheck(F.conv2d, [x, w])


@pytest.mark.parametrize("case", ["plain", "dilated", "groups", "stride-gt-kernel"])
def test_conv2d_second_derivatives_match_torch(case):
    """Hessian-vector products through conv2d (create_graph=True), w.r.t. input and weight."""
    x_shape, w_shape, kwargs = CONV_CASES[case]
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in (x_shape, w_shape, (w_shape[0],))]
    vx, vw = rng.standard_normal(x_shape), rng.standard_normal(w_shape)

    def hvp(lib, grad, conv, leaves):
        x, w, b = leaves
        loss = (conv(x, w, b, **kwargs) ** 2).tanh().sum()
        gx, gw = grad(loss, [x, w], create_graph=True)
        return grad((gx * lib.tensor(vx)).sum() + (gw * lib.tensor(vw)).sum(), [x, w, b])

    pairs = [pair_of_leaves(a) for a in arrays]
    got = hvp(sg, sg.grad, F.conv2d, [s for s, _ in pairs])
    expected = hvp(torch, torch.autograd.grad, TF.conv2d, [t for _, t in pairs])
    for g, t in zip(got, expected):
        close(g, t, *TOLERANCES["float64"])


def test_conv2d_gradient_of_gradient_gradcheck():
    """The gradient rules are differentiable: gradcheck d(loss)/dx as a function of (x, w)."""
    rng = np.random.default_rng(4)
    x, w = helpers.leaf(rng.standard_normal((1, 2, 4, 4))), helpers.leaf(rng.standard_normal((2, 2, 2, 2)))

    def input_gradient(x, w):
        with sg.enable_grad():  # gradcheck's finite differences run under no_grad
            y = F.conv2d(x, w, stride=2, padding=1)
            (gx,) = sg.grad((y * y).sum(), x, create_graph=True)
        return gx

    assert sg.gradcheck(input_gradient, [x, w])


# ---------------------------------------------------------------- pooling vs PyTorch

POOL_CASES = {
    "2": (2, {}),
    "3-stride-1 (overlapping)": (3, {"stride": 1}),
    "3-stride-2-pad-1 (overlapping)": (3, {"stride": 2, "padding": 1}),
    "non-square": ((2, 3), {"stride": (1, 2), "padding": (1, 0)}),
    "ceil-mode": (2, {"ceil_mode": True}),
    "ceil-mode-pad": (3, {"stride": 2, "padding": 1, "ceil_mode": True}),
    "stride-gt-kernel": (2, {"stride": 3}),
}
MAX_ONLY_CASES = {
    "dilated": (2, {"dilation": 2, "stride": 1}),
    "dilated-pad-ceil": ((3, 2), {"dilation": (2, 1), "padding": 1, "ceil_mode": True}),
}
AVG_ONLY_CASES = {
    "no-pad-count": (3, {"stride": 2, "padding": 1, "count_include_pad": False}),
    "ceil-no-pad-count": (3, {"stride": 2, "padding": 1, "ceil_mode": True,
                              "count_include_pad": False}),
    "divisor-override": (2, {"padding": 1, "divisor_override": 3}),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 5, 5)], ids=["batched", "unbatched"])
@pytest.mark.parametrize("case", list(POOL_CASES) + list(MAX_ONLY_CASES))
def test_max_pool2d_matches_torch(case, shape, dtype):
    kernel, kwargs = {**POOL_CASES, **MAX_ONLY_CASES}[case]
    x = np.random.default_rng(5).standard_normal(shape)
    check_against_torch(lambda a: F.max_pool2d(a, kernel, **kwargs),
                        lambda a: TF.max_pool2d(a, kernel, **kwargs), [x], dtype,
                        tol=CONV_TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 5, 5)], ids=["batched", "unbatched"])
@pytest.mark.parametrize("case", list(POOL_CASES) + list(AVG_ONLY_CASES))
def test_avg_pool2d_matches_torch(case, shape, dtype):
    kernel, kwargs = {**POOL_CASES, **AVG_ONLY_CASES}[case]
    x = np.random.default_rng(6).standard_normal(shape)
    check_against_torch(lambda a: F.avg_pool2d(a, kernel, **kwargs),
                        lambda a: TF.avg_pool2d(a, kernel, **kwargs), [x], dtype,
                        tol=CONV_TOL[dtype])


def test_max_pool2d_tie_goes_to_the_first_maximum():
    x = sg.tensor([[[[1.0, 3.0, 3.0], [3.0, 2.0, 3.0], [0.0, 3.0, 1.0]]]], requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    # windows at (0,0), (0,1), (1,0), (1,1) pick (0,1), (0,1), (1,0), (1,2)
    np.testing.assert_array_equal(x.grad.detach().numpy()[0, 0], [[0, 2, 0], [1, 0, 1], [0, 0, 0]])


def test_max_pool2d_nan_wins_like_torch():
    values = [[[[np.nan, 3.0, 3.0], [3.0, np.nan, 3.0], [0.0, 3.0, 1.0]]]]
    check_against_torch(lambda a: F.max_pool2d(a, 2, 1), lambda a: TF.max_pool2d(a, 2, 1), [values],
                        tol=CONV_TOL["float64"])


@pytest.mark.parametrize("case", ["3-stride-2-pad-1 (overlapping)", "ceil-mode-pad", "non-square"])
def test_max_pool2d_return_indices_match_torch(case):
    kernel, kwargs = POOL_CASES[case]
    x = np.random.default_rng(7).standard_normal((2, 3, 7, 6))
    out, indices = F.max_pool2d(sg.tensor(x), kernel, return_indices=True, **kwargs)
    t_out, t_indices = TF.max_pool2d(torch.tensor(x), kernel, return_indices=True, **kwargs)
    close(out, t_out, *TOLERANCES["float64"])
    assert indices.dtype == sg.int64
    np.testing.assert_array_equal(indices.detach().numpy(), t_indices.detach().numpy())


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pooling_on_integers_matches_torch(pool):
    x = np.random.default_rng(8).integers(-9, 9, (2, 2, 5, 5))
    out = getattr(F, pool)(sg.tensor(x), 3, 2, 1)
    expected = getattr(TF, pool)(torch.tensor(x), 3, 2, 1)
    assert out.dtype == sg.int64
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pooling_second_derivatives_match_torch(pool):
    x = np.random.default_rng(10).standard_normal((2, 2, 5, 5))
    v = np.random.default_rng(11).standard_normal((2, 2, 5, 5))
    results = []
    for lib, grad, functional in ((sg, sg.grad, F), (torch, torch.autograd.grad, TF)):
        leaf = lib.tensor(x, requires_grad=True)
        loss = (getattr(functional, pool)(leaf, 3, 2, 1) ** 3).sum()
        (g,) = grad(loss, leaf, create_graph=True)
        results.append(grad((g * lib.tensor(v)).sum(), leaf)[0])
    close(*results, *TOLERANCES["float64"])


# ---------------------------------------------------------------- layers

CNN_CASES = {
    "conv": (lambda nn: nn.Conv2d(3, 4, 3), (2, 3, 6, 6)),
    "conv-all-args": (lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2),
                                           dilation=(1, 2), groups=2, bias=False), (2, 4, 7, 7)),
    "conv-same": (lambda nn: nn.Conv2d(2, 3, 4, padding="same"), (2, 2, 5, 5)),
    "conv-unbatched": (lambda nn: nn.Conv2d(2, 3, 3, padding=1), (2, 5, 5)),
    "max-pool": (lambda nn: nn.MaxPool2d(3, 2, 1), (2, 3, 7, 7)),
    "avg-pool": (lambda nn: nn.AvgPool2d((2, 3), padding=1, count_include_pad=False), (2, 3, 7, 7)),
    "cnn": (lambda nn: nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 3)), (3, 1, 8, 8)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CNN_CASES))
def test_layers_match_torch(case, dtype):
    build, shape = CNN_CASES[case]
    smod, tmod = build(sg.nn), build(torch.nn)
    randomize(tmod)
    x = np.random.default_rng(12).standard_normal(shape)
    compare_with_torch(smod, tmod, x, dtype)


@pytest.mark.parametrize("case", list(CNN_CASES))
def test_layer_state_dict_keys_and_repr_match_torch(case):
    build, _ = CNN_CASES[case]
    smod, tmod = build(sg.nn), build(torch.nn)
    assert list(smod.state_dict()) == list(tmod.state_dict())
    assert [tuple(v.shape) for v in smod.state_dict().values()] == \
        [tuple(v.shape) for v in tmod.state_dict().values()]
    assert repr(smod) == repr(tmod)


@pytest.mark.parametrize("groups, kernel", [(1, 3), (2, (3, 5))])
def test_conv2d_default_init_is_uniform_within_bound(groups, kernel):
    sg.manual_seed(0)
    layer = sg.nn.Conv2d(32, 64, kernel, groups=groups)
    t_layer = torch.nn.Conv2d(32, 64, kernel, groups=groups)
    assert layer.weight.shape == tuple(t_layer.weight.shape)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    bound = 1 / math.sqrt(32 // groups * kh * kw)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.dtype == np.float32 and layer.weight.requires_grad
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.99 * bound   # fills the range: not a narrower distribution
    assert uniform_bins_ok(w.ravel(), -bound, bound)
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.02)
    np.testing.assert_allclose(w.std(), t_layer.weight.detach().numpy().std(), rtol=0.05)
    assert t_layer.bias.abs().max().item() <= bound


def test_conv2d_init_is_repeatable_with_seed():
    sg.manual_seed(3)
    a = sg.nn.Conv2d(2, 3, 3).weight.detach().numpy().copy()
    sg.manual_seed(3)
    np.testing.assert_array_equal(sg.nn.Conv2d(2, 3, 3).weight.detach().numpy(), a)


def test_conv2d_loads_a_torch_state_dict():
    tmod = torch.nn.Conv2d(2, 3, 3)
    smod = sg.nn.Conv2d(2, 3, 3)
    smod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    x = np.random.default_rng(13).standard_normal((1, 2, 4, 4)).astype(np.float32)
    close(smod(sg.tensor(x)), tmod(torch.tensor(x)), *TOLERANCES["float32"])


# ---------------------------------------------------------------- errors

X = np.zeros((2, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))

ERROR_CASES = {
    # name: (call with (library, functional module), words the message must contain)
    "channel mismatch": (lambda lib, f: f.conv2d(lib.zeros(2, 2, 5, 5, dtype=lib.float64),
                                                 lib.tensor(W)), ["conv2d", "(2, 2, 5, 5)", "(4, 3, 3, 3)", "channels"]),
    "kernel larger than padded input": (lambda lib, f: f.conv2d(
        lib.zeros(2, 3, 2, 2, dtype=lib.float64), lib.tensor(W)), ["conv2d", "kernel", "(2, 2)"]),
    "2-D input": (lambda lib, f: f.conv2d(lib.zeros(3, 5, dtype=lib.float64), lib.tensor(W)),
                  ["conv2d", "(3, 5)", "4-D"]),
    "5-D input": (lambda lib, f: f.conv2d(lib.zeros(1, 2, 3, 5, 5, dtype=lib.float64),
                                          lib.tensor(W)), ["conv2d", "(1, 2, 3, 5, 5)"]),
    "groups not dividing out_channels": (lambda lib, f: f.conv2d(
        lib.tensor(X), lib.zeros(4, 1, 3, 3, dtype=lib.float64), groups=3),
        ["conv2d", "groups=3", "(4, 1, 3, 3)"]),
    "zero stride": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W), stride=0),
                    ["conv2d", "stride", "positive"]),
    "negative padding": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W), padding=-1),
                         ["conv2d", "padding"]),
    "zero dilation": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W), dilation=(1, 0)),
                      ["conv2d", "dilation"]),
    "zero groups": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W), groups=0),
                    ["conv2d", "groups"]),
    "stride of three": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W), stride=(1, 1, 1)),
                        ["conv2d", "stride"]),
    "bias of the wrong size": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W),
                                                       lib.zeros(3, dtype=lib.float64)),
                               ["conv2d", "bias", "(3,)", "4"]),
    "same with stride": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W), stride=2,
                                                 padding="same"), ["conv2d", "same", "stride"]),
    "unknown padding string": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W),
                                                       padding="full"), ["conv2d", "full"]),
    "dtype mismatch": (lambda lib, f: f.conv2d(lib.tensor(X), lib.tensor(W).float()),
                       ["conv2d", "float64", "float32"]),
    "max pool padding over half the kernel": (lambda lib, f: f.max_pool2d(lib.tensor(X), 3,
                                                                          padding=2),
                                              ["max_pool2d", "padding", "half"]),
    "avg pool padding over half the kernel": (lambda lib, f: f.avg_pool2d(lib.tensor(X), 2,
                                                                          padding=2),
                                              ["avg_pool2d", "padding", "half"]),
    "max pool output too small": (lambda lib, f: f.max_pool2d(lib.zeros(1, 1, 2, 2), 3),
                                  ["max_pool2d", "(1, 1, 2, 2)", "(0, 0)"]),
    "avg pool output too small": (lambda lib, f: f.avg_pool2d(lib.zeros(1, 1, 2, 2), 3),
                                  ["avg_pool2d", "(1, 1, 2, 2)", "(0, 0)"]),
    "max pool 2-D input": (lambda lib, f: f.max_pool2d(lib.zeros(4, 4), 2),
                           ["max_pool2d", "(4, 4)"]),
    "max pool zero stride": (lambda lib, f: f.max_pool2d(lib.tensor(X), 2, stride=0),
                             ["max_pool2d", "stride"]),
    "avg pool zero kernel": (lambda lib, f: f.avg_pool2d(lib.tensor(X), 0),
                             ["avg_pool2d", "kernel_size"]),
    "Conv2d groups not dividing in_channels": (lambda lib, f: lib.nn.Conv2d(3, 4, 3, groups=2),
                                               ["in_channels", "groups"]),
    "Conv2d groups not dividing out_channels": (lambda lib, f: lib.nn.Conv2d(4, 3, 3, groups=2),
                                                ["out_channels", "groups"]),
    "Conv2d zero groups": (lambda lib, f: lib.nn.Conv2d(4, 4, 3, groups=0), ["groups"]),
    "Conv2d same with stride": (lambda lib, f: lib.nn.Conv2d(4, 4, 3, 2, padding="same"),
                                ["same"]),
    "Conv2d bad padding_mode": (lambda lib, f: lib.nn.Conv2d(4, 4, 3, padding_mode="mirror"),
                                ["padding_mode"]),
    "Conv2d layer on the wrong channels": (lambda lib, f: lib.nn.Conv2d(2, 4, 3)(
        lib.zeros(1, 3, 5, 5)), ["conv2d", "(1, 3, 5, 5)"]),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_name_the_op_and_shapes_with_torchs_exception_type(case):
    make, words = ERROR_CASES[case]
    expected = raised(lambda: make(torch, TF))
    got = raised(lambda: make(sg, F))
    assert isinstance(got, type(expected)), f"torch raises {type(expected).__name__}, we {got!r}"
    assert type(got).__module__.startswith("scratchgrad") or type(got) in (ValueError, TypeError)
    for word in words:
        assert word in str(got), f"{word!r} not in {str(got)!r}"


def test_unsupported_padding_mode_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="padding_mode='zeros'"):
        sg.nn.Conv2d(2, 2, 3, padding_mode="reflect")


def test_gradcheck_graph_passes_a_cnn_node_by_node():
    """Every conv and pooling node's rules agree with finite differences of that node alone."""
    rng = np.random.default_rng(14)
    x = helpers.leaf(rng.standard_normal((2, 2, 6, 6)))
    # small weights keep tanh unsaturated: saturated values tie, and a max of ties has no derivative
    w = helpers.leaf(rng.standard_normal((3, 2, 3, 3)) * 0.2)
    b = helpers.leaf(rng.standard_normal(3))

    def cnn(x, w, b):
        y = F.conv2d(x, w, b, padding=1, stride=(1, 2)).tanh()   # tanh, not relu: no ties at 0
        y = F.max_pool2d(y, 3, stride=1, padding=1)
        return F.avg_pool2d(y, 2, padding=1, count_include_pad=False).sum()

    report = sg.gradcheck_graph(cnn, [x, w, b])
    assert report.ok, str(report)
    assert [c.op for c in report.checks][:4] == ["conv2d", "tanh", "max_pool2d", "window_sum"]
