"""Invalid input raises the usual exception type, with a message naming the op and the shapes.

API.md "Errors": never a bare NumPy message, never a silent wrong answer.
"""
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgrad as sg
from tests.helpers import assert_not_bare_numpy


def contains_number(message, n):
    return re.search(rf"(?<![\d.]){re.escape(str(n))}(?![\d.])", message) is not None


# ---------------------------------------------------------------- broadcasting clashes


def _arange(shape):
    return sg.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape))


BINARY = {
    "add": lambda a, b: sg.add(a, b),
    "sub": lambda a, b: sg.sub(a, b),
    "mul": lambda a, b: sg.mul(a, b),
    "div": lambda a, b: sg.div(a, b),
    "pow": lambda a, b: sg.pow(a, b),
    "maximum": lambda a, b: sg.maximum(a, b),
    "minimum": lambda a, b: sg.minimum(a, b),
    "where": lambda a, b: sg.where(a > 2, a, b),
}
OPERATORS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_shape_mismatch(name):
    a, b = _arange((3, 4)), _arange((3,))
    with pytest.raises(ValueError) as info:
        BINARY[name](a, b)
    exc = info.value
    assert isinstance(exc, RuntimeError), "catchable as PyTorch's RuntimeError too"
    message = str(exc)
    assert name in message
    assert "(3, 4)" in message
    assert "(3,)" in message
    assert_not_bare_numpy(exc)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_shape_mismatch_with_requires_grad(name):
    a = _arange((3, 4)).requires_grad_()
    b = _arange((3,)).requires_grad_()
    with pytest.raises(RuntimeError) as info:
        BINARY[name](b, a)
    assert isinstance(info.value, ValueError)
    assert name in str(info.value)
    assert "(3, 4)" in str(info.value) and "(3,)" in str(info.value)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_operator_shape_mismatch_names_the_op(name):
    a, b = _arange((2, 3)), _arange((4,))
    with pytest.raises(RuntimeError) as info:
        OPERATORS[name](a, b)
    assert isinstance(info.value, ValueError)
    assert name in str(info.value)
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)
    assert_not_bare_numpy(info.value)


@pytest.mark.parametrize("compare", [
    lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b,
    lambda a, b: a >= b, lambda a, b: a == b, lambda a, b: a != b,
])
def test_comparison_shape_mismatch(compare):
    a, b = _arange((3, 4)), _arange((3,))
    with pytest.raises(RuntimeError) as info:
        compare(a, b)
    assert isinstance(info.value, ValueError)
    assert "(3, 4)" in str(info.value) and "(3,)" in str(info.value)
    assert_not_bare_numpy(info.value)


def test_where_condition_shape_mismatch():
    cond = sg.tensor([True, False])
    with pytest.raises(RuntimeError) as info:
        sg.where(cond, _arange((3, 4)), _arange((3, 4)))
    assert "where" in str(info.value)
    assert "(2,)" in str(info.value) and "(3, 4)" in str(info.value)


