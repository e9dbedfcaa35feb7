"""The everyday PyTorch surface (API.md), beyond the op table: devices, .to, contiguous, sizes,
dtype names, allclose, inference_mode, new_* factories, and the new ops' edge cases and errors,
each against PyTorch."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import scratchgrad as sg
import scratchgrad.nn.functional as F
from tests.helpers import close, leaf, raised, tleaf

# ---------------------------------------------------------------- devices

def test_tensor_device_is_cpu_like_torch():
    t = sg.zeros(2)
    assert repr(t.device) == repr(torch.zeros(2).device) == "device(type='cpu')"
    assert str(t.device) == "cpu" and t.device.type == "cpu" and t.device.index is None
    assert t.device == "cpu" and t.device == sg.device("cpu") and t.device != "cuda"
    assert hash(sg.device("cpu")) == hash(t.device)
    assert not t.is_cuda and t.cpu() is t


def test_device_objects():
    d = sg.device("cuda:1")
    assert (d.type, d.index, str(d), repr(d)) == ("cuda", 1, "cuda:1", "device(type='cuda', index=1)")
    assert sg.device("cuda", 0) == "cuda:0" and sg.device(sg.device("cpu")) == "cpu"
    with pytest.raises(RuntimeError, match="foo"):
        sg.device("foo")
    with pytest.raises(AttributeError):
        d.type = "cpu"


def test_device_as_a_context():
    with sg.device("cpu") as d:
        assert d == "cpu" and sg.zeros(1).device == "cpu"
    with pytest.raises(RuntimeError, match="CPU"), sg.device("cuda"):
        pass


FACTORIES = {
    "zeros": lambda device: sg.zeros(2, 3, device=device),
    "ones": lambda device: sg.ones((2,), device=device),
    "empty": lambda device: sg.empty(2, device=device),
    "full": lambda device: sg.full((2,), 1.5, device=device),
    "arange": lambda device: sg.arange(4, device=device),
    "linspace": lambda device: sg.linspace(0, 1, 5, device=device),
    "eye": lambda device: sg.eye(3, device=device),
    "tensor": lambda device: sg.tensor([1.0, 2.0], device=device),
    "rand": lambda device: sg.rand(2, device=device),
    "randn": lambda device: sg.randn(2, device=device),
    "randint": lambda device: sg.randint(0, 5, (2,), device=device),
    "randperm": lambda device: sg.randperm(3, device=device),
    "normal": lambda device: sg.normal(0.0, 1.0, (2,), device=device),
    "zeros_like": lambda device: sg.zeros_like(sg.ones(2), device=device),
    "ones_like": lambda device: sg.ones_like(sg.ones(2), device=device),
    "full_like": lambda device: sg.full_like(sg.ones(2), 3.0, device=device),
    "empty_like": lambda device: sg.empty_like(sg.ones(2), device=device),
    "rand_like": lambda device: sg.rand_like(sg.ones(2), device=device),
    "randn_like": lambda device: sg.randn_like(sg.ones(2), device=device),
    "new_zeros": lambda device: sg.ones(2).new_zeros(3, device=device),
    "new_tensor": lambda device: sg.ones(2).new_tensor([1], device=device),
    ".to": lambda device: sg.ones(2).to(device),
    "as_tensor": lambda device: sg.as_tensor([1.0], device=device),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_factories_accept_cpu(name):
    for device in (None, "cpu", "cpu:0", sg.device("cpu")):
        assert FACTORIES[name](device).device == "cpu"


@pytest.mark.parametrize("device", ["cuda", "mps", "cuda:0", sg.device("cuda", 1)])
@pytest.mark.parametrize("name", FACTORIES)
def test_factories_refuse_other_devices(name, device):
    """RuntimeError naming the device and saying scratchgrad runs on the CPU."""
    with pytest.raises(RuntimeError) as info:
        FACTORIES[name](device)
    assert f"'{device}'" in str(info.value) and "runs on the CPU" in str(info.value)
    assert isinstance(info.value, sg.DeviceError)


# ---------------------------------------------------------------- .to, contiguous, casts

def test_to_returns_self_when_nothing_changes():
    x = sg.ones(2)
    for args in [("cpu",), (sg.device("cpu"),), (sg.float32,), ("cpu", sg.float32), (x,)]:
        assert x.to(*args) is x
    assert x.to(dtype=sg.float32, device="cpu") is x
    copied = x.to(copy=True)
    assert copied is not x and np.array_equal(copied.numpy(), x.numpy())


def test_to_changes_dtype_every_way():
    x = leaf([1.5, -2.5], dtype=sg.float32)
    assert x.to(sg.float64).dtype == sg.float64
    assert x.to("cpu", sg.float64).dtype == sg.float64
    assert x.to(device="cpu", dtype=sg.int64).tolist() == [1, -2]  # truncates, as torch
    assert x.to(sg.zeros(1, dtype=sg.float64)).dtype == sg.float64
    assert x.type_as(sg.zeros(1, dtype=sg.int32)).dtype == sg.int32
    assert not x.to(sg.int64).requires_grad
    x.to(sg.float64).sum().backward()
    assert x.grad.dtype == sg.float32 and x.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("device", ["cuda", "mps", "cuda:0"])
def test_to_refuses_other_devices(device):
    with pytest.raises(RuntimeError, match=f"'{device}'.*CPU"):
        sg.ones(2).to(device)
    with pytest.raises(RuntimeError, match="CPU"):
        sg.ones(2).to(device, sg.float64)


@pytest.mark.parametrize("name", ["foo", "float32"])
def test_to_takes_a_string_as_a_device_name_like_torch(name):
    with pytest.raises(RuntimeError):
        torch.ones(2).to(name)
    with pytest.raises(RuntimeError, match=f"unknown device type '{name}'"):
        sg.ones(2).to(name)


def test_as_tensor_dtype_like_torch():
    x = sg.ones(2)
    assert sg.as_tensor(x) is x and sg.as_tensor(x, dtype=sg.float32) is x
    assert sg.as_tensor(x, dtype=sg.float64).dtype == sg.float64
    assert sg.as_tensor([1, 2], dtype=sg.float32).tolist() == torch.as_tensor([1, 2], dtype=torch.float32).tolist()
    assert sg.as_tensor([1, 2]).dtype == sg.int64


def test_contiguous():
    x = leaf(np.arange(6.0).reshape(2, 3))
    assert x.is_contiguous() and x.contiguous() is x
    t = x.T
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c is not t and c.is_contiguous() and c.detach().numpy().flags.c_contiguous
    np.testing.assert_array_equal(c.detach().numpy(), x.detach().numpy().T)
    (c * sg.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)


CASTS = ["float", "double", "long", "int", "bool", "half"]


@pytest.mark.parametrize("method", CASTS)
def test_cast_methods_match_torch(method):
    values = [[1.5, -2.0, 0.0]]
    got, want = getattr(sg.tensor(values), method)(), getattr(torch.tensor(values), method)()
    close(got.astype(sg.float64), want.double())
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")


def test_sizes_like_torch():
    x, t = sg.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert x.size() == tuple(t.size()) and x.numel() == x.nelement() == t.nelement() == 24
    for dim in (0, 1, 2, -1, -3):
        assert x.size(dim) == t.size(dim)
    assert x.size == 24 and x.dim() == 3  # the attribute is still NumPy's element count
    with pytest.raises(IndexError, match="size: dimension 3 is out of range"):
        x.size(3)
    with pytest.raises(IndexError):
        t.size(3)


DTYPE_NAMES = ["float", "double", "half", "long", "int", "short", "bool", "float16", "float32",
               "float64", "int8", "int16", "int32", "int64", "uint8"]


@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dtype_names_are_torchs(name):
    assert str(np.dtype(getattr(sg, name))) == str(getattr(torch, name)).replace("torch.", "")
    assert sg.zeros(2, dtype=getattr(sg, name)).dtype == getattr(sg, name)


def test_bfloat16_is_a_name_that_refuses_to_be_used():
    """Code that only mentions bfloat16 runs; making a tensor with it says why it can't."""
    choice = {"float32": sg.float32, "bfloat16": sg.bfloat16}["bfloat16"]
    assert choice is sg.bfloat16 and repr(sg.bfloat16) == "scratchgrad.bfloat16"
    assert sg.bfloat16 != sg.float32
    for make in (lambda: sg.zeros(2, dtype=sg.bfloat16), lambda: sg.ones(2).to(sg.bfloat16),
                 lambda: sg.tensor([1.0], dtype="bfloat16")):
        with pytest.raises(TypeError, match="bfloat16 is not supported: NumPy has no bfloat16"):
            make()


