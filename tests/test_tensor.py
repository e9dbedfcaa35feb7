"""The Tensor class and the factories (API.md "Tensor"), with PyTorch as the oracle."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchgrad as sg

TORCH_DTYPE = {
    np.dtype(np.float16): torch.float16,
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
    np.dtype(np.int32): torch.int32,
    np.dtype(np.int64): torch.int64,
    np.dtype(np.bool_): torch.bool,
}
NP_DTYPE = {v: k for k, v in TORCH_DTYPE.items()}


def torch_dtype_of(data):
    """The dtype torch.tensor gives the same data, as a NumPy dtype."""
    return NP_DTYPE[torch.tensor(data).dtype]


# ---------------------------------------------------------------- construction


@pytest.mark.parametrize("data", [
    3, -7, 3.5, True, False, 0.0,
    [1, 2, 3], [1.0, 2.5], [1, 2.5], [True, False], [True, 2], [True, 2.0],
    [[1, 2], [3, 4]], [[[1.5]], [[2.5]]], [], [[]],
])
def test_default_dtype_and_shape_follow_torch(data):
    t = sg.tensor(data)
    ref = torch.tensor(data)
    assert t.dtype == NP_DTYPE[ref.dtype]
    assert t.shape == tuple(ref.shape)
    np.testing.assert_array_equal(t.detach().numpy(), ref.detach().numpy())


def test_python_scalars_are_zero_dim():
    for value, dtype in [(3, sg.int64), (2.5, sg.float32), (True, sg.bool)]:
        t = sg.tensor(value)
        assert t.shape == ()
        assert t.ndim == 0
        assert t.size == 1
        assert t.dtype == dtype
        assert t.item() == value


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                   np.bool_])
def test_numpy_array_keeps_its_dtype(dtype):
    array = np.array([[0, 1, 2], [3, 4, 5]]).astype(dtype)
    t = sg.tensor(array)
    assert t.dtype == np.dtype(dtype)
    assert t.dtype == torch_dtype_of(array)
    np.testing.assert_array_equal(t.detach().numpy(), array)


def test_numpy_scalar_keeps_its_dtype():
    assert sg.tensor(np.float64(2.0)).dtype == sg.float64
    assert sg.tensor(np.float64(2.0)).shape == ()
    assert sg.tensor(np.int32(4)).dtype == np.dtype(np.int32)


def test_numpy_source_is_copied():
    array = np.array([1.0, 2.0, 3.0])
    t = sg.tensor(array)
    array[0] = 100.0
    assert t.tolist() == [1.0, 2.0, 3.0]


def test_tensor_source_is_copied():
    source = sg.tensor([1.0, 2.0, 3.0])
    copy = sg.tensor(source)
    source += 10.0
    assert source.tolist() == [11.0, 12.0, 13.0]
    assert copy.tolist() == [1.0, 2.0, 3.0]
    assert copy.dtype == source.dtype


def test_tensor_source_setitem_does_not_reach_copy():
    source = sg.tensor([[1, 2], [3, 4]])
    copy = sg.tensor(source)
    source[0, 0] = 99
    assert copy.tolist() == [[1, 2], [3, 4]]


def test_copy_of_tensor_that_requires_grad_is_a_plain_leaf():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = sg.tensor(x * 2)
    assert y.requires_grad is False
    assert y.grad_fn is None
    assert y.is_leaf
    assert y.tolist() == [2.0, 4.0]


def test_copy_of_float64_tensor_keeps_float64():
    assert sg.tensor(sg.tensor([1.0], dtype=sg.float64)).dtype == sg.float64


@pytest.mark.parametrize("data, dtype, expected", [
    ([1, 2], sg.float64, [1.0, 2.0]),
    ([1, 2], sg.float32, [1.0, 2.0]),
    ([1.7, -1.7, 2.2], sg.int64, [1, -1, 2]),
    ([0, 1, 2], sg.bool, [False, True, True]),
    (3, np.float64, 3.0),
    ([1.5], "float64", [1.5]),
])
def test_dtype_argument(data, dtype, expected):
    t = sg.tensor(data, dtype=dtype)
    assert t.dtype == np.dtype(dtype)
    assert t.tolist() == expected
    ref = torch.tensor(data, dtype=TORCH_DTYPE[np.dtype(dtype)])
    assert t.tolist() == ref.tolist()


def test_dtype_argument_on_numpy_array_casts():
    t = sg.tensor(np.array([1.0, 2.0], dtype=np.float64), dtype=sg.float32)
    assert t.dtype == sg.float32


def test_requires_grad_argument():
    t = sg.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad is True
    assert t.is_leaf
    assert t.grad is None
    assert t.grad_fn is None


def test_dtype_constants_are_numpy_dtypes():
    assert sg.float32 == np.float32
    assert sg.float64 == np.float64
    assert sg.int64 == np.int64
    assert sg.bool == np.bool_
    for d in (sg.float32, sg.float64, sg.int64, sg.bool):
        assert isinstance(d, np.dtype)


# ---------------------------------------------------------------- attributes


def test_attributes():
    t = sg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(t, sg.Tensor)
    assert isinstance(t.shape, tuple)
    assert t.shape == (2, 3)
    assert t.ndim == 2
    assert isinstance(t.dtype, np.dtype)
    assert t.dtype == sg.float32
    assert t.size == 6
    assert t.requires_grad is False
    assert t.grad is None
    assert t.is_leaf is True
    assert t.grad_fn is None


def test_attributes_of_a_result():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    assert y.requires_grad is True
    assert y.is_leaf is False
    assert y.grad_fn is not None
    assert y.grad is None


ELEMENTS = {
    np.float32: st.floats(-1e6, 1e6, width=32),
    np.float64: st.floats(-1e6, 1e6),
    np.int64: st.integers(-(2**40), 2**40),
    np.int32: st.integers(-(2**31), 2**31 - 1),
    np.bool_: st.booleans(),
}


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(sorted(ELEMENTS, key=str)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    return draw(hnp.arrays(dtype, shape, elements=ELEMENTS[dtype]))


@settings(max_examples=40, deadline=None)
@given(arrays())
def test_attributes_match_numpy_and_torch(array):
    t = sg.tensor(array)
    ref = torch.tensor(array)
    assert t.shape == array.shape == tuple(ref.shape)
    assert t.ndim == array.ndim == ref.ndim
    assert t.size == array.size == ref.numel()
    assert t.dtype == array.dtype
    assert t.tolist() == array.tolist() == ref.tolist()
    np.testing.assert_array_equal(np.asarray(t), array)
    assert np.asarray(t).dtype == array.dtype


@settings(max_examples=30, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data())
def test_nested_list_round_trip(shape, data):
    values = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-100, 100)))
    nested = values.tolist()
    t = sg.tensor(nested)
    assert t.dtype == sg.int64
    assert t.shape == shape
    assert t.tolist() == nested
    floats = sg.tensor((values / 4).tolist())
    assert floats.dtype == sg.float32
    np.testing.assert_allclose(floats.detach().numpy(), values / 4, rtol=1e-6)


# ---------------------------------------------------------------- conversion


def test_numpy_conversion():
    t = sg.tensor([[1.0, 2.0], [3.0, 4.0]])
    array = t.detach().numpy()
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, [[1.0, 2.0], [3.0, 4.0]])


def test_numpy_shares_memory_as_in_pytorch():
    t = sg.tensor([1.0, 2.0, 3.0])
    array = t.detach().numpy()
    array[0] = 100.0
    assert t.tolist() == [100.0, 2.0, 3.0]
    np.asarray(t)[1] = 50.0
    assert t.tolist() == [100.0, 50.0, 3.0]


def test_numpy_of_tensor_that_requires_grad_raises_as_pytorch():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    for convert in (lambda t: t.numpy(), np.asarray, np.array):
        with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
            convert(x * 2)
    np.testing.assert_array_equal((x * 2).detach().numpy(), [2.0, 4.0])


def test_item_types():
    assert type(sg.tensor(2.5).item()) is float
    assert sg.tensor(2.5).item() == 2.5
    assert type(sg.tensor(3).item()) is int
    assert sg.tensor(3).item() == 3
    assert type(sg.tensor(True).item()) is bool
    assert sg.tensor([[7.0]]).item() == 7.0


def test_item_of_several_elements_raises_like_torch():
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="item"):
        sg.tensor([1.0, 2.0]).item()


def test_tolist():
    assert sg.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert sg.tensor(3).tolist() == 3
    assert sg.tensor(2.5).tolist() == 2.5
    assert sg.tensor([True, False]).tolist() == [True, False]
    assert type(sg.tensor([1.5]).tolist()[0]) is float


def test_np_asarray():
    t = sg.tensor([[1, 2], [3, 4]])
    array = np.asarray(t)
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.int64
    np.testing.assert_array_equal(array, [[1, 2], [3, 4]])
    assert np.asarray(sg.tensor([1.0], dtype=sg.float64)).dtype == np.float64


def test_float_and_int():
    assert float(sg.tensor(2.5)) == 2.5
    assert float(sg.tensor([2.5])) == 2.5
    assert float(sg.tensor(3)) == 3.0
    assert int(sg.tensor(3.9)) == int(torch.tensor(3.9)) == 3
    assert int(sg.tensor(-3.9)) == int(torch.tensor(-3.9)) == -3
    assert int(sg.tensor([[7]])) == 7
    with pytest.raises(ValueError):
        float(torch.tensor([1.0, 2.0]))
    with pytest.raises((ValueError, RuntimeError)):
        float(sg.tensor([1.0, 2.0]))


# ---------------------------------------------------------------- repr


def test_repr_plain_tensor():
    text = repr(sg.tensor([1.5, 2.5]))
    assert "1.5" in text and "2.5" in text
    assert "float32" not in text  # the default dtype isn't shown, as in PyTorch
    assert "grad_fn" not in text
    assert "requires_grad" not in text


def test_repr_shows_non_default_dtype():
    assert "float64" in repr(sg.tensor([1.0, 2.0], dtype=sg.float64))
    assert "int32" in repr(sg.tensor(np.array([1, 2], dtype=np.int32)))
    assert "int64" not in repr(sg.tensor([1, 2]))
    assert "bool" not in repr(sg.tensor([True, False]))


def test_repr_leaf_that_requires_grad():
    text = repr(sg.tensor([1.0, 2.0], requires_grad=True))
    assert "requires_grad=True" in text
    assert "grad_fn" not in text


def test_repr_non_leaf_shows_grad_fn():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    text = repr(x * 2)
    assert "grad_fn=" in text
    assert "2." in text and "4." in text


def test_repr_zero_dim():
    assert "3.5" in repr(sg.tensor(3.5))
    assert "7" in repr(sg.tensor(7))


# ---------------------------------------------------------------- factories


@pytest.mark.parametrize("factory", ["zeros", "ones"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 0, 4)])
def test_zeros_ones(factory, shape):
    t = getattr(sg, factory)(shape)
    ref = getattr(torch, factory)(shape)
    assert t.shape == shape
    assert t.dtype == sg.float32
    np.testing.assert_array_equal(t.detach().numpy(), ref.detach().numpy())
    if shape:
        assert getattr(sg, factory)(*shape).shape == shape


def test_zeros_ones_dtype_and_requires_grad():
    assert sg.zeros(2, dtype=sg.int64).dtype == sg.int64
    assert sg.ones(2, 2, dtype=sg.float64).dtype == sg.float64
    t = sg.zeros(3, requires_grad=True)
    assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize("fill", [7, 1.5, True, -2])
def test_full(fill):
    t = sg.full((2, 3), fill)
    ref = torch.full((2, 3), fill)
    assert t.shape == (2, 3)
    assert t.dtype == NP_DTYPE[ref.dtype]
    assert t.tolist() == ref.tolist()


def test_full_dtype_argument():
    t = sg.full((2,), 3, dtype=sg.float64)
    assert t.dtype == sg.float64
    assert t.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("args", [
    (5,), (2, 7), (1, 10, 3), (10, 0, -2), (0,),
    (5.0,), (0, 1, 0.25), (1, 2.5, 0.5), (-1.0, 1.0, 0.5), (0.5, 3),
])
def test_arange_matches_torch(args):
    t = sg.arange(*args)
    ref = torch.arange(*args)
    assert t.dtype == NP_DTYPE[ref.dtype]
    assert t.shape == tuple(ref.shape)
    np.testing.assert_allclose(t.detach().numpy(), ref.detach().numpy(), rtol=1e-6)


def test_arange_int_and_float_dtypes():
    assert sg.arange(5).dtype == sg.int64
    assert sg.arange(0, 1, 0.1).dtype == sg.float32
    assert sg.arange(3, dtype=sg.float64).dtype == sg.float64


@pytest.mark.parametrize("args", [(0, 1, 5), (-2.0, 3.0, 7), (1, 1, 3), (0, 10, 1), (5, 0, 6)])
def test_linspace_matches_torch(args):
    t = sg.linspace(*args)
    ref = torch.linspace(*args)
    assert t.dtype == sg.float32
    assert t.shape == tuple(ref.shape)
    np.testing.assert_allclose(t.detach().numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (1,)])
def test_eye_matches_torch(args):
    t = sg.eye(*args)
    ref = torch.eye(*args)
    assert t.dtype == sg.float32
    np.testing.assert_array_equal(t.detach().numpy(), ref.detach().numpy())


def test_eye_dtype():
    assert sg.eye(2, dtype=sg.float64).dtype == sg.float64


def test_rand():
    t = sg.rand(200, 5)
    assert t.shape == (200, 5)
    assert t.dtype == sg.float32
    values = t.detach().numpy()
    assert values.min() >= 0.0 and values.max() < 1.0
    assert 0.4 < values.mean() < 0.6
    assert len(np.unique(values)) > 900
    assert sg.rand((2, 3)).shape == (2, 3)


def test_randn():
    t = sg.randn(100, 50)
    assert t.shape == (100, 50)
    assert t.dtype == sg.float32
    values = t.detach().numpy()
    assert abs(values.mean()) < 0.1
    assert 0.9 < values.std() < 1.1
    assert sg.randn(3, dtype=sg.float64).dtype == sg.float64


def test_rand_randn_requires_grad():
    assert sg.rand(2, requires_grad=True).requires_grad
    assert sg.randn(2, requires_grad=True).is_leaf


def test_manual_seed_makes_rand_repeatable():
    sg.manual_seed(123)
    a = sg.rand(10).detach().numpy().copy()
    b = sg.randn(4, 3).detach().numpy().copy()
    sg.manual_seed(123)
    np.testing.assert_array_equal(sg.rand(10).detach().numpy(), a)
    np.testing.assert_array_equal(sg.randn(4, 3).detach().numpy(), b)
    sg.manual_seed(124)
    assert not np.array_equal(sg.rand(10).detach().numpy(), a)


def test_successive_draws_differ():
    sg.manual_seed(0)
    assert not np.array_equal(sg.rand(8).detach().numpy(), sg.rand(8).detach().numpy())


@pytest.mark.parametrize("source", [
    sg.tensor([[1.0, 2.0, 3.0]]),
    sg.tensor([1, 2], dtype=sg.int64),
    sg.tensor([1.0], dtype=sg.float64),
    sg.tensor([True, False]),
])
def test_zeros_like_ones_like(source):
    z = sg.zeros_like(source)
    o = sg.ones_like(source)
    for t, value in ((z, 0), (o, 1)):
        assert t.shape == source.shape
        assert t.dtype == source.dtype
        assert (t.detach().numpy() == value).all()


def test_like_factories_dont_inherit_requires_grad():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    assert sg.zeros_like(x).requires_grad is False
    assert sg.ones_like(x).requires_grad is False
    assert sg.zeros_like(x, dtype=sg.float64).dtype == sg.float64


# ---------------------------------------------------------------- dtype conversion


def test_astype_float_double():
    t = sg.tensor([1, 2, 3])
    assert t.float().dtype == sg.float32
    assert t.double().dtype == sg.float64
    assert t.astype(sg.float64).dtype == sg.float64
    assert t.astype(sg.bool).tolist() == [True, True, True]
    assert t.float().tolist() == [1.0, 2.0, 3.0]
    assert t.dtype == sg.int64  # the source is unchanged


def test_astype_to_int_truncates_like_torch():
    values = [1.7, -1.7, 2.5, -0.2]
    t = sg.tensor(values).astype(sg.int64)
    assert t.dtype == sg.int64
    assert t.tolist() == torch.tensor(values).long().tolist()


def test_cast_is_differentiable_and_grad_keeps_leaf_dtype():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == sg.float64
    assert y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == sg.float32
    np.testing.assert_allclose(x.grad.detach().numpy(), [2.0, 4.0])


# ---------------------------------------------------------------- detach, requires_grad_


def test_detach():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert d.requires_grad is False
    assert d.grad_fn is None
    assert d.is_leaf
    assert d.tolist() == [3.0, 6.0]
    assert d.dtype == y.dtype
    assert y.grad_fn is not None  # the original is untouched


def test_detach_stops_gradient():
    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x.detach()).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), [1.0, 2.0, 3.0])


def test_requires_grad_():
    t = sg.tensor([1.0, 2.0])
    result = t.requires_grad_()
    assert result is t
    assert t.requires_grad is True
    assert (t * 2).requires_grad
    t.requires_grad_(False)
    assert t.requires_grad is False
    assert not (t * 2).requires_grad


def test_requires_grad_on_int_tensor_raises():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError):
        sg.tensor([1, 2]).requires_grad_()
