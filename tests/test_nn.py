"""sg.nn (API.md "Neural networks"): modules, state dicts, layers, initialisation.

PyTorch is the oracle: the same architecture is built with torch.nn and with sg.nn (the
builders below take the library as an argument), torch's weights are copied over with
.detach().numpy(), and outputs and gradients must agree. Losses are in test_nn_losses.py.
"""
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

import scratchgrad as sg
from scratchgrad.nn import functional as F
from scratchgrad.nn import init
from tests.helpers import (
    SG_DTYPES,
    TOLERANCES,
    TORCH_DTYPES,
    close,
    compare_with_torch,
    names,
    randomize,
    torch_state_as_numpy,
    uniform_bins_ok,
)

# ---------------------------------------------------------------- architectures for both libraries


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def custom_net(lib):
    """Nested custom modules, ModuleList, an own Parameter assigned after the submodules,
    persistent and non-persistent buffers, LayerNorm, Embedding, named Sequential."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.norm = nn.LayerNorm(width)
            self.fc = nn.Linear(width, width)
            self.act = nn.GELU()

        def forward(self, x):
            return x + self.act(self.fc(self.norm(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4, padding_idx=0)
            self.blocks = nn.ModuleList([Block(4), Block(4)])
            self.head = nn.Sequential(OrderedDict([
                ("proj", nn.Linear(4, 3, bias=False)),
                ("out", nn.LogSoftmax(dim=-1)),
            ]))
            self.scale = nn.Parameter(lib.ones(4))
            self.register_buffer("offset", lib.zeros(4))
            self.register_buffer("cache", lib.zeros(2), persistent=False)

        def forward(self, idx):
            h = self.emb(idx) * self.scale + self.offset
            for block in self.blocks:
                h = block(h)
            return self.head(h)

    return Net()


def tied_net(lib):
    """An output layer that reuses the embedding's weight (weight tying)."""
    nn = lib.nn

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.out = nn.Linear(3, 5, bias=False)
            self.out.weight = self.emb.weight

        def forward(self, idx):
            return self.out(self.emb(idx))

    return Tied()


def shared_module_net(lib):
    """The same Linear registered under two names."""
    nn = lib.nn

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = self.a

        def forward(self, x):
            return self.b(self.a(x))

    return Shared()


ARCHITECTURES = {
    "mlp": mlp,
    "custom": custom_net,
    "tied": tied_net,
    "shared": shared_module_net,
    "layernorm": lambda lib: lib.nn.LayerNorm((2, 3)),
    "embedding": lambda lib: lib.nn.Embedding(7, 2, padding_idx=3),
}


# ---------------------------------------------------------------- registration


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_named_parameters_match_torch(arch):
    smod, tmod = ARCHITECTURES[arch](sg), ARCHITECTURES[arch](torch)
    assert names(smod) == names(tmod)
    assert [tuple(p.shape) for p in smod.parameters()] == [tuple(p.shape) for p in tmod.parameters()]
    assert all(isinstance(p, sg.nn.Parameter) for p in smod.parameters())