def test_is_floating_point():
    assert sg.ones(1).is_floating_point() and not sg.ones(1, dtype=sg.int64).is_floating_point()


def test_new_factories_match_torch():
    x, t = sg.ones(2, dtype=sg.float64), torch.ones(2, dtype=torch.float64)
    pairs = [
        (x.new_zeros(2, 3), t.new_zeros(2, 3)),
        (x.new_zeros((2, 3)), t.new_zeros((2, 3))),
        (x.new_ones(3), t.new_ones(3)),
        (x.new_full((2,), 7), t.new_full((2,), 7)),
        (x.new_empty(0), t.new_empty(0)),
        (x.new_tensor([1, 2]), t.new_tensor([1, 2])),
        (x.new_zeros(2, dtype=sg.int64), t.new_zeros(2, dtype=torch.int64)),
    ]
    for got, want in pairs:
        assert got.shape == tuple(want.shape) and str(got.dtype) == str(want.dtype)[6:]
        close(got.astype(sg.float64), want.double())
    assert x.new_zeros(2, requires_grad=True).requires_grad


# ---------------------------------------------------------------- allclose, is_tensor, inference_mode

@pytest.mark.parametrize("a, b, kwargs", [
    ([1.0, 2.0], [1.0, 2.0 + 1e-9], {}),
    ([1.0, 2.0], [1.0, 2.1], {}),
    ([1.0, 2.0], [1.0, 2.1], {"atol": 0.2}),
    ([1.0], [1.0, 1.0], {}),
    ([float("nan")], [float("nan")], {}),
    ([float("nan")], [float("nan")], {"equal_nan": True}),
    ([100.0], [101.0], {"rtol": 0.02}),
    ([1, 2], [1, 2], {}),
])
def test_allclose_matches_torch(a, b, kwargs):
    got = sg.allclose(sg.tensor(a), sg.tensor(b), **kwargs)
    assert type(got) is bool and got == torch.allclose(torch.tensor(a), torch.tensor(b), **kwargs)


def test_allclose_errors():
    with pytest.raises(RuntimeError, match="allclose.*dtype"):
        sg.allclose(sg.tensor([1]), sg.tensor([1.0]))
    with pytest.raises(RuntimeError, match="allclose.*broadcast"):
        sg.allclose(sg.ones(2), sg.ones(3))


NAN, INF = float("nan"), float("inf")
ISCLOSE_CASES = [
    ([1.0, NAN, INF, -INF, INF, 0.0], [1.0 + 1e-9, NAN, INF, -INF, -INF, 1e-9], {}),
    ([1.0, NAN, INF], [1.0, NAN, 1.0], {"equal_nan": True}),
    ([1.0, 2.0], [1.0, 2.1], {"atol": 0.2}),
    ([100.0, 1.0], [101.0, 1.01], {"rtol": 0.02, "atol": 0}),
    ([1.0, 1.0], [1.0, 1.0 + 1e-7], {"rtol": 0, "atol": 0}),
    ([[1.0], [2.0]], [1.0, 2.0, 3.0], {}),
    ([1, 2, 3], [1, 3, -3], {"rtol": 0.5}),
    ([True, False], [False, False], {}),
    (3.0, [3.0], {}),
    ([], [], {}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", None])
@pytest.mark.parametrize("a, b, kwargs", ISCLOSE_CASES)
def test_isclose_matches_torch(a, b, kwargs, dtype):
    def make(m, v):
        is_float = isinstance(v, float) or any(isinstance(u, float) for u in np.ravel(v))
        return m.tensor(v, dtype=getattr(m, dtype) if dtype and is_float else None)
    want = torch.isclose(make(torch, a), make(torch, b), **kwargs)
    got = sg.isclose(make(sg, a), make(sg, b), **kwargs)
    close(got, want)
    close(make(sg, a).isclose(make(sg, b), **kwargs), want)


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m.isclose(m.tensor([1]), m.tensor([1.0])), RuntimeError, "isclose.*int64.*float32"),
    (lambda m: m.isclose(m.tensor([1.0]), m.tensor([1.0], dtype=m.float64)), RuntimeError,
     "isclose.*float32.*float64"),
    (lambda m: m.isclose(m.ones(2), m.ones(3)), RuntimeError, r"isclose.*\(2,\).*\(3,\)"),
    (lambda m: m.isclose(m.ones(2), m.ones(2), rtol=-1), RuntimeError, "isclose: rtol.*-1"),
    (lambda m: m.isclose(m.ones(2), m.ones(2), atol=-0.5), RuntimeError, "isclose: atol.*-0.5"),
    (lambda m: m.isclose(m.ones(2), 1.0), TypeError, "isclose.*Tensor.*float"),
    (lambda m: m.equal(m.ones(2), 1.0), TypeError, "equal.*Tensor.*float"),
])
def test_isclose_and_equal_errors_match_torch(call, error, match):
    assert isinstance(raised(lambda: call(torch)), error)
    with pytest.raises(error, match=match):
        call(sg)


@pytest.mark.parametrize("a, b", [
    ([1.0, 2.0], [1.0, 2.0]), ([1.0, 2.0], [1.0, 2.5]), ([1.0], [1.0, 1.0]), (1.0, [1.0]),
    ([NAN], [NAN]), ([1.0, 2.0], [1, 2]), ([1, 2], [True, True]), ([1, 1], [True, True]),
    ([], []), ([[1.0, 2.0]], [[1.0], [2.0]]), (-0.0, 0.0), ([INF], [INF]),
])
def test_equal_matches_torch(a, b):
    want = torch.equal(torch.tensor(a), torch.tensor(b))
    got = sg.equal(sg.tensor(a), sg.tensor(b))
    assert type(got) is bool and got == want
    assert sg.tensor(a).equal(sg.tensor(b)) == want
    assert sg.equal(sg.tensor(a, dtype=sg.float64), sg.tensor(b)) == torch.equal(
        torch.tensor(a, dtype=torch.float64), torch.tensor(b))


def test_is_tensor():
    assert sg.is_tensor(sg.ones(1)) and sg.is_tensor(sg.nn.Parameter(sg.ones(1)))
    for other in (np.ones(1), [1.0], 1.0, None, torch.ones(1)):
        assert not sg.is_tensor(other)


