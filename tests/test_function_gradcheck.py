"""Custom operations (sg.Function) and gradient checking (sg.gradcheck).

torch.autograd.Function is the oracle for Function's semantics.
"""
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgrad as sg
from tests.helpers import Cube, Square, WrongSquare, close, leaf, tleaf

# ---------------------------------------------------------------- custom Functions


class TorchCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


class MulAdd(sg.Function):
    """a * b + c"""

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b)
        return a * b + c

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * a, grad


def test_custom_square_matches_builtin():
    values = [[0.5, -1.0, 2.0], [3.0, 0.0, -0.25]]
    x, y = leaf(values), leaf(values)
    out = Square.apply(x)
    close(out, np.square(values))
    weights = sg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=sg.float64)
    (out * weights).sum().backward()
    (y * y * weights).sum().backward()
    close(x.grad, y.grad)
    assert x.grad.shape == x.shape
    assert x.grad.dtype == sg.float64


def test_apply_output_is_a_recorded_non_leaf():
    x = leaf([1.0, 2.0])
    out = Square.apply(x)
    assert isinstance(out, sg.Tensor)
    assert out.requires_grad
    assert not out.is_leaf
    assert out.grad_fn is not None
    assert x.is_leaf


def test_forward_sees_tensors_and_runs_without_recording():
    seen = {}

    class Probe(sg.Function):
        @staticmethod
        def forward(ctx, x):
            seen["type"] = type(x)
            y = x * 2
            seen["inner_requires_grad"] = y.requires_grad
            return y

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    x = leaf([1.0, 2.0])
    out = Probe.apply(x)
    assert issubclass(seen["type"], sg.Tensor)
    assert seen["inner_requires_grad"] is False  # forward runs under no_grad, as in PyTorch
    out.sum().backward()
    close(x.grad, [2.0, 2.0])


def test_save_for_backward_and_saved_tensors():
    seen = {}

    class Keep(sg.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            saved = ctx.saved_tensors
            seen["count"] = len(saved)
            a, b = saved
            seen["values"] = (a.tolist(), b.tolist())
            return grad * b, grad * a

    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    Keep.apply(a, b).sum().backward()
    assert seen == {"count": 2, "values": ([1.0, 2.0], [3.0, 4.0])}
    close(a.grad, [3.0, 4.0])
    close(b.grad, [1.0, 2.0])


def test_needs_input_grad_like_torch():
    recorded = {}

    class Scale(sg.Function):
        @staticmethod
        def forward(ctx, a, b, factor):
            recorded["sg forward"] = tuple(ctx.needs_input_grad)
            ctx.save_for_backward(b)
            ctx.factor = factor
            return a * b * factor

        @staticmethod
        def backward(ctx, grad):
            (b,) = ctx.saved_tensors
            recorded["sg backward"] = tuple(ctx.needs_input_grad)
            return grad * b * ctx.factor, None, None

    class TorchScale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, factor):
            recorded["torch forward"] = tuple(ctx.needs_input_grad)
            ctx.save_for_backward(b)
            ctx.factor = factor
            return a * b * factor

        @staticmethod
        def backward(ctx, grad):
            (b,) = ctx.saved_tensors
            return grad * b * ctx.factor, None, None

    a, b = leaf([1.0, 2.0]), sg.tensor([3.0, 4.0], dtype=sg.float64)
    Scale.apply(a, b, 0.5).sum().backward()
    ta, tb = tleaf([1.0, 2.0]), torch.tensor([3.0, 4.0], dtype=torch.float64)
    TorchScale.apply(ta, tb, 0.5).sum().backward()
    assert recorded == {"sg forward": (True, False, False), "sg backward": (True, False, False),
                        "torch forward": (True, False, False)}
    close(a.grad, ta.grad)
    close(a.grad, [1.5, 2.0])
    assert b.grad is None


def test_needs_input_grad_second_input_only():
    recorded = []

    class Mul(sg.Function):
        @staticmethod
        def forward(ctx, a, b):
            recorded.append(tuple(ctx.needs_input_grad))
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return (grad * b if ctx.needs_input_grad[0] else None,
                    grad * a if ctx.needs_input_grad[1] else None)

    a, b = sg.tensor([2.0, 3.0]), sg.tensor([5.0, 7.0], requires_grad=True)
    Mul.apply(a, b).sum().backward()
    assert recorded == [(False, True)]
    assert b.grad.tolist() == [2.0, 3.0]
    assert a.grad is None


def test_several_inputs_match_builtin():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, -1.0]), leaf([0.5, 0.25])
    MulAdd.apply(a, b, c).sum().backward()
    ta, tb, tc = tleaf([1.0, 2.0]), tleaf([3.0, -1.0]), tleaf([0.5, 0.25])
    (ta * tb + tc).sum().backward()
    for mine, theirs in ((a, ta), (b, tb), (c, tc)):
        close(mine.grad, theirs.grad)