def test_parameter_names_in_definition_order_own_first():
    smod = custom_net(sg)
    assert names(smod)[:4] == ["scale", "emb.weight", "blocks.0.norm.weight", "blocks.0.norm.bias"]
    assert names(mlp(sg)) == ["0.weight", "0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_modules_and_children_match_torch(arch):
    smod, tmod = ARCHITECTURES[arch](sg), ARCHITECTURES[arch](torch)
    assert [type(m).__name__ for m in smod.modules()] == [type(m).__name__ for m in tmod.modules()]
    assert [type(m).__name__ for m in smod.children()] == [type(m).__name__ for m in tmod.children()]
    assert [n for n, _ in smod.named_modules()] == [n for n, _ in tmod.named_modules()]


def test_plain_tensors_and_attributes_do_not_register():
    class Net(sg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = sg.nn.Parameter(sg.ones(3))
            self.constant = sg.ones(3, requires_grad=True)
            self.width = 3
            self.layers = [sg.nn.Linear(2, 2)]  # a plain list hides modules, as in PyTorch

    net = Net()
    assert names(net) == ["w"]
    assert list(net.state_dict()) == ["w"]
    assert net.width == 3
    assert net.constant.shape == (3,)


def test_reassigning_replaces():
    class Net(sg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = sg.nn.Linear(2, 2)
            self.w = sg.nn.Parameter(sg.zeros(2))

    net = Net()
    net.fc = sg.nn.Linear(2, 6, bias=False)
    assert names(net) == ["w", "fc.weight"]
    assert net.fc.weight.shape == (6, 2)
    net.fc = sg.nn.Parameter(sg.ones(1))  # a module slot can become a parameter
    assert names(net) == ["w", "fc"]
    assert list(net.children()) == []
    net.w = None  # None empties a parameter slot, as in PyTorch
    assert net.w is None
    assert names(net) == ["fc"]
    del net.fc
    assert names(net) == []


def test_reassigning_keeps_the_position_like_torch():
    def reassign(lib):
        net = mlp(lib)
        net.add_module("0", lib.nn.Linear(3, 5))
        net[2].weight = lib.nn.Parameter(lib.zeros(2, 5))
        return net

    snet, tnet = reassign(sg), reassign(torch)
    assert names(tnet) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert names(snet) == names(tnet)
    assert list(snet.state_dict()) == list(tnet.state_dict())
    assert [type(m).__name__ for m in snet] == ["Linear", "ReLU", "Linear"]
    assert snet[0].weight.shape == (5, 3)
    assert snet(sg.ones(4, 3)).shape == (4, 2)  # still applied in order


def test_assigning_a_plain_tensor_to_a_parameter_slot_raises_type_error():
    # torch: "cannot assign 'torch.FloatTensor' as parameter 'weight' (torch.nn.Parameter or
    # None expected)". Silently unregistering the weight would stop it from training.
    with pytest.raises(TypeError):
        torch.nn.Linear(2, 2).weight = torch.ones(2, 2)
    layer = sg.nn.Linear(2, 2)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = sg.ones(2, 2)


def test_assigning_a_non_module_to_a_module_slot_raises_type_error():
    with pytest.raises(TypeError):
        shared_module_net(torch).a = 3
    net = mlp(sg)
    with pytest.raises(TypeError):
        setattr(net, "0", 3)


def test_parameter_wraps_a_tensor_as_a_trainable_leaf():
    data = sg.tensor([[1.0, 2.0], [3.0, 4.0]])
    p = sg.nn.Parameter(data)
    assert isinstance(p, sg.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p.dtype == sg.float32
    np.testing.assert_array_equal(p.detach().numpy(), data.detach().numpy())
    assert repr(p).startswith("Parameter containing:")
    assert not sg.nn.Parameter(data, requires_grad=False).requires_grad
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.detach().numpy(), 2 * data.detach().numpy())


def test_requires_grad_freezes_parameters():
    net = mlp(sg)
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net[2].requires_grad_(True)
    assert [p.requires_grad for p in net.parameters()] == [False, False, True, True]


def test_sequential_indexing_slicing_and_append_like_torch():
    def build(lib):
        nn = lib.nn
        seq = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4))
        seq.append(nn.Linear(4, 2))
        return seq

    sseq, tseq = build(sg), build(torch)
    assert len(sseq) == len(tseq) == 4
    assert isinstance(sseq[-1], sg.nn.Linear) and sseq[-1].out_features == 2
    assert [type(m).__name__ for m in sseq] == [type(m).__name__ for m in tseq]
    assert names(sseq) == names(tseq)
    tail_s, tail_t = sseq[1:], tseq[1:]
    assert isinstance(tail_s, sg.nn.Sequential)
    assert tail_s[1] is sseq[2]  # the same modules, not copies
    assert names(tail_s) == names(tail_t)  # torch keeps the original keys: "2.weight", ...
    assert tail_s(sg.ones(5, 4)).shape == (5, 2)


def test_sequential_from_ordered_dict():
    net = sg.nn.Sequential(OrderedDict([("hidden", sg.nn.Linear(3, 4)), ("act", sg.nn.ReLU()),
                                        ("out", sg.nn.Linear(4, 1))]))
    assert names(net) == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert net.hidden is net[0]
    assert net(sg.ones(2, 3)).shape == (2, 1)


def test_module_list_registers():
    class Net(sg.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = sg.nn.ModuleList([sg.nn.Linear(2, 3), sg.nn.Linear(3, 1, bias=False)])
            self.layers.append(sg.nn.LayerNorm(1))

    net = Net()
    assert names(net) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                          "layers.2.weight", "layers.2.bias"]
    assert len(net.layers) == 3
    assert isinstance(net.layers[1], sg.nn.Linear)
    assert [type(m).__name__ for m in net.layers] == ["Linear", "Linear", "LayerNorm"]


def test_shared_parameters_counted_once_and_gradients_accumulate():
    smod, tmod = tied_net(sg), tied_net(torch)
    assert len(list(smod.parameters())) == 1
    assert smod.out.weight is smod.emb.weight
    idx = np.array([[0, 1, 4], [4, 4, 2]])
    compare_with_torch(smod, tmod, idx)
    shared = shared_module_net(sg)
    assert names(shared) == ["a.weight", "a.bias"]
    assert len(list(shared.parameters())) == 2


def test_zero_grad():
    net = mlp(sg)
    net(sg.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    for p in net.parameters():
        assert p.grad.shape == p.shape
        assert not p.grad.detach().numpy().any()
    net(sg.randn(5, 3)).sum().backward()
    net.zero_grad()  # PyTorch 2's default: set_to_none=True
    assert all(p.grad is None for p in net.parameters())


def test_train_eval_propagate_and_change_dropout():
    net = sg.nn.Sequential(sg.nn.Linear(4, 4), sg.nn.Sequential(sg.nn.Dropout(0.5)))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = sg.randn(50, 4)
    sg.manual_seed(0)
    assert np.array_equal(net(x).detach().numpy(), net(x).detach().numpy())  # eval: deterministic
    net.train()
    assert all(m.training for m in net.modules())
    hidden = net[0](x)
    assert (net[1](hidden).detach().numpy() == 0).mean() > 0.3  # train: dropout active
    net.train(False)
    assert not net[1][0].training


def test_assigning_before_super_init_is_a_clear_error():
    class Early(sg.nn.Module):
        def __init__(self):
            self.fc = sg.nn.Linear(2, 2)
            super().__init__()

    with pytest.raises(AttributeError, match=r"__init__"):
        Early()

    class EarlyParameter(sg.nn.Module):
        def __init__(self):
            self.w = sg.nn.Parameter(sg.ones(2))
            super().__init__()

    with pytest.raises(AttributeError, match=r"__init__"):
        EarlyParameter()


def test_plain_attribute_before_super_init_is_allowed_like_torch():
    # PyTorch only refuses Parameters, Modules and buffers before Module.__init__().
    def make(lib):
        class Early(lib.nn.Module):
            def __init__(self):
                self.width = 4
                super().__init__()
                self.fc = lib.nn.Linear(self.width, 2)

        return Early()

    assert make(torch).width == 4
    net = make(sg)
    assert net.width == 4
    assert names(net) == ["fc.weight", "fc.bias"]


def test_register_buffer():
    class Net(sg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = sg.nn.Linear(2, 2)
            self.register_buffer("running", sg.zeros(2))
            self.register_buffer("steps", sg.tensor(0))
            self.register_buffer("scratch", sg.ones(3), persistent=False)

    net = Net()
    assert names(net) == ["fc.weight", "fc.bias"]
    assert [n for n, _ in net.named_buffers()] == ["running", "steps", "scratch"]
    assert list(net.state_dict()) == ["running", "steps", "fc.weight", "fc.bias"]
    net.running = sg.ones(2)  # reassigning keeps it a buffer
    assert net.state_dict()["running"].tolist() == [1.0, 1.0]
    net.double()
    assert net.running.dtype == sg.float64
    assert net.scratch.dtype == sg.float64
    assert net.steps.dtype == sg.int64  # only floating-point state changes dtype


def test_apply_visits_children_first_in_torch_order():
    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Sequential(nn.ReLU(), nn.Tanh()), nn.Sigmoid(), nn.Linear(2, 2))

    def visit(net):
        order = []
        assert net.apply(lambda m: order.append(type(m).__name__)) is net
        return order

    expected = visit(build(torch))
    assert expected == ["ReLU", "Tanh", "Sequential", "Sigmoid", "Linear", "Sequential"]
    assert visit(build(sg)) == expected


def test_apply_initialises_weights():
    net = mlp(sg)

    def init_weights(m):
        if isinstance(m, sg.nn.Linear):
            init.constant_(m.weight, 0.5)
            init.zeros_(m.bias)

    net.apply(init_weights)
    assert np.all(net[0].weight.detach().numpy() == 0.5)
    assert np.all(net[2].bias.detach().numpy() == 0)


@pytest.mark.parametrize("build", [
    mlp,
    lambda lib: lib.nn.Sequential(
        lib.nn.Flatten(), lib.nn.Linear(6, 4, bias=False), lib.nn.LayerNorm(4), lib.nn.GELU(),
        lib.nn.Sequential(lib.nn.Tanh(), lib.nn.Sigmoid(), lib.nn.Identity()),
        lib.nn.LeakyReLU(0.2), lib.nn.Embedding(3, 2, padding_idx=1), lib.nn.Softmax(dim=1),
        lib.nn.LogSoftmax(dim=-1), lib.nn.GELU(approximate="tanh"),
        lib.nn.LayerNorm((2, 3), eps=1e-3, elementwise_affine=False),
    ),
], ids=["mlp", "every-layer"])
def test_repr_matches_torch(build):
    assert repr(build(sg)) == repr(build(torch))


def test_dropout_repr_names_p():
    assert "p=0.25" in repr(sg.nn.Dropout(0.25))


# ---------------------------------------------------------------- dtype conversion


def test_double_float_to():
    net = mlp(sg)
    params = list(net.parameters())
    assert all(p.dtype == sg.float32 for p in params)
    assert net.double() is net
    assert [p for p in net.parameters()] == params  # same Parameter objects (optimisers hold them)
    assert all(p.dtype == sg.float64 for p in net.parameters())
    assert net(sg.randn(2, 3, dtype=sg.float64)).dtype == sg.float64
    assert net.float() is net
    assert all(p.dtype == sg.float32 for p in net.parameters())
    assert net.to(sg.float64) is net
    assert all(p.dtype == sg.float64 for p in net.parameters())
    out = net(sg.randn(2, 3, dtype=sg.float64))
    out.sum().backward()
    assert all(p.grad.dtype == sg.float64 for p in net.parameters())


def test_double_converts_existing_gradients_like_torch():
    tmod = torch.nn.Linear(2, 2)
    tmod.weight.grad = torch.ones(2, 2)
    tmod.double()
    assert tmod.weight.grad.dtype == torch.float64
    smod = sg.nn.Linear(2, 2)
    smod(sg.ones(1, 2)).sum().backward()
    before = smod.weight.grad.detach().numpy().copy()
    smod.double()
    assert smod.weight.grad is not None
    assert smod.weight.grad.dtype == sg.float64
    np.testing.assert_array_equal(smod.weight.grad.detach().numpy(), before)


# ---------------------------------------------------------------- state_dict / load_state_dict


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_state_dict_keys_match_torch(arch):
    smod, tmod = ARCHITECTURES[arch](sg), ARCHITECTURES[arch](torch)
    sd = smod.state_dict()
    assert list(sd) == list(tmod.state_dict())
    for key, value in tmod.state_dict().items():
        assert sd[key].shape == tuple(value.shape), key


def test_state_dict_values_are_detached_and_share_memory():
    net = mlp(sg)
    sd = net.state_dict()
    assert all(not v.requires_grad and v.grad_fn is None for v in sd.values())
    np.testing.assert_array_equal(sd["0.weight"].detach().numpy(), net[0].weight.detach().numpy())
    init.constant_(net[0].weight, 2.0)  # in place, as torch.nn.init does
    assert np.all(sd["0.weight"].detach().numpy() == 2.0)


def test_state_dict_round_trip():
    sg.manual_seed(0)
    a = custom_net(sg)
    sg.manual_seed(1)
    b = custom_net(sg)
    idx = sg.tensor([[1, 2, 0], [9, 9, 3]])
    assert not np.allclose(a(idx).detach().numpy(), b(idx).detach().numpy())
    keep = b.emb.weight
    result = b.load_state_dict(a.state_dict())
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    assert b.emb.weight is keep  # loading copies into the existing Parameters
    assert b.emb.weight.requires_grad
    np.testing.assert_array_equal(a(idx).detach().numpy(), b(idx).detach().numpy())
    init.constant_(a.emb.weight, 7.0)  # the copy is independent of its source
    assert not np.any(b.emb.weight.detach().numpy() == 7.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_loads_torch_state_dict_and_matches_torch(dtype):
    torch.manual_seed(0)
    smod, tmod = custom_net(sg), custom_net(torch)
    with torch.no_grad():  # make LayerNorm's weights and the buffer non-trivial
        for p in tmod.parameters():
            p.add_(torch.randn_like(p) * 0.3)
        tmod.offset.normal_()
    compare_with_torch(smod, tmod, np.array([[1, 2, 0, 5], [9, 9, 3, 0]]), dtype)
    close(smod.offset, tmod.offset, *TOLERANCES[dtype])


def test_load_casts_to_the_model_dtype():
    net = mlp(sg)
    sd = {k: np.full(v.shape, 0.1, dtype=np.float64) for k, v in net.state_dict().items()}
    net.load_state_dict(sd)
    assert all(p.dtype == sg.float32 for p in net.parameters())
    np.testing.assert_allclose(net[0].weight.detach().numpy(), 0.1, rtol=1e-7)


def test_load_strict_false_returns_missing_and_unexpected():
    net = mlp(sg)
    sd = torch_state_as_numpy(mlp(torch))
    del sd["2.bias"]
    sd["3.weight"] = np.zeros((2, 2))
    result = net.load_state_dict(sd, strict=False)
    assert list(result.missing_keys) == ["2.bias"]
    assert list(result.unexpected_keys) == ["3.weight"]
    assert result == (result.missing_keys, result.unexpected_keys)
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), sd["0.weight"])  # the rest was loaded


def snapshot(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def assert_unchanged(module, before):
    after = snapshot(module)
    assert list(after) == list(before)
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])


