"""Optimisers (API.md "Neural networks"): SGD, Adam and AdamW against torch.optim.

Both libraries start from the same float64 weights and take the same gradients of the
same loss; after every step the weights must agree. State dicts, groups, zero_grad and
argument checks follow torch.optim too.
"""
import warnings

import numpy as np
import pytest
import torch

import scratchgrad as sg
from tests.helpers import close

SHAPES = [(3, 4), (4,), ()]  # a matrix, a vector and a 0-d parameter
STEPS = 10


def initial_arrays(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(dtype) for shape in SHAPES]


def inputs(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed + 1000)
    return [rng.normal(size=SHAPES[0]) for _ in range(steps)]


def loss_fn(params, x):
    """The same expression in both libraries; its gradient depends on the weights."""
    w, b, c = params
    return ((w * x).sum() - 1.0) ** 2 + (b * b * b).sum() * 0.1 + c * c * 0.5


def sg_params(arrays):
    return [sg.nn.Parameter(sg.tensor(a)) for a in arrays]


def torch_params(arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def bounded_loss_fn(params, x):
    """Like loss_fn but bounded below, for long runs."""
    w, b, c = params
    return ((w * x).sum() - 1.0) ** 2 + ((b - x[0]) ** 2).sum() * 0.1 + (c * c - 1) ** 2 * 0.5


def train(lib, params, opt, xs, loss_fn=loss_fn):
    """Take one step per input; return the weights after each step as NumPy arrays."""
    history = []
    for x in xs:
        opt.zero_grad()
        x = sg.tensor(x) if lib is sg else torch.tensor(x)
        loss_fn(params, x).backward()
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


def assert_same_history(actual, expected, rtol=1e-9, atol=1e-12):
    """Observed differences are below 1e-12 (summation order, fused multiply-adds in torch);
    1e-9 still catches slips such as adding Adam's eps before the bias correction."""
    for step, (a_step, e_step) in enumerate(zip(actual, expected, strict=True)):
        for i, (a, e) in enumerate(zip(a_step, e_step, strict=True)):
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol,
                                       err_msg=f"parameter {i} after step {step + 1}")


def compare(name, kwargs, steps=STEPS):
    """Train with sg.optim.<name>(**kwargs) and torch.optim.<name>; return both optimisers."""
    arrays, xs = initial_arrays(), inputs(steps=steps)
    p_sg, p_torch = sg_params(arrays), torch_params(arrays)
    opt_sg = getattr(sg.optim, name)(p_sg, **kwargs)
    opt_torch = getattr(torch.optim, name)(p_torch, **kwargs, foreach=False)
    assert_same_history(train(sg, p_sg, opt_sg, xs), train(torch, p_torch, opt_torch, xs))
    return opt_sg, opt_torch


SGD_CASES = [
    {"lr": 0.01},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.01, "momentum": 0.9, "nesterov": True},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "maximize": True},
    {"lr": 0.01, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.2, "maximize": True},
    {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.1, "nesterov": True, "maximize": True},
]

ADAM_CASES = [
    {},
    {"lr": 0.05},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "amsgrad": True},
    {"lr": 0.05, "maximize": True},
    {"lr": 0.05, "betas": (0.3, 0.5), "eps": 1e-3},  # 1 - β1 ≥ 0.5: lerp's other formula
    {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
]

ADAMW_CASES = [
    {},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "weight_decay": 0},
    {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-6},
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=str)
def test_sgd_matches_torch(kwargs):
    compare("SGD", kwargs)


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=str)
def test_adam_matches_torch(kwargs):
    opt_sg, opt_torch = compare("Adam", kwargs)
    assert_same_state(opt_sg.state_dict(), opt_torch.state_dict())


@pytest.mark.parametrize("kwargs", ADAMW_CASES, ids=str)
def test_adamw_matches_torch(kwargs):
    opt_sg, opt_torch = compare("AdamW", kwargs)
    assert_same_state(opt_sg.state_dict(), opt_torch.state_dict())