def test_no_input_requires_grad_gives_a_constant():
    called = []

    class Double(sg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            called.append(True)
            return grad * 2

    out = Double.apply(sg.tensor([1.0, 2.0]))
    assert out.requires_grad is False
    assert out.grad_fn is None
    assert out.tolist() == [2.0, 4.0]
    with sg.no_grad():
        inside = Double.apply(leaf([1.0]))
    assert inside.requires_grad is False
    assert called == []


def test_custom_op_inside_a_larger_graph():
    values = [[0.3, -0.2, 1.1], [0.0, 0.7, -1.5]]
    w_values = [0.5, -2.0, 1.0]
    x, w = leaf(values), leaf(w_values)
    tx, tw = tleaf(values), tleaf(w_values)
    out = (sg.tanh(Cube.apply(sg.exp(x) * w)) + x).sum(axis=1)
    ((out * out).sum()).backward()
    tout = (torch.tanh(TorchCube.apply(torch.exp(tx) * tw)) + tx).sum(dim=1)
    ((tout * tout).sum()).backward()
    close(out, tout)
    close(x.grad, tx.grad)
    close(w.grad, tw.grad)


def test_custom_op_used_twice_keeps_separate_contexts():
    x = leaf([1.5, -0.5])
    y = Square.apply(x)
    z = Square.apply(y) + y  # x⁴ + x²
    z.sum().backward()
    values = np.array([1.5, -0.5])
    close(x.grad, 4 * values**3 + 2 * values)


def test_custom_op_broadcasting_gradient_is_summed():
    a = leaf([[1.0], [2.0]])         # (2, 1)
    b = leaf([3.0, 4.0, 5.0])        # (3,)
    c = leaf(0.5)                    # ()

    class BroadcastMulAdd(sg.Function):
        @staticmethod
        def forward(ctx, a, b, c):
            ctx.save_for_backward(a, b)
            return a * b + c

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return (grad * b).sum(axis=1, keepdims=True), (grad * a).sum(axis=0), grad.sum()

    BroadcastMulAdd.apply(a, b, c).sum().backward()
    close(a.grad, [[12.0], [12.0]])
    close(b.grad, [3.0, 3.0, 3.0])
    close(c.grad, 6.0)


def test_create_graph_through_custom_function():
    values = [-1.0, 0.5, 2.0]
    x = leaf(values)
    (g,) = sg.grad(Cube.apply(x).sum(), x, create_graph=True)
    close(g, [3.0, 0.75, 12.0])
    assert g.requires_grad
    (h,) = sg.grad(g.sum(), x)
    close(h, [-6.0, 3.0, 12.0])  # 6x

    tx = tleaf(values)
    (tg,) = torch.autograd.grad(TorchCube.apply(tx).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), tx)
    close(h, th)


