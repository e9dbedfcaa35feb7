"""nn.BatchNorm1d / nn.BatchNorm2d and F.batch_norm against PyTorch: training (batch statistics,
running averages with the unbiased variance), evaluation (running statistics), momentum=None,
no running statistics, no affine; gradients, gradchecks, state dicts and errors."""
import numpy as np
import pytest
import torch

import scratchgrad as sg
from scratchgrad.nn import functional as F
from tests import helpers
from tests.helpers import SG_DTYPES, TORCH_DTYPES, close, raised

# (rtol, atol) for comparing with PyTorch in each dtype (those of test_conv.py).
TOLERANCES = {"float64": (1e-9, 1e-11), "float32": (1e-4, 1e-5)}

LAYERS = {
    "2d": (lambda nn, **kw: nn.BatchNorm2d(3, **kw), (4, 3, 5, 2)),
    "1d-2d-input": (lambda nn, **kw: nn.BatchNorm1d(3, **kw), (6, 3)),
    "1d-3d-input": (lambda nn, **kw: nn.BatchNorm1d(3, **kw), (4, 3, 5)),
}
OPTIONS = {
    "defaults": {},
    "momentum-none": {"momentum": None},
    "momentum-0.5-eps-0.1": {"momentum": 0.5, "eps": 0.1},
    "no-running-stats": {"track_running_stats": False},
    "no-affine": {"affine": False},
    "no-bias": {"bias": False},
}


