"""F.scaled_dot_product_attention and nn.MultiheadAttention against PyTorch: values and the
gradients of every input (and parameter), in float64 and float32, with every kind of mask."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchgrad as sg
from scratchgrad.nn import functional as F
from tests.helpers import SG_DTYPES, TORCH_DTYPES, close

TOLERANCES = {"float64": (1e-9, 1e-11), "float32": (2e-4, 2e-5)}


def pair(array, dtype, grad=True):
    return (sg.tensor(array, dtype=SG_DTYPES[dtype], requires_grad=grad),
            torch.tensor(array, dtype=TORCH_DTYPES[dtype], requires_grad=grad))


def qkv(q_shape, k_shape, v_shape=None, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(q_shape), rng.standard_normal(k_shape),
            rng.standard_normal(v_shape or k_shape))


def masks(kind, shape, dtype):
    """(scratchgrad mask, torch mask) of a kind, or (None, None)."""
    rng = np.random.default_rng(5)
    if kind == "none":
        return None, None
    if kind == "bool":
        keep = rng.random(shape) > 0.4
        keep[..., 0] = True  # no row masked everywhere (that edge has its own test)
        return sg.tensor(keep), torch.tensor(keep)
    values = rng.standard_normal(shape)
    return pair(values, dtype, grad=(kind == "float-grad"))


def compare_sdpa(shapes, dtype, mask_kind="none", mask_shape=None, **kwargs):
    q, k, v = qkv(*shapes)
    (qs, qt), (ks, kt), (vs, vt) = pair(q, dtype), pair(k, dtype), pair(v, dtype)
    ms, mt = masks(mask_kind, mask_shape, dtype)
    out_s = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=ms, **kwargs)
    out_t = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt, **kwargs)
    assert out_s.shape == tuple(out_t.shape)
    assert out_s.dtype == SG_DTYPES[dtype]
    close(out_s, out_t, *TOLERANCES[dtype])
    upstream = np.random.default_rng(9).standard_normal(out_s.shape)
    out_s.backward(sg.tensor(upstream, dtype=SG_DTYPES[dtype]))
    out_t.backward(torch.tensor(upstream, dtype=TORCH_DTYPES[dtype]))
    for s, t in ((qs, qt), (ks, kt), (vs, vt)) + (((ms, mt),) if mask_kind == "float-grad" else ()):
        close(s.grad, t.grad, *TOLERANCES[dtype])


SDPA_CASES = {
    "4-d": {"shapes": ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7))},
    "3-d": {"shapes": ((3, 5, 4), (3, 5, 4))},
    "2-d": {"shapes": ((5, 4), (6, 4))},
    "broadcast-batch": {"shapes": ((2, 3, 5, 4), (1, 3, 6, 4), (1, 3, 6, 4))},
    "causal": {"shapes": ((2, 2, 6, 4), (2, 2, 6, 4)), "is_causal": True},
    "causal-L<S": {"shapes": ((2, 2, 4, 4), (2, 2, 6, 4)), "is_causal": True},
    "causal-L>S": {"shapes": ((2, 2, 6, 4), (2, 2, 4, 4)), "is_causal": True},
    "scale": {"shapes": ((2, 5, 4), (2, 6, 4)), "scale": 0.3},
    "bool-mask": {"shapes": ((2, 3, 5, 4), (2, 3, 6, 4)), "mask_kind": "bool", "mask_shape": (5, 6)},
    "bool-mask-per-head": {"shapes": ((2, 3, 5, 4), (2, 3, 6, 4)), "mask_kind": "bool",
                               "mask_shape": (2, 3, 5, 6)},
    "float-mask": {"shapes": ((2, 3, 5, 4), (2, 3, 6, 4)), "mask_kind": "float",
                       "mask_shape": (1, 3, 5, 6)},
    "float-mask-grad": {"shapes": ((2, 3, 5, 4), (2, 3, 6, 4)), "mask_kind": "float-grad",
                            "mask_shape": (3, 1, 6)},
    "float-mask-1-d-grad": {"shapes": ((2, 3, 5, 4), (2, 3, 6, 4)), "mask_kind": "float-grad",
                            "mask_shape": (6,)},
    "gqa": {"shapes": ((2, 4, 5, 4), (2, 2, 6, 4)), "enable_gqa": True},
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch(case, dtype):
    compare_sdpa(dtype=dtype, **SDPA_CASES[case])


@settings(max_examples=20, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), length=st.integers(1, 6),
       source=st.integers(1, 6), features=st.integers(1, 5), value_features=st.integers(1, 4),
       causal=st.booleans(), mask=st.sampled_from(["none", "bool", "float"]))
def test_sdpa_matches_torch_on_drawn_shapes(batch, length, source, features, value_features,
                                            causal, mask):
    batch = tuple(batch)
    mask_shape = (length, source)
    if causal:
        mask = "none"
    compare_sdpa(((*batch, length, features), (*batch, source, features),
                  (*batch, source, value_features)), "float64", mask_kind=mask,
                 mask_shape=mask_shape, is_causal=causal)


@pytest.mark.parametrize("shapes", [((2, 4, 3), (2, 5, 3)),          # 3-D: the math rule
                                    ((1, 2, 4, 3), (1, 2, 5, 3))])   # 4-D: the flash rule
def test_sdpa_gradcheck(shapes):
    q, k, v = qkv(*shapes)
    leaves = [sg.tensor(a, requires_grad=True) for a in (q, k, v)]
    bias = sg.tensor(np.random.default_rng(3).standard_normal((4, 5)), requires_grad=True)
    assert sg.gradcheck(lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=b),
                        (*leaves, bias))
    assert sg.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                        leaves)


def test_sdpa_is_one_node_whose_rule_reuses_the_weights_and_lets_them_go():
    """Without dropout, softmax(Q Kᵀ·scale) V is one node: the forward's weights are kept for its
    rule, which computes every input's gradient at once (a memo) and drops both after use."""
    q, k, v = (sg.tensor(a, requires_grad=True) for a in qkv((2, 4, 3), (2, 5, 3)))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.grad_fn.name() == "attention"
    kept, memo = out.grad_fn.params["weights"], out.grad_fn.params["memo"]
    assert kept.value is not None
    out.sum().backward(retain_graph=True)
    assert kept.value is None and memo.grads is None and memo.g is None
    first = [t.grad.detach().numpy().copy() for t in (q, k, v)]
    out.sum().backward()  # a second backward computes the weights again
    for t, g in zip((q, k, v), first):
        np.testing.assert_allclose(t.grad.detach().numpy(), 2 * g, rtol=1e-6)