RMSPROP_CASES = [
    {},
    {"lr": 0.05},
    {"lr": 0.05, "alpha": 0.9, "eps": 1e-4},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "centered": True},
    {"lr": 0.05, "weight_decay": 0.1, "momentum": 0.5, "centered": True, "maximize": True},
]


@pytest.mark.parametrize("kwargs", RMSPROP_CASES, ids=str)
def test_rmsprop_matches_torch(kwargs):
    """torch.optim.RMSprop: what 'Learning PyTorch with examples' trains its polynomial with."""
    opt_sg, opt_torch = compare("RMSprop", kwargs)
    assert_same_state(opt_sg.state_dict(), opt_torch.state_dict())


def test_rmsprop_defaults_and_errors_are_torchs():
    w, t = sg_params(initial_arrays()[:1]), torch_params(initial_arrays()[:1])
    assert sg.optim.RMSprop(w).defaults.items() <= torch.optim.RMSprop(t).defaults.items()
    for bad, message in [({"lr": -1.0}, "Invalid learning rate"), ({"eps": -1.0}, "Invalid epsilon"),
                         ({"momentum": -1.0}, "Invalid momentum"), ({"alpha": -1.0}, "Invalid alpha"),
                         ({"weight_decay": -1.0}, "Invalid weight_decay")]:
        with pytest.raises(ValueError, match=f"^RMSprop: {message}"):
            sg.optim.RMSprop(w, **bad)
        with pytest.raises(ValueError):
            torch.optim.RMSprop(t, **bad)


def assert_same_state(sd_sg, sd_torch):
    """Same layout as torch's state dict: indices, keys, and values (step included)."""
    assert sd_sg["state"].keys() == sd_torch["state"].keys()
    for index, entries in sd_torch["state"].items():
        assert sd_sg["state"][index].keys() == entries.keys()
        for key, value in entries.items():
            ours = sd_sg["state"][index][key]
            assert isinstance(ours, sg.Tensor)
            assert ours.dtype == np.dtype(str(value.dtype).removeprefix("torch."))
            close(ours, value, rtol=1e-6, atol=1e-12)
    for ours, theirs in zip(sd_sg["param_groups"], sd_torch["param_groups"], strict=True):
        assert ours["params"] == theirs["params"]
        assert {k: v for k, v in ours.items() if k != "params"}.items() <= theirs.items()


def test_sgd_momentum_state_matches_torch():
    opt_sg, opt_torch = compare("SGD", {"lr": 0.01, "momentum": 0.9, "dampening": 0.1})
    assert_same_state(opt_sg.state_dict(), opt_torch.state_dict())
    # without momentum SGD keeps no state at all
    opt_sg, opt_torch = compare("SGD", {"lr": 0.01}, steps=2)
    assert opt_sg.state_dict()["state"] == {} == opt_torch.state_dict()["state"]


@pytest.mark.parametrize("name, kwargs", [("SGD", {"lr": 0.01, "momentum": 0.9}),
                                          ("Adam", {"lr": 0.05, "amsgrad": True}),
                                          ("AdamW", {"lr": 0.05})])
def test_float32_parameters_and_state_stay_float32(name, kwargs):
    arrays, xs = initial_arrays(dtype=np.float32), inputs()
    p_sg, p_torch = sg_params(arrays), [torch.tensor(a, requires_grad=True) for a in arrays]
    opt_sg = getattr(sg.optim, name)(p_sg, **kwargs)
    opt_torch = getattr(torch.optim, name)(p_torch, **kwargs, foreach=False)
    xs = [x.astype(np.float32) for x in xs]
    assert_same_history(train(sg, p_sg, opt_sg, xs), train(torch, p_torch, opt_torch, xs),
                        rtol=2e-5, atol=1e-6)
    for p in p_sg:
        assert p.dtype == sg.float32
        for key, value in opt_sg.state[p].items():
            assert value.dtype == (sg.float32 if key != "step" else np.float32)


# ---------------------------------------------------------------- groups


