"""The fused primitives behind nn (linear, softmax cross-entropy, the two BCEs): gradients of
gradients (create_graph) against PyTorch. Their values, first gradients and gradchecks are rows
of the op table (tests/op_cases.py, "nn primitives")."""
import math

import numpy as np
import pytest
import torch

import scratchgrad as sg
from scratchgrad.nn import functional as F
from tests.helpers import SG_DTYPES, TORCH_DTYPES, close, leaf, tleaf

rng = np.random.default_rng(7)


def test_second_derivatives_through_linear_and_cross_entropy_match_torch():
    """Hessian-vector product of a tanh MLP's cross-entropy w.r.t. its first weight."""
    x_np, w1_np, w2_np = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal((2, 5))
    v_np = rng.standard_normal((5, 3))
    target = [0, 1, 1, 0]

    w1, w2 = leaf(w1_np), leaf(w2_np)
    loss = F.cross_entropy(F.linear(F.linear(sg.tensor(x_np), w1).tanh(), w2), sg.tensor(target))
    (g,) = sg.grad(loss, w1, create_graph=True)
    (hv,) = sg.grad((g * sg.tensor(v_np)).sum(), w1)

    tw1, tw2 = tleaf(w1_np), tleaf(w2_np)
    tloss = torch.nn.functional.cross_entropy(
        torch.nn.functional.linear(torch.nn.functional.linear(torch.tensor(x_np), tw1).tanh(), tw2),
        torch.tensor(target))
    (tg,) = torch.autograd.grad(tloss, tw1, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v_np)).sum(), tw1)
    close(g, tg)
    close(hv, thv)


def test_second_derivative_of_bce_with_logits_matches_torch():
    z_np, t_np = rng.standard_normal(5), rng.uniform(0, 1, 5)
    z, tz = leaf(z_np), tleaf(z_np)
    (g,) = sg.grad(F.binary_cross_entropy_with_logits(z, sg.tensor(t_np)), z, create_graph=True)
    (h,) = sg.grad(g.sum(), z)
    (tg,) = torch.autograd.grad(
        torch.nn.functional.binary_cross_entropy_with_logits(tz, torch.tensor(t_np)), tz,
        create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), tz)
    close(h, th)


# ---------------------------------------------------------------- GELU: one node, its derivative kept for the rule

def test_gelu_is_one_node_whose_rule_reuses_the_derivative_its_forward_worked_out():
    x = leaf(rng.standard_normal((3, 4)))
    y = F.gelu(x)
    assert y.grad_fn.name() == "gelu"
    kept = y.grad_fn.params["slope"]
    assert kept.value is not None
    y.sum().backward(retain_graph=True)
    assert kept.value is None  # used up, not held as long as the graph lives
    first = x.grad.detach().numpy().copy()
    y.sum().backward()  # a second backward works the derivative out again
    close(x.grad, 2 * first, 1e-12, 0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gelu_second_derivative_matches_torch(dtype):
    x_np = rng.uniform(-4, 4, 20)
    x, tx = leaf(x_np, SG_DTYPES[dtype]), tleaf(x_np, TORCH_DTYPES[dtype])
    (g,) = sg.grad((F.gelu(x) * F.gelu(x)).sum(), x, create_graph=True)
    (h,) = sg.grad((g * g).sum(), x)
    tf = torch.nn.functional.gelu
    (tg,) = torch.autograd.grad((tf(tx) * tf(tx)).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), tx)
    tol = (1e-9, 1e-11) if dtype == "float64" else (2e-5, 2e-6)
    close(g, tg, *tol)
    close(h, th, *tol)


def test_gelu_float32_over_many_chunks_is_exact_to_float32_precision():
    """The float32 forward works through the array in chunks; values and gradients agree with
    x·Φ(x) and Φ(x) + x·φ(x) worked out in float64 from math.erfc, the tail included (where
    PyTorch's float64 1 + erf(x/√2) has already cancelled to 0, from x ≈ -8.3 on)."""
    x_np = np.concatenate([rng.standard_normal(200_000) * 3,
                           rng.uniform(-13, -3, 1000)]).astype(np.float32)
    g_np = rng.standard_normal(x_np.shape).astype(np.float32)
    x = sg.tensor(x_np, requires_grad=True)
    y = F.gelu(x)
    y.backward(sg.tensor(g_np))
    x64 = x_np.astype(np.float64)
    cdf = 0.5 * np.vectorize(math.erfc)(-x64 / math.sqrt(2))
    density = np.exp(-x64 * x64 / 2) / math.sqrt(2 * math.pi)
    assert y.dtype == sg.float32 and x.grad.dtype == sg.float32
    body, tail = x_np > -5, x_np <= -5
    close(y.detach().numpy()[body], (x64 * cdf)[body], 3e-6, 1e-37)
    # In the tail, x·Φ(x) moves x² times faster than x (relatively): float32 rounding of x²/2
    # shows up x² times larger; subnormal results keep fewer digits still.
    close(y.detach().numpy()[tail], (x64 * cdf)[tail], 2e-5, 1e-37)
    close(x.grad, g_np * (cdf + x64 * density), 1e-6, 1e-6)