def test_attention_weights_node_computes_its_rule_once_and_lets_it_go():
    """The weights alone (MultiheadAttention, dropout): their rules share one softmax backward."""
    q, k = (sg.tensor(a, requires_grad=True) for a in qkv((2, 4, 3), (2, 5, 3))[:2])
    weights = F._attention_weights(q, k)
    memo = weights.grad_fn.params["memo"]
    weights.sum().backward(retain_graph=True)
    assert memo.grads is None and memo.g is None
    first = q.grad.detach().numpy().copy()
    weights.sum().backward()
    np.testing.assert_allclose(q.grad.detach().numpy(), 2 * first, rtol=1e-6)


def test_sdpa_second_order_with_a_float_mask_matches_torch():
    q, k, v = qkv((2, 3, 4), (2, 5, 4))
    (qs, qt), (ks, kt), (vs, vt) = pair(q, "float64"), pair(k, "float64"), pair(v, "float64")
    ms, mt = pair(np.random.default_rng(4).standard_normal((3, 5)), "float64")
    gs = sg.grad(F.scaled_dot_product_attention(qs, ks, vs, attn_mask=ms).tanh().sum(),
                 (ks, ms), create_graph=True)
    gt = torch.autograd.grad(torch.nn.functional.scaled_dot_product_attention(
        qt, kt, vt, attn_mask=mt).tanh().sum(), (kt, mt), create_graph=True)
    for s, t in zip(gs, gt):
        close(s, t, *TOLERANCES["float64"])
    (gs[0] * gs[1].sum()).sum().backward()
    (gt[0] * gt[1].sum()).sum().backward()
    for s, t in ((qs, qt), (ks, kt), (vs, vt), (ms, mt)):
        close(s.grad, t.grad, *TOLERANCES["float64"])


