"""Interop with the scientific Python stack: DLPack both ways, and NumPy functions on tensors."""
import numpy as np
import pytest
import torch

import scratchgrad as sg

# ---------------------------------------------------------------- DLPack: scratchgrad -> others


@pytest.mark.parametrize("consumer", [torch.from_dlpack, torch.as_tensor, np.from_dlpack])
def test_export_shares_memory(consumer):
    t = sg.tensor([[1.0, 2.0], [3.0, 4.0]])
    other = consumer(t)
    other[0, 1] = 20.0
    assert t.numpy()[0, 1] == 20.0
    assert tuple(other.shape) == (2, 2)


@pytest.mark.parametrize("dtype", [sg.float16, sg.float32, sg.float64, sg.int32, sg.int64, sg.bool])
def test_export_keeps_values_and_dtype(dtype):
    t = sg.tensor([[0, 1, 1], [1, 0, 1]], dtype=dtype)
    expected = torch.tensor(t.numpy())
    for got in (torch.from_dlpack(t), torch.tensor(t), torch.as_tensor(t)):
        assert got.dtype == expected.dtype
        assert torch.equal(got, expected)
    assert np.array_equal(np.from_dlpack(t), t.numpy())


def test_zero_dim_and_empty_tensors_convert():
    # torch.tensor(t) used to fail with "len() of a 0-d tensor"; now it reads the data by DLPack.
    assert torch.tensor(sg.tensor(2.5)).item() == 2.5
    assert torch.tensor(sg.tensor(2.5)).shape == ()
    assert torch.as_tensor(sg.tensor(7)).dtype == torch.int64
    assert np.array(sg.tensor(2.5)).shape == ()
    assert np.array(sg.tensor(2.5)) == 2.5
    assert torch.from_dlpack(sg.zeros(3, 0)).shape == (3, 0)
    assert np.array(sg.zeros(0)).shape == (0,)


def test_torch_tensor_copies():
    t = sg.tensor([1.0, 2.0])
    copy = torch.tensor(t)
    copy[0] = 5.0
    assert t.numpy()[0] == 1.0


def test_non_contiguous_views_export():
    base = sg.arange(6.0).reshape(2, 3)
    assert torch.equal(torch.from_dlpack(base.T), torch.arange(6.0).reshape(2, 3).T)
    # A reversed view has negative strides, which PyTorch can't import: it gets a copy.
    reversed_ = sg.arange(5.0)[::-1]
    assert torch.equal(torch.tensor(reversed_), torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0]))
    with pytest.raises(BufferError, match="negative strides"):
        reversed_.__dlpack__(copy=False)


def test_export_of_a_tensor_that_requires_grad_raises_as_in_pytorch():
    t = sg.ones(2, requires_grad=True)
    message = "Can't export tensors that require gradient, use tensor.detach()"
    with pytest.raises(BufferError) as ours:
        torch.from_dlpack(t)
    with pytest.raises(BufferError) as theirs:
        torch.from_dlpack(torch.ones(2, requires_grad=True))
    assert str(ours.value) == str(theirs.value) == message
    with pytest.raises(BufferError, match="detach"):
        np.from_dlpack(t)
    assert torch.from_dlpack(t.detach()).tolist() == [1.0, 1.0]


def test_dlpack_device_is_the_cpu():
    assert sg.ones(1).__dlpack_device__() == (1, 0)
    assert sg.ones(1).__dlpack_device__() == tuple(torch.ones(1).__dlpack_device__())


# ---------------------------------------------------------------- DLPack: others -> scratchgrad


def test_from_dlpack_shares_memory_with_torch():
    x = torch.arange(4.0)
    t = sg.from_dlpack(x)
    x[1] = 7.0
    assert t.tolist() == [0.0, 7.0, 2.0, 3.0]
    assert t.dtype == sg.float32
    assert isinstance(t, sg.Tensor) and not t.requires_grad and t.grad_fn is None


def test_from_dlpack_shares_memory_with_numpy():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    t = sg.from_dlpack(a)
    a[1, 2] = 50
    assert t.dtype == sg.int64 and t.shape == (2, 3)
    assert t.tolist() == [[0, 1, 2], [3, 4, 50]]


def test_from_dlpack_round_trip_and_capsules():
    t = sg.tensor([1.0, 2.0])
    back = sg.from_dlpack(torch.from_dlpack(t))
    assert np.shares_memory(back.numpy(), t.numpy())
    assert sg.from_dlpack(torch.tensor([3.0]).__dlpack__()).tolist() == [3.0]  # a bare capsule
    assert sg.from_dlpack(torch.tensor(1.5)).shape == ()
    # The result is an ordinary tensor: it can start a graph.
    w = sg.from_dlpack(torch.tensor([2.0])).requires_grad_()
    (w * w).sum().backward()
    assert w.grad.tolist() == [4.0]


