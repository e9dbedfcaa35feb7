"""ModuleDict, ParameterList, ParameterDict, weight tying, Module.to/cpu, zero_grad,
and nn.utils.clip_grad_norm_ / clip_grad_value_, against PyTorch."""
import math

import numpy as np
import pytest
import torch

import scratchgrad as sg
from tests import helpers


def both(build):
    torch.manual_seed(0)
    tmod, smod = build(torch), build(sg)
    smod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    return smod, tmod


# ---------------------------------------------------------------- containers

def dict_net(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(3, 2), "b": lib.nn.Linear(3, 4)})
            self.heads["c"] = lib.nn.Linear(3, 1)
            self.scales = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2)),
                                                lib.nn.Parameter(lib.ones(4))])
            self.scales.append(lib.nn.Parameter(lib.ones(1)))
            self.offsets = lib.nn.ParameterDict({"a": lib.nn.Parameter(lib.zeros(2))})
            self.offsets["b"] = lib.nn.Parameter(lib.zeros(4))
            self.same = lib.nn.Identity()

        def forward(self, x):
            outs = [self.heads[k](self.same(x)) * s for k, s in zip(self.heads, self.scales)]
            outs[0] = outs[0] + self.offsets["a"]
            outs[1] = outs[1] + self.offsets["b"]
            return sum(o.sum() for o in outs)
    return Net()