def causal_gradient_of_q(shape):
    """d/dq of sdpa(q, k, v, is_causal).tanh().sum() with create_graph, in both libraries;
    and the leaves, as (scratchgrad, torch) pairs."""
    q, k, v = qkv(shape, shape)
    leaves = pair(q, "float64"), pair(k, "float64"), pair(v, "float64")
    (qs, qt), (ks, kt), (vs, vt) = leaves
    gs = sg.grad(F.scaled_dot_product_attention(qs, ks, vs, is_causal=True).tanh().sum(), qs,
                 create_graph=True)[0]
    gt = torch.autograd.grad(torch.nn.functional.scaled_dot_product_attention(
        qt, kt, vt, is_causal=True).tanh().sum(), qt, create_graph=True)[0]
    close(gs, gt, *TOLERANCES["float64"])
    return gs, gt, leaves


def test_sdpa_second_order_matches_torch():
    gs, gt, leaves = causal_gradient_of_q((2, 4, 3))  # 3-D: PyTorch's math kernel
    (gs * gs).sum().backward()
    (gt * gt).sum().backward()
    for s, t in leaves:
        close(s.grad, t.grad, *TOLERANCES["float64"])


def test_sdpa_of_4d_inputs_is_differentiable_once_as_torchs_flash_kernel():
    """4-D inputs take PyTorch's flash kernel: its first derivative, even with create_graph,
    but a second derivative raises."""
    gs, gt, _ = causal_gradient_of_q((1, 2, 4, 3))
    assert gs.requires_grad and gt.requires_grad
    with pytest.raises(RuntimeError, match="not implemented"):
        (gt * gt).sum().backward()
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention.*not implemented"):
        (gs * gs).sum().backward()


@pytest.mark.parametrize("float_mask", [False, True])
def test_sdpa_fully_masked_row_is_zero_with_zero_gradient_as_torch(float_mask):
    q, k, v = qkv((1, 3, 4), (1, 5, 4))
    keep = np.ones((3, 5), dtype=bool)
    keep[1] = False
    mask = np.where(keep, 0.0, -math.inf) if float_mask else keep
    (qs, qt), (ks, kt), (vs, vt) = pair(q, "float64"), pair(k, "float64"), pair(v, "float64")
    out_s = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=sg.tensor(mask))
    out_t = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=torch.tensor(mask))
    close(out_s, out_t, *TOLERANCES["float64"])
    assert (out_s.detach().numpy()[0, 1] == 0).all()
    out_s.sum().backward()
    out_t.sum().backward()
    for s, t in ((qs, qt), (ks, kt), (vs, vt)):
        close(s.grad, t.grad, *TOLERANCES["float64"])


def test_sdpa_dropout_zeroes_weights_and_keeps_the_mean():
    sg.manual_seed(0)
    q = sg.zeros(1, 200, 4)  # uniform weights 1/50 over 50 keys
    v = sg.ones(1, 50, 3)
    out = F.scaled_dot_product_attention(q, sg.zeros(1, 50, 4), v, dropout_p=0.5).detach().numpy()
    assert not np.allclose(out, 1)
    assert abs(out.mean() - 1) < 0.05
    plain = F.scaled_dot_product_attention(q, sg.zeros(1, 50, 4), v, dropout_p=0.0).detach().numpy()
    np.testing.assert_allclose(plain, 1, rtol=1e-6)