@pytest.mark.parametrize("strict", [True, False])
def test_mis_shaped_key_raises_naming_key_and_shapes(strict):
    net = mlp(sg)
    before = snapshot(net)
    sd = {k: np.ones(v.shape) for k, v in before.items()}
    sd["2.weight"] = np.ones((5, 4))
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd, strict=strict)
    assert isinstance(info.value, sg.nn.StateDictError)
    message = str(info.value)
    assert "2.weight" in message and "(5, 4)" in message and "(2, 4)" in message
    assert_unchanged(net, before)  # 0.weight etc. were valid, yet nothing was copied


def test_missing_key_raises_naming_it_and_changes_nothing():
    net = mlp(sg)
    before = snapshot(net)
    sd = {k: np.ones(v.shape) for k, v in before.items()}
    del sd["0.bias"]
    with pytest.raises(sg.nn.StateDictError, match=r"0\.bias") as info:
        net.load_state_dict(sd)
    assert isinstance(info.value, RuntimeError)
    assert "missing" in str(info.value).lower()
    assert_unchanged(net, before)


def test_unexpected_key_raises_naming_it_and_changes_nothing():
    net = mlp(sg)
    before = snapshot(net)
    sd = {k: np.ones(v.shape) for k, v in before.items()}
    sd["extra.weight"] = np.ones(3)
    with pytest.raises(sg.nn.StateDictError, match=r"extra\.weight") as info:
        net.load_state_dict(sd)
    assert "unexpected" in str(info.value).lower()
    assert_unchanged(net, before)