@st.composite
def clashing_shapes(draw):
    """Two shapes that can't broadcast: one dimension differs and neither size is 1."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=2, max_side=5))
    dim = draw(st.integers(0, len(shape) - 1))
    other = list(shape)
    other[dim] = draw(st.integers(2, 6).filter(lambda n: n != shape[dim]))
    drop = draw(st.integers(0, dim))  # the second operand may have fewer (leading) dimensions
    return shape, tuple(other[drop:])


@settings(max_examples=40, deadline=None)
@given(clashing_shapes(), st.sampled_from(sorted(BINARY)))
def test_any_broadcast_clash_names_both_shapes(shapes, name):
    a_shape, b_shape = shapes
    a, b = sg.ones(a_shape), sg.ones(b_shape)
    with pytest.raises(ValueError) as info:
        BINARY[name](a, b)
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert name in message
    assert str(a_shape) in message
    assert str(b_shape) in message
    assert_not_bare_numpy(info.value)
    with pytest.raises(RuntimeError):
        torch.ones(a_shape) + torch.ones(b_shape)  # the oracle agrees these clash


# ---------------------------------------------------------------- matmul


def test_matmul_mismatch():
    a, b = sg.ones((3, 4)), sg.ones((5, 2))
    for op in (sg.matmul, lambda x, y: x @ y):
        with pytest.raises(ValueError) as info:
            op(a, b)
        assert isinstance(info.value, RuntimeError)
        message = str(info.value)
        assert "matmul" in message
        assert "(3, 4) and (5, 2)" in message
        assert "4 != 5" in message
        assert_not_bare_numpy(info.value)


@pytest.mark.parametrize("a_shape, b_shape, clash", [
    ((3,), (4,), "3 != 4"),
    ((2, 3), (4,), "3 != 4"),
    ((5,), (4, 2), "5 != 4"),
    ((2, 3, 4), (2, 5, 6), "4 != 5"),
])
def test_matmul_mismatch_other_ranks(a_shape, b_shape, clash):
    with pytest.raises(RuntimeError) as info:
        sg.ones(a_shape) @ sg.ones(b_shape)
    message = str(info.value)
    assert "matmul" in message
    assert str(a_shape) in message and str(b_shape) in message
    assert clash in message
    assert_not_bare_numpy(info.value)


def test_matmul_batch_dims_dont_broadcast():
    with pytest.raises(RuntimeError) as info:
        sg.ones((2, 3, 4)) @ sg.ones((5, 4, 2))
    with pytest.raises(RuntimeError):
        torch.ones((2, 3, 4)) @ torch.ones((5, 4, 2))
    message = str(info.value)
    assert "matmul" in message
    assert "(2, 3, 4)" in message and "(5, 4, 2)" in message
    assert_not_bare_numpy(info.value)


def test_matmul_zero_dim_operand():
    with pytest.raises(RuntimeError) as info:
        sg.tensor(2.0) @ sg.ones((2,))
    with pytest.raises(RuntimeError):
        torch.tensor(2.0) @ torch.ones((2,))
    assert "matmul" in str(info.value)
    assert_not_bare_numpy(info.value)


# ---------------------------------------------------------------- axes


AXIS_OPS = {
    "sum": lambda t, a: sg.sum(t, axis=a),
    "mean": lambda t, a: sg.mean(t, axis=a),
    "var": lambda t, a: sg.var(t, axis=a),
    "std": lambda t, a: sg.std(t, axis=a),
    "max": lambda t, a: sg.max(t, axis=a),
    "min": lambda t, a: sg.min(t, axis=a),
    "prod": lambda t, a: sg.prod(t, axis=a),
    "logsumexp": lambda t, a: sg.logsumexp(t, axis=a),
    "argmax": lambda t, a: sg.argmax(t, axis=a),
    "argmin": lambda t, a: sg.argmin(t, axis=a),
    "softmax": lambda t, a: sg.softmax(t, a),
    "log_softmax": lambda t, a: sg.log_softmax(t, a),
    "transpose": lambda t, a: sg.transpose(t, 0, a),
}


@pytest.mark.parametrize("axis", [5, -3, 2])
@pytest.mark.parametrize("name", sorted(AXIS_OPS))
def test_bad_axis_raises_index_error(name, axis):
    t = sg.ones((2, 3))
    with pytest.raises(IndexError) as info:
        AXIS_OPS[name](t, axis)
    message = str(info.value)
    assert name in message
    assert contains_number(message, axis), message
    assert_not_bare_numpy(info.value)


def test_bad_axis_with_dim_alias_and_method():
    t = sg.ones((2, 3))
    with pytest.raises(IndexError) as info:
        t.sum(dim=4)
    assert "sum" in str(info.value) and contains_number(str(info.value), 4)
    with pytest.raises(IndexError) as info:
        t.mean(axis=(0, 7))
    assert "mean" in str(info.value) and contains_number(str(info.value), 7)


def test_bad_axis_on_requires_grad_tensor():
    x = sg.ones((2, 3), requires_grad=True)
    with pytest.raises(IndexError, match="softmax"):
        x.softmax(3)


# ---------------------------------------------------------------- construction


@pytest.mark.parametrize("data, mentions", [
    ("a", "str"),
    ([1, "a"], "'a'"),
    (None, "None"),
    ({"a": 1}, "dict"),
    ([[1.0, None]], "None"),
])
def test_non_numeric_data_raises_type_error(data, mentions):
    with pytest.raises(TypeError) as info:
        sg.tensor(data)
    message = str(info.value)
    assert "tensor" in message
    assert mentions in message
    assert_not_bare_numpy(info.value)


@pytest.mark.parametrize("data", [
    [[1, 2], [3]],
    [[1.0], [2.0, 3.0], [4.0]],
    [[[1, 2], [3, 4]], [[5, 6], [7]]],
])
def test_ragged_lists_raise_value_error(data):
    with pytest.raises(ValueError):
        torch.tensor(data)
    with pytest.raises(ValueError) as info:
        sg.tensor(data)
    assert "tensor" in str(info.value)
    assert_not_bare_numpy(info.value)


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2], requires_grad=True)
    for make in (lambda: sg.tensor([1, 2], requires_grad=True),
                 lambda: sg.tensor([True], requires_grad=True),
                 lambda: sg.zeros(3, dtype=sg.int64, requires_grad=True)):
        with pytest.raises(RuntimeError) as info:
            make()
        assert "int64" in str(info.value) or "bool" in str(info.value)


def test_bad_dtype_argument():
    with pytest.raises(TypeError):
        sg.tensor([1.0], dtype="not a dtype")
    with pytest.raises(TypeError):
        sg.tensor([1.0], dtype=np.complex128)


# ---------------------------------------------------------------- backward


def test_backward_on_tensor_that_does_not_require_grad():
    t = sg.tensor([1.0, 2.0]).sum()
    with pytest.raises(RuntimeError) as info:
        t.backward()
    assert "backward" in str(info.value)
    assert "requires_grad" in str(info.value) or "require grad" in str(info.value)


def test_backward_with_wrong_gradient_shape():
    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError) as info:
        y.backward(sg.tensor([1.0, 1.0]))
    message = str(info.value)
    assert "backward" in message
    assert "(2,)" in message and "(3,)" in message
    assert x.grad is None
    assert_not_bare_numpy(info.value)


def test_backward_with_broadcastable_but_wrong_gradient_shape():
    x = sg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        (x * 2).backward(sg.ones((3,)))
    assert "(1, 3)" in str(info.value) and "(3,)" in str(info.value)


def test_sg_grad_with_wrong_grad_outputs_shape():
    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        sg.grad(x * 2, x, grad_outputs=sg.ones((4,)))
    assert "(4,)" in str(info.value) and "(3,)" in str(info.value)


def test_freed_graph_message_is_clear():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert "retain_graph" in str(info.value)


# ---------------------------------------------------------------- shapes


def test_reshape_incompatible():
    t = sg.ones((2, 3))
    for op in (lambda: t.reshape(4, 2), lambda: sg.reshape(t, (4, 2)), lambda: t.view(4, 2)):
        with pytest.raises(RuntimeError) as info:
            op()
        message = str(info.value)
        assert "(2, 3)" in message and "(4, 2)" in message
        assert "reshape" in message or "view" in message
        assert_not_bare_numpy(info.value)


def test_reshape_two_inferred_dims():
    with pytest.raises(RuntimeError):
        torch.ones(6).reshape(-1, -1)
    with pytest.raises(RuntimeError) as info:
        sg.ones(6).reshape(-1, -1)
    assert "reshape" in str(info.value)
    assert_not_bare_numpy(info.value)


def test_cat_mismatched_shapes():
    a, b = sg.ones((2, 3)), sg.ones((2, 4))
    with pytest.raises(RuntimeError) as info:
        sg.cat([a, b], 0)
    message = str(info.value)
    assert "cat" in message
    assert "(2, 3)" in message and "(2, 4)" in message
    assert_not_bare_numpy(info.value)
    assert sg.cat([a, b], 1).shape == (2, 7)  # the same tensors do join along axis 1


def test_cat_mismatched_ranks():
    with pytest.raises(RuntimeError) as info:
        sg.cat([sg.ones((2, 3)), sg.ones((3,))], 0)
    assert "cat" in str(info.value)
    assert "(2, 3)" in str(info.value) and "(3,)" in str(info.value)
    assert_not_bare_numpy(info.value)


def test_stack_mismatched_shapes():
    with pytest.raises(RuntimeError) as info:
        sg.stack([sg.ones((2, 3)), sg.ones((3, 2))])
    assert "stack" in str(info.value)
    assert "(2, 3)" in str(info.value) and "(3, 2)" in str(info.value)


def test_broadcast_to_impossible_shape():
    with pytest.raises(RuntimeError) as info:
        sg.ones((3,)).broadcast_to((2, 4))
    assert "broadcast_to" in str(info.value)
    assert "(3,)" in str(info.value) and "(2, 4)" in str(info.value)
    assert_not_bare_numpy(info.value)


def test_permute_not_a_permutation():
    with pytest.raises((IndexError, RuntimeError)) as info:
        sg.ones((2, 3)).permute(0, 0)
    assert "permute" in str(info.value)
    assert_not_bare_numpy(info.value)


# ---------------------------------------------------------------- indexing


@pytest.mark.parametrize("shape, key, bad", [
    ((3,), 5, 5),
    ((3,), -4, -4),
    ((2, 3), (1, 7), 7),
    ((2, 3), (slice(None), 3), 3),
])
def test_index_out_of_range(shape, key, bad):
    with pytest.raises(IndexError):
        torch.ones(shape)[key]
    with pytest.raises(IndexError) as info:
        sg.ones(shape)[key]
    assert contains_number(str(info.value), bad)
    assert_not_bare_numpy(info.value)


def test_integer_array_index_out_of_range():
    t = sg.ones((3,), requires_grad=True)
    with pytest.raises(IndexError) as info:
        t[sg.tensor([0, 9])]
    assert contains_number(str(info.value), 9)
    assert_not_bare_numpy(info.value)


def test_too_many_indices():
    with pytest.raises(IndexError) as info:
        sg.ones((2, 3))[0, 1, 2]
    assert_not_bare_numpy(info.value)


BOOLS = np.array([True, False, True])
BOOL_REFUSALS = {  # case: (the op the message must name, the call)
    "float - bool": ("sub", lambda m, b: m.tensor([1.0, 2.0, 3.0]) - b),
    "2 - bool": ("sub", lambda m, b: 2 - b),
    "bool ** bool": ("pow", lambda m, b: b ** b),
    "abs": ("abs", lambda m, b: m.abs(b)),
    "relu": ("relu", lambda m, b: m.relu(b)),
    "argmax": ("argmax", lambda m, b: b.argmax()),
    "softmax": ("softmax", lambda m, b: m.softmax(b, -1)),
    "softmax of ints": ("softmax", lambda m, b: m.softmax(m.tensor([1, 2, 3]), -1)),
}


@pytest.mark.parametrize("case", list(BOOL_REFUSALS))
def test_ops_pytorch_refuses_on_bools_are_refused_too(case):
    op, call = BOOL_REFUSALS[case]
    with pytest.raises(RuntimeError):
        call(torch, torch.tensor(BOOLS))
    with pytest.raises(RuntimeError, match=f"^{op}: "):
        call(sg, sg.tensor(BOOLS))


@pytest.mark.parametrize("make, number", [(lambda: sg.tensor([1]), 10**30), (lambda: sg.tensor([1.0]), 10**400)])
def test_a_python_number_too_big_for_the_dtype_is_a_clear_error(make, number):
    with pytest.raises(RuntimeError, match="doesn't fit in a"):
        make() * number


def test_errors_point_at_the_line_of_user_code_that_called_the_op():
    a, b = sg.ones(3, 4), sg.ones(5, 2)
    with pytest.raises(RuntimeError) as info:
        a @ b  # the line the message must quote
    message = str(info.value)
    assert message.startswith("matmul: shapes (3, 4) and (5, 2) don't line up: 4 != 5")
    assert f"{__file__}:" in message and "a @ b  # the line the message must quote" in message


def test_errors_from_deep_inside_a_composite_still_point_at_the_user():
    with pytest.raises(IndexError) as info:
        sg.ones(2, 3).softmax(axis=5)
    assert "softmax: axis 5 is out of range" in str(info.value)
    assert "sg.ones(2, 3).softmax(axis=5)" in str(info.value)


def test_backward_errors_point_at_the_backward_call():
    with pytest.raises(RuntimeError) as info:
        sg.ones(3).sum().backward()
    assert "sg.ones(3).sum().backward()" in str(info.value)


@pytest.mark.parametrize("name, call", [
    ("gelu", lambda L, x: L.nn.functional.gelu(x)),
    ("gelu", lambda L, x: L.nn.functional.gelu(x, approximate="tanh")),
    ("softplus", lambda L, x: L.nn.functional.softplus(x)),
    ("leaky_relu", lambda L, x: L.nn.functional.leaky_relu(x)),
    ("softmax", lambda L, x: L.softmax(x, 0)),
    ("log_softmax", lambda L, x: L.nn.functional.log_softmax(x, 0)),
])
def test_ops_without_an_integer_kernel_raise_not_implemented(name, call):
    """PyTorch has no kernel for these on integer tensors: NotImplementedError (a RuntimeError),
    naming the op and the dtype."""
    with pytest.raises(NotImplementedError):
        call(torch, torch.tensor([1, -2, 3]))
    with pytest.raises(NotImplementedError, match=f"{name}.*int64"):
        call(sg, sg.tensor([1, -2, 3]))
    with pytest.raises(sg.DTypeError):  # and still the dtype error it was
        call(sg, sg.tensor([1, -2, 3]))
