"""The autograd engine (API.md "Autograd"): backward, sg.grad, higher order, grad mode.

Values come from the math; where the math is long, torch.autograd is the oracle.
"""
import math
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgrad as sg
from tests.helpers import close, leaf, tleaf

TOL = (1e-6, 1e-9)  # (rtol, atol) of the comparisons below


# ---------------------------------------------------------------- first derivatives


def test_worked_example():
    x = sg.tensor(2.0, requires_grad=True)
    y = sg.tensor(3.0, requires_grad=True)
    z = (x**2 + y) ** 2
    assert z.item() == 49.0
    z.backward()
    assert x.grad.item() == 56.0
    assert y.grad.item() == 14.0


def test_relu_gradient():
    x = sg.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
    sg.relu(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # 0 at 0, as in PyTorch
    t = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
    torch.relu(t).sum().backward()
    assert x.grad.tolist() == t.grad.tolist()


def test_relu_method_gradient_weighted():
    x = sg.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    (x.relu() * sg.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0], [3.0, 0.0]]


def test_pow_gradient_base_and_exponent():
    x = sg.tensor(2.0, requires_grad=True)
    y = sg.tensor(3.0, requires_grad=True)
    (x**y).backward()
    assert x.grad.item() == pytest.approx(12.0)  # y x^(y-1)
    assert y.grad.item() == pytest.approx(8 * math.log(2), rel=1e-6)  # x^y ln x


def test_pow_gradients_match_torch():
    base = [0.5, 1.0, 2.0, 3.0]
    expo = [2.0, -1.0, 0.5, 3.0]
    x, y = leaf(base), leaf(expo)
    tx, ty = tleaf(base), tleaf(expo)
    (x**y * sg.tensor([1.0, 2.0, 3.0, 4.0], dtype=sg.float64)).sum().backward()
    (tx**ty * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)).sum().backward()
    close(x.grad, tx.grad, *TOL)
    close(y.grad, ty.grad, *TOL)


def test_pow_with_python_numbers():
    x = leaf([1.0, 2.0, 3.0])
    (x**3).sum().backward()
    close(x.grad, [3.0, 12.0, 27.0], *TOL)
    e = leaf([0.0, 1.0, 2.0])
    (2**e).sum().backward()
    close(e.grad, [math.log(2) * 2**k for k in (0.0, 1.0, 2.0)], *TOL)


@pytest.mark.parametrize("exponent", [2, 3, -1, -2, 0.5, -0.5, 3.0, 2.5])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_powers_by_a_number_are_pytorchs_to_the_bit(exponent, dtype):
    """x ** 3 is x·x·x, x ** -2 is 1/(x·x), ... as in PyTorch's kernel (NumPy's general power
    rounds differently, and takes ~50 ns an element), values and gradients, 0-d and specials.
    Other exponents (0.5 too, a correctly rounded square root here) agree to the last bit or so."""
    exact = exponent in (2, 3, -1, -2, -0.5)
    values = np.concatenate([np.random.default_rng(0).standard_normal(1000) * 3,
                             [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, 3e20]]).astype(dtype)
    for array in (values, values[2]):
        x, tx = sg.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
        y, ty = x ** exponent, tx ** exponent
        if exact:
            np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        else:
            np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=3e-7)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, equal_nan=True)


def test_vector_dot_product_gradient():
    a_val, b_val = [1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]
    a, b = leaf(a_val), leaf(b_val)
    ta, tb = tleaf(a_val), tleaf(b_val)
    out = a @ b
    assert out.shape == ()
    out.backward()
    (ta @ tb).backward()
    close(a.grad, tb.detach(), *TOL)
    close(b.grad, ta.detach(), *TOL)
    close(a.grad, ta.grad, *TOL)


def test_gradient_accumulates_across_backwards():
    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad.detach().numpy().copy()
    np.testing.assert_allclose(first, [2.0, 4.0, 6.0])
    (x * x).sum().backward()  # the graph is built again
    np.testing.assert_allclose(x.grad.detach().numpy(), [4.0, 8.0, 12.0])
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), [7.0, 11.0, 15.0])