def test_torch_rejects_the_same_state_dicts():
    """The oracle agrees that the three bad state dicts above are errors."""
    tmod = mlp(torch)
    good = tmod.state_dict()
    for bad in (
        {**good, "2.weight": torch.ones(5, 4)},
        {k: v for k, v in good.items() if k != "0.bias"},
        {**good, "extra.weight": torch.ones(3)},
    ):
        with pytest.raises(RuntimeError):
            tmod.load_state_dict(bad)


# ---------------------------------------------------------------- layers vs PyTorch


def act_mlp(make_act):
    return lambda lib: lib.nn.Sequential(lib.nn.Linear(5, 8), make_act(lib.nn), lib.nn.Linear(8, 3))


LAYER_CASES = {
    "linear-1d": (lambda lib: lib.nn.Linear(4, 3), (4,)),
    "linear-2d": (lambda lib: lib.nn.Linear(4, 3), (5, 4)),
    "linear-3d": (lambda lib: lib.nn.Linear(4, 3), (2, 5, 4)),
    "linear-nobias-1d": (lambda lib: lib.nn.Linear(4, 3, bias=False), (4,)),
    "linear-nobias-2d": (lambda lib: lib.nn.Linear(4, 3, bias=False), (5, 4)),
    "linear-nobias-3d": (lambda lib: lib.nn.Linear(4, 3, bias=False), (2, 5, 4)),
    "layernorm-1": (lambda lib: lib.nn.LayerNorm(4), (3, 4)),
    "layernorm-1-on-3d": (lambda lib: lib.nn.LayerNorm(4), (2, 3, 4)),
    "layernorm-2": (lambda lib: lib.nn.LayerNorm((3, 4)), (2, 3, 4)),
    "layernorm-no-affine": (lambda lib: lib.nn.LayerNorm(4, elementwise_affine=False), (3, 4)),
    "layernorm-2-no-affine": (lambda lib: lib.nn.LayerNorm([3, 4], elementwise_affine=False),
                              (2, 3, 4)),
    "layernorm-no-bias": (lambda lib: lib.nn.LayerNorm(4, bias=False), (3, 4)),
    "layernorm-eps": (lambda lib: lib.nn.LayerNorm(4, eps=0.1), (3, 4)),
    "flatten": (lambda lib: lib.nn.Flatten(), (2, 3, 4, 5)),
    "flatten-0": (lambda lib: lib.nn.Flatten(0), (2, 3, 4)),
    "flatten-1-2": (lambda lib: lib.nn.Flatten(1, 2), (2, 3, 4, 5)),
    "relu": (lambda lib: lib.nn.ReLU(), (4, 5)),
    "tanh": (lambda lib: lib.nn.Tanh(), (4, 5)),
    "sigmoid": (lambda lib: lib.nn.Sigmoid(), (4, 5)),
    "identity": (lambda lib: lib.nn.Identity(), (4, 5)),
    "gelu": (lambda lib: lib.nn.GELU(), (4, 5)),
    "gelu-tanh": (lambda lib: lib.nn.GELU(approximate="tanh"), (4, 5)),
    "leaky-relu": (lambda lib: lib.nn.LeakyReLU(), (4, 5)),
    "leaky-relu-0.2": (lambda lib: lib.nn.LeakyReLU(0.2), (4, 5)),
    "softmax-0": (lambda lib: lib.nn.Softmax(dim=0), (3, 4, 5)),
    "softmax-1": (lambda lib: lib.nn.Softmax(dim=1), (3, 4, 5)),
    "softmax-last": (lambda lib: lib.nn.Softmax(dim=-1), (3, 4, 5)),
    "log-softmax-0": (lambda lib: lib.nn.LogSoftmax(dim=0), (3, 4, 5)),
    "log-softmax-1": (lambda lib: lib.nn.LogSoftmax(dim=1), (3, 4, 5)),
    "log-softmax-last": (lambda lib: lib.nn.LogSoftmax(dim=-1), (3, 4, 5)),
    "mlp-relu": (act_mlp(lambda nn: nn.ReLU()), (6, 5)),
    "mlp-tanh": (act_mlp(lambda nn: nn.Tanh()), (6, 5)),
    "mlp-sigmoid": (act_mlp(lambda nn: nn.Sigmoid()), (6, 5)),
    "mlp-gelu": (act_mlp(lambda nn: nn.GELU()), (6, 5)),
    "mlp-gelu-tanh": (act_mlp(lambda nn: nn.GELU(approximate="tanh")), (6, 5)),
    "mlp-leaky-relu": (act_mlp(lambda nn: nn.LeakyReLU(0.1)), (6, 5)),
    "mlp-softmax": (act_mlp(lambda nn: nn.Softmax(dim=-1)), (6, 5)),
    "mlp-log-softmax": (act_mlp(lambda nn: nn.LogSoftmax(dim=1)), (6, 5)),
    "mlp-identity": (act_mlp(lambda nn: nn.Identity()), (6, 5)),
    "mlp-deep": (lambda lib: lib.nn.Sequential(
        lib.nn.Flatten(), lib.nn.Linear(12, 8), lib.nn.LayerNorm(8), lib.nn.GELU(),
        lib.nn.Linear(8, 8, bias=False), lib.nn.Tanh(), lib.nn.Dropout(0.3),
        lib.nn.Linear(8, 2), lib.nn.LogSoftmax(dim=1)), (4, 3, 4)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_matches_torch(case, dtype):
    build, shape = LAYER_CASES[case]
    smod, tmod = build(sg), build(torch)
    smod.eval()  # dropout (in mlp-deep) off in both
    tmod.eval()
    randomize(tmod)
    x = np.random.default_rng(1).standard_normal(shape) * 2
    x.flat[0] = 0.0  # the kink of relu / leaky_relu: PyTorch's gradient there is the left one
    compare_with_torch(smod, tmod, x, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("padding_idx", [None, 0, 2, -1])
@pytest.mark.parametrize("shape", [(), (6,), (2, 5)])
def test_embedding_matches_torch(padding_idx, shape, dtype):
    idx = np.random.default_rng(2).integers(0, 6, size=shape)
    if idx.ndim:
        idx.flat[:3] = [2, 5, 2]  # padding row 2 (and -1 = 5) used, row 2 repeated
    smod = sg.nn.Embedding(6, 3, padding_idx=padding_idx)
    tmod = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    randomize(tmod)  # the padding row too: forward still returns it, as in PyTorch
    compare_with_torch(smod, tmod, idx, dtype)


def test_embedding_padding_row_zero_gradient_and_repeats_accumulate():
    emb = sg.nn.Embedding(5, 2, padding_idx=1).double()
    idx = sg.tensor([[1, 3, 3], [3, 1, 0]])
    upstream = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    emb(idx).backward(sg.tensor(upstream))
    grad = emb.weight.grad.detach().numpy()
    np.testing.assert_array_equal(grad[1], [0, 0])  # padding row
    np.testing.assert_array_equal(grad[3], upstream[0, 1] + upstream[0, 2] + upstream[1, 0])
    np.testing.assert_array_equal(grad[0], upstream[1, 2])
    np.testing.assert_array_equal(grad[[2, 4]], 0)


def test_embedding_init_zeroes_padding_row():
    emb = sg.nn.Embedding(4, 3, padding_idx=-2)
    assert emb.padding_idx == torch.nn.Embedding(4, 3, padding_idx=-2).padding_idx == 2
    assert not emb.weight.detach().numpy()[2].any()
    assert np.all(emb.weight.detach().numpy()[[0, 1, 3]] != 0)


@pytest.mark.parametrize("freeze", [True, False])
def test_embedding_from_pretrained_like_torch(freeze):
    table = np.arange(6.0).reshape(3, 2)
    weights = sg.tensor(table)
    emb = sg.nn.Embedding.from_pretrained(weights, freeze=freeze, padding_idx=1)
    temb = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=freeze, padding_idx=1)
    assert emb.weight.requires_grad == temb.weight.requires_grad == (not freeze)
    assert emb.padding_idx == temb.padding_idx == 1
    indices = [[0, 1], [2, 1]]
    close(emb(sg.tensor(indices)), temb(torch.tensor(indices)))  # padding row kept as is
    weights[0, 0] = 9.0  # the table is shared, not copied (as in PyTorch)
    assert emb.weight[0, 0].item() == 9.0
    with pytest.raises(AssertionError):
        torch.nn.Embedding.from_pretrained(torch.ones(3))
    with pytest.raises(AssertionError, match="embeddings must be 2-D"):
        sg.nn.Embedding.from_pretrained(sg.ones(3))


@pytest.mark.parametrize("bad", [[0, 4], [-1], [[1, 2], [7, 0]]])
def test_embedding_index_out_of_range_raises_index_error(bad):
    with pytest.raises(IndexError):
        torch.nn.Embedding(4, 2)(torch.tensor(bad))
    with pytest.raises(IndexError):
        sg.nn.Embedding(4, 2)(sg.tensor(bad))


def test_embedding_float_indices_rejected():
    with pytest.raises((TypeError, RuntimeError)):
        sg.nn.Embedding(4, 2)(sg.tensor([0.0, 1.0]))


def test_layernorm_shape_mismatch_names_shapes():
    with pytest.raises(RuntimeError):
        torch.nn.LayerNorm(5)(torch.ones(2, 4))
    with pytest.raises((RuntimeError, ValueError), match=r"\(5,\).*\(2, 4\)|\(2, 4\).*\(5,\)"):
        sg.nn.LayerNorm(5)(sg.ones(2, 4))


def test_layernorm_normalises():
    x = sg.randn(3, 10, dtype=sg.float64) * 5 + 3
    y = sg.nn.LayerNorm(10, elementwise_affine=False)(x).detach().numpy()
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-5)


# ---------------------------------------------------------------- dropout


def test_dropout_eval_is_identity():
    drop = sg.nn.Dropout(0.7).eval()
    x = sg.randn(4, 5, requires_grad=True)
    y = drop(x)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), np.ones((4, 5)))
    np.testing.assert_array_equal(F.dropout(x, 0.7, training=False).detach().numpy(), x.detach().numpy())


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_train_statistics(p, dtype):
    sg.manual_seed(123)
    x = sg.ones(200, 500, dtype=SG_DTYPES[dtype], requires_grad=True)
    y = sg.nn.Dropout(p)(x)
    assert y.dtype == SG_DTYPES[dtype]
    values = y.detach().numpy()
    zeros = values == 0
    # 100 000 Bernoulli(p) draws: the zero fraction is within 5 standard deviations of p.
    assert abs(zeros.mean() - p) < 5 * math.sqrt(p * (1 - p) / values.size)
    np.testing.assert_allclose(values[~zeros], 1 / (1 - p), rtol=1e-6)
    np.testing.assert_allclose(values.mean(), 1.0, atol=0.02)  # expectation preserved
    y.backward(sg.full((200, 500), 2.0, dtype=SG_DTYPES[dtype]))
    np.testing.assert_allclose(x.grad.detach().numpy(), values * 2, rtol=1e-6)  # same mask, same scale