def test_containers_register_names_and_gradients_as_torch():
    smod, tmod = both(dict_net)
    assert [n for n, _ in smod.named_parameters()] == [n for n, _ in tmod.named_parameters()]
    assert list(smod.state_dict()) == list(tmod.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    out_s, out_t = smod(sg.tensor(x)), tmod(torch.tensor(x))
    helpers.close(out_s, out_t, 1e-5, 1e-5)
    out_s.backward()
    out_t.backward()
    t_params = dict(tmod.named_parameters())
    for name, p in smod.named_parameters():
        helpers.close(p.grad, t_params[name].grad, 1e-5, 1e-5)


def test_module_dict_behaves_as_a_dict():
    d = sg.nn.ModuleDict([("x", sg.nn.ReLU()), ("y", sg.nn.Tanh())])
    assert list(d) == ["x", "y"] and len(d) == 2 and "x" in d
    assert list(d.keys()) == ["x", "y"]
    assert [type(m).__name__ for m in d.values()] == ["ReLU", "Tanh"]
    d.update({"z": sg.nn.Sigmoid()})
    assert [k for k, _ in d.items()] == ["x", "y", "z"]
    assert isinstance(d.pop("y"), sg.nn.Tanh) and list(d) == ["x", "z"]
    del d["x"]
    assert list(d) == ["z"]
    d.update(sg.nn.ModuleDict({"w": sg.nn.ReLU()}))  # another ModuleDict, as PyTorch allows
    assert list(d) == ["z", "w"]
    with pytest.raises(TypeError, match="is not a Module subclass"):
        d["w"] = 3
    with pytest.raises(KeyError):
        d["missing"]


def test_parameter_list_wraps_tensors_and_indexes():
    params = sg.nn.ParameterList([sg.ones(2), sg.nn.Parameter(sg.zeros(3))])
    assert all(isinstance(p, sg.nn.Parameter) and p.requires_grad for p in params)
    assert params[-1].shape == (3,) and len(params[0:1]) == 1
    params[0] = sg.zeros(5)
    assert params[0].shape == (5,)
    assert [n for n, _ in params.named_parameters()] == ["0", "1"]
    with pytest.raises(IndexError):
        params[2]
    tparams = torch.nn.ParameterList([torch.ones(2)])
    assert isinstance(tparams[0], torch.nn.Parameter)  # the behaviour copied


def test_identity_ignores_its_arguments():
    x = sg.ones(2)
    assert sg.nn.Identity(54, unused=0.1)(x) is x
    assert list(sg.nn.Identity().parameters()) == []


def test_parameter_dict():
    params = sg.nn.ParameterDict({"w": sg.ones(2)})
    params.update([("b", sg.zeros(1))])
    assert list(params) == ["w", "b"] and isinstance(params["b"], sg.nn.Parameter)
    assert [n for n, _ in params.named_parameters()] == ["w", "b"]
    assert params.get("missing") is None


# ---------------------------------------------------------------- weight tying

def tied(lib):
    class LM(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.nn.Embedding(7, 4)
            self.head = lib.nn.Linear(4, 7, bias=False)
            self.head.weight = self.embed.weight

        def forward(self, idx):
            return self.head(self.embed(idx).tanh())
    return LM()


def test_weight_tying_as_torch():
    smod, tmod = both(tied)
    assert smod.head.weight is smod.embed.weight
    assert [n for n, _ in smod.named_parameters()] == [n for n, _ in tmod.named_parameters()] \
        == ["embed.weight"]
    assert list(smod.state_dict()) == list(tmod.state_dict()) == ["embed.weight", "head.weight"]
    idx = np.array([[1, 2, 3], [3, 0, 6]])
    out_s, out_t = smod(sg.tensor(idx)), tmod(torch.tensor(idx))
    helpers.close(out_s, out_t, 1e-5, 1e-6)
    out_s.sum().backward()
    out_t.sum().backward()
    helpers.close(smod.embed.weight.grad, tmod.embed.weight.grad, 1e-5, 1e-6)
    assert smod.head.weight.grad is smod.embed.weight.grad
    opt = sg.optim.SGD(smod.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 1


# ---------------------------------------------------------------- to, cpu, zero_grad, buffers

def test_module_to_device_and_dtype():
    net = sg.nn.Sequential(sg.nn.Linear(2, 3), sg.nn.BatchNorm1d(3))
    assert net.to("cpu") is net and net.cpu() is net and net.to(device="cpu:0") is net
    assert net.to("cpu", sg.float64)[0].weight.dtype == sg.float64
    assert net[1].running_mean.dtype == sg.float64
    assert net[1].num_batches_tracked.dtype == sg.int64  # integer buffers keep their dtype
    net.to(dtype=sg.float32)
    assert net[0].weight.dtype == sg.float32
    net.to(sg.zeros(1, dtype=sg.float64))
    assert net[0].bias.dtype == sg.float64
    net.float()
    assert net[0].weight.dtype == sg.float32
    for bad in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match=f"device '{bad}'.*scratchgrad runs on the CPU"):
            net.to(bad)
    with pytest.raises(RuntimeError, match="CPU"):
        net.cuda()
    with pytest.raises(TypeError, match="floating point"):
        net.to(sg.int64)


def test_zero_grad_set_to_none_false_zeroes_in_place():
    net = sg.nn.Linear(2, 2)
    net(sg.ones(1, 2)).sum().backward()
    grad = net.weight.grad
    net.zero_grad(set_to_none=False)
    assert net.weight.grad is grad and (grad.detach().numpy() == 0).all()
    net.zero_grad()
    assert net.weight.grad is None


def test_buffers_in_state_dict_not_in_parameters():
    class Net(sg.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = sg.nn.Linear(2, 2)
            self.register_buffer("mask", sg.ones(2, 2))
            self.register_buffer("cache", sg.zeros(1), persistent=False)

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["lin.weight", "lin.bias"]
    assert [n for n, _ in net.named_buffers()] == ["mask", "cache"]
    assert list(net.state_dict()) == ["mask", "lin.weight", "lin.bias"]  # own entries first, as torch
    assert [n for n, _ in net.named_modules()] == ["", "lin"]
    assert [type(m).__name__ for m in net.children()] == ["Linear"]
    assert not any(p.requires_grad for p in net.requires_grad_(False).parameters())


def _list_edits(lib, cls):
    """Append, extend, insert, set, delete, pop, slice and add on a Sequential or ModuleList:
    the (name, type) of the modules after each step, and the error types of bad edits."""
    nn = lib.nn

    def names(m):
        return [(k, type(v).__name__) for k, v in m._modules.items()]

    modules = [nn.Linear(1, 1), nn.ReLU()]
    m = nn.Sequential(*modules) if cls == "Sequential" else nn.ModuleList(modules)
    m.append(nn.Tanh())
    m.extend([nn.Sigmoid()])
    m.insert(0, nn.Identity())
    out = [names(m)]
    m.insert(2, nn.Tanh())
    m[1] = nn.GELU()
    m[-1] = nn.ReLU()
    out.append(names(m))
    del m[0]
    out.append(names(m))
    del m[1:3]
    out += [names(m), type(m.pop(0)).__name__, names(m), names(m[0:2]), type(m[0:2]).__name__,
            type(m[-1]).__name__, names(m + m)]
    m += getattr(nn, cls)(*([nn.Tanh()] if cls == "Sequential" else [[nn.Tanh()]]))
    out += [names(m), [n for n, _ in m.named_parameters()]]
    for bad in (lambda: m[10], lambda: m.__setitem__(10, nn.ReLU()), lambda: m.__delitem__(-10),
                lambda: m.append(3), lambda: m.extend(nn.Linear(1, 1)), lambda: m + [nn.ReLU()]):
        try:
            bad()
            out.append("ok")
        except Exception as exc:  # noqa: BLE001 (the error's type is what is compared)
            out.append(type(exc).__name__)
    return out


@pytest.mark.parametrize("cls", ["Sequential", "ModuleList"])
def test_sequential_and_module_list_edit_like_python_lists_as_torch(cls):
    assert _list_edits(sg, cls) == _list_edits(torch, cls)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.Linear(1, 1).register_buffer("weight", lib.ones(1)),
    lambda lib: lib.nn.Module().register_buffer("a.b", lib.ones(1)),
    lambda lib: lib.nn.Module().register_buffer("", lib.ones(1)),
    lambda lib: lib.nn.Module().register_buffer("a", 3),
    lambda lib: lib.nn.Module().register_buffer(3, lib.ones(1)),
    lambda lib: lib.nn.ModuleDict({1: lib.nn.ReLU()}),
    lambda lib: lib.nn.ModuleDict({"a.b": lib.nn.ReLU()}),
    lambda lib: lib.nn.ModuleDict({"forward": lib.nn.ReLU()}),
    lambda lib: lib.nn.Module().add_module("a", 3),
    lambda lib: lib.nn.Linear(1, 1).add_module("weight", lib.nn.ReLU()),
])
def test_bad_buffer_and_module_names_raise_like_torch(call):
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(type(want.value)):
        call(sg)


def test_buffers_and_modules_can_be_registered_again():
    m = sg.nn.Module()
    m.register_buffer("a", sg.ones(1))
    m.register_buffer("a", sg.zeros(1))
    m.register_module("b", sg.nn.ReLU())
    m.add_module("b", sg.nn.Tanh())
    assert m.a.tolist() == [0.0] and type(m.b).__name__ == "Tanh"


# ---------------------------------------------------------------- gradient clipping

def grads_pair(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) * scale for s in ((3, 4), (4,), (2, 2))]
    s_params = [sg.nn.Parameter(sg.zeros(*a.shape, dtype=sg.float64)) for a in arrays]
    t_params = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in arrays]
    for sp, tp, a in zip(s_params, t_params, arrays):
        sp.grad = sg.tensor(a.copy())
        tp.grad = torch.tensor(a.copy())
    return s_params, t_params


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    s_params, t_params = grads_pair()
    held = s_params[0].grad  # scaled in place: an alias sees it
    total_s = sg.nn.utils.clip_grad_norm_(s_params, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(t_params, max_norm, norm_type)
    assert isinstance(total_s, sg.Tensor) and total_s.shape == ()
    helpers.close(total_s, total_t, 1e-12, 1e-12)
    assert s_params[0].grad is held
    for sp, tp in zip(s_params, t_params):
        helpers.close(sp.grad, tp.grad, 1e-12, 1e-12)


def test_clip_grad_norm_edge_cases():
    p = sg.nn.Parameter(sg.ones(2))
    assert sg.nn.utils.clip_grad_norm_([p], 1.0).item() == 0  # no gradients at all
    p.grad = sg.tensor([3.0, 4.0])
    assert sg.nn.utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)  # one tensor
    helpers.close(p.grad, np.array([0.6, 0.8]), 1e-5, 1e-6)
    p.grad = sg.tensor([math.nan, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        sg.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isnan(sg.nn.utils.clip_grad_norm_([p], 1.0).item())
    assert np.isnan(p.grad.detach().numpy()).all()  # scaled by a NaN coefficient, as torch does


def test_clip_grad_value_matches_torch():
    s_params, t_params = grads_pair(scale=2.0)
    held = s_params[1].grad
    assert sg.nn.utils.clip_grad_value_(s_params, 0.7) is None
    torch.nn.utils.clip_grad_value_(t_params, 0.7)
    assert s_params[1].grad is held
    for sp, tp in zip(s_params, t_params):
        helpers.close(sp.grad, tp.grad, 0, 0)


def test_clip_grad_norm_float32_matches_torch():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((10, 10)).astype(np.float32)
    sp, tp = sg.nn.Parameter(sg.zeros(10, 10)), torch.nn.Parameter(torch.zeros(10, 10))
    sp.grad, tp.grad = sg.tensor(a.copy()), torch.tensor(a.copy())
    total = sg.nn.utils.clip_grad_norm_([sp], 1.0)
    assert total.dtype == sg.float32
    helpers.close(total, torch.nn.utils.clip_grad_norm_([tp], 1.0), 1e-6, 0)
    helpers.close(sp.grad, tp.grad, 1e-6, 1e-7)
