"""RMSprop (torch.optim.RMSprop)."""
import numpy as np

from scratchgrad.core.tensor import Tensor
from scratchgrad.optim.optimizer import Optimizer, _step_dtype

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """v ← αv + (1-α)g²; with centered, ḡ ← αḡ + (1-α)g and v̂ = v - ḡ², else v̂ = v;
    b ← μb + g/(√v̂ + ε) and θ ← θ - γb with momentum μ, else θ ← θ - γg/(√v̂ + ε)."""

    _param_shaped_state = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, group):
        for key, label in (("lr", "learning rate"), ("eps", "epsilon value"),
                           ("momentum", "momentum value"), ("weight_decay", "weight_decay value"),
                           ("alpha", "alpha value")):
            if not 0.0 <= group[key]:
                raise ValueError(f"{self._name}: Invalid {label}: {group[key]}")

    def step(self, closure=None):
        """One step of PyTorch's RMSprop on every parameter that has a .grad."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
            wd, mu = float(group["weight_decay"]), float(group["momentum"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state(p, mu, group["centered"])
                state["step"]._data[()] = float(state["step"]._data) + 1
                theta, g = p._data, p.grad._data
                if group["maximize"]:
                    g = np.negative(g)
                if wd != 0:
                    g = g + wd * theta
                v = state["square_avg"]._data
                v *= alpha
                v += (1 - alpha) * (g * g)
                if group["centered"]:
                    g_avg = state["grad_avg"]._data
                    g_avg += (1 - alpha) * (g - g_avg)  # PyTorch's lerp towards g
                    avg = np.sqrt(v - g_avg * g_avg)
                else:
                    avg = np.sqrt(v)
                avg += eps
                if mu > 0:
                    b = state["momentum_buffer"]._data
                    b *= mu
                    b += g / avg
                    theta -= lr * b
                else:
                    theta -= lr * (g / avg)
                p._bump_version()
        return loss

    def _state(self, p, momentum, centered):
        """p's state, made at its first step (each part also when its option is turned on)."""
        state = self.state[p]
        if not state:
            state["step"] = Tensor._wrap(np.zeros((), dtype=_step_dtype()))
            state["square_avg"] = Tensor._wrap(np.zeros_like(p._data))
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor._wrap(np.zeros_like(p._data))
        if centered and "grad_avg" not in state:
            state["grad_avg"] = Tensor._wrap(np.zeros_like(p._data))
        return state