@pytest.mark.parametrize("name, options", [
    ("SGD", [{"lr": 0.1, "momentum": 0.5}, {"lr": 0.01}]),
    ("Adam", [{"lr": 0.1, "betas": (0.8, 0.99)}, {"weight_decay": 0.2}]),
    ("AdamW", [{"lr": 0.1}, {"lr": 0.001, "weight_decay": 0.5}]),
])
def test_param_groups_with_their_own_options(name, options):
    arrays, xs = initial_arrays(), inputs()
    histories = []
    for lib, make in ((sg, sg_params), (torch, torch_params)):
        params = make(arrays)
        groups = [dict(options[0], params=params[:2]), dict(options[1], params=params[2:])]
        extra = {} if lib is sg else {"foreach": False}
        opt = getattr(lib.optim, name)(groups, lr=0.03, **extra)
        histories.append(train(lib, params, opt, xs))
        if lib is sg:
            assert opt.param_groups[1]["lr"] == options[1].get("lr", 0.03)  # defaults fill in
    assert_same_history(*histories)


def test_add_param_group_matches_torch():
    arrays, xs = initial_arrays(), inputs()
    histories = []
    for lib, make in ((sg, sg_params), (torch, torch_params)):
        params = make(arrays)
        opt = lib.optim.Adam(params[:1], lr=0.05)
        history = train(lib, params, opt, xs[:3])
        opt.add_param_group({"params": params[1:], "lr": 0.2})
        histories.append(history + train(lib, params, opt, xs[3:]))
    assert_same_history(*histories)


def test_named_parameters_are_accepted():
    w, b = sg_params(initial_arrays()[:2])
    opt = sg.optim.SGD([("w", w), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["params"][0] is w
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


# ---------------------------------------------------------------- zero_grad and skipping


def test_zero_grad_sets_to_none_by_default():
    w, b = sg_params(initial_arrays()[:2])
    opt = sg.optim.SGD([w, b], lr=0.1)
    (w.sum() + b.sum()).backward()
    opt.zero_grad()
    assert w.grad is None and b.grad is None


def test_zero_grad_without_set_to_none_zeroes_in_place():
    w, b = sg_params(initial_arrays()[:2])
    opt = sg.optim.Adam([w, b])
    (w * w).sum().backward(create_graph=True)  # a gradient that has a graph of its own
    grad = w.grad
    assert grad.grad_fn is not None
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad  # the same tensor, zeroed and detached, as torch's zero_() and detach_()
    assert grad.grad_fn is None and not grad.requires_grad
    np.testing.assert_array_equal(grad.detach().numpy(), np.zeros((3, 4)))
    assert b.grad is None  # a gradient that was None stays None


@pytest.mark.parametrize("name, kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}),
                                          ("Adam", {"lr": 0.1}), ("AdamW", {"lr": 0.1})])
def test_parameters_without_grad_are_skipped(name, kwargs):
    arrays = initial_arrays()
    histories, states = [], []
    for lib, make in ((sg, sg_params), (torch, torch_params)):
        w, b, c = make(arrays)
        opt = getattr(lib.optim, name)([w, b, c], **kwargs)
        history = []
        for step in range(6):
            opt.zero_grad()
            loss = (w * w).sum() + (c * 3.0 if step % 2 else 0.0)  # b never, c every other step
            loss.backward()
            opt.step()
            history.append([p.detach().numpy().copy() for p in (w, b, c)])
        histories.append(history)
        states.append(opt.state_dict()["state"])
        assert b.grad is None
    assert_same_history(*histories)
    np.testing.assert_array_equal(histories[0][-1][1], arrays[1])  # b never moved
    assert states[0].keys() == states[1].keys() == {0, 2}  # and has no state
    if name != "SGD":
        assert float(states[0][2]["step"]) == 3.0  # c's step counts only its own updates


# ---------------------------------------------------------------- state dicts


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1}),
])
def test_state_dict_round_trip_continues_like_straight_training(name, kwargs):
    arrays, xs = initial_arrays(), inputs()
    cls = getattr(sg.optim, name)
    straight = sg_params(arrays)
    expected = train(sg, straight, cls(straight, **kwargs), xs)

    first = sg_params(arrays)
    opt = cls(first, **kwargs)
    train(sg, first, opt, xs[:5])
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1, 2]]
    assert all(isinstance(value, sg.Tensor)
               for entry in saved["state"].values() for value in entry.values())

    second = sg_params([p.detach().numpy().copy() for p in first])
    fresh = cls(second, lr=123.0)  # the loaded groups bring back the saved hyper-parameters
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == kwargs["lr"]
    assert fresh.param_groups[0]["params"][0] is second[0]
    train(sg, first, opt, xs[5:6])  # the original goes on: the loaded state must be a copy
    resumed = train(sg, second, fresh, xs[5:])
    assert_same_history(resumed, expected[5:], rtol=1e-13, atol=0)


