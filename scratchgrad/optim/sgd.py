"""Stochastic gradient descent with momentum (torch.optim.SGD)."""
import numpy as np

from scratchgrad.core.tensor import Tensor
from scratchgrad.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """g ← ±∇ + λθ; b ← μb + (1-τ)g (b₁ = g); g ← g + μb if nesterov else b; θ ← θ - γg."""

    _param_shaped_state = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_options(self, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        if not 0.0 <= lr:
            raise ValueError(f"{self._name}: Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"{self._name}: Invalid momentum value: {momentum}")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"{self._name}: Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError(f"{self._name}: Nesterov momentum requires a momentum and zero "
                             f"dampening, got momentum={momentum}, dampening={dampening}")

    def step(self, closure=None):
        """One step of PyTorch's SGD on every parameter that has a .grad."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, mu = float(group["lr"]), float(group["momentum"])
            tau, wd = float(group["dampening"]), float(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                theta, g = p._data, p.grad._data
                if group["maximize"]:  # negated before the weight decay, as PyTorch does
                    g = np.negative(g)
                if wd != 0:
                    g = g + wd * theta
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = Tensor._wrap(np.array(g, theta.dtype, copy=True))
                    else:
                        b = state["momentum_buffer"]._data
                        b *= mu
                        b += (1 - tau) * g
                    b = state["momentum_buffer"]._data
                    g = g + mu * b if group["nesterov"] else b
                theta -= lr * g
                p._bump_version()
        return loss