def test_inference_mode_as_context_and_decorators():
    x = leaf([1.0])
    with sg.inference_mode():
        assert not (x * 2).requires_grad and sg.is_inference_mode_enabled()
        with sg.inference_mode(False):
            assert (x * 2).requires_grad and not sg.is_inference_mode_enabled()
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad and not sg.is_inference_mode_enabled()

    @sg.inference_mode()
    def called(y):
        return y * 2

    @sg.inference_mode
    def bare(y):
        return y * 2

    assert not called(x).requires_grad and not bare(x).requires_grad
    assert bare.__name__ == "bare"
    with pytest.raises(KeyError), sg.inference_mode():
        raise KeyError("inside")  # the mode is restored on the way out
    assert sg.is_grad_enabled() and (x * 2).requires_grad


def _grad_modes_of_generators_and_plain_calls(L):
    """Grad modes seen inside generator functions under the decorators, and around a plain
    set_grad_enabled(False) call, as a list to compare with PyTorch's."""
    out = []
    @L.no_grad()
    def g1(x):
        for i in range(2):
            got = yield (x * 2).requires_grad, L.is_grad_enabled()
            out.append(("sent", got))
        return "done"
    x = L.ones(1, requires_grad=True)
    gen = g1(x)
    out.append(next(gen)); out.append(L.is_grad_enabled())
    out.append(gen.send(5)); out.append(L.is_grad_enabled())
    try:
        gen.send(6)
    except StopIteration as e:
        out.append(e.value)
    @L.inference_mode()
    def g2():
        try:
            yield L.is_grad_enabled()
        except ValueError:
            yield ("caught", L.is_grad_enabled())
    gen = g2(); out.append(next(gen)); out.append(gen.throw(ValueError())); gen.close()
    @L.no_grad
    def g3():
        yield L.is_grad_enabled()
    out.append(list(g3()))
    @L.enable_grad()
    def g4():
        yield L.is_grad_enabled()
    with L.no_grad():
        out.append(list(g4()))
    L.set_grad_enabled(False); out.append(L.is_grad_enabled()); L.set_grad_enabled(True); out.append(L.is_grad_enabled())
    with L.set_grad_enabled(False):
        out.append(L.is_grad_enabled())
    out.append(L.is_grad_enabled())
    @L.set_grad_enabled(False)
    def f(): return L.is_grad_enabled()
    out.append(L.is_grad_enabled()); out.append(f()); out.append(L.is_grad_enabled())
    with L.no_grad():
        with L.set_grad_enabled(True):
            out.append(L.is_grad_enabled())
        out.append(L.is_grad_enabled())
    return out


def test_grad_mode_decorators_on_generators_and_set_grad_enabled_calls_match_torch():
    """Each step of a decorated generator runs in the mode (PyTorch's decorators wrap them), and
    sg.set_grad_enabled(False) as a plain call switches at once."""
    assert _grad_modes_of_generators_and_plain_calls(sg) == _grad_modes_of_generators_and_plain_calls(torch)
    assert sg.is_grad_enabled()


# ---------------------------------------------------------------- tril, triu, masked_fill

def test_tril_triu_keep_dtype_and_refuse_1d():
    for values in ([[True, True], [True, True]], [[1, 2], [3, 4]]):
        for fn in ("tril", "triu"):
            got, want = getattr(sg, fn)(sg.tensor(values), 1), getattr(torch, fn)(torch.tensor(values), 1)
            assert got.tolist() == want.tolist() and str(got.dtype) == str(want.dtype)[6:]
    with pytest.raises(RuntimeError, match="tril: needs a tensor with at least 2 dimensions"):
        sg.tril(sg.ones(3))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_causal_attention_mask_matches_torch(dtype):
    """softmax(masked_fill(scores, tril == 0, -inf)): values and gradients, as in a GPT."""
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 4, 4))
    x, t = leaf(scores, getattr(sg, dtype)), tleaf(scores, getattr(torch, dtype))
    mask, tmask = sg.tril(sg.ones(4, 4)), torch.tril(torch.ones(4, 4))
    y = sg.softmax(x.masked_fill(mask == 0, float("-inf")), -1)
    ty = torch.softmax(t.masked_fill(tmask == 0, float("-inf")), -1)
    close(y, ty, rtol=1e-6, atol=1e-7)
    upstream = rng.standard_normal((2, 4, 4))
    y.backward(sg.tensor(upstream, dtype=getattr(sg, dtype)))
    ty.backward(torch.tensor(upstream, dtype=getattr(torch, dtype)))
    close(x.grad, t.grad, rtol=1e-5, atol=1e-6)


def test_masked_fill_value_kinds_match_torch():
    mask = [True, False, True]
    cases = [([1, 2, 3], 2.7), ([1.5, 2.5, 3.5], 2), ([True, False, False], 0), ([1, 2, 3], True)]
    for values, value in cases:
        got = sg.tensor(values).masked_fill(sg.tensor(mask), value)
        want = torch.tensor(values).masked_fill(torch.tensor(mask), value)
        assert got.tolist() == want.tolist() and str(got.dtype) == str(want.dtype)[6:]
    got = sg.ones(2, 3).masked_fill(sg.ones(4, 1, 3, dtype=sg.bool), 0.0)
    assert got.shape == tuple(torch.ones(2, 3).masked_fill(torch.ones(4, 1, 3, dtype=torch.bool), 0).shape)


@pytest.mark.parametrize("call, error, match", [
    (lambda: sg.ones(3).masked_fill(sg.tensor([1, 0, 1]), 0.0), TypeError,
     "masked_fill: the mask must be a bool tensor, got int64"),
    (lambda: sg.ones(2, 3).masked_fill(sg.ones(2, dtype=sg.bool), 0.0), RuntimeError,
     r"masked_fill: shapes \(2, 3\) and \(2,\) can't broadcast"),
    (lambda: sg.ones(3).masked_fill(sg.ones(3, dtype=sg.bool), sg.ones(1)), RuntimeError,
     r"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape \(1,\)"),
    (lambda: sg.tensor([1, 2]).masked_fill(sg.ones(2, dtype=sg.bool), float("-inf")), RuntimeError,
     "masked_fill: value -inf can't be stored in a int64 tensor"),
    (lambda: sg.ones(2).masked_fill(sg.ones(2, dtype=sg.bool), "1"), TypeError,
     "masked_fill: value must be a number or a 0-d tensor, got str '1'"),
])
def test_masked_fill_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- gather, scatter_add, index_select