def test_dropout_repeatable_with_seed():
    x = sg.ones(50, 50)
    sg.manual_seed(7)
    a = F.dropout(x, 0.5).detach().numpy().copy()
    sg.manual_seed(7)
    b = F.dropout(x, 0.5).detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.5).detach().numpy())


def test_dropout_p0_and_p1():
    x = sg.randn(30, 30, requires_grad=True)
    np.testing.assert_array_equal(sg.nn.Dropout(0.0)(x).detach().numpy(), x.detach().numpy())
    y = sg.nn.Dropout(1.0)(x)
    assert y.shape == x.shape
    np.testing.assert_array_equal(y.detach().numpy(), np.zeros((30, 30)))  # no NaN from 1/(1-p)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.detach().numpy(), np.zeros((30, 30)))
    t = torch.nn.Dropout(1.0)(torch.randn(3, 3))
    assert not t.any()


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_bad_probability(p):
    with pytest.raises(ValueError):
        torch.nn.Dropout(p)
    with pytest.raises(ValueError, match=str(p)):
        sg.nn.Dropout(p)
    with pytest.raises(ValueError):
        F.dropout(sg.ones(3), p)


# ---------------------------------------------------------------- default initialisation


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_default_parameters_dtype_and_flags(arch):
    smod, tmod = ARCHITECTURES[arch](sg), ARCHITECTURES[arch](torch)
    for (name, p), (_, q) in zip(smod.named_parameters(), tmod.named_parameters(), strict=True):
        assert p.dtype == sg.float32, name
        assert q.dtype == torch.float32
        assert p.requires_grad and p.is_leaf and p.grad is None, name