def test_resetting_grad_to_none_starts_over():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    (x * 5).sum().backward()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), [2.0, 2.0])


def test_diamond_graph():
    x = sg.tensor(1.5, requires_grad=True)
    a = x * 2
    b = x**2
    z = a * b  # 2 x^3
    z.backward()
    assert x.grad.item() == pytest.approx(6 * 1.5**2)


def test_diamond_with_shared_intermediate_matches_torch():
    values = [[0.1, -0.7, 1.3], [0.4, 0.0, -2.0]]
    x, tx = leaf(values), tleaf(values)

    def f(lib, v):
        h = lib.exp(v)
        left = h * h
        right = lib.sin(h) + h
        return (left * right + h).sum()

    f(sg, x).backward()
    f(torch, tx).backward()
    close(x.grad, tx.grad, *TOL)


def test_same_tensor_on_both_sides():
    x = sg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x / x - x).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), [1.0, -5.0, 5.0], rtol=1e-6)


def test_many_consumers_sum_their_terms_without_touching_shared_arrays():
    """Backward sums a tensor's gradient terms in place once it holds the only reference to the
    running total: terms handed on as they are (add's g, to both inputs), slices of a split,
    and gradients kept for sg.viz or retain_grad must come out as PyTorch's."""
    values = np.linspace(-1.5, 2.0, 24).reshape(2, 3, 4)

    def f(lib, x):
        h = x * 1.0
        h.retain_grad()
        q, k, v = h.split([1, 2, 1], 2)
        a, b = x * 1.5, x * 2.0
        e = a.exp()            # a's other consumer: its term arrives after n's
        n = a + b              # add hands one array, g, to both a and b
        s = ((q * 2).sum() + (k * k).sum() + v.exp().sum() + h.tanh().sum()
             + (n * 3).sum() + e.sum())
        return s, h

    x, tx = leaf(values), tleaf(values)
    s, h = f(sg, x)
    ts, th = f(torch, tx)
    s.backward()
    ts.backward()
    close(x.grad, tx.grad, *TOL)
    close(h.grad, th.grad, *TOL)
    with sg.viz.keep_gradients():
        x.grad = None
        f(sg, x)[0].backward()
    close(x.grad, tx.grad, *TOL)


