"""The fused primitives behind nn (linear, softmax cross-entropy, the two BCEs): gradients of
gradients (create_graph) against PyTorch. Their values, first gradients and gradchecks are rows
of the op table (tests/op_cases.py, "nn primitives")."""
import numpy as np
import torch

import scratchgrad as sg
from scratchgrad.nn import functional as F
from tests.helpers import close, leaf, tleaf

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
