"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW)."""
import math

import numpy as np

from scratchgrad.core.tensor import Tensor
from scratchgrad.optim.optimizer import Optimizer, _step_dtype

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """m ← β₁m + (1-β₁)g; v ← β₂v + (1-β₂)g²; θ ← θ - γ m̂/(√v̂ + ε), m̂ = m/(1-β₁ᵗ), v̂ alike."""

    _param_shaped_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 *, maximize=False, decoupled_weight_decay=False):
        defaults = {"lr": lr, "betas": _pair(self, betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_options(self, group):
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"] = _pair(self, group["betas"])
        if not 0.0 <= lr:
            raise ValueError(f"{self._name}: Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"{self._name}: Invalid epsilon value: {eps}")
        for index, beta in enumerate((beta1, beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{self._name}: Invalid beta parameter at index {index}: {beta} "
                                 "(must be in [0, 1))")
        if not 0.0 <= weight_decay:
            raise ValueError(f"{self._name}: Invalid weight_decay value: {weight_decay}")

    def step(self, closure=None):
        """One step of PyTorch's Adam on every parameter that has a .grad."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state(p, group["amsgrad"])
                t = _advance(state["step"])
                theta, g = p._data, p.grad._data
                if group["maximize"]:
                    g = np.negative(g)
                if wd != 0 and group["decoupled_weight_decay"]:
                    theta *= 1 - lr * wd  # θ ← θ - γλθ
                elif wd != 0:
                    g = g + wd * theta  # g ← g + λθ
                # In place, into the state or `work`: out is passed positionally (third argument),
                # which is measurably cheaper than out= on small parameters
                m, v, work = state["exp_avg"]._data, state["exp_avg_sq"]._data, np.empty_like(theta)
                m *= beta1
                m += np.multiply(g, 1 - beta1, work)  # m ← β₁m + (1-β₁)g
                v *= beta2
                v += np.multiply(np.square(g, work), 1 - beta2, work)  # v ← β₂v + (1-β₂)g²
                if group["amsgrad"]:
                    v_max = state["max_exp_avg_sq"]._data
                    v = np.maximum(v_max, v, out=v_max)  # v ← max(vₘₐₓ, v)
                # θ ← θ - γ m̂/(√v̂ + ε), with m̂ = m/(1-β₁ᵗ) and v̂ = v/(1-β₂ᵗ), computed in the Adam
                # paper's form θ - γ(√(1-β₂ᵗ)/(1-β₁ᵗ))·m/(√v + ε√(1-β₂ᵗ)): one division fewer
                root = math.sqrt(1 - beta2**t)
                denom = np.sqrt(v, work)
                denom += eps * root
                theta -= np.multiply(np.divide(m, denom, work), lr * root / (1 - beta1**t), work)
                p._bump_version()
        return loss

    def _state(self, p, amsgrad):
        """p's state, made at its first step: the step count and zeroed moments."""
        state = self.state[p]
        if not state:
            state["step"] = Tensor._wrap(np.zeros((), dtype=_step_dtype()))
            state["exp_avg"] = Tensor._wrap(np.zeros_like(p._data))
            state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
        if amsgrad and "max_exp_avg_sq" not in state:  # also when amsgrad is switched on later
            state["max_exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
        return state


class AdamW(Adam):
    """θ ← θ(1 - γλ), then Adam without weight decay: θ ← θ - γ m̂/(√v̂ + ε)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        # An Adam state dict loaded here must not turn the decoupled weight decay off (as PyTorch).
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _advance(step):
    """Add one to a 0-d step Tensor in place; return the new count."""
    t = float(step._data) + 1
    step._data[()] = t  # ten times faster than `+= 1` on a 0-d array
    return t


def _pair(optimizer, betas):
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"{optimizer._name}: betas must be a pair (beta1, beta2), "
                         f"got {betas!r}") from None
    return (beta1, beta2)