@pytest.mark.parametrize("call, error, match", [
    (lambda: sg.arange(6).gather(0, sg.tensor([7])), RuntimeError,
     "gather: index 7 is out of range for dimension 0 of size 6"),
    (lambda: sg.arange(6).gather(0, sg.tensor([-1])), RuntimeError, "gather: index -1 is out of range"),
    (lambda: sg.ones(2, 3).gather(0, sg.tensor([0])), RuntimeError,
     r"gather: index of shape \(1,\) must have as many dimensions as the input, of shape \(2, 3\)"),
    (lambda: sg.ones(2, 3).gather(0, sg.tensor([[0, 1, 1, 0]])), RuntimeError,
     r"larger than the input, of shape \(2, 3\), in dimension 1"),
    (lambda: sg.ones(3).gather(0, sg.tensor([0.0])), TypeError, "gather: index must be a tensor of int64"),
    (lambda: sg.ones(3).gather(0, sg.tensor([0], dtype=sg.int16)), RuntimeError,
     "gather: index must be a tensor of int64 or int32, got int16"),
    (lambda: sg.zeros(3).scatter_add(0, sg.tensor([0]), sg.tensor([1])), TypeError,
     "scatter_add: src must have the input's dtype float32, got int64"),
    (lambda: sg.zeros(3).scatter_add(0, sg.tensor([3]), sg.ones(1)), IndexError,
     "scatter_add: index 3 is out of range"),
    (lambda: sg.zeros(3).scatter_add(0, sg.tensor([0, 1]), sg.ones(1)), RuntimeError,
     r"larger than the src, of shape \(1,\)"),
    (lambda: sg.arange(6).index_select(0, sg.tensor([6])), IndexError,
     "index_select: index 6 is out of range for dimension 0 of size 6"),
    (lambda: sg.arange(6).index_select(0, sg.tensor([[1]])), IndexError, "index_select: index must be 1-D"),
    (lambda: sg.arange(6).index_select(0, sg.tensor([1.0])), TypeError, "int64 or int32"),
    (lambda: sg.ones(2).gather(2, sg.tensor([0])), IndexError, "gather: axis 2 is out of range"),
    (lambda: sg.tensor(3.0).index_select(0, sg.tensor([0, 0])), RuntimeError,
     "index_select: a 0-d tensor takes exactly one index, got 2"),
])
def test_index_op_errors(call, error, match):
    """Clear errors naming the op, the index and the shapes (PyTorch raises for all of these)."""
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("name", ["gather", "scatter_add", "index_select"])
def test_int32_indices_work_like_torch(name):
    calls = {"gather": lambda lib, x, i: lib.gather(x, 1, i),
             "scatter_add": lambda lib, x, i: lib.scatter_add(x, 1, i, x[:, :2] * 10),
             "index_select": lambda lib, x, i: lib.index_select(x, 1, i[0])}
    index = [[2, 0], [1, 1]]
    x, t = leaf(np.arange(6.0).reshape(2, 3)), tleaf(np.arange(6.0).reshape(2, 3))
    got = calls[name](sg, x, sg.tensor(index, dtype=sg.int32))
    want = calls[name](torch, t, torch.tensor(index, dtype=torch.int32))
    close(got, want)
    got.sum().backward()
    want.sum().backward()
    close(x.grad, t.grad)


def test_scatter_add_with_a_larger_src():
    """Only src's index-shaped corner is used; the rest gets gradient 0 (PyTorch's own backward
    fails here, so finite differences are the oracle)."""
    x, src, index = leaf(np.zeros(3)), leaf([1.0, 2.0, 3.0]), sg.tensor([0, 0])
    out = x.scatter_add(0, index, src)
    want = torch.zeros(3, dtype=torch.float64).scatter_add(0, torch.tensor([0, 0]),
                                                           torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    close(out, want)
    assert sg.gradcheck(lambda a, b: a.scatter_add(0, index, b) ** 2, [x, src])
    (out * sg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [1.0, 1.0, 0.0])


def test_gather_and_index_select_accumulate_repeated_indices():
    x, t = leaf([[1.0, 2.0], [3.0, 4.0]]), tleaf([[1.0, 2.0], [3.0, 4.0]])
    (x.gather(1, sg.tensor([[0, 0, 0], [1, 0, 1]])).sum() + x.index_select(0, sg.tensor([1, 1])).sum()).backward()
    (t.gather(1, torch.tensor([[0, 0, 0], [1, 0, 1]])).sum()
     + t.index_select(0, torch.tensor([1, 1])).sum()).backward()
    close(x.grad, t.grad)
    assert sg.arange(4).index_select(0, sg.tensor([3, 0], dtype=sg.int32)).tolist() == [3, 0]


@pytest.mark.parametrize("op", ["gather", "einsum", "cumsum", "sort", "remainder"])
def test_second_derivatives_match_torch(op):
    """Gradients of gradients (create_graph=True) through the new primitives."""
    fns = {
        "gather": lambda m, x: (x.gather(1, m.tensor([[1, 0, 1], [2, 2, 0]])) ** 3).sum(),
        "einsum": lambda m, x: m.einsum("ij,kj->ik", x, x * x).sum(),
        "cumsum": lambda m, x: (x.cumsum(1) ** 3).sum(),
        "sort": lambda m, x: (m.sort(x, 1, descending=True)[0] ** 3 * m.tensor([1.0, 2.0, 3.0],
                                                                                 dtype=x.dtype)).sum(),
        "remainder": lambda m, x: ((x ** 2) % 1.5 * x).sum(),
    }
    values = np.array([[0.3, -1.2, 2.1], [1.7, 0.4, -0.8]])
    x, t = leaf(values), tleaf(values)
    (g,) = sg.grad(fns[op](sg, x), x, create_graph=True)
    (tg,) = torch.autograd.grad(fns[op](torch, t), t, create_graph=True)
    close(g, tg)
    (g * g).sum().backward()
    (tg * tg).sum().backward()
    close(x.grad, t.grad)


# ---------------------------------------------------------------- sort, argsort, topk

def test_sort_is_stable_both_ways():
    values = [1, 0, 1, 0, 1, 2, 1, 2, 0, 0]
    for descending in (False, True):
        got = sg.sort(sg.tensor(values), descending=descending)
        want = torch.sort(torch.tensor(values), descending=descending, stable=True)
        assert got.values.tolist() == want.values.tolist()
        assert got.indices.tolist() == want.indices.tolist()
        assert sg.argsort(sg.tensor(values), descending=descending).tolist() == want.indices.tolist()


def test_sort_puts_nan_where_torch_does():
    values = [1.0, float("nan"), -1.0, float("inf"), float("nan")]
    for descending in (False, True):
        got = sg.tensor(values).sort(descending=descending)
        want = torch.tensor(values).sort(descending=descending, stable=True)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        assert got.indices.tolist() == want.indices.tolist()


def test_sort_and_topk_results_are_named_tuples():
    result = sg.tensor([3.0, 1.0, 2.0]).topk(2)
    values, indices = result
    assert isinstance(result, tuple) and result.values is values and result.indices is indices
    assert values.tolist() == [3.0, 2.0] and indices.tolist() == [0, 2] and indices.dtype == sg.int64
    assert repr(result).startswith("topk(values=tensor(")
    assert sg.sort(sg.tensor([True, False])).values.tolist() == [False, True]
    smallest = sg.topk(sg.tensor([[5, 1, 4], [0, 9, 2]]), 2, dim=1, largest=False)
    assert smallest.values.tolist() == [[1, 4], [0, 2]] and smallest.indices.tolist() == [[1, 2], [0, 2]]
    assert sg.topk(sg.tensor([1.0, 2.0]), 0).values.shape == (0,)


def test_topk_and_einsum_refuse_bools_like_torch():
    with pytest.raises(RuntimeError):
        torch.topk(torch.tensor([True, False]), 1)
    with pytest.raises(TypeError, match="topk: bool tensors"):
        sg.topk(sg.tensor([True, False]), 1)
    with pytest.raises(TypeError, match="einsum: bool operands"):
        sg.einsum("i,i->", sg.tensor([True]), sg.tensor([True]))


@pytest.mark.parametrize("k", [2.0, True, "1"])
def test_topk_k_must_be_an_int_like_torch(k):
    with pytest.raises(TypeError):
        torch.topk(torch.tensor([1.0, 2.0]), k)
    with pytest.raises(TypeError, match="topk: k must be an int"):
        sg.topk(sg.tensor([1.0, 2.0]), k)
    assert sg.topk(sg.tensor([1.0, 2.0]), sg.tensor(1)).values.tolist() == [2.0]


@pytest.mark.parametrize("k", [3, -1])
def test_topk_k_out_of_range(k):
    with pytest.raises(RuntimeError):
        torch.topk(torch.tensor([1.0, 2.0]), k)
    with pytest.raises(RuntimeError, match=rf"topk: k={k} is out of range for dimension 0 of size 2"):
        sg.topk(sg.tensor([1.0, 2.0]), k)


# ---------------------------------------------------------------- cumsum, roll, flip, repeat, chunk

@pytest.mark.parametrize("values, dtype", [([1, 2], "int32"), ([True, True], "bool"),
                                           ([1.5, 2.0], "float64"), ([1, 2], "int64")])
def test_cumsum_dtypes_match_torch(values, dtype):
    got = sg.cumsum(sg.tensor(values, dtype=getattr(sg, dtype)), 0)
    want = torch.cumsum(torch.tensor(values, dtype=getattr(torch, dtype)), 0)
    assert got.tolist() == want.tolist() and str(got.dtype) == str(want.dtype)[6:]
    assert sg.cumsum(sg.tensor(values), 0, dtype=sg.float64).dtype == sg.float64
    assert sg.cumsum(sg.tensor(2.5), 0).shape == ()


@pytest.mark.parametrize("values", [[1, 2], [True, False], [1.5, -2.0]])
@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
def test_cumsum_dtype_argument_is_the_result_dtype_like_torch(values, dtype):
    got = sg.cumsum(sg.tensor(values), 0, dtype=getattr(sg, dtype))
    want = torch.cumsum(torch.tensor(values), 0, dtype=getattr(torch, dtype))
    close(got, want)


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, 4.0], [2.0, 0.0, 3.0, 0.0, 5.0],
                                    [0.0, 0.0, 1.0], [1.0, 2.0, 3.0], [float("inf"), 0.0, 2.0],
                                    [[0.0, 2.0, 3.0], [4.0, 0.0, 0.0]]])