def test_linear_default_init_is_uniform_within_bound():
    sg.manual_seed(0)
    layer = sg.nn.Linear(300, 400)
    bound = 1 / math.sqrt(300)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.shape == (400, 300) and b.shape == (400,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # fills the range: not a narrower distribution
    assert uniform_bins_ok(w.ravel(), -bound, bound)
    assert uniform_bins_ok(b, -bound, bound, bins=4)
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.01)
    # the same bounds torch uses
    t = torch.nn.Linear(300, 400)
    assert t.weight.abs().max().item() <= bound and t.bias.abs().max().item() <= bound


def test_embedding_default_init_standard_normal():
    sg.manual_seed(0)
    w = sg.nn.Embedding(1000, 100).weight.detach().numpy()
    assert w.shape == (1000, 100) and w.dtype == np.float32
    np.testing.assert_allclose(w.mean(), 0, atol=0.02)
    np.testing.assert_allclose(w.std(), 1, rtol=0.02)
    assert (np.abs(w) < 1).mean() == pytest.approx(0.6827, abs=0.01)


def test_layernorm_default_init():
    norm = sg.nn.LayerNorm((2, 3))
    assert norm.weight.shape == norm.bias.shape == (2, 3)
    np.testing.assert_array_equal(norm.weight.detach().numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(norm.bias.detach().numpy(), np.zeros((2, 3)))
    assert norm.weight.dtype == sg.float32
    assert names(sg.nn.LayerNorm(3, elementwise_affine=False)) == []
    assert names(sg.nn.LayerNorm(3, bias=False)) == names(torch.nn.LayerNorm(3, bias=False))


def test_layers_honour_dtype_argument():
    assert sg.nn.Linear(2, 3, dtype=sg.float64).weight.dtype == sg.float64
    assert sg.nn.Linear(2, 3, dtype=sg.float64).bias.dtype == sg.float64
    assert sg.nn.Embedding(4, 2, dtype=sg.float64).weight.dtype == sg.float64
    assert sg.nn.LayerNorm(4, dtype=sg.float64).weight.dtype == sg.float64


def test_seed_makes_models_repeatable():
    sg.manual_seed(42)
    a = custom_net(sg).state_dict()
    sg.manual_seed(42)
    b = custom_net(sg).state_dict()
    sg.manual_seed(43)
    c = custom_net(sg).state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key].detach().numpy(), b[key].detach().numpy())
    assert not np.array_equal(a["emb.weight"].detach().numpy(), c["emb.weight"].detach().numpy())
    assert not np.array_equal(a["blocks.0.fc.weight"].detach().numpy(), a["blocks.1.fc.weight"].detach().numpy())