@settings(max_examples=30, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from(["add", "sub", "mul", "div"]), st.integers(0, 2**31 - 1))
def test_broadcast_gradients_sum_back_to_input_shapes(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a_val = rng.uniform(0.5, 2.0, a_shape)
    b_val = rng.uniform(0.5, 2.0, b_shape)
    a, b = leaf(a_val), leaf(b_val)
    ta, tb = tleaf(a_val), tleaf(b_val)
    out = getattr(sg, op)(a, b)
    tout = getattr(torch, op)(ta, tb)
    weights = rng.normal(size=tout.shape)
    (out * sg.tensor(weights)).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    assert a.grad.shape == a_shape
    assert b.grad.shape == b_shape
    close(a.grad, ta.grad, *TOL)
    close(b.grad, tb.grad, *TOL)


# ---------------------------------------------------------------- retain_graph


@pytest.mark.parametrize("make", [
    lambda x: (x * x).sum(),
    lambda x: x.exp().sum(),
    lambda x: (x.sin() * 2).sum(),
])
def test_second_backward_through_freed_graph_raises(make):
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = make(x)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = make(tx)
    ty.backward()
    with pytest.raises(RuntimeError):
        ty.backward()


@pytest.mark.parametrize("make", [
    lambda x: (x * x).sum(),
    lambda x: x.exp().sum(),
    lambda x: (x.tanh() * x).sum(),
])
def test_retain_graph_allows_second_backward(make):
    x = sg.tensor([0.5, -1.0], requires_grad=True)
    tx = torch.tensor([0.5, -1.0], requires_grad=True)
    y = make(x)
    ty = make(tx)
    y.backward(retain_graph=True)
    ty.backward(retain_graph=True)
    y.backward()
    ty.backward()
    close(x.grad, tx.grad, rtol=1e-5, atol=1e-9)


def test_graph_without_saved_values_can_backward_twice():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_freed_graph_error_from_sg_grad():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    sg.grad(y, x)
    with pytest.raises(RuntimeError):
        sg.grad(y, x)


def test_sg_grad_retain_graph():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (g1,) = sg.grad(y, x, retain_graph=True)
    (g2,) = sg.grad(y, x)
    assert g1.tolist() == g2.tolist() == [2.0, 4.0]


# ---------------------------------------------------------------- sg.grad


def test_sg_grad_returns_tuple_and_leaves_grad_untouched():
    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = sg.tensor(2.0, requires_grad=True)
    y = (w * x * x).sum()
    result = sg.grad(y, [x, w])
    assert isinstance(result, tuple)
    assert len(result) == 2
    gx, gw = result
    assert isinstance(gx, sg.Tensor)
    close(gx, [4.0, 8.0, 12.0], *TOL)
    close(gw, 14.0, *TOL)
    assert gx.shape == x.shape
    assert gw.shape == ()
    assert x.grad is None
    assert w.grad is None


def test_sg_grad_single_input_tensor_gives_one_tuple():
    x = sg.tensor(3.0, requires_grad=True)
    result = sg.grad(x * x, x)
    assert isinstance(result, tuple)
    assert len(result) == 1
    assert result[0].item() == 6.0
    assert result[0].requires_grad is False


def test_sg_grad_of_intermediate():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    (gh,) = sg.grad(y, [h])
    close(gh, [6.0, 12.0], *TOL)
    assert x.grad is None


def test_sg_grad_unused_input():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    unused = sg.tensor([5.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        sg.grad((x * 2).sum(), [x, unused])
    gx, gu = sg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.tolist() == [2.0, 2.0]
    assert gu is None
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    tu = torch.tensor([5.0], requires_grad=True)
    assert torch.autograd.grad((tx * 2).sum(), [tx, tu], allow_unused=True)[1] is None


def test_sg_grad_grad_outputs():
    values = [1.0, -2.0, 0.5]
    x, tx = leaf(values), tleaf(values)
    v = [1.0, 10.0, 100.0]
    (gx,) = sg.grad(x * x * x, x, grad_outputs=sg.tensor(v, dtype=sg.float64))
    (tgx,) = torch.autograd.grad(tx * tx * tx, tx, grad_outputs=torch.tensor(v, dtype=torch.float64))
    close(gx, tgx, *TOL)
    close(gx, [3 * a * a * b for a, b in zip(values, v)], *TOL)


def test_sg_grad_several_outputs_sum():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    gx = sg.grad([(x * x).sum(), (3 * x).sum()], [x])[0]
    close(gx, [5.0, 7.0], *TOL)
    gx = sg.grad([x * x, x * 3], [x],
                 grad_outputs=[sg.tensor([1.0, 1.0]), sg.tensor([2.0, 0.0])])[0]
    close(gx, [8.0, 4.0], *TOL)


def test_sg_grad_non_scalar_needs_grad_outputs():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        sg.grad(x * 2, x)


# ---------------------------------------------------------------- higher order


def _second_derivative(lib, f, values):
    """d²/dx² of f, elementwise, via grad(create_graph=True) then grad of the sum."""
    if lib is sg:
        x = leaf(values)
        (g,) = sg.grad(f(sg, x).sum(), x, create_graph=True)
        assert g.requires_grad
        (h,) = sg.grad(g.sum(), x)
        return h.detach().numpy()
    x = tleaf(values)
    (g,) = torch.autograd.grad(f(torch, x).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    return h.detach().numpy()


def test_second_derivative_of_cube_is_6x():
    x = sg.tensor(2.0, requires_grad=True)
    (g,) = sg.grad(x**3, x, create_graph=True)
    assert g.item() == pytest.approx(12.0)
    (h,) = sg.grad(g, x)
    assert h.item() == pytest.approx(12.0)  # 6 x
    values = [-1.5, 0.5, 3.0]
    close(_second_derivative(sg, lambda lib, v: v**3, values), [6 * v for v in values], *TOL)


ELEMENTWISE_SECOND = {
    "sin": lambda lib, v: lib.sin(v),
    "cos": lambda lib, v: lib.cos(v),
    "tanh": lambda lib, v: lib.tanh(v),
    "exp": lambda lib, v: lib.exp(v),
    "sigmoid": lambda lib, v: lib.sigmoid(v),
    "log": lambda lib, v: lib.log(v * v + 1),
    "sqrt": lambda lib, v: lib.sqrt(v * v + 1),
    "div": lambda lib, v: 1 / (v * v + 2),
    "product": lambda lib, v: lib.sin(v) * lib.exp(v) * v,
    "abs_pow": lambda lib, v: lib.abs(v) ** 2.5,
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_SECOND))
def test_second_derivative_elementwise_matches_torch(name):
    f = ELEMENTWISE_SECOND[name]
    values = [-1.3, -0.4, 0.2, 0.9, 2.1]
    close(_second_derivative(sg, f, values), _second_derivative(torch, f, values), rtol=1e-6, atol=1e-9)


def test_second_derivative_closed_forms():
    values = np.array([-1.3, 0.2, 2.1])
    close(_second_derivative(sg, ELEMENTWISE_SECOND["sin"], values), -np.sin(values), *TOL)
    close(_second_derivative(sg, ELEMENTWISE_SECOND["exp"], values), np.exp(values), *TOL)
    t = np.tanh(values)
    close(_second_derivative(sg, ELEMENTWISE_SECOND["tanh"], values), -2 * t * (1 - t * t), *TOL)
    s = 1 / (1 + np.exp(-values))
    close(_second_derivative(sg, ELEMENTWISE_SECOND["sigmoid"], values), s * (1 - s) * (1 - 2 * s), *TOL)


def _hvp(lib, f, values, direction):
    """Hessian-vector product: grad of (grad f . v)."""
    if lib is sg:
        x = leaf(values)
        (g,) = sg.grad(f(sg, x), x, create_graph=True)
        (h,) = sg.grad((g * sg.tensor(direction, dtype=sg.float64)).sum(), x)
        return h.detach().numpy()
    x = tleaf(values)
    (g,) = torch.autograd.grad(f(torch, x), x, create_graph=True)
    (h,) = torch.autograd.grad((g * torch.tensor(direction, dtype=torch.float64)).sum(), x)
    return h.detach().numpy()


REDUCTION_SECOND = {
    "softmax_weighted": lambda lib, v: (lib.softmax(v, -1) * lib.tensor([[1.0, -2.0, 0.5, 3.0]])).sum(),
    "softmax_axis0": lambda lib, v: (lib.softmax(v, 0) ** 2).sum(),
    "log_softmax": lambda lib, v: (lib.log_softmax(v, -1)[:, 1:] * 3).sum(),
    "logsumexp": lambda lib, v: lib.logsumexp(v, 1).sum(),
    "logsumexp_all_squared": lambda lib, v: lib.logsumexp(v, (0, 1)) ** 2,
    "mean_var": lambda lib, v: v.var(1).sum() + v.mean() ** 2,
}


@pytest.mark.parametrize("name", sorted(REDUCTION_SECOND))
def test_hessian_vector_product_of_reductions_matches_torch(name):
    f = REDUCTION_SECOND[name]
    rng = np.random.default_rng(1)
    values = rng.normal(size=(2, 4))
    direction = rng.normal(size=(2, 4))
    expected = _hvp(torch, _torchify(f), values, direction)
    close(_hvp(sg, f, values, direction), expected, rtol=1e-6, atol=1e-10)


def _torchify(f):
    """torch.tensor of a float list is float32; keep the constants float64 for the oracle."""
    class Lib:
        def __getattr__(self, name):
            if name == "tensor":
                return lambda data: torch.tensor(data, dtype=torch.float64)
            return getattr(torch, name)

    return lambda lib, v: f(Lib(), v)


def test_hessian_vector_product_of_small_mlp():
    rng = np.random.default_rng(0)
    W0, b0 = rng.normal(size=(3, 4)), rng.normal(size=3)
    x0 = rng.normal(size=4)
    vW, vb = rng.normal(size=(3, 4)), rng.normal(size=3)

    W, b = leaf(W0), leaf(b0)
    x = sg.tensor(x0)
    f = sg.tanh(W @ x + b).sum()
    gW, gb = sg.grad(f, [W, b], create_graph=True)
    dot = (gW * sg.tensor(vW)).sum() + (gb * sg.tensor(vb)).sum()
    hW, hb = sg.grad(dot, [W, b])

    tW, tb = tleaf(W0), tleaf(b0)
    tf = torch.tanh(tW @ torch.tensor(x0) + tb).sum()
    tgW, tgb = torch.autograd.grad(tf, [tW, tb], create_graph=True)
    tdot = (tgW * torch.tensor(vW)).sum() + (tgb * torch.tensor(vb)).sum()
    thW, thb = torch.autograd.grad(tdot, [tW, tb])

    close(gW.detach(), tgW, *TOL)
    close(hW, thW, *TOL)
    close(hb, thb, *TOL)
    assert W.grad is None and b.grad is None


def test_hessian_of_two_layer_mlp_wrt_input_matches_torch():
    rng = np.random.default_rng(3)
    W1, W2 = rng.normal(size=(5, 3)), rng.normal(size=(2, 5))
    x0 = rng.normal(size=(4, 3))
    v = rng.normal(size=(4, 3))

    def f(lib, x, cast):
        h = lib.tanh(x @ cast(W1).T)
        return (lib.sigmoid(h @ cast(W2).T) ** 2).sum()

    x = leaf(x0)
    (g,) = sg.grad(f(sg, x, sg.tensor), x, create_graph=True)
    (h,) = sg.grad((g * sg.tensor(v)).sum(), x)
    tx = tleaf(x0)
    (tg,) = torch.autograd.grad(f(torch, tx, torch.tensor), tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    close(h, th, *TOL)


def test_third_derivative_of_x4():
    x = sg.tensor(1.5, requires_grad=True)
    y = x**4
    (g1,) = sg.grad(y, x, create_graph=True)
    (g2,) = sg.grad(g1, x, create_graph=True)
    (g3,) = sg.grad(g2, x)
    assert g1.item() == pytest.approx(4 * 1.5**3)
    assert g2.item() == pytest.approx(12 * 1.5**2)
    assert g3.item() == pytest.approx(24 * 1.5)


def test_backward_create_graph_then_backward_of_grad():
    x = sg.tensor([1.0, 2.0], dtype=sg.float64, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.grad_fn is not None
    close(g.detach(), [3.0, 12.0], *TOL)
    x.grad = None
    g.sum().backward()
    close(x.grad, [6.0, 12.0], *TOL)


def test_grad_without_create_graph_is_constant():
    x = sg.tensor(2.0, requires_grad=True)
    (g,) = sg.grad(x**3, x)
    assert g.requires_grad is False
    assert g.grad_fn is None


# ---------------------------------------------------------------- deep graphs


def test_million_op_chain_has_no_recursion_limit():
    x = sg.tensor(1.0, dtype=sg.float64, requires_grad=True)
    y = x
    for _ in range(500_000):
        y = y * 1.000001
        y = y - 0.5
    y.backward()
    expected = 1.000001**500_000
    assert x.grad.item() == pytest.approx(expected, rel=1e-9)
    del y  # freeing a deep graph mustn't overflow the stack either


def test_deep_chain_through_sg_grad_and_create_graph():
    x = sg.tensor([0.5], dtype=sg.float64, requires_grad=True)
    y = x
    for _ in range(3_000):
        y = sg.sin(y) * 0.5 + y * 0.5
    (g,) = sg.grad(y.sum(), x, create_graph=True)
    (h,) = sg.grad(g.sum(), x)
    tx = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    ty = tx
    for _ in range(3_000):
        ty = torch.sin(ty) * 0.5 + ty * 0.5
    (tg,) = torch.autograd.grad(ty.sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), tx)
    close(g.detach(), tg, rtol=1e-9, atol=1e-9)
    close(h, th, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- grad mode


def test_no_grad_context_manager():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    with sg.no_grad():
        y = x * 2
    assert y.requires_grad is False
    assert y.grad_fn is None
    assert y.is_leaf
    assert y.tolist() == [2.0, 4.0]
    assert (x * 2).requires_grad  # restored on exit


def test_no_grad_restores_mode_after_exception():
    x = sg.tensor([1.0], requires_grad=True)
    with pytest.raises(KeyError), sg.no_grad():
        raise KeyError("boom")
    assert (x * 2).requires_grad


def test_no_grad_decorator():
    x = sg.tensor([1.0, 2.0], requires_grad=True)

    @sg.no_grad()
    def double(t):
        return t * 2

    y = double(x)
    assert y.requires_grad is False
    assert y.tolist() == [2.0, 4.0]
    assert (x * 2).requires_grad


def test_no_grad_bare_decorator_like_torch():
    x = sg.tensor([1.0, 2.0], requires_grad=True)

    @sg.no_grad
    def double(t):
        return t * 2

    assert double(x).requires_grad is False
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    with sg.no_grad():
        with sg.enable_grad():
            y = x * x
        z = x * x
    assert y.requires_grad and y.grad_fn is not None
    assert z.requires_grad is False
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_enable_grad_decorator_inside_no_grad():
    x = sg.tensor([3.0], requires_grad=True)

    @sg.enable_grad()
    def square(t):
        return t * t

    with sg.no_grad():
        y = square(x)
    assert y.requires_grad


def test_nested_no_grad():
    x = sg.tensor([1.0], requires_grad=True)
    with sg.no_grad():
        with sg.no_grad():
            pass
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_new_thread_records_even_inside_no_grad():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    seen = {}

    def worker():
        seen["requires_grad"] = (x * 2).requires_grad

    with sg.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        seen["main"] = (x * 2).requires_grad
    assert seen == {"requires_grad": True, "main": False}


def test_no_grad_in_one_thread_does_not_leak_into_another():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    entered = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with sg.no_grad():
            entered.set()
            release.wait(5)
            seen["worker"] = (x * 2).requires_grad
        seen["worker_after"] = (x * 2).requires_grad

    thread = threading.Thread(target=worker)
    thread.start()
    assert entered.wait(5)
    seen["main"] = (x * 2).requires_grad
    release.set()
    thread.join(5)
    assert seen == {"worker": False, "worker_after": True, "main": True}


# ---------------------------------------------------------------- detach, requires_grad_, leaves


def test_detach_cuts_the_graph():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).detach()
    assert not y.requires_grad
    z = y * x
    z.sum().backward()
    assert x.grad.tolist() == [3.0, 6.0]


def test_requires_grad_turns_on_recording():
    x = sg.tensor([1.0, 2.0])
    assert not (x * 2).requires_grad
    x.requires_grad_(True)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_only_tensors_that_require_grad_get_grad():
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    b = sg.tensor([3.0, 4.0])
    (a * b).sum().backward()
    assert a.grad.tolist() == [3.0, 4.0]
    assert b.grad is None


def test_is_leaf_and_grad_fn():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    c = sg.tensor([1.0, 2.0])
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert c.is_leaf and c.grad_fn is None
    assert not y.is_leaf and y.grad_fn is not None
    plain = c * 2 + c  # nothing requires grad: a leaf, as in PyTorch
    assert plain.is_leaf and plain.grad_fn is None and not plain.requires_grad
    with sg.no_grad():
        assert (x * 2).is_leaf


def test_non_leaf_grad_is_none_without_retain_grad():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    (y * y).sum().backward()
    assert y.grad is None
    assert x.grad is not None


def test_retain_grad_on_non_leaf():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]


# ---------------------------------------------------------------- backward(gradient=...)


def test_backward_with_gradient_for_non_scalar():
    values = [[1.0, 2.0], [3.0, 4.0]]
    x, tx = leaf(values), tleaf(values)
    v = [[1.0, 0.5], [-1.0, 2.0]]
    (x * x).backward(gradient=sg.tensor(v, dtype=sg.float64))
    (tx * tx).backward(gradient=torch.tensor(v, dtype=torch.float64))
    close(x.grad, tx.grad, *TOL)
    close(x.grad, [[2.0, 2.0], [-6.0, 16.0]], *TOL)


def test_backward_gradient_positional():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(sg.tensor([1.0, -1.0]))
    assert x.grad.tolist() == [3.0, -3.0]


def test_backward_without_gradient_on_non_scalar_raises():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        (x * 2).backward()
    assert x.grad is None


def test_backward_without_gradient_on_one_element_tensor():
    x = sg.tensor([[3.0]], requires_grad=True)
    (x * x).backward()
    assert x.grad.tolist() == [[6.0]]


# ---------------------------------------------------------------- .grad type and dtype


@pytest.mark.parametrize("dtype", [sg.float32, sg.float64])
def test_leaf_grad_is_tensor_with_leaf_dtype(dtype):
    x = sg.tensor([1.0, 2.0], dtype=dtype, requires_grad=True)
    (x * 2).sum().backward()
    assert isinstance(x.grad, sg.Tensor)
    assert x.grad.dtype == dtype
    assert x.grad.shape == x.shape
    assert x.grad.requires_grad is False


def test_leaf_grad_dtype_with_mixed_precision():
    x = sg.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = sg.tensor([3.0, 4.0], dtype=sg.float64, requires_grad=True)
    z = x * y
    assert z.dtype == sg.float64
    z.sum().backward()
    assert x.grad.dtype == sg.float32
    assert y.grad.dtype == sg.float64
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    (tx * ty).sum().backward()
    assert tx.grad.dtype == torch.float32
    close(x.grad, tx.grad, *TOL)


def test_leaf_grad_for_scalar_leaf_is_zero_dim():
    x = sg.tensor(2.0, requires_grad=True)
    (x * x * sg.tensor([1.0, 2.0])).sum().backward()
    assert x.grad.shape == ()
    assert x.grad.item() == 12.0


def test_grad_is_not_aliased_to_incoming_gradient():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    seed = sg.tensor([1.0, 1.0])
    (x + 0).backward(seed)
    with sg.no_grad():
        x.grad += 5
    assert seed.tolist() == [1.0, 1.0]
    assert x.grad.tolist() == [6.0, 6.0]
    y = sg.tensor([1.0, 2.0], requires_grad=True)
    y.backward(seed)  # straight into a leaf
    with sg.no_grad():
        y.grad += 5
    assert seed.tolist() == [1.0, 1.0]


def test_leaf_grads_never_alias_each_other_or_the_callers_gradient():
    """add hands one g to both inputs; each .grad must still own its memory."""
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = sg.tensor([3.0, 4.0], requires_grad=True)
    seed = np.array([1.0, 1.0], dtype=np.float32)
    (x + y).backward(seed)
    x.grad.data[0] = 100.0
    assert y.grad.tolist() == [1.0, 1.0]
    assert seed.tolist() == [1.0, 1.0]
    assert not np.shares_memory(x.grad.data, y.grad.data)


# ---------------------------------------------------------------- variadic ops (issue 10, item 9)

@pytest.mark.parametrize("join", ["cat", "stack"])
def test_cat_and_stack_of_20000_inputs(join):
    """Each input gets its own slice of the gradient; backward is linear in the number of inputs
    (timed in benchmarks/bench.py, workloads 9-10), so 20,000 inputs take well under a second."""
    n = 20_000
    values = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    xs = [sg.tensor(v, requires_grad=True) for v in values]
    out = getattr(sg, join)(xs, 0)
    weights = np.arange(out.size, dtype=np.float32).reshape(out.shape)
    (out * sg.tensor(weights)).sum().backward()
    grads = np.stack([x.grad.numpy() for x in xs])
    np.testing.assert_array_equal(grads, weights.reshape(n, 2))
    np.testing.assert_array_equal(out.detach().numpy().reshape(n, 2), values)