def test_custom_function_returning_its_input():
    class Identity(sg.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = leaf([1.0, 2.0])
    y = Identity.apply(x)
    assert y.grad_fn is not None
    assert x.is_leaf and x.grad_fn is None
    (y * 3).sum().backward()
    close(x.grad, [3.0, 3.0])


def test_backward_returning_wrong_number_of_gradients():
    class Bad(sg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad

    out = Bad.apply(leaf([1.0]), leaf([2.0]))
    with pytest.raises(RuntimeError) as info:
        out.sum().backward()
    assert "Bad" in str(info.value)
    assert "2" in str(info.value) and "1" in str(info.value)


def test_backward_returning_wrong_shape():
    class BadShape(sg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return sg.ones((5,), dtype=sg.float64)

    out = BadShape.apply(leaf([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError) as info:
        out.sum().backward()
    assert "BadShape" in str(info.value)
    assert "(5,)" in str(info.value) and "(3,)" in str(info.value)


# ---------------------------------------------------------------- gradcheck


GRADCHECK_CASES = {
    "mul": (lambda a, b: a * b, [(2, 3), (3,)]),
    "div": (lambda a, b: a / (b * b + 1), [(2, 3), (2, 3)]),
    "exp_sum": (lambda a: sg.exp(a).sum(axis=0), [(3, 2)]),
    "tanh_matmul": (lambda w, x: sg.tanh(w @ x), [(3, 4), (4, 2)]),
    "softmax": (lambda a: sg.softmax(a, -1), [(2, 4)]),
    "log_softmax": (lambda a: sg.log_softmax(a, 0), [(3, 2)]),
    "logsumexp": (lambda a: sg.logsumexp(a, 1), [(2, 5)]),
    "pow": (lambda a, b: (a * a + 0.5) ** b, [(4,), (4,)]),
    "sigmoid_mean": (lambda a: sg.sigmoid(a).mean(), [(2, 2)]),
    "square_custom": (lambda a: Square.apply(a) * 3, [(3,)]),
    "cube_custom": (lambda a: Cube.apply(sg.sin(a)), [(2, 2)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck_passes_for_correct_functions(name):
    fn, shapes = GRADCHECK_CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    inputs = [leaf(rng.normal(size=shape)) for shape in shapes]
    assert sg.gradcheck(fn, inputs) is True


@settings(max_examples=20, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.integers(0, 2**31 - 1))
def test_gradcheck_broadcasting_ops(shapes, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a = leaf(rng.uniform(0.5, 2.0, a_shape))
    b = leaf(rng.uniform(0.5, 2.0, b_shape))
    assert sg.gradcheck(lambda a, b: sg.sin(a) * b / (a + b), [a, b]) is True


def test_gradcheck_with_some_inputs_constant():
    a = leaf([1.0, 2.0])
    b = sg.tensor([3.0, 4.0], dtype=sg.float64)
    assert sg.gradcheck(lambda a, b: a * b, [a, b]) is True


def test_gradcheck_float32_inputs_are_checked_in_float64():
    x = sg.tensor([0.3, -1.2, 2.0], requires_grad=True)
    assert sg.gradcheck(lambda t: (t * t * t).sum(), [x]) is True


def test_gradcheck_leaves_inputs_alone():
    x = leaf([0.5, 1.5])
    before = x.detach().numpy().copy()
    assert sg.gradcheck(lambda t: sg.exp(t) * t, [x]) is True
    assert x.grad is None
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.dtype == sg.float64


def _numbers(message):
    return [float(n) for n in re.findall(r"-?\d+\.\d*(?:[eE][-+]?\d+)?", message)]


def test_gradcheck_reports_wrong_gradient():
    a = leaf([1.0, 1.0, 1.0])
    x = leaf([1.0, 2.0, 5.0])
    with pytest.raises(RuntimeError) as info:
        sg.gradcheck(lambda a, x: a + WrongSquare.apply(x), [a, x])
    message = str(info.value)
    assert "input 1" in message  # input 0 is right; input 1 is the wrong one
    assert re.search(r"element\D*2", message), message  # the worst element is x[2]
    numbers = _numbers(message)
    assert any(abs(n - 10.0) < 1e-3 for n in numbers), message  # expected d(x²)/dx = 2x = 10
    assert any(abs(n - 5.0) < 1e-9 for n in numbers), message   # got x = 5
    assert "expected" in message and "got" in message


def test_gradcheck_reports_the_element_of_a_matrix():
    class OffByOne(sg.Function):
        """Doubles x; backward is wrong only at element (1, 2)."""

        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            wrong = np.full((2, 3), 2.0)
            wrong[1, 2] = 3.0
            return grad * sg.tensor(wrong)

    x = leaf(np.ones((2, 3)))
    with pytest.raises(RuntimeError) as info:
        sg.gradcheck(lambda t: OffByOne.apply(t), [x])
    message = str(info.value)
    assert "input 0" in message
    assert re.search(r"1,\s*2", message), message
    numbers = _numbers(message)
    assert any(abs(n - 2.0) < 1e-3 for n in numbers) and any(abs(n - 3.0) < 1e-9 for n in numbers)


def test_gradcheck_catches_wrong_gradient_in_second_of_several_outputs_element():
    class ZeroGrad(sg.Function):
        @staticmethod
        def forward(ctx, x):
            return sg.sin(x)

        @staticmethod
        def backward(ctx, grad):
            return grad * 0

    x = leaf([0.1, 0.2])
    with pytest.raises(RuntimeError, match="input 0"):
        sg.gradcheck(lambda t: ZeroGrad.apply(t), [x])


class _TwoOutputs(sg.Function):
    """(2x, 3x); backward gets both output gradients, zeros for an unused output."""

    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g_double, g_triple):
        return g_double * 2 + g_triple * 3


class _TorchTwoOutputs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g_double, g_triple):
        return g_double * 2 + g_triple * 3


@pytest.mark.parametrize("use", ["first", "second", "both", "squared"])
def test_function_with_two_outputs_matches_torch(use):
    data = np.array([0.5, -1.5, 2.0])
    losses = {
        "first": lambda a, b: a.sum(),
        "second": lambda a, b: b.sum(),
        "both": lambda a, b: (a * b).sum(),
        "squared": lambda a, b: (a * a).sum() + b.sum(),
    }
    x = sg.tensor(data, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    losses[use](*_TwoOutputs.apply(x)).backward()
    losses[use](*_TorchTwoOutputs.apply(xt)).backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), xt.grad.detach().numpy())


def test_function_with_two_outputs_second_derivative():
    """d/dx Σ(2x)² = 8x and d²/dx² = 8, through a custom two-output Function."""
    x = sg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    a, _ = _TwoOutputs.apply(x)
    (g,) = sg.grad((a * a).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [8.0, -16.0])
    (h,) = sg.grad(g.sum(), x)
    np.testing.assert_allclose(h.detach().numpy(), [8.0, 8.0])