def fresh(*shape, dtype=sg.float32):
    return sg.nn.Parameter(sg.zeros(*shape, dtype=dtype))


GAINS = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
         ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("selu", None)]


@pytest.mark.parametrize("nonlinearity, param", GAINS)
def test_calculate_gain_matches_torch(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-12)


def test_calculate_gain_unknown():
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")


def test_uniform_normal_constant():
    sg.manual_seed(0)
    p = fresh(400, 500)
    assert init.uniform_(p, -2.0, 3.0) is p
    v = p.detach().numpy()
    assert v.min() >= -2.0 and v.max() <= 3.0
    assert uniform_bins_ok(v.ravel(), -2.0, 3.0)
    np.testing.assert_allclose(v.mean(), 0.5, atol=0.01)
    assert init.normal_(p, 1.5, 0.5) is p
    np.testing.assert_allclose(p.detach().numpy().mean(), 1.5, atol=0.005)
    np.testing.assert_allclose(p.detach().numpy().std(), 0.5, rtol=0.01)
    assert init.constant_(p, 0.25) is p
    assert np.all(p.detach().numpy() == 0.25)
    assert np.all(init.ones_(p).detach().numpy() == 1) and not init.zeros_(p).detach().numpy().any()
    assert p.is_leaf and p.requires_grad and p.grad_fn is None and p.dtype == sg.float32


@pytest.mark.parametrize("shape", [(300, 500), (64, 32, 3, 3)])
def test_xavier_and_kaiming_statistics(shape):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    sg.manual_seed(0)
    p = fresh(*shape)

    xavier_bound = 1.5 * math.sqrt(6 / (fan_in + fan_out))
    v = init.xavier_uniform_(p, gain=1.5).detach().numpy()
    assert np.abs(v).max() <= xavier_bound and np.abs(v).max() > 0.99 * xavier_bound
    np.testing.assert_allclose(v.std(), xavier_bound / math.sqrt(3), rtol=0.02)

    v = init.xavier_normal_(p, gain=2.0).detach().numpy()
    np.testing.assert_allclose(v.std(), 2.0 * math.sqrt(2 / (fan_in + fan_out)), rtol=0.02)
    np.testing.assert_allclose(v.mean(), 0, atol=0.01 * v.std())

    v = init.kaiming_uniform_(p).detach().numpy()  # a=0, leaky_relu: gain √2
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.99 * bound

    v = init.kaiming_uniform_(p, a=math.sqrt(5)).detach().numpy()  # Linear's default: 1/√fan_in
    assert np.abs(v).max() <= 1 / math.sqrt(fan_in)
    np.testing.assert_allclose(v.std(), 1 / math.sqrt(3 * fan_in), rtol=0.02)

    v = init.kaiming_uniform_(p, mode="fan_out", nonlinearity="relu").detach().numpy()
    bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.99 * bound

    v = init.kaiming_normal_(p, nonlinearity="relu").detach().numpy()
    np.testing.assert_allclose(v.std(), math.sqrt(2 / fan_in), rtol=0.02)
    v = init.kaiming_normal_(p, a=0.2, mode="fan_out").detach().numpy()
    np.testing.assert_allclose(v.std(), math.sqrt(2 / (1 + 0.04)) / math.sqrt(fan_out), rtol=0.02)