def test_cumprod_gradients_with_zeros_match_torch(values):
    """One zero: the elements before it get Σ g·ans / x, the zero itself the product of the
    others, the ones after it 0; with two zeros, the second gets 0 too."""
    x, t = leaf(values), tleaf(values)
    upstream = np.arange(1.0, x.numel() + 1).reshape(x.shape)
    sg.cumprod(x, -1).backward(sg.tensor(upstream))
    torch.cumprod(t, -1).backward(torch.tensor(upstream))
    close(x.grad, t.grad)
    if not np.isfinite(values).all():  # inf·0 in second derivatives: NaN in different places
        return
    x, t = leaf(values), tleaf(values)  # second derivatives: the rule is differentiable
    (g,) = sg.grad((sg.cumprod(x, -1) ** 2).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad((torch.cumprod(t, -1) ** 2).sum(), t, create_graph=True)
    close(g, h)
    close(sg.grad(g.sum(), x)[0], torch.autograd.grad(h.sum(), t)[0])


@pytest.mark.parametrize("values, dtype", [([1, 2, 3], "int64"), ([1, 2, 3], "int32"),
                                           ([True, False], "bool"), (2.5, "float32"),
                                           ([], "float32"), ([1.5, 2.0], "float64")])
def test_cumprod_dtypes_and_shapes_match_torch(values, dtype):
    got = sg.cumprod(sg.tensor(values, dtype=getattr(sg, dtype)), 0)
    want = torch.cumprod(torch.tensor(values, dtype=getattr(torch, dtype)), 0)
    assert str(got.dtype) == str(want.dtype)[6:]
    close(got, want)
    close(sg.cumprod(sg.tensor(values, dtype=getattr(sg, dtype)), -1, dtype=sg.float64),
          torch.cumprod(torch.tensor(values, dtype=getattr(torch, dtype)), -1, dtype=torch.float64))
    big = [1e30, 1e9, 0.0, 2.0]  # carried in float64, as PyTorch: no inf·0 = nan at the end
    close(sg.cumprod(sg.tensor(big), 0), torch.cumprod(torch.tensor(big), 0))
    x, t = sg.tensor([1.5, 2.0]), torch.tensor([1.5, 2.0])
    assert x.cumprod_(0) is x
    close(x, t.cumprod_(0))


@pytest.mark.parametrize("call, error", [(lambda m: m.cumprod(m.ones(2), 1), IndexError),
                                         (lambda m: m.cumprod(m.tensor(2.0), 1), IndexError),
                                         (lambda m: m.cumprod(m.ones(2)), TypeError)])
def test_cumprod_errors_match_torch(call, error):
    assert isinstance(raised(lambda: call(torch)), error)
    with pytest.raises(error, match="cumprod"):
        call(sg)


def test_cumsum_to_bool_is_refused_like_torch():
    with pytest.raises(NotImplementedError):
        torch.cumsum(torch.tensor([True]), 0, dtype=torch.bool)
    with pytest.raises(NotImplementedError, match="cumsum: not implemented for a bool result"):
        sg.cumsum(sg.tensor([True]), 0, dtype=sg.bool)
    with pytest.raises(NotImplementedError):
        torch.cumprod(torch.tensor([1, 0]), 0, dtype=torch.bool)
    with pytest.raises(NotImplementedError, match="cumprod: not implemented for a bool result"):
        sg.cumprod(sg.tensor([1, 0]), 0, dtype=sg.bool)


def test_running_ops_of_a_0d_tensor_keep_the_dtype_asked_for():
    for name in ("cumsum", "cumprod"):
        ours = getattr(sg, name)(sg.tensor(3, dtype=sg.int32), 0, dtype=sg.int32)
        theirs = getattr(torch, name)(torch.tensor(3, dtype=torch.int32), 0, dtype=torch.int32)
        assert ours.dtype == sg.int32 and theirs.dtype == torch.int32 and ours.item() == 3


@pytest.mark.parametrize("call, match", [
    (lambda: sg.roll(sg.ones(2, 3), (1, 1), 0), "roll: shifts and dims must have the same length"),
    (lambda: sg.flip(sg.ones(2, 3), (0, -2)), r"flip: dims \(0, -2\) repeat a dimension"),
    (lambda: sg.ones(2, 3).repeat(2), r"repeat: got 1 repeat sizes for a tensor of shape \(2, 3\)"),
    (lambda: sg.ones(2).repeat(-1), "repeat: sizes can't be negative"),
    (lambda: sg.chunk(sg.ones(4), 0), "chunk: the number of chunks must be positive"),
])
def test_rearrange_errors(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


@pytest.mark.parametrize("n, chunks", [(6, 4), (5, 4), (0, 3), (2, 5), (7, 7)])
def test_chunk_sizes_match_torch(n, chunks):
    got = [c.shape for c in sg.chunk(sg.arange(n), chunks)]
    assert got == [tuple(c.shape) for c in torch.chunk(torch.arange(n), chunks)]


def test_flip_spellings():
    x = sg.arange(6).reshape(2, 3)
    want = torch.arange(6).reshape(2, 3).flip(0, 1).tolist()
    assert x.flip(0, 1).tolist() == sg.flip(x, (0, 1)).tolist() == sg.flip(x, dims=[0, 1]).tolist() == want
    assert x.flip(-1).tolist() == torch.arange(6).reshape(2, 3).flip(-1).tolist()


def test_roll_and_flip_return_new_tensors():
    x = sg.tensor([1.0, 2.0])
    assert x.roll(0, 0) is not x and x.flip(()) is not x and x.roll(2).tolist() == [1.0, 2.0]


# ---------------------------------------------------------------- einsum

@pytest.mark.parametrize("equation, shapes, match", [
    ("ij,jk->ik", [(2, 3), (4, 2)], "einsum: subscript 'j' has size 4 in operand 1"),
    ("ij,jk->ik", [(2, 3)], "einsum: 'ij,jk->ik' has 2 operand"),
    ("ijk->i", [(2, 3)], r"einsum: operand 0 has subscripts 'ijk' but shape \(2, 3\)"),
    ("ij->ik", [(2, 3)], "einsum: output subscript 'k' .* does not appear in any operand"),
    ("ij->ii", [(2, 2)], "einsum: output subscript 'i' .* appears more than once"),
    ("i$->i", [(2, 2)], "is not a valid equation"),
])
def test_einsum_errors(equation, shapes, match):
    operands = [sg.ones(*s) for s in shapes]
    with pytest.raises(RuntimeError, match=match):
        sg.einsum(equation, *operands)


EINSUM_LARGE = {  # big enough for NumPy's optimized path (BLAS), which the op table's don't reach
    "ij,ij->i": [(1, 80), (70, 80)],
    "ii->i": [(90, 90)],
    "iij->j": [(70, 70, 2)],
    "ij->": [(100, 100)],
    "...ij,...jk->...ik": [(3, 40, 50), (50, 30)],
    "bhtd,bhsd->bhts": [(2, 2, 30, 16), (2, 2, 20, 16)],
}


@pytest.mark.parametrize("equation", EINSUM_LARGE)
def test_einsum_large_operands_match_torch(equation):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in EINSUM_LARGE[equation]]
    xs, ts = [leaf(a) for a in arrays], [tleaf(a) for a in arrays]
    out, tout = sg.einsum(equation, *xs), torch.einsum(equation, *ts)
    close(out, tout)
    upstream = rng.standard_normal(tuple(tout.shape))
    out.backward(sg.tensor(upstream))
    tout.backward(torch.tensor(upstream))
    for x, t in zip(xs, ts):
        close(x.grad, t.grad)


def test_einsum_forms():
    a, b = sg.tensor([[1, 2], [3, 4]]), sg.tensor([5, 6])
    assert sg.einsum("ij,j->i", a, b).tolist() == torch.einsum(
        "ij,j->i", torch.tensor([[1, 2], [3, 4]]), torch.tensor([5, 6])).tolist()
    assert sg.einsum("ij,j->i", [a, b]).tolist() == [17, 39]        # operands as one list
    assert sg.einsum("i j , j -> i", a, b).tolist() == [17, 39]     # spaces are ignored
    with pytest.raises(TypeError, match="einsum: operands must share a dtype"):
        sg.einsum("i,i->", sg.tensor([1, 2]), sg.tensor([1.0, 2.0]))


# ---------------------------------------------------------------- one_hot

def test_one_hot_like_torch():
    for indices, n in [([[0, 2], [1, 1]], -1), ([3], 5), (2, 3), ([], 3)]:
        got = F.one_hot(sg.tensor(indices, dtype=sg.int64), n)
        want = TF.one_hot(torch.tensor(indices, dtype=torch.int64), n)
        assert got.tolist() == want.tolist() and got.dtype == sg.int64 and got.shape == tuple(want.shape)


@pytest.mark.parametrize("indices, n, error, match", [
    ([1.0, 0.0], -1, TypeError, "one_hot: the class indices must be an int64 tensor, got float32"),
    (np.array([1, 0], dtype=np.int32), -1, TypeError, "int64 tensor, got int32"),
    ([-1, 0], -1, RuntimeError, "one_hot: class indices must be non-negative"),
    ([3, 0], 3, RuntimeError, "one_hot: class index 3 is out of range for num_classes=3"),
    (np.zeros(0, dtype=np.int64), -1, RuntimeError, "can't infer the number of classes"),
])
def test_one_hot_errors(indices, n, error, match):
    with pytest.raises(error, match=match):
        F.one_hot(sg.tensor(indices), n)


# ---------------------------------------------------------------- //, %, rounding

INT_PAIRS = [([7, -7, 7, -7, 0], [2, 2, -2, -2, 3]), ([5, -5], 3), (9, [4, -4])]


@pytest.mark.parametrize("dtype", ["int64", "int32"])
@pytest.mark.parametrize("a, b", INT_PAIRS)
def test_integer_floor_divide_and_remainder_match_torch(a, b, dtype):
    """Python's signs: // rounds towards -inf, % has the sign of the divisor."""
    def make(m, v):
        return m.tensor(v, dtype=getattr(m, dtype)) if isinstance(v, list) else v
    for op in (lambda x, y: x // y, lambda x, y: x % y, lambda x, y: (sg if isinstance(x, sg.Tensor)
               or isinstance(y, sg.Tensor) else torch).floor_divide(x, y)):
        got, want = op(make(sg, a), make(sg, b)), op(make(torch, a), make(torch, b))
        assert got.tolist() == want.tolist() and str(got.dtype) == str(want.dtype)[6:]


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "float64"])
@pytest.mark.parametrize("a, b", INT_PAIRS + [([7, -7], 2.0), ([True, False], [3, 3])])
def test_div_rounding_modes_match_torch(a, b, dtype, mode):
    """int / int is float32; with a rounding mode ints stay ints, rounded towards 0 or -inf."""
    def make(m, v):
        return m.tensor(v, dtype=getattr(m, dtype)) if isinstance(v, list) and not isinstance(
            v[0], bool) else m.tensor(v) if isinstance(v, list) else v
    a_sg, a_t = (make(sg, a), make(torch, a)) if isinstance(a, list) else (a, a)
    want = torch.div(a_t if isinstance(a_t, torch.Tensor) else torch.tensor(a_t), make(torch, b),
                     rounding_mode=mode)
    got = sg.div(a_sg, make(sg, b), rounding_mode=mode)
    assert str(got.dtype) == str(want.dtype)[6:]
    close(got, want)
    if isinstance(a_sg, sg.Tensor):
        close(a_sg.div(make(sg, b), rounding_mode=mode), want)