def torch_copy_of(smod_values, tmod):
    """Give the torch module non-trivial weights, and the same to ours."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in tmod.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.5)
    return {k: v.detach().numpy() for k, v in tmod.state_dict().items()}


def step(smod, tmod, x, dtype, seed):
    """One forward and backward in both; outputs, input and parameter gradients must agree."""
    xs = sg.tensor(x, dtype=SG_DTYPES[dtype], requires_grad=True)
    xt = torch.tensor(x, dtype=TORCH_DTYPES[dtype], requires_grad=True)
    out_s, out_t = smod(xs), tmod(xt)
    close(out_s, out_t, *TOLERANCES[dtype])
    upstream = np.random.default_rng(seed).standard_normal(x.shape)
    out_s.backward(sg.tensor(upstream, dtype=SG_DTYPES[dtype]))
    out_t.backward(torch.tensor(upstream, dtype=TORCH_DTYPES[dtype]))
    close(xs.grad, xt.grad, *TOLERANCES[dtype])
    for (name, p), (_, q) in zip(smod.named_parameters(), tmod.named_parameters(), strict=True):
        close(p.grad, q.grad, *TOLERANCES[dtype])
        p.grad = q.grad = None


def same_state(smod, tmod, dtype):
    sd_s, sd_t = smod.state_dict(), tmod.state_dict()
    assert list(sd_s) == list(sd_t)
    for key in sd_s:
        assert sd_s[key].dtype == (sg.int64 if key == "num_batches_tracked" else SG_DTYPES[dtype])
        close(sd_s[key], sd_t[key], *TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("layer", list(LAYERS))
def test_training_then_evaluation_match_torch(layer, option, dtype):
    build, shape = LAYERS[layer]
    smod, tmod = build(sg.nn, **OPTIONS[option]), build(torch.nn, **OPTIONS[option])
    if dtype == "float64":
        smod.double()
        tmod.double()
    smod.load_state_dict(torch_copy_of(smod, tmod))
    rng = np.random.default_rng(1)
    for i in range(3):  # training: batch statistics, and the running averages move
        step(smod, tmod, rng.standard_normal(shape) * 2 + 1, dtype, seed=i)
        same_state(smod, tmod, dtype)
    smod.eval()
    tmod.eval()
    step(smod, tmod, rng.standard_normal(shape), dtype, seed=9)
    same_state(smod, tmod, dtype)


def test_running_statistics_use_the_unbiased_variance():
    norm = sg.nn.BatchNorm1d(1, momentum=1.0)
    x = np.array([[1.0], [2.0], [4.0]])
    norm(sg.tensor(x, dtype=sg.float32))
    assert norm.running_var.item() == pytest.approx(np.var(x, ddof=1))
    assert norm.running_mean.item() == pytest.approx(np.mean(x))
    assert norm.num_batches_tracked.item() == 1


def test_training_normalises_with_the_biased_variance():
    norm = sg.nn.BatchNorm2d(2)
    x = np.random.default_rng(2).standard_normal((4, 2, 3, 3)) * 5 + 3
    out = norm(sg.tensor(x, dtype=sg.float32)).detach().numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-3)


def test_eval_uses_running_statistics_and_does_not_update_them():
    norm = sg.nn.BatchNorm2d(2).eval()
    norm.running_mean.data[...] = [1.0, -1.0]
    norm.running_var.data[...] = [4.0, 0.25]
    x = np.random.default_rng(3).standard_normal((2, 2, 3, 3)).astype(np.float32)
    expected = (x - np.array([1.0, -1.0])[:, None, None]) / np.sqrt(
        np.array([4.0, 0.25])[:, None, None] + 1e-5)
    close(norm(sg.tensor(x)), expected, *TOLERANCES["float32"])
    np.testing.assert_array_equal(norm.running_mean.detach().numpy(), [1.0, -1.0])
    assert norm.num_batches_tracked.item() == 0


def test_state_dict_keys_dtypes_and_buffers_match_torch():
    smod, tmod = sg.nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    assert list(smod.state_dict()) == list(tmod.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in smod.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in smod.named_buffers()] == [n for n, _ in tmod.named_buffers()]
    assert smod.state_dict()["num_batches_tracked"].dtype == sg.int64
    smod.double()
    assert smod.running_mean.dtype == sg.float64
    assert smod.num_batches_tracked.dtype == sg.int64
    assert list(sg.nn.BatchNorm2d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_state_dict_shares_the_running_statistics():
    """A state dict taken before training sees the updates (as PyTorch's does)."""
    norm = sg.nn.BatchNorm1d(2)
    sd = norm.state_dict()
    norm(sg.tensor(np.random.default_rng(4).standard_normal((5, 2)), dtype=sg.float32))
    np.testing.assert_array_equal(sd["running_mean"].detach().numpy(), norm.running_mean.detach().numpy())
    assert sd["running_mean"].detach().numpy().any()


def test_loads_torch_state_dict_with_running_statistics():
    tmod = torch.nn.BatchNorm2d(3)
    tmod(torch.randn(4, 3, 2, 2) * 3 + 1)
    tmod.eval()
    smod = sg.nn.BatchNorm2d(3).eval()
    smod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((2, 3, 2, 2)).astype(np.float32)
    close(smod(sg.tensor(x)), tmod(torch.tensor(x)), *TOLERANCES["float32"])
    assert smod.num_batches_tracked.item() == 1


@pytest.mark.parametrize("option", ["defaults", "no-affine", "no-running-stats"])
def test_repr_matches_torch(option):
    for build, _ in LAYERS.values():
        assert repr(build(sg.nn, **OPTIONS[option])) == repr(build(torch.nn, **OPTIONS[option]))


def test_default_parameters():
    norm = sg.nn.BatchNorm2d(4)
    np.testing.assert_array_equal(norm.weight.detach().numpy(), np.ones(4))
    np.testing.assert_array_equal(norm.bias.detach().numpy(), np.zeros(4))
    np.testing.assert_array_equal(norm.running_var.detach().numpy(), np.ones(4))
    assert norm.weight.dtype == sg.float32 and norm.weight.requires_grad
    assert sg.nn.BatchNorm2d(4, dtype=sg.float64).running_mean.dtype == sg.float64


@pytest.mark.parametrize("shape", [(3, 2), (3, 2, 4), (2, 2, 3, 2)])
def test_batch_norm_training_gradcheck(shape):
    rng = np.random.default_rng(6)
    x, w, b = (helpers.leaf(rng.standard_normal(s)) for s in (shape, (2,), (2,)))
    assert sg.gradcheck(lambda *a: F.batch_norm(a[0], None, None, a[1], a[2], training=True),
                        [x, w, b])


def test_batch_norm_second_derivatives_match_torch():
    x = np.random.default_rng(7).standard_normal((3, 2, 2, 2))
    v = np.random.default_rng(8).standard_normal((3, 2, 2, 2))
    results = []
    for lib, grad, functional in ((sg, sg.grad, F), (torch, torch.autograd.grad,
                                                     torch.nn.functional)):
        leaf = lib.tensor(x, requires_grad=True)
        weight = lib.tensor(np.array([0.5, 2.0]), requires_grad=True)
        out = functional.batch_norm(leaf, None, None, weight, None, training=True)
        (g,) = grad((out ** 3).sum(), leaf, create_graph=True)
        results.append(grad((g * lib.tensor(v)).sum(), [leaf, weight]))
    for got, expected in zip(*results):
        close(got, expected, *TOLERANCES["float64"])


ERROR_CASES = {
    # name: (call with (library.nn, library.zeros), words the message must contain)
    "BatchNorm2d on 3-D input": (lambda nn, zeros: nn.BatchNorm2d(3)(zeros(3, 4, 4)),
                                 ["BatchNorm2d", "4-D", "(3, 4, 4)"]),
    "BatchNorm1d on 4-D input": (lambda nn, zeros: nn.BatchNorm1d(3)(zeros(2, 3, 4, 4)),
                                 ["BatchNorm1d", "(2, 3, 4, 4)"]),
    "wrong number of channels": (lambda nn, zeros: nn.BatchNorm2d(3)(zeros(2, 4, 4, 4)),
                                 ["batch_norm", "(2, 4, 4, 4)", "4 channels", "(3,)"]),
    "one value per channel": (lambda nn, zeros: nn.BatchNorm2d(3)(zeros(1, 3, 1, 1)),
                              ["batch_norm", "more than 1 value", "(1, 3, 1, 1)"]),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_match_torchs_exception_types(case):
    make, words = ERROR_CASES[case]
    expected = raised(lambda: make(torch.nn, torch.zeros))
    got = raised(lambda: make(sg.nn, sg.zeros))
    assert isinstance(got, type(expected)), f"torch raises {type(expected).__name__}, we {got!r}"
    for word in words:
        assert word in str(got), f"{word!r} not in {str(got)!r}"