def test_init_keeps_float64():
    p = fresh(50, 40, dtype=sg.float64)
    init.xavier_uniform_(p)
    init.kaiming_normal_(p)
    assert p.dtype == sg.float64


def test_fan_needs_two_dimensions():
    with pytest.raises(ValueError):
        torch.nn.init.xavier_uniform_(torch.zeros(5))
    with pytest.raises(ValueError, match=r"\(5,\)"):
        init.xavier_uniform_(fresh(5))
    with pytest.raises(ValueError, match="fan_sideways"):
        init.kaiming_uniform_(fresh(3, 3), mode="fan_sideways")


def test_init_functions_repeatable_with_seed():
    p, q = fresh(20, 30), fresh(20, 30)
    sg.manual_seed(5)
    init.kaiming_normal_(p)
    sg.manual_seed(5)
    init.kaiming_normal_(q)
    np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


# ---------------------------------------------------------------- functional layers vs PyTorch


def both(values, dtype="float64", requires_grad=True):
    s = sg.tensor(values, dtype=SG_DTYPES[dtype], requires_grad=requires_grad)
    t = torch.tensor(values, dtype=TORCH_DTYPES[dtype], requires_grad=requires_grad)
    return s, t


FUNCTIONAL_CASES = {
    "relu": (lambda f, x: f.relu(x), (3, 4)),
    "tanh": (lambda f, x: f.tanh(x), (3, 4)),
    "sigmoid": (lambda f, x: f.sigmoid(x), (3, 4)),
    "gelu": (lambda f, x: f.gelu(x), (3, 4)),
    "gelu-tanh": (lambda f, x: f.gelu(x, approximate="tanh"), (3, 4)),
    "leaky-relu": (lambda f, x: f.leaky_relu(x, 0.3), (3, 4)),
    "softmax": (lambda f, x: f.softmax(x, dim=0), (3, 4)),
    "log-softmax": (lambda f, x: f.log_softmax(x, dim=1), (3, 4)),
    "layer-norm": (lambda f, x: f.layer_norm(x, (4,), eps=1e-3), (3, 4)),
    "dropout-eval": (lambda f, x: f.dropout(x, 0.5, training=False), (3, 4)),
}


@pytest.mark.parametrize("case", list(FUNCTIONAL_CASES))
def test_functional_matches_torch(case):
    fn, shape = FUNCTIONAL_CASES[case]
    xs, xt = both(np.random.default_rng(3).standard_normal(shape) * 3)
    out_s, out_t = fn(F, xs), fn(torch.nn.functional, xt)
    close(out_s, out_t, *TOLERANCES["float64"])
    upstream = np.random.default_rng(4).standard_normal(shape)
    out_s.backward(sg.tensor(upstream, dtype=sg.float64))
    out_t.backward(torch.tensor(upstream))
    close(xs.grad, xt.grad, *TOLERANCES["float64"])


def test_functional_linear_layer_norm_embedding_with_weights():
    rng = np.random.default_rng(5)
    xs, xt = both(rng.standard_normal((2, 3, 4)))
    ws, wt = both(rng.standard_normal((5, 4)))
    bs, bt = both(rng.standard_normal(5))
    gs, gt = both(rng.standard_normal((3, 4)))
    hs, ht = both(rng.standard_normal((3, 4)))
    tf = torch.nn.functional
    idx = np.array([[0, 4, 4], [1, 2, 0]])
    out_s = (F.linear(xs, ws, bs).sum() + F.layer_norm(xs, (3, 4), gs, hs).sum()
             + (F.embedding(sg.tensor(idx), ws, padding_idx=4) ** 2).sum())
    out_t = (tf.linear(xt, wt, bt).sum() + tf.layer_norm(xt, (3, 4), gt, ht).sum()
             + (tf.embedding(torch.tensor(idx), wt, padding_idx=4) ** 2).sum())
    close(out_s, out_t, *TOLERANCES["float64"])
    out_s.backward()
    out_t.backward()
    for s, t in ((xs, xt), (ws, wt), (bs, bt), (gs, gt), (hs, ht)):
        close(s.grad, t.grad, *TOLERANCES["float64"])


@pytest.mark.parametrize("indices, num_classes", [([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), (2, 4)])
def test_one_hot_matches_torch(indices, num_classes):
    expected = torch.nn.functional.one_hot(torch.tensor(indices), num_classes)
    got = F.one_hot(sg.tensor(indices), num_classes)
    assert got.dtype == sg.int64
    np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())


@pytest.mark.parametrize("indices, num_classes", [([0, 3], 3), ([-1, 0], 3), ([-1, 0], -1)])
def test_one_hot_out_of_range_raises(indices, num_classes):
    with pytest.raises(RuntimeError):
        torch.nn.functional.one_hot(torch.tensor(indices), num_classes)
    with pytest.raises((RuntimeError, ValueError, IndexError)):
        F.one_hot(sg.tensor(indices), num_classes)