def test_int_tensor_with_a_whole_float_is_float_after_the_int_was_used():
    """2 and 2.0 are one cache key for the constants: int_tensor * 2.0 stays float32."""
    x = sg.tensor([7, -7])
    x + 2, x * 2, x // 2  # caches the int 2 for int64
    for op in (lambda a: a * 2.0, lambda a: a + 2.0, lambda a: a // 2.0, lambda a: a % 2.0):
        assert op(x).dtype == sg.float32 and op(torch.tensor([7, -7])).dtype == torch.float32


def test_fmod_has_the_sign_of_the_dividend_like_torch():
    a, b = [-3.0, 3.0, -3.0, 3.0, 5.5, -0.0], [2.0, 2.0, -2.0, -2.0, 1.5, 2.0]
    close(sg.fmod(sg.tensor(a), sg.tensor(b)), torch.fmod(torch.tensor(a), torch.tensor(b)))
    for x, y in (([-7, 7], 2), ([-7, 7], [3, -3]), ([-7, 7], 2.5), ([True, False], 2)):
        want = torch.fmod(torch.tensor(x), torch.tensor(y) if isinstance(y, list) else y)
        got = sg.fmod(sg.tensor(x), sg.tensor(y) if isinstance(y, list) else y)
        assert str(got.dtype) == str(want.dtype)[6:]
        close(got, want)
    special = [float("nan"), float("inf"), -float("inf"), 1.0, -1.0, 0.0]
    for y in (0.0, float("inf"), 2.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            close(sg.fmod(sg.tensor(special), y), torch.fmod(torch.tensor(special), y))


def test_fmod_gradients_match_torch():
    x, y = leaf([-3.0, 3.0, 5.5, -7.25]), leaf([2.0, -2.0, 1.5, 0.5])
    t, u = tleaf([-3.0, 3.0, 5.5, -7.25]), tleaf([2.0, -2.0, 1.5, 0.5])
    sg.fmod(x, y).sum().backward()
    torch.fmod(t, u).sum().backward()
    close(x.grad, t.grad)
    close(y.grad, u.grad)


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m.fmod(m.tensor([1, 2]), 0), RuntimeError, "fmod: integer division by zero"),
    (lambda m: m.fmod(m.tensor([1, 2]), m.tensor([1, 0])), RuntimeError, "fmod: integer division"),
    (lambda m: m.div(m.tensor([1, 2]), m.tensor([0, 1]), rounding_mode="trunc"), RuntimeError,
     "div: integer division by zero"),
    (lambda m: m.div(m.tensor([1, 2]), 0, rounding_mode="floor"), RuntimeError,
     "div: integer division by zero"),
    (lambda m: m.fmod(m.tensor([True]), m.tensor([True])), NotImplementedError,
     "fmod: not defined for bool and bool"),
    (lambda m: m.div(m.tensor([True]), m.tensor([True]), rounding_mode="trunc"),
     NotImplementedError, "div: not defined for bool and bool"),
    (lambda m: m.div(m.tensor([True]), m.tensor([True]), rounding_mode="floor"),
     NotImplementedError, "div: not defined for bool and bool"),
    (lambda m: m.div(m.tensor([1.0]), 2.0, rounding_mode="round"), RuntimeError,
     "div: rounding_mode must be None, 'trunc' or 'floor', got 'round'"),
    (lambda m: m.fmod(2, m.tensor([1.0])), TypeError, "fmod.*Tensor.*int"),
    (lambda m: m.fmod(m.ones(2), m.ones(3)), RuntimeError, r"fmod.*\(2,\).*\(3,\)"),
    (lambda m: m.trunc(m.tensor([True])), NotImplementedError, "trunc: not defined for bool"),
    (lambda m: m.tensor([7, 1]).div_(2), RuntimeError, "div_.*float32.*int64"),
])
def test_fmod_div_trunc_errors_match_torch(call, error, match):
    assert isinstance(raised(lambda: call(torch)), error)
    with pytest.raises(error, match=match):
        call(sg)