def test_sdpa_bad_input():
    q = sg.zeros(2, 5, 4)
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(4, 6\) doesn't broadcast.*\(2, 5, 6\)"):
        F.scaled_dot_product_attention(q, sg.zeros(2, 6, 4), sg.zeros(2, 6, 4),
                                       attn_mask=sg.ones(4, 6, dtype=sg.bool))
    with pytest.raises(RuntimeError, match="same last dimension"):
        F.scaled_dot_product_attention(q, sg.zeros(2, 6, 3), sg.zeros(2, 6, 3))
    with pytest.raises(RuntimeError, match="same length"):
        F.scaled_dot_product_attention(q, sg.zeros(2, 6, 4), sg.zeros(2, 7, 4))
    with pytest.raises(RuntimeError, match="same floating-point dtype"):
        F.scaled_dot_product_attention(q, sg.zeros(2, 6, 4, dtype=sg.float64), sg.zeros(2, 6, 4))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        F.scaled_dot_product_attention(sg.zeros(4), sg.zeros(4), sg.zeros(4))
    with pytest.raises(RuntimeError, match="bool or floating point"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=sg.zeros(5, 5, dtype=sg.int64))
    with pytest.raises(RuntimeError, match="attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=sg.ones(5, 5, dtype=sg.bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="don't broadcast"):
        F.scaled_dot_product_attention(q, sg.zeros(3, 5, 4), sg.zeros(3, 5, 4))


# ---------------------------------------------------------------- MultiheadAttention

def both_mha(*args, **kwargs):
    torch.manual_seed(0)
    tmod = torch.nn.MultiheadAttention(*args, **kwargs)
    smod = sg.nn.MultiheadAttention(*args, **kwargs)
    smod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    return smod, tmod


def compare_mha(smod, tmod, dtype, shapes, self_attention=False, masks_np=(None, None),
                **kwargs):
    if dtype == "float64":
        smod.double()
        tmod.double()
    q, k, v = qkv(*shapes)
    (qs, qt), (ks, kt), (vs, vt) = pair(q, dtype), pair(k, dtype), pair(v, dtype)
    if self_attention:
        ks = vs = qs
        kt = vt = qt
    attn_mask, padding = masks_np
    to_sg = {} if attn_mask is None else {"attn_mask": sg.tensor(attn_mask)}
    to_t = {} if attn_mask is None else {"attn_mask": torch.tensor(attn_mask)}
    if padding is not None:
        to_sg["key_padding_mask"] = sg.tensor(padding)
        to_t["key_padding_mask"] = torch.tensor(padding)
    if dtype == "float32":
        for d in (to_sg, to_t):
            for name, m in d.items():
                if m.dtype in (sg.float64, torch.float64):
                    d[name] = m.float()
    out_s, w_s = smod(qs, ks, vs, **to_sg, **kwargs)
    out_t, w_t = tmod(qt, kt, vt, **to_t, **kwargs)
    close(out_s, out_t, *TOLERANCES[dtype])
    assert (w_s is None) == (w_t is None)
    rng = np.random.default_rng(9)
    upstream = rng.standard_normal(out_s.shape)
    loss_s = (out_s * sg.tensor(upstream, dtype=SG_DTYPES[dtype])).sum()
    loss_t = (out_t * torch.tensor(upstream, dtype=TORCH_DTYPES[dtype])).sum()
    if w_s is not None:
        assert w_s.shape == tuple(w_t.shape)
        close(w_s, w_t, *TOLERANCES[dtype])
        upstream = rng.standard_normal(w_s.shape)
        loss_s = loss_s + (w_s * sg.tensor(upstream, dtype=SG_DTYPES[dtype])).sum()
        loss_t = loss_t + (w_t * torch.tensor(upstream, dtype=TORCH_DTYPES[dtype])).sum()
    loss_s.backward()
    loss_t.backward()
    for s, t in ((qs, qt), (ks, kt), (vs, vt)):
        close(s.grad, t.grad, *TOLERANCES[dtype])
    t_params = dict(tmod.named_parameters())
    assert [n for n, _ in smod.named_parameters()] == list(t_params)
    for name, p in smod.named_parameters():
        close(p.grad, t_params[name].grad, *TOLERANCES[dtype])


def bool_mask(shape, seed=4):
    mask = np.random.default_rng(seed).random(shape) < 0.3
    mask[..., 0] = False  # MultiheadAttention: True means "don't attend"
    return mask


MHA_CASES = {
    "self": {"shapes": ((5, 2, 8), (5, 2, 8)), "self_attention": True},
    "cross": {"shapes": ((5, 2, 8), (6, 2, 8))},
    "batch-first": {"shapes": ((2, 5, 8), (2, 6, 8)), "batch_first": True},
    "unbatched": {"shapes": ((5, 8), (6, 8))},
    "per-head-weights": {"shapes": ((5, 2, 8), (6, 2, 8)), "average_attn_weights": False},
    "no-weights": {"shapes": ((5, 2, 8), (6, 2, 8)), "need_weights": False},
    "bool-attn-mask": {"shapes": ((5, 2, 8), (6, 2, 8)), "masks_np": (bool_mask((5, 6)), None)},
    "float-attn-mask-3d": {"shapes": ((5, 2, 8), (6, 2, 8)),
                               "masks_np": (np.random.default_rng(1).standard_normal((4, 5, 6)), None)},
    "key-padding": {"shapes": ((5, 2, 8), (6, 2, 8)), "masks_np": (None, bool_mask((2, 6)))},
    "both-masks": {"shapes": ((2, 5, 8), (2, 6, 8)), "batch_first": True,
                       "masks_np": (bool_mask((5, 6), 7), bool_mask((2, 6)))},
    "causal-hint": {"shapes": ((5, 2, 8), (5, 2, 8)), "self_attention": True, "is_causal": True,
                        "need_weights": False, "masks_np": (np.triu(np.ones((5, 5), bool), 1), None)},
    "causal-hint-weights": {"shapes": ((5, 2, 8), (5, 2, 8)), "self_attention": True,
                                "is_causal": True, "masks_np": (np.triu(np.ones((5, 5), bool), 1), None)},
    "no-bias": {"shapes": ((5, 2, 8), (6, 2, 8)), "bias": False},
    "kdim-vdim": {"shapes": ((5, 2, 8), (6, 2, 3), (6, 2, 5)), "kdim": 3, "vdim": 5},
}
CONSTRUCTOR = {"batch_first", "bias", "kdim", "vdim"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_torch(case, dtype):
    spec = dict(MHA_CASES[case])
    built = {k: spec.pop(k) for k in list(spec) if k in CONSTRUCTOR}
    smod, tmod = both_mha(8, 2, **built)
    compare_mha(smod, tmod, dtype, **spec)


def test_multihead_attention_parameters_match_torch():
    for kwargs in ({}, {"bias": False}, {"kdim": 3, "vdim": 5}):
        smod = sg.nn.MultiheadAttention(8, 2, **kwargs)
        tmod = torch.nn.MultiheadAttention(8, 2, **kwargs)
        assert [(n, p.shape) for n, p in smod.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in tmod.named_parameters()]
        assert list(smod.state_dict()) == list(tmod.state_dict())
    smod = sg.nn.MultiheadAttention(8, 2)
    assert (smod.in_proj_bias.detach().numpy() == 0).all() and (smod.out_proj.bias.detach().numpy() == 0).all()
    bound = math.sqrt(6 / (8 + 24))  # xavier_uniform over (3E, E)
    assert np.abs(smod.in_proj_weight.detach().numpy()).max() <= bound


def test_multihead_attention_dropout_in_training_only():
    sg.manual_seed(0)
    mha = sg.nn.MultiheadAttention(8, 2, dropout=0.5)
    x = sg.randn(5, 2, 8)
    a, b = mha(x, x, x)[0].detach().numpy(), mha(x, x, x)[0].detach().numpy()
    assert not np.allclose(a, b)
    mha.eval()
    np.testing.assert_array_equal(mha(x, x, x)[0].detach().numpy(), mha(x, x, x)[0].detach().numpy())


def test_multihead_attention_fully_masked_row_as_torch():
    """NaN in the weights path (need_weights=True), zeros without it, as PyTorch 2.13."""
    smod, tmod = both_mha(8, 2)
    x = np.random.default_rng(0).standard_normal((3, 2, 8)).astype(np.float32)
    mask = np.zeros((3, 3), bool)
    mask[1] = True
    for need_weights in (True, False):
        out_s, _ = smod(*[sg.tensor(x)] * 3, attn_mask=sg.tensor(mask), need_weights=need_weights)
        out_t, _ = tmod(*[torch.tensor(x)] * 3, attn_mask=torch.tensor(mask),
                        need_weights=need_weights)
        np.testing.assert_allclose(out_s.detach().numpy(), out_t.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_multihead_attention_bad_input():
    mha = sg.nn.MultiheadAttention(8, 2)
    x = sg.zeros(5, 2, 8)
    with pytest.raises(RuntimeError, match=r"embedding dimension of 8 for the query, but got 6"):
        mha(sg.zeros(5, 2, 6), x, x)
    with pytest.raises(RuntimeError, match=r"attn_mask should have shape \(5, 5\) or \(4, 5, 5\), got \(5, 4\)"):
        mha(x, x, x, attn_mask=sg.zeros(5, 4, dtype=sg.bool))
    with pytest.raises(RuntimeError, match=r"key_padding_mask should have shape \(2, 5\)"):
        mha(x, x, x, key_padding_mask=sg.zeros(5, 2, dtype=sg.bool))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="query should be unbatched 2D or batched 3D"):
        mha(sg.zeros(8), sg.zeros(8), sg.zeros(8))
    with pytest.raises(AssertionError):  # PyTorch asserts it
        torch.nn.MultiheadAttention(8, 3)
    with pytest.raises(AssertionError, match="divisible"):
        sg.nn.MultiheadAttention(8, 3)