def test_gelu_at_the_extremes_matches_torch():
    """gelu(±inf), NaN and ±3e38 (whose 0.5·x·2 would overflow): as PyTorch in float64."""
    x_np = np.array([np.inf, -np.inf, np.nan, 3e38, -3e38, 0.0, -0.0], np.float32)
    x = sg.tensor(x_np, requires_grad=True)
    y = F.gelu(x)
    y.sum().backward()
    tx = torch.tensor(x_np.astype(np.float64), requires_grad=True)
    ty = torch.nn.functional.gelu(tx)
    ty.sum().backward()
    close(y, ty.detach().float())
    close(x.grad, tx.grad.float())


def test_gelu_float32_slope_at_zero_is_one_half_exactly():
    """Φ(0) = 1/2: the float32 fit's coefficients add up to 1, so no rounding shows at 0."""
    x_np = np.array([0.0, -0.0, 1e-30, -1e-30], np.float32)
    x = sg.tensor(x_np, requires_grad=True)
    F.gelu(x).sum().backward()
    tx = torch.tensor(x_np, requires_grad=True)
    torch.nn.functional.gelu(tx).sum().backward()
    assert (x.grad.numpy() == 0.5).all() and (tx.grad.numpy() == 0.5).all()


def test_gelu_of_float16_is_float16_computed_in_float32():
    x_np = np.array([-3, -1, 0, 1, 2]).astype(np.float16)
    y = F.gelu(sg.tensor(x_np))
    want = torch.nn.functional.gelu(torch.tensor(x_np.astype(np.float64))).numpy()
    assert y.dtype == sg.float16
    close(y.detach().numpy().astype(np.float64), want, 1e-3, 1e-4)


# ---------------------------------------------------------------- layer_norm: one node, x̂ and 1/σ kept

def test_layer_norm_is_one_node_whose_rule_reuses_the_forwards_statistics():
    x, w, b = leaf(rng.standard_normal((2, 3, 4))), leaf(rng.standard_normal(4)), leaf(rng.standard_normal(4))
    y = F.layer_norm(x, (4,), w, b)
    assert y.grad_fn.name() == "layer_norm"
    kept = y.grad_fn.params["stats"]
    assert kept.value is not None
    y.sum().backward(retain_graph=True)
    assert kept.value is None
    first = [t.grad.detach().numpy().copy() for t in (x, w, b)]
    y.sum().backward()  # a second backward works the statistics out again
    for t, g in zip((x, w, b), first):
        close(t.grad, 2 * g, 1e-12, 1e-12)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_second_derivatives_match_torch(affine):
    x_np, w_np, b_np = rng.standard_normal((3, 2, 5)), rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    x, tx = leaf(x_np), tleaf(x_np)
    params, tparams = ([leaf(w_np), leaf(b_np)], [tleaf(w_np), tleaf(b_np)]) if affine else ([], [])
    y = F.layer_norm(x, (2, 5), *params, eps=1e-3)
    ty = torch.nn.functional.layer_norm(tx, (2, 5), *tparams, eps=1e-3)
    (g,) = sg.grad((y * y * y).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((ty * ty * ty).sum(), tx, create_graph=True)
    close(g, tg, 1e-9, 1e-11)
    (g * g).sum().backward()
    (tg * tg).sum().backward()
    for s, t in zip([x, *params], [tx, *tparams]):
        close(s.grad, t.grad, 1e-9, 1e-11)


def test_layer_norm_of_float16_with_float32_parameters_as_torch():
    """Mixed precision: a float16 input with a float32 layer gives float16, as in PyTorch."""
    x_np = rng.standard_normal((4, 8)).astype(np.float16)
    layer, tlayer = sg.nn.LayerNorm(8), torch.nn.LayerNorm(8)
    x, tx = sg.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, ty = layer(x), tlayer(tx)
    assert y.dtype == sg.float16 and ty.dtype == torch.float16
    close(y.detach().numpy().astype(np.float32), ty.detach().float(), 2e-3, 2e-3)
    y.sum().backward()
    ty.sum().backward()
    close(layer.weight.grad, tlayer.weight.grad, 2e-3, 2e-3)


def test_layer_norm_backward_needs_x_and_weight_as_they_were_but_not_bias():
    """As PyTorch: the rule reads x and the weight (changing them in place before backward is
    an error), never the bias."""
    x, w, b = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal(4)), leaf(rng.standard_normal(4))
    y = F.layer_norm(x, (4,), w, b)
    with sg.no_grad():
        b.add_(1.0)
    y.sum().backward()
    y = F.layer_norm(x, (4,), w, b)
    with sg.no_grad():
        w.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