def test_div_in_place_with_a_rounding_mode_and_trunc_in_place():
    for mode in ("trunc", "floor"):
        for values, other in (([7, -7], 2), ([7.5, -7.5], 2.0)):
            x, t = sg.tensor(values), torch.tensor(values)
            assert x.div_(other, rounding_mode=mode) is x
            t.div_(other, rounding_mode=mode)
            close(x, t)
    for name in ("trunc_", "fix_"):
        x, t = sg.tensor([-1.5, 2.7]), torch.tensor([-1.5, 2.7])
        assert getattr(x, name)() is x
        close(x, getattr(t, name)())


def test_trunc_keeps_ints_and_signed_zero_like_torch():
    for values in ([3, -2], [-1.5, 2.7, -0.3, float("nan"), float("inf")], 2.5, []):
        got, want = sg.trunc(sg.tensor(values)), torch.trunc(torch.tensor(values))
        assert str(got.dtype) == str(want.dtype)[6:]
        close(got, want)
        np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))


def test_float_division_by_zero_is_quiet_and_like_torch():
    x, t = sg.tensor([1.0, -2.0, 0.0]), torch.tensor([1.0, -2.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal((x // 0.0).numpy(), (t // 0.0).numpy())
        np.testing.assert_array_equal((x % 0.0).numpy(), (t % 0.0).numpy())


@pytest.mark.parametrize("op", [lambda x: x // 0, lambda x: x % 0, lambda x: 5 // x * 0])
def test_integer_division_by_zero_raises(op):
    with pytest.raises(RuntimeError):
        op(torch.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="integer division by zero"):
        op(sg.tensor([1, 0]))


@pytest.mark.parametrize("op, name", [(lambda a, b: a // b, "floor_divide"),
                                      (lambda a, b: a % b, "remainder"), (lambda a, b: a ** b, "pow")])
def test_bool_floor_divide_is_refused_like_torch(op, name):
    """PyTorch has no bool kernel for these: its NotImplementedError (a RuntimeError)."""
    with pytest.raises(NotImplementedError):
        op(torch.tensor([True]), torch.tensor([True]))
    with pytest.raises(NotImplementedError, match=f"{name}: not defined for bool and bool"):
        op(sg.tensor([True]), sg.tensor([True]))


def test_floor_divide_gradient_is_zero():
    """Flat between jumps, like floor: gradient 0 (where PyTorch raises at backward)."""
    x, y = leaf([5.0, -5.0]), leaf([2.0, 3.0])
    out = x // y
    assert out.requires_grad and out.tolist() == [2.0, -2.0]
    (out * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -2.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0])


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "sign", "trunc", "fix"])
def test_rounding_gives_zero_gradients_and_keeps_ints(name):
    x, t = leaf([1.4, -2.5, 0.5]), tleaf([1.4, -2.5, 0.5])
    getattr(sg, name)(x).sum().backward()
    getattr(torch, name)(t).sum().backward()
    close(x.grad, t.grad)
    got, want = getattr(sg, name)(sg.tensor([3, -2])), getattr(torch, name)(torch.tensor([3, -2]))
    assert got.tolist() == want.tolist() and got.dtype == sg.int64 and not got.requires_grad


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "log10", "log2", "log1p", "expm1",
                                  "rsqrt", "reciprocal"])
def test_special_values_match_torch(name):
    values = [float("nan"), float("inf"), -float("inf"), -0.0, 0.0, 2.5, -2.5, 0.5, -0.5, 1e30]
    with np.errstate(all="ignore"):
        got = getattr(sg, name)(sg.tensor(values))
    close(got, getattr(torch, name)(torch.tensor(values)), rtol=1e-6)


def test_rounding_of_bools_and_int_decimals():
    assert sg.sign(sg.tensor([True, False])).tolist() == [True, False]
    for name in ("floor", "ceil", "round", "abs"):  # no bool kernel: NotImplementedError
        with pytest.raises(NotImplementedError):
            getattr(torch, name)(torch.tensor([True]))
        with pytest.raises(NotImplementedError, match=f"{name}: not defined for bool"):
            getattr(sg, name)(sg.tensor([True]))
    with pytest.raises(NotImplementedError):
        torch.round(torch.tensor([1, 2]), decimals=1)
    with pytest.raises(NotImplementedError, match="round: decimals=1 needs a floating-point tensor"):
        sg.round(sg.tensor([1, 2]), decimals=1)


def test_round_decimals_match_torch_halfway():
    values = [1.2345, 2.5, 0.125, -0.125, 1234.5, 25.0, 150.0, -0.5]
    for dtype in ("float32", "float64"):
        for decimals in (-2, -1, 0, 1, 2, 3):
            got = sg.round(sg.tensor(values, dtype=getattr(sg, dtype)), decimals=decimals)
            want = torch.round(torch.tensor(values, dtype=getattr(torch, dtype)), decimals=decimals)
            np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("name", ["log10", "log2", "log1p", "expm1", "rsqrt", "reciprocal"])
def test_float_functions_of_ints_are_float32(name):
    got, want = getattr(sg, name)(sg.tensor([1, 10])), getattr(torch, name)(torch.tensor([1, 10]))
    assert got.dtype == sg.float32
    close(got, want, rtol=1e-6)


@pytest.mark.parametrize("name", ["rsqrt", "reciprocal"])
def test_rsqrt_and_reciprocal_of_ints_bools_and_zeros_match_torch(name):
    """Ints and bools give float32 (1/0 = inf); in place on an int tensor is refused."""
    for values in ([4, 0, -1], [True, False], [], 4):
        with np.errstate(all="ignore"):
            got = getattr(sg, name)(sg.tensor(values))
        want = getattr(torch, name)(torch.tensor(values))
        assert got.dtype == sg.float32
        close(got, want, rtol=1e-6)
    with pytest.raises(RuntimeError):
        getattr(torch.tensor([4]), name + "_")()
    with pytest.raises(RuntimeError, match=f"{name}_: result type float32 can't be cast"):
        getattr(sg.tensor([4]), name + "_")()
    x = sg.tensor([4.0, 0.25])
    assert getattr(x, name + "_")() is x
    close(x, getattr(torch.tensor([4.0, 0.25]), name)())


@pytest.mark.parametrize("name", ["rsqrt", "reciprocal"])
def test_rsqrt_and_reciprocal_gradients_at_zero_match_torch(name):
    x, t = leaf([0.0, -0.0, 4.0, float("inf")]), tleaf([0.0, -0.0, 4.0, float("inf")])
    with np.errstate(all="ignore"):
        getattr(sg, name)(x).sum().backward()
    getattr(torch, name)(t).sum().backward()
    close(x.grad, t.grad)


# ---------------------------------------------------------------- histc

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bins, lo, hi", [(10, 0, 0), (7, -1.0, 1.0), (3, -0.3, 0.9), (1, 0, 0)])
def test_histc_matches_torch(bins, lo, hi, dtype):
    rng = np.random.default_rng(bins)
    data = np.concatenate([rng.standard_normal(500), rng.choice(np.linspace(-1, 1, 9), 100)])
    got = sg.histc(sg.tensor(data, dtype=getattr(sg, dtype)), bins, lo, hi)
    want = torch.histc(torch.tensor(data, dtype=getattr(torch, dtype)), bins, lo, hi)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got.dtype == getattr(sg, dtype)


def test_histc_edge_cases_match_torch():
    for values, kwargs in [([2.0, 2.0], {"bins": 4}), ([], {"bins": 3}),
                           ([1.0, 2.0, 1.0, 4.0], {"bins": 4, "min": 0, "max": 3})]:
        got = sg.histc(sg.tensor(values), **kwargs)
        np.testing.assert_array_equal(got.numpy(), torch.histc(torch.tensor(values), **kwargs).numpy())
    assert not sg.histc(leaf([1.0, 2.0]), bins=3).requires_grad


@pytest.mark.parametrize("values, kwargs, error, match", [
    ([1, 2], {}, NotImplementedError, "histc: input must be a floating-point tensor"),
    ([True], {}, NotImplementedError, "histc: input must be a floating-point tensor"),
    ([1.0, 2.0], {"min": 3, "max": 1}, RuntimeError, "histc: max must be larger than min"),
    ([1.0, 2.0], {"bins": 0}, RuntimeError, "histc: bins must be positive"),
    ([1.0, float("nan")], {}, RuntimeError, "histc: the range .* is not finite"),
])
def test_histc_errors(values, kwargs, error, match):
    with pytest.raises(error, match=match):
        sg.histc(sg.tensor(values), **kwargs)


# ---------------------------------------------------------------- more dtype spellings

def test_byte_char_short_type_and_cuda_as_pytorch():
    values = [-1.5, 2.7, 300.0, 0.0]
    x, tx = sg.tensor(values), torch.tensor(values)
    for name in ("byte", "char", "short"):
        ours, theirs = getattr(x, name)(), getattr(tx, name)()
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for t, tt in ((x, tx), (x.long(), tx.long()), (x.bool(), tx.bool()), (x.byte(), tx.byte()),
                  (x.half(), tx.half()), (x.double(), tx.double()), (x.int(), tx.int())):
        assert t.type() == tt.type()
    assert x.type(sg.float64).dtype == sg.float64 and x.type(sg.float32) is x
    np.testing.assert_array_equal(x.type("torch.IntTensor").numpy(), tx.type("torch.IntTensor").numpy())
    with pytest.raises(ValueError, match="float64"):
        x.type("float64")
    with pytest.raises(RuntimeError, match="CPU"):
        x.cuda()
    model = sg.nn.Linear(2, 3).half()
    assert model.weight.dtype == sg.float16 and model.bias.dtype == sg.float16


# ---------------------------------------------------------------- named matrix products

@pytest.mark.parametrize("call", [
    lambda L: L.mm(L.ones(3), L.ones(3, 2)), lambda L: L.mm(L.ones(2, 3), L.ones(4, 2)),
    lambda L: L.bmm(L.ones(2, 3), L.ones(2, 3, 4)), lambda L: L.bmm(L.ones(2, 2, 3), L.ones(3, 3, 4)),
    lambda L: L.mv(L.ones(2, 3), L.ones(2)), lambda L: L.dot(L.ones(2, 2), L.ones(2)),
    lambda L: L.dot(L.ones(3), L.ones(2)), lambda L: L.outer(L.ones(2, 2), L.ones(2)),
])
def test_named_products_refuse_what_pytorch_refuses(call):
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError):
        call(sg)


def test_named_products_are_methods_with_pytorchs_values():
    rng = np.random.default_rng(0)
    a, b, v = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(4)
    ours, theirs = sg.tensor(a), torch.tensor(a)
    close(ours.mm(sg.tensor(b)), theirs.mm(torch.tensor(b)))
    close(ours.mv(sg.tensor(v)), theirs.mv(torch.tensor(v)))
    close(sg.tensor(v).dot(sg.tensor(v)), torch.tensor(v).dot(torch.tensor(v)))
    close(sg.tensor(v).outer(sg.tensor(v)), torch.tensor(v).outer(torch.tensor(v)))


# ---------------------------------------------------------------- norm

NORM_CASES = [{}, {"p": 2}, {"p": "fro"}, {"p": 1}, {"p": 3}, {"p": 0.5}, {"p": float("inf")},
              {"p": float("-inf")}, {"p": 2, "dim": 1}, {"p": 1, "dim": 0, "keepdim": True},
              {"p": "fro", "dim": (0, 1)}, {"p": float("inf"), "dim": -1}]


@pytest.mark.parametrize("kwargs", NORM_CASES, ids=str)
def test_norm_values_and_gradients_are_pytorchs(kwargs):
    """Including rows of zeros, where PyTorch's gradient is 0 (not 0/0), and ties for inf."""
    values = np.array([[3.0, -4.0, 0.0], [0.0, 0.0, 0.0], [1.0, -1.0, 1.0]])
    for array in (values, np.random.default_rng(0).standard_normal((4, 3))):
        x, tx = leaf(array), tleaf(array)
        y, ty = x.norm(**kwargs), tx.norm(**kwargs)
        close(y, ty)
        y.sum().backward()
        ty.sum().backward()
        close(x.grad, tx.grad)
        close(sg.norm(sg.tensor(array), **kwargs), torch.norm(torch.tensor(array), **kwargs))


def test_norm_gradcheck_and_zero_count():
    x = leaf(np.random.default_rng(1).standard_normal((3, 4)))
    assert sg.gradcheck(lambda t: t.norm(), (x,))
    assert sg.gradcheck(lambda t: t.norm(p=3, dim=1), (x,))
    close(sg.tensor([0.0, 2.0, -1.0]).norm(p=0), torch.tensor([0.0, 2.0, -1.0]).norm(p=0))
    with pytest.raises(NotImplementedError):
        sg.ones(2, 2).norm(p="nuc")