def test_state_dict_from_torch_loads_and_continues_the_same():
    arrays, xs = initial_arrays(), inputs()
    p_torch = torch_params(arrays)
    opt_torch = torch.optim.Adam(p_torch, lr=0.05, amsgrad=True, foreach=False)
    train(torch, p_torch, opt_torch, xs[:5])

    saved = opt_torch.state_dict()
    converted = {
        "state": {i: {k: sg.tensor(v.detach().numpy()) for k, v in entry.items()}
                  for i, entry in saved["state"].items()},
        "param_groups": saved["param_groups"],
    }
    p_sg = sg_params([p.detach().numpy() for p in p_torch])
    opt_sg = sg.optim.Adam(p_sg)
    opt_sg.load_state_dict(converted)
    assert opt_sg.state[p_sg[0]]["step"].dtype == np.float32
    assert_same_history(train(sg, p_sg, opt_sg, xs[5:]), train(torch, p_torch, opt_torch, xs[5:]))


def test_load_state_dict_rejects_a_mismatched_dict():
    w, b, c = sg_params(initial_arrays())
    opt = sg.optim.SGD([w, b, c], lr=0.1, momentum=0.9)
    (w.sum() + b.sum() + c).backward()
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="SGD.load_state_dict: the state dict has 1 parameter "
                                         "groups, the optimiser 2"):
        sg.optim.SGD([{"params": [w]}, {"params": [b, c]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 has 3 parameters in the state dict, 2"):
        sg.optim.SGD([w, b], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="'momentum_buffer' of parameter 0 has shape"):
        sg.optim.SGD([b, w, c], lr=0.1).load_state_dict(saved)


def test_adamw_stays_decoupled_after_loading_an_adam_state_dict():
    w = sg_params(initial_arrays()[:1])
    saved = sg.optim.Adam(w).state_dict()
    opt = sg.optim.AdamW(w)
    opt.load_state_dict(saved)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize("name, kwargs, message", [
    ("SGD", {"lr": -0.1}, "Invalid learning rate: -0.1"),
    ("SGD", {"lr": 0.1, "momentum": -0.5}, "Invalid momentum value: -0.5"),
    ("SGD", {"lr": 0.1, "weight_decay": -1}, "Invalid weight_decay value: -1"),
    ("SGD", {"lr": 0.1, "nesterov": True}, "Nesterov momentum requires a momentum.*momentum=0"),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
     "zero dampening.*dampening=0.1"),
    ("Adam", {"lr": -1e-3}, "Invalid learning rate: -0.001"),
    ("Adam", {"eps": -1e-8}, "Invalid epsilon value: -1e-08"),
    ("Adam", {"betas": (1.0, 0.999)}, r"Invalid beta parameter at index 0: 1.0"),
    ("Adam", {"betas": (0.9, -0.1)}, r"Invalid beta parameter at index 1: -0.1"),
    ("Adam", {"betas": 0.9}, "betas must be a pair"),
    ("Adam", {"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ("AdamW", {"betas": (0.9, 1.5)}, r"Invalid beta parameter at index 1: 1.5"),
    ("AdamW", {"lr": float("nan")}, "Invalid learning rate: nan"),
])
def test_invalid_hyper_parameters_raise_value_error_naming_the_optimiser(name, kwargs, message):
    w = sg_params(initial_arrays()[:1])
    with pytest.raises(ValueError, match=f"^{name}: .*{message}"):
        getattr(sg.optim, name)(w, **kwargs)
    if isinstance(kwargs.get("betas", ()), tuple):  # (torch fails on betas=0.9 with a TypeError)
        with pytest.raises(ValueError):  # torch refuses the same values
            getattr(torch.optim, name)(torch_params(initial_arrays()[:1]), **kwargs)


def test_invalid_options_in_a_param_group_are_caught_too():
    w, b = sg_params(initial_arrays()[:2])
    with pytest.raises(ValueError, match="SGD: Invalid learning rate: -1"):
        sg.optim.SGD([{"params": [w]}, {"params": [b], "lr": -1}], lr=0.1)


def test_invalid_parameter_lists():
    w, b = sg_params(initial_arrays()[:2])
    with pytest.raises(ValueError, match="Adam: got an empty parameter list"):
        sg.optim.Adam([])
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        sg.optim.SGD(iter([]), lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        sg.optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="can only optimise Tensors"):
        sg.optim.SGD([w, np.ones(3)], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        sg.optim.SGD([{"params": {w}}], lr=0.1)  # a group's params as a set: refused, as torch
    with pytest.raises(ValueError, match="non-leaf"):
        sg.optim.SGD([w * 2.0], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        sg.optim.SGD([{"params": [w]}, {"params": [b, w]}], lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sg.optim.SGD([w, w], lr=0.1)
    assert "duplicate" in str(caught[0].message)


def test_default_hyper_parameters_are_torchs():
    w = sg_params(initial_arrays()[:1])
    t = torch_params(initial_arrays()[:1])
    for name in ("SGD", "Adam", "AdamW"):
        ours = getattr(sg.optim, name)(w).defaults
        theirs = getattr(torch.optim, name)(t).defaults
        assert ours.items() <= theirs.items(), name


# ---------------------------------------------------------------- no graph, closures


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_step_records_no_graph(name):
    params = sg_params(initial_arrays())
    opt = getattr(sg.optim, name)(params, lr=0.1, weight_decay=0.1)
    for _ in range(2):
        opt.zero_grad()
        loss_fn(params, sg.tensor(inputs()[0])).backward(create_graph=True)
        assert opt.step() is None
    for p in params:
        assert p.grad_fn is None and p.is_leaf and p.requires_grad
        assert isinstance(p, sg.nn.Parameter)
        assert all(v.grad_fn is None and not v.requires_grad for v in opt.state[p].values())


def test_step_with_closure_runs_it_with_grad_enabled_and_returns_the_loss():
    w = sg_params(initial_arrays()[:1])[0]
    opt = sg.optim.SGD([w], lr=0.01)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        calls.append(loss.item())
        return loss

    before = np.array(w.detach())
    with sg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == calls[0] == pytest.approx((before**2).sum())
    close(w, before - 0.01 * 2 * before, rtol=1e-12)


def test_repr_lists_the_groups():
    w = sg_params(initial_arrays()[:1])
    text = repr(sg.optim.SGD(w, lr=0.5))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.5\n" in text


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("make_opt", [
    lambda params: sg.optim.SGD(params, lr=0.1, momentum=0.9),
    lambda params: sg.optim.Adam(params, lr=0.1),
    lambda params: sg.optim.AdamW(params, lr=0.1, weight_decay=0),
], ids=["SGD", "Adam", "AdamW"])
def test_fits_a_line(make_opt):
    rng = np.random.default_rng(0)
    x = sg.tensor(rng.uniform(-1, 1, size=32))
    y = 3.0 * x + 2.0
    w = sg.nn.Parameter(sg.tensor(0.0))
    b = sg.nn.Parameter(sg.tensor(0.0))
    opt = make_opt(p for p in (w, b))  # a generator, like model.parameters()
    for _ in range(300):
        opt.zero_grad()
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-6
    assert w.item() == pytest.approx(3.0, abs=1e-3) and b.item() == pytest.approx(2.0, abs=1e-3)


def test_adam_on_many_parameters_at_once_matches_torch_including_a_missing_gradient():
    """Parameters of several shapes in one group, one of them without a gradient for a step, and
    the state reloaded halfway: each parameter keeps its own step count and moments."""
    rng = np.random.default_rng(3)
    shapes = [(3, 2), (2,), (), (4, 1)]
    values = [rng.standard_normal(s) for s in shapes]
    ps = [sg.tensor(v, requires_grad=True) for v in values]
    tps = [torch.tensor(v, requires_grad=True) for v in values]
    opt, topt = sg.optim.Adam(ps, lr=0.1), torch.optim.Adam(tps, lr=0.1)
    for step in range(10):
        grads = [rng.standard_normal(s) for s in shapes]
        for i, (p, tp, g) in enumerate(zip(ps, tps, grads)):
            skip = step == 4 and i == 1
            p.grad = None if skip else sg.tensor(g)
            tp.grad = None if skip else torch.tensor(g)
        opt.step()
        topt.step()
        if step == 6:
            opt.load_state_dict(opt.state_dict())
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-12)


LONG_CASES = [  # (optimiser, options of the group [w, c], of the group [b], which maximises)
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05},
     {"lr": 0.005, "weight_decay": 0.1, "momentum": 0.5, "dampening": 0.2, "maximize": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05},
     {"betas": (0.8, 0.99), "weight_decay": 0.05, "amsgrad": True, "maximize": True}),
    ("AdamW", {"lr": 0.01, "amsgrad": True},
     {"lr": 0.02, "weight_decay": 0.3, "eps": 1e-6, "maximize": True}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "first", "second"), LONG_CASES, ids=lambda c: str(c))
def test_100_steps_with_groups_a_changed_lr_and_a_reload_match_torch(name, first, second, dtype):
    """Two groups with their own options; halfway through, group["lr"] is changed by hand (as a
    scheduler does) and scratchgrad's optimiser is replaced by a fresh one loaded from its state
    dict, while torch's runs straight on. 1e-6 relative after 100 steps, in float32 too."""
    arrays, xs = initial_arrays(dtype=dtype), inputs(steps=100)
    xs = [x.astype(dtype) for x in xs]
    histories = []
    for lib, make in ((sg, sg_params), (torch, torch_params)):
        w, b, c = params = make(arrays)
        extra = {} if lib is sg else {"foreach": False}
        cls = getattr(lib.optim, name)
        opt = cls([dict(first, params=[w, c]), dict(second, params=[b])], **extra)
        history = train(lib, params, opt, xs[:50], bounded_loss_fn)
        for group in opt.param_groups:
            group["lr"] *= 0.3
        if lib is sg:
            saved = opt.state_dict()
            opt = cls([{"params": [w, c]}, {"params": [b]}], lr=123.0)
            opt.load_state_dict(saved)
        histories.append(history + train(lib, params, opt, xs[50:], bounded_loss_fn))
    # float32: the gradients themselves differ by rounding (summation order), so elements near 0
    # are compared relative to the parameters' scale (about 1)
    assert_same_history(*histories, rtol=1e-6, atol=1e-6 if dtype == np.float32 else 1e-12)
    assert all(np.all(np.isfinite(p)) for p in histories[0][-1])


def test_updates_stay_in_the_parameters_memory():
    """The optimiser writes into each parameter's own memory: detached aliases see the new
    values, and each step bumps the parameter's version."""
    for name in ("SGD", "Adam", "AdamW"):
        params = sg_params(initial_arrays())
        aliases = [p.detach() for p in params]
        opt = getattr(sg.optim, name)(params, lr=0.1, **({"momentum": 0.9} if name == "SGD" else {}))
        versions = [p._version for p in params]
        for x in inputs(steps=2):
            opt.zero_grad()
            loss_fn(params, sg.tensor(x)).backward()
            opt.step()
        for p, alias, version, start in zip(params, aliases, versions, initial_arrays()):
            np.testing.assert_array_equal(alias.numpy(), p.detach().numpy())
            assert not np.array_equal(alias.numpy(), start)
            assert p._version >= version + 2