def test_from_dlpack_errors_are_clear():
    with pytest.raises(TypeError, match="from_dlpack: expected an object with __dlpack__"):
        sg.from_dlpack([1.0, 2.0])
    with pytest.raises(sg.DTypeError, match="from_dlpack"):
        sg.from_dlpack(torch.ones(2, dtype=torch.bfloat16))
    with pytest.raises(sg.DTypeError, match="complex64 is not supported"):
        sg.from_dlpack(torch.ones(2, dtype=torch.complex64))
    with pytest.raises(BufferError, match="require gradient"):
        sg.from_dlpack(torch.ones(2, requires_grad=True))


# ---------------------------------------------------------------- NumPy functions on tensors


@pytest.mark.parametrize("call, name, instead", [
    (lambda t: np.std(t), "np.std", "sg.std(t, correction=0)"),
    (lambda t: np.dot(t, t), "np.dot", "sg.matmul"),
    (lambda t: np.linalg.norm(t), "np.linalg.norm", "sqrt()"),
    (lambda t: np.median(t), "np.median", "scratchgrad's ops"),
    (lambda t: np.prod(t), "np.prod", "sg.prod"),
    (lambda t: np.cumsum(t), "np.cumsum", "sg.cumsum"),
    (lambda t: np.square(t), "np.square", "t * t"),
    (lambda t: np.add.reduce(t), "np.add.reduce", "sg.sum"),
])
def test_unmapped_numpy_functions_refuse_to_drop_the_gradient(call, name, instead):
    t = sg.tensor([1.0, 2.0, 4.0], requires_grad=True)
    with pytest.raises(TypeError) as info:
        call(t)
    message = str(info.value)
    assert message.startswith(f"{name} on a tensor that requires grad")
    assert instead in message and "t.detach()" in message
    # Without a gradient to lose, NumPy's own answer comes back.
    expected = call(t.detach().numpy())
    assert np.allclose(call(t.detach()), expected)
    with sg.no_grad():
        assert np.allclose(call(t), expected)


def test_gradient_free_numpy_functions_still_answer():
    t = sg.tensor([1.0, 2.0, 4.0], requires_grad=True)
    assert np.shape(t) == (3,) and np.ndim(t) == 1 and np.size(t) == 3
    assert np.argmax(t) == 2
    assert np.allclose(t, [1.0, 2.0, 4.0])
    assert np.isclose(t, t).all()
    assert np.array_equal(t, t)
    assert np.sign(t).tolist() == [1.0, 1.0, 1.0]


def test_mapped_numpy_functions_keep_the_gradient():
    t = sg.tensor([1.0, 2.0], requires_grad=True)
    np.sum(np.exp(t)).backward()
    assert np.allclose(t.grad.numpy(), np.exp([1.0, 2.0]))
    m = sg.tensor([[1.0, 3.0], [2.0, 0.0]], requires_grad=True)
    (np.max(m, axis=-1, keepdims=True).sum() + np.min(m)).backward()
    assert m.grad.tolist() == [[0.0, 1.0], [1.0, 1.0]]


def test_numpy_arguments_scratchgrad_does_not_take():
    t = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np.mean\(\.\.\., dtype=\) on a tensor that requires grad: "
                                        r"scratchgrad's mean doesn't take these arguments"):
        np.mean(t, dtype=np.float64)
    result = np.mean(t.detach(), dtype=np.float64)  # no gradient to lose: NumPy's answer
    assert result == 1.5 and result.dtype == np.float64
    with pytest.raises(TypeError, match="sum: "):  # scratchgrad's own argument checks still speak
        np.sum(t, axis="x")


def test_out_argument_messages_name_the_real_cause():
    t = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np.exp\(\.\.\., out=\) on a tensor that requires grad: "
                                        r"scratchgrad's exp takes no out="):
        np.exp(t, out=np.empty(2))
    # Without grad, NumPy writes into the array as asked.
    out = np.empty(2)
    np.exp(t.detach(), out=out)
    assert np.allclose(out, np.exp([1.0, 2.0]))
    with pytest.raises(TypeError, match="a scratchgrad Tensor can't be NumPy's out="):
        np.exp(np.ones(2), out=sg.zeros(2))
