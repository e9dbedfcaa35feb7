"""Learning-rate schedulers (API.md "The everyday PyTorch surface"): rates as torch.optim.lr_scheduler.

Each scheduler drives an optimiser with two param groups (different lrs) in both libraries for 100
steps; get_last_lr() and every group's lr (and, for OneCycleLR, the momentum or β1) must agree.
"""
import math

import numpy as np
import pytest
import torch

import scratchgrad as sg

STEPS = 100


def make(lib, optimizer, scheduler, options, opt_options=None):
    """An optimiser over two groups of one parameter each, and a scheduler on it."""
    params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.5}]
    opt = getattr(lib.optim, optimizer)(groups, lr=0.1, **(opt_options or {}))
    return opt, getattr(lib.optim.lr_scheduler, scheduler)(opt, **options)


def run(opt, sched, steps=STEPS):
    """The rates after construction and after each step: lrs and the momentum-like options."""
    history = [rates(opt, sched)]
    for _ in range(steps):
        opt.step()
        sched.step()
        history.append(rates(opt, sched))
    return history


def rates(opt, sched):
    row = list(sched.get_last_lr()) + [g["lr"] for g in opt.param_groups]
    for g in opt.param_groups:
        row += [g["momentum"]] if "momentum" in g else [g["betas"][0]]
    return row


CASES = [
    ("StepLR", {"step_size": 7}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [10, 30, 30, 80], "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.97}),
    ("CosineAnnealingLR", {"T_max": 30}),  # several half-periods: down, back up, down again
    ("CosineAnnealingLR", {"T_max": 100, "eta_min": 0.01}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": STEPS}),
    ("OneCycleLR", {"max_lr": [1.0, 2.0], "epochs": 10, "steps_per_epoch": 10,
                    "anneal_strategy": "linear", "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": STEPS, "three_phase": True,
                    "div_factor": 10.0, "final_div_factor": 100.0}),
]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize(("scheduler", "options"), CASES, ids=str)
def test_rates_match_torch_over_100_steps(scheduler, options, optimizer):
    opt_options = {"momentum": 0.9} if optimizer == "SGD" else {}
    expected = run(*make(torch, optimizer, scheduler, options, opt_options))
    actual = run(*make(sg, optimizer, scheduler, options, opt_options))
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("lib", [sg, torch], ids=["sg", "torch"])
def test_lambda_lr_with_one_function_per_group(lib):
    opt, sched = make(lib, "SGD", "LambdaLR", {"lr_lambda": [lambda e: 0.95 ** e,
                                                             lambda e: 1 / (e + 1)]})
    history = run(opt, sched, steps=10)
    assert history[10][:2] == pytest.approx([0.1 * 0.95 ** 10, 0.5 / 11], rel=1e-12)


def test_the_optimiser_steps_with_the_scheduled_rate():
    """SGD without momentum moves by lr·g: the scheduler's rate is the one used."""
    w = sg.nn.Parameter(sg.tensor([0.0]))
    opt = sg.optim.SGD([w], lr=1.0)
    sched = sg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        opt.zero_grad()
        (w * 1.0).sum().backward()  # gradient 1
        opt.step()
        sched.step()
    assert w.item() == pytest.approx(-(1.0 + 0.5 + 0.25))


@pytest.mark.parametrize(("scheduler", "options"), CASES[:1] + CASES[4:5] + CASES[6:7], ids=str)
def test_state_dict_round_trip_resumes_the_schedule(scheduler, options):
    opt, sched = make(sg, "SGD", scheduler, options, {"momentum": 0.9})
    straight = run(opt, sched, steps=40)
    opt, sched = make(sg, "SGD", scheduler, options, {"momentum": 0.9})
    first = run(opt, sched, steps=20)
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved_sched and saved_sched["last_epoch"] == 20
    opt, sched = make(sg, "SGD", scheduler, options, {"momentum": 0.9})
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    assert sched.last_epoch == 20
    assert first + run(opt, sched, steps=20)[1:] == straight


@pytest.mark.parametrize(("scheduler", "options"),
                         CASES + [("LambdaLR", {"lr_lambda": lambda e: 0.9 ** e})],
                         ids=lambda v: v if isinstance(v, str) else None)
def test_state_dict_keys_match_torch(scheduler, options):
    keys = [set(make(lib, "SGD", scheduler, options)[1].state_dict()) for lib in (sg, torch)]
    assert {"base_lrs", "last_epoch", "_step_count", "_last_lr"} <= keys[0]
    assert keys[0] == keys[1]


def test_lambda_lr_state_dict_keeps_callable_objects_state():
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    _, sched = make(sg, "SGD", "LambdaLR", {"lr_lambda": [Warmup(5), lambda e: 1.0]})
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"steps": 5}, None]
    _, other = make(sg, "SGD", "LambdaLR", {"lr_lambda": [Warmup(9), lambda e: 1.0]})
    other.load_state_dict(state)
    assert other.lr_lambdas[0].steps == 5


def test_closed_form_when_stepping_to_an_epoch():
    _, sched = make(sg, "SGD", "CosineAnnealingLR", {"T_max": 10})
    with np.errstate(all="raise"):
        sched.step(5)
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * (1 + math.cos(math.pi / 2)) / 2)


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = sg.optim.SGD([sg.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        sg.optim.lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)


def test_bad_arguments_raise_like_torch():
    opt = sg.optim.SGD([sg.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        sg.optim.lr_scheduler.StepLR([], step_size=2)
    with pytest.raises(ValueError, match="total_steps OR"):
        sg.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="pct_start"):
        sg.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=2)
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        sg.optim.lr_scheduler.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=10)
    sched = sg.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    opt.step()
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        sg.optim.lr_scheduler.LambdaLR(opt, [lambda e: 1, lambda e: 2])
